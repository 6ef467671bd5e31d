"""INACTIVITY_2H: an open conversation where neither the business nor the lead wrote for 2 hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.events.tasks import FollowupRequest
from shared.followups import trigger_event_ref
from shared.insights.models import EventType, InsightEvent
from shared.models.tenant import AgentSettings
from tests.unit.followups import FACTS, World


def inactivity_check(world: World) -> tuple[FollowupRequest, datetime]:
    """Return the inactivity check the last turn scheduled (there is exactly one)."""
    [(request, due)] = [(r, at) for r, at in world.scheduled if r.kind == "inactivity"]
    return request, due


def waiting_for_a_seller(world: World) -> tuple[FollowupRequest, datetime, datetime]:
    """A seller takes over, the lead asks something; return the check and the lead's time."""
    world.seller("Oi, aqui é a Paula!")
    world.now += timedelta(minutes=2)
    lead_at = world.now
    world.answered("tem horário amanhã?")  # the turn stays silent: a human is active
    [(request, due)] = world.scheduled
    assert request.kind == "inactivity"
    assert due == lead_at + timedelta(hours=2)
    return request, due, lead_at


def triggers(world: World) -> list[dict[str, Any]]:
    collection = (
        world.client.collection("tenants").document(world.tenant).collection("trigger_events")
    )
    return [snapshot.to_dict() for snapshot in collection.stream()]


def test_a_lead_left_waiting_for_a_seller_is_recorded_once() -> None:
    world = World()
    request, due, lead_at = waiting_for_a_seller(world)
    world.now = due

    first = world.fire(request)
    again = world.fire(request)

    assert (first.status, first.reason) == ("recorded", "INACTIVITY_2H")
    assert (again.status, again.reason) == ("recorded", "already_recorded")
    conversation = world.current()
    key = lead_at.isoformat(timespec="microseconds")  # the instant of the last activity
    trigger_id = f"{request.conversation_id}:INACTIVITY_2H:{key}"
    document = trigger_event_ref(world.client, world.tenant, trigger_id).get().to_dict()
    assert document is not None
    assert document["type"] == "INACTIVITY_2H"
    assert document["conversation_id"] == request.conversation_id
    assert document["channel_id"] == "ch-meta"
    assert document["contact_key"] == conversation.contact_key
    assert document["last_activity_at"] == lead_at
    assert document["last_from"] == "lead"
    assert document["with_human"] is True  # the seller's takeover held when the lead wrote
    assert document["occurred_at"] == due
    assert document["event_id"] == f"idle:{request.conversation_id}:{key}"
    assert len(triggers(world)) == 1
    assert world.delivered == []
    assert world.scheduled[1:] == []  # recorded: the chain ends


def test_a_seller_answer_moves_the_check_to_two_hours_after_it() -> None:
    world = World()
    request, due, _ = waiting_for_a_seller(world)
    world.now += timedelta(minutes=40)
    seller_at = world.now
    world.seller("Tem sim, às 15h!")
    world.scheduled.clear()

    early = world.fire(request, due)

    assert (early.status, early.reason) == ("rescheduled", "active")
    assert early.next_at == seller_at + timedelta(hours=2)
    assert world.scheduled == [(request, seller_at + timedelta(hours=2))]
    assert triggers(world) == []

    later = world.fire(request, seller_at + timedelta(hours=2))

    assert (later.status, later.reason) == ("recorded", "INACTIVITY_2H")
    [document] = triggers(world)
    assert (document["last_activity_at"], document["last_from"]) == (seller_at, "business")


def test_a_newer_turn_makes_the_older_check_a_no_op() -> None:
    world = World()
    request, due, _ = waiting_for_a_seller(world)
    world.now += timedelta(minutes=5)
    world.answered("alô?")  # a new turn: a new generation and its own check

    result = world.fire(request, due)

    assert (result.status, result.reason) == ("skipped", "superseded")
    assert triggers(world) == []


def test_a_lead_message_whose_turn_has_not_run_yet_moves_the_check() -> None:
    world = World()
    request, due, _ = waiting_for_a_seller(world)
    world.now = due - timedelta(seconds=3)
    world.lead("alô?")  # the turn is still in the debounce
    world.scheduled.clear()

    result = world.fire(request, due)

    assert result.status == "rescheduled"
    assert world.scheduled == [(request, due - timedelta(seconds=3) + timedelta(hours=2))]


