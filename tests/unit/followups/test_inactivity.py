"""INACTIVITY_2H: a lead's message a human was to answer, still unanswered two hours later."""

from __future__ import annotations

from datetime import timedelta

from shared.events.tasks import FollowupRequest
from shared.followups import trigger_event_ref
from tests.unit.followups import World


def waiting_for_a_seller(world: World) -> tuple[FollowupRequest, object]:
    """A seller takes over, the lead asks something; return the inactivity check scheduled."""
    world.seller("Oi, aqui é a Paula!")
    world.now += timedelta(minutes=2)
    world.answered("tem horário amanhã?")
    [(request, due)] = world.scheduled
    assert request.kind == "seller_inactivity"
    return request, due


def test_an_unanswered_lead_is_recorded_once() -> None:
    world = World()
    request, due = waiting_for_a_seller(world)
    world.now = due  # type: ignore[assignment]

    first = world.fire(request)
    again = world.fire(request)

    assert (first.status, first.reason) == ("recorded", "INACTIVITY_2H")
    assert (again.status, again.reason) == ("recorded", "already_recorded")
    trigger_id = f"{request.conversation_id}:INACTIVITY_2H:{request.inbound_seq}"
    document = trigger_event_ref(world.client, world.tenant, trigger_id).get().to_dict()
    assert document["type"] == "INACTIVITY_2H"
    assert document["conversation_id"] == request.conversation_id
    assert document["channel_id"] == "ch-meta"
    assert document["contact_key"] == world.current().contact_key
    assert document["occurred_at"] == due
    assert world.delivered == []


def test_a_seller_answer_means_no_trigger() -> None:
    world = World()
    request, due = waiting_for_a_seller(world)
    world.now += timedelta(minutes=40)
    world.seller("Tem sim, às 15h!")
    world.now = due  # type: ignore[assignment]

    result = world.fire(request)

    assert (result.status, result.reason) == ("skipped", "seller_replied")
    triggers = list(
        world.client.collection("tenants")
        .document(world.tenant)
        .collection("trigger_events")
        .stream()
    )
    assert triggers == []


def test_a_newer_lead_message_makes_the_check_a_no_op() -> None:
    world = World()
    request, due = waiting_for_a_seller(world)
    world.lead("alô?")

    assert world.fire(request, due).reason == "lead_wrote_again"  # type: ignore[arg-type]


def test_the_handoff_acknowledgement_does_not_count_as_an_answer() -> None:
    world = World()
    world.answered("quero falar com um atendente")
    [(request, due)] = world.scheduled
    assert len(world.delivered[0].messages) == 1  # "Vou chamar uma pessoa..."

    result = world.fire(request, due)

    assert (result.status, result.reason) == ("recorded", "INACTIVITY_2H")


def test_a_conversation_the_agent_answered_is_not_with_a_human() -> None:
    world = World()
    world.answered()
    conversation = world.current()
    request = FollowupRequest(
        world.tenant, conversation.conversation_id, 1, 0, 1, kind="seller_inactivity"
    )

    assert world.fire(request).reason == "not_with_human"
