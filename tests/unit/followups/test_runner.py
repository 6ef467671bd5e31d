"""A due follow-up step: sent, deferred, stopped, closed, or a no-op when the world moved on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.events.tasks import FollowupRequest
from shared.models.conversation import Conversation
from shared.models.tenant import AgentSettings
from shared.store.conversations import conversation_ref
from tests.unit.followups import FACTS, NOW, World

TEMPLATE = {"templates": {"followup": {"name": "retomar_conversa", "parameters": ["{name}"]}}}


def started(world: World) -> tuple[FollowupRequest, datetime]:
    """Answer the lead's question; return the cadence's first task (after the inactivity check)."""
    world.answered()
    [(check, _), (request, due)] = world.scheduled
    assert (check.kind, request.kind) == ("inactivity", "followup")
    world.scheduled.clear()
    world.delivered.clear()
    return request, due


def decisions(world: World, conversation_id: str) -> list[dict[str, Any]]:
    collection = conversation_ref(world.client, world.tenant, conversation_id).collection(
        "decisions"
    )
    return [snapshot.to_dict() for snapshot in collection.stream()]


def test_a_due_step_sends_a_proactive_nudge_records_why_and_schedules_the_next() -> None:
    world = World()
    request, due = started(world)

    result = world.fire(request, due)

    assert result.status == "sent"
    decision = result.decision
    assert decision is not None
    assert (decision.action, decision.reasons, decision.specialist) == (
        "speak",
        ["followup_due"],
        "followup",
    )
    [message] = decision.messages
    assert message.proactive is True
    assert "limpeza de pele" in (message.text or "")  # what the lead asked, not a bare "oi?"
    assert (decision.model, decision.offline_model) == ("offline-followup-v1", True)
    conversation = world.conversation(request.conversation_id)
    assert conversation.followups_sent == 1
    assert conversation.unanswered_count == 2  # the reply, then the nudge
    assert conversation.outbound_count == 2
    assert conversation.followup_step == 1
    assert conversation.last_outbound_at == due
    assert conversation.window[-1].proactive is True
    assert conversation.window[-1].text == message.text
    assert conversation.followup_due_at == due + timedelta(days=1) == decision.followup_at
    assert world.delivered == [decision]
    assert world.scheduled == [
        (FollowupRequest(world.tenant, request.conversation_id, 1, 1, 1), due + timedelta(days=1))
    ]
    assert [d["decision_id"] for d in decisions(world, request.conversation_id)][-1] == (
        decision.decision_id
    )


def test_a_redelivered_task_does_not_send_twice() -> None:
    world = World()
    request, due = started(world)
    world.fire(request, due)
    stored = len(decisions(world, request.conversation_id))

    world.scheduled.clear()  # as if scheduling the next step had failed after the commit

    again = world.fire(request)

    assert (again.status, again.reason) == ("skipped", "already_done")
    assert len(world.delivered) == 1
    assert len(decisions(world, request.conversation_id)) == stored
    next_due = due + timedelta(days=1)
    assert world.scheduled == [
        (FollowupRequest(world.tenant, request.conversation_id, 1, 1, 1), next_due)
    ]


def _lead_wrote(world: World, request: FollowupRequest) -> None:
    world.lead("ah, e vocês atendem sábado?")


def _turn_ran(world: World, request: FollowupRequest) -> None:
    world.answered("ok, obrigado")


def _seller_wrote(world: World, request: FollowupRequest) -> None:
    # Five minutes after the reply: the 30-minute takeover has expired by the 1h due time.
    world.seller("Oi, aqui é a Paula, te chamo no fim da tarde")


def _human_active(world: World, request: FollowupRequest) -> None:
    world.set(request.conversation_id, human_active_until=NOW + timedelta(days=1))


def _handoff(world: World, request: FollowupRequest) -> None:
    world.set(request.conversation_id, status="handoff")


def _closed(world: World, request: FollowupRequest) -> None:
    world.set(request.conversation_id, status="closed", close_reason="closed_by_agent")


def _opted_out(world: World, request: FollowupRequest) -> None:
    world.set(request.conversation_id, contact_opted_out=True)


def _deleted(world: World, request: FollowupRequest) -> None:
    world.client._documents.pop(("tenants", world.tenant, "conversations", request.conversation_id))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_lead_wrote, "lead_replied"),
        (_turn_ran, "superseded"),
        (_seller_wrote, "human_active"),
        (_human_active, "human_active"),
        (_handoff, "handoff"),
        (_closed, "closed"),
        (_opted_out, "opted_out"),
        (_deleted, "missing"),
    ],
    ids=lambda value: value if isinstance(value, str) else value.__name__.strip("_"),
)
def test_a_step_is_a_no_op_when_the_world_moved_on(
    change: Callable[[World, FollowupRequest], None], reason: str
) -> None:
    world = World()
    request, due = started(world)
    world.now += timedelta(minutes=5)
    change(world, request)
    world.delivered.clear()

    result = world.fire(request, due)

    assert (result.status, result.reason) == ("skipped", reason)
    assert result.decision is None
    assert world.delivered == []
    assert [r for r, _ in world.scheduled if r.kind == "followup"] == []


def test_quiet_hours_defer_the_same_step_to_their_end_in_the_tenant_time_zone() -> None:
    world = World()
    world.now = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 20:30 in São Paulo
    request, due = started(world)  # due 21:30: quiet

    result = world.fire(request, due)

    eight = datetime(2026, 3, 11, 11, 0, tzinfo=UTC)  # 08:00 in São Paulo
    assert (result.status, result.next_at) == ("deferred", eight)
    assert result.decision is not None
    assert result.decision.action == "schedule_followup"
    assert result.decision.reasons == ["followup_due", "quiet_hours"]
    assert world.delivered == []
    assert world.scheduled == [(request, eight)]
    conversation = world.conversation(request.conversation_id)
    assert (conversation.followup_step, conversation.followup_due_at) == (0, eight)

    assert world.fire(request, due).status == "rescheduled"  # the old task, redelivered early
    sent = world.fire(request, eight)

    assert sent.status == "sent"
    assert len(world.delivered) == 1


def test_the_unanswered_limit_closes_the_conversation_with_no_response() -> None:
    world = World(settings=AgentSettings(business_facts=FACTS, max_unanswered=2))
    request, due = started(world)
    world.fire(request, due)
    [(following, next_due)] = world.scheduled
    world.scheduled.clear()

    result = world.fire(following, next_due)

    assert result.status == "closed"
    assert result.decision is not None
    assert (result.decision.action, result.decision.reasons) == (
        "close",
        ["no_response", "unanswered_limit"],
    )
    assert result.decision.messages == []
    conversation = world.conversation(request.conversation_id)
    assert (conversation.status, conversation.close_reason) == ("closed", "no_response")
    assert world.scheduled == []
    assert len(world.delivered) == 1  # the first nudge only


def test_a_used_up_cadence_closes_after_the_last_delay_and_never_reopens() -> None:
    world = World(
        settings=AgentSettings(business_facts=FACTS, followups=["1h", "2h"], max_unanswered=5)
    )
    request, due = started(world)
    world.fire(request, due)
    last, last_due = world.scheduled.pop()
    last_nudge = world.fire(last, last_due)
    close, close_due = world.scheduled.pop()

    result = world.fire(close, close_due)

    assert last_nudge.decision is not None
    assert "última mensagem" in (last_nudge.decision.messages[0].text or "")
    assert close_due == last_due + timedelta(hours=2)
    assert (close.step, result.status) == (2, "closed")
    assert result.decision is not None and result.decision.reasons == ["no_response"]
    world.now += timedelta(days=2)
    reply = world.lead("oi, ainda dá tempo?")
    assert reply.conversation_id != request.conversation_id  # a new conversation


def test_outside_the_window_without_a_template_the_cadence_stops_in_silence() -> None:
    world = World(settings=AgentSettings(business_facts=FACTS, followups=["1d", "3d"]))
    request, due = started(world)

    result = world.fire(request, due)

    assert result.status == "stopped"
    assert result.decision is not None
    assert result.decision.action == "stay_silent"
    assert result.decision.reasons == ["followup_due", "outside_24h_window"]
    assert world.delivered == [] and world.scheduled == []
    assert world.conversation(request.conversation_id).followup_due_at is None
    assert world.fire(request).reason == "already_done"


def test_outside_the_window_the_channel_followup_template_goes_with_its_parameters() -> None:
    world = World(
        settings=AgentSettings(business_facts=FACTS, followups=["1d", "3d"]),
        channel_config=TEMPLATE,
    )
    request, due = started(world)
    world.set(request.conversation_id, fields={"nome": "Mariana"})

    result = world.fire(request, due)

    assert result.status == "sent"
    assert result.decision is not None
    [message] = result.decision.messages
    assert (message.template, message.template_parameters, message.proactive) == (
        "retomar_conversa",
        ["Mariana"],
        True,
    )
    assert message.text is None
    assert result.decision.reasons == ["followup_due", "outside_24h_window"]
    window = world.conversation(request.conversation_id).window
    assert window[-1].text == "[template retomar_conversa]"


def test_a_conversation_changing_during_the_step_is_read_again_and_sent_once() -> None:
    world = World()
    request, due = started(world)
    draft = world.followups.draft
    calls: list[Conversation] = []

    def racing_draft(conversation: Conversation, *args: Any) -> Any:
        calls.append(conversation)
        if len(calls) == 1:  # something else writes the conversation meanwhile
            world.set(request.conversation_id, summary="atualizado")
        return draft(conversation, *args)

    world.followups.draft = racing_draft
    result = world.fire(request, due)

    assert result.status == "sent"
    assert len(calls) == 2
    assert len(world.delivered) == 1
    assert world.conversation(request.conversation_id).summary == "atualizado"
    kinds = [d["specialist"] for d in decisions(world, request.conversation_id)]
    assert kinds.count("followup") == 1


def test_follow_ups_turned_off_meanwhile_stop_without_closing() -> None:
    world = World()
    request, due = started(world)
    world.settings = AgentSettings(business_facts=FACTS, followups=[])

    result = world.fire(request, due)

    assert (result.status, result.reason) == ("skipped", "no_cadence")
    assert world.conversation(request.conversation_id).status == "open"
    assert world.delivered == []