def test_the_handoff_acknowledgement_is_the_last_activity() -> None:
    world = World()
    world.answered("quero falar com um atendente")
    acknowledged_at = world.now
    [(request, due)] = world.scheduled
    assert len(world.delivered[0].messages) == 1  # "Vou chamar uma pessoa..."

    result = world.fire(request, due)

    assert (result.status, result.reason) == ("recorded", "INACTIVITY_2H")
    [document] = triggers(world)
    assert (document["last_activity_at"], document["last_from"]) == (acknowledged_at, "business")
    assert (document["status"], document["with_human"]) == ("handoff", True)


def test_a_follow_up_is_activity_the_check_waits_two_hours_after_the_nudge() -> None:
    world = World()
    world.answered()  # the agent answers: the cadence's first step in 1 h, the check in 2 h
    step, step_due = world.next_task()
    check, check_due = world.next_task()
    assert (step.kind, check.kind) == ("followup", "inactivity")
    assert world.fire(step, step_due).status == "sent"
    world.scheduled.clear()

    moved = world.fire(check, check_due)

    assert moved.status == "rescheduled"
    assert moved.next_at == step_due + timedelta(hours=2)
    recorded = world.fire(check, step_due + timedelta(hours=2))
    assert (recorded.status, recorded.reason) == ("recorded", "INACTIVITY_2H")
    [document] = triggers(world)
    assert (document["last_from"], document["mode"], document["with_human"]) == (
        "business",
        "pilot",
        False,
    )


def test_a_copilot_conversation_nobody_answered_is_recorded() -> None:
    world = World(settings=AgentSettings(business_facts=FACTS, mode="copilot"))
    world.answered()  # suggestions for the seller, nothing sent
    request, due = inactivity_check(world)

    result = world.fire(request, due)

    assert (result.status, result.reason) == ("recorded", "INACTIVITY_2H")
    [document] = triggers(world)
    assert (document["last_from"], document["mode"]) == ("lead", "copilot")


def test_the_clock_speed_divides_the_two_hours() -> None:
    world = World(clock_speed=3600)
    world.answered()
    request, due = inactivity_check(world)
    assert due == world.now + timedelta(seconds=2)

    assert world.fire(request, due).reason == "INACTIVITY_2H"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "closed", "close_reason": "won"}, "closed"),
        ({"contact_opted_out": True}, "opted_out"),
    ],
)
def test_a_closed_or_opted_out_conversation_is_not_idle(
    change: dict[str, Any], reason: str
) -> None:
    world = World()
    world.answered()
    request, due = inactivity_check(world)
    world.set(request.conversation_id, **change)

    result = world.fire(request, due)

    assert (result.status, result.reason) == ("skipped", reason)
    assert triggers(world) == []


def test_a_missing_conversation_is_skipped() -> None:
    world = World()

    result = world.fire(FollowupRequest(world.tenant, "gone", 1, 0, 1, kind="inactivity"))

    assert (result.status, result.reason) == ("skipped", "missing")


def test_inactivity_is_published_when_an_insight_agent_listens_and_again_on_a_retry() -> None:
    world = World()
    world.listen("INACTIVITY_2H")
    request, due, lead_at = waiting_for_a_seller(world)

    world.fire(request, due)
    world.fire(request, due)  # Cloud Tasks retried (the first answer was lost)

    key = lead_at.isoformat(timespec="microseconds")
    expected = InsightEvent(
        event_id=f"idle:{request.conversation_id}:{key}",
        type=EventType.INACTIVITY_2H,
        tenant_id=world.tenant,
        conversation_id=request.conversation_id,
        occurred_at=due,
    )
    assert world.published == [expected, expected]  # the same id: the runner runs it once
    assert len(triggers(world)) == 1


def test_nothing_is_published_for_a_tenant_whose_agents_do_not_listen() -> None:
    world = World()
    world.listen("NEW_MESSAGE_RECEIVED", "TICKET_WON")
    request, due, _ = waiting_for_a_seller(world)

    result = world.fire(request, due)

    assert result.reason == "INACTIVITY_2H"
    assert world.published == []


def test_a_failed_publish_fails_the_task_and_its_retry_publishes() -> None:
    world = World()
    world.listen("INACTIVITY_2H")
    request, due, _ = waiting_for_a_seller(world)
    published = world.published

    def unavailable(events: object) -> None:
        raise RuntimeError("pubsub unavailable")

    world.followups.publish_insights = unavailable
    with pytest.raises(RuntimeError, match="pubsub unavailable"):
        world.fire(request, due)
    assert len(triggers(world)) == 1  # the record stays; Cloud Tasks retries the task

    world.followups.publish_insights = published.extend
    retried = world.fire(request, due)

    assert (retried.status, retried.reason) == ("recorded", "already_recorded")
    assert [event.type for event in published] == [EventType.INACTIVITY_2H]
