"""Which business events a change makes, and their ids (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.insights.models import ApplyAction, EventType, Insight, InsightStatus
from shared.integrations.events import (
    close_events,
    events_after_turn,
    insight_event,
    meeting_event,
    test_event,
)
from shared.integrations.models import BusinessEventType as T
from shared.models.conversation import Conversation, ConversationStatus, Role, WindowMessage
from shared.models.decision import Action, Decision, Reason
from shared.scheduling.models import Booking, BookingRequest, BookingStatus, Slot

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def conversation(**changes: Any) -> Conversation:
    base: dict[str, Any] = {
        "conversation_id": "conv-1",
        "tenant_id": "clinica",
        "channel_id": "ch-1",
        "contact_key": "+5511999990001",
        "contact_name": "Ana",
        "answered_seq": 2,
        "stage": "qualifying",
        "fields": {"email": "ana@example.com", "interesse": "implante"},
        "assignee_uid": "seller-1",
        "created_at": NOW - timedelta(hours=1),
        "updated_at": NOW,
    }
    return Conversation.model_validate({**base, **changes})


def decision(action: Action = Action.SPEAK, **changes: Any) -> Decision:
    return Decision.model_validate(
        {
            "decision_id": "20261124120000-abc123",
            "action": action,
            "reasons": [Reason.LEAD_REPLIED],
            "decided_at": NOW,
            **changes,
        }
    )


def types(events: list[Any]) -> list[str]:
    return [event.type.value for event in events]


def test_a_turn_that_changes_nothing_makes_no_event() -> None:
    before = conversation()
    assert events_after_turn(before, before.model_copy(), decision()) == []


def test_the_first_decided_turn_starts_the_conversation() -> None:
    before = conversation(answered_seq=0, stage="new")
    events = events_after_turn(before, before.model_copy(update={"answered_seq": 1}), decision())
    assert types(events) == ["conversation.started"]
    started = events[0]
    assert started.event_id == "20261124120000-abc123.started"
    assert started.contact is not None
    assert started.contact.phone == "+5511999990001"
    assert started.contact.email == "ana@example.com"
    assert started.public()["data"]["conversation_id"] == "conv-1"


def test_a_conversation_the_business_opened_with_a_template_is_not_started_again() -> None:
    template = WindowMessage(role=Role.AGENT, text="[template boas_vindas]", at=NOW, proactive=True)
    before = conversation(answered_seq=0, window=[template])
    assert events_after_turn(before, before.model_copy(), decision()) == []


def test_qualifying_makes_qualified_and_stage_changed_with_the_previous_stage() -> None:
    before = conversation()
    after = before.model_copy(update={"stage": "qualified"})
    events = events_after_turn(before, after, decision(stage="qualified"))
    assert types(events) == ["conversation.qualified", "conversation.stage_changed"]
    changed = events[1]
    assert changed.event_id.endswith(".stage")
    assert changed.data["stage"] == "qualified"
    assert changed.data["previous_stage"] == "qualifying"
    assert changed.data["reasons"] == ["lead_replied"]
    assert changed.data["assignee_uid"] == "seller-1"


def test_a_handoff_once_with_its_summary() -> None:
    before = conversation()
    after = before.model_copy(update={"status": ConversationStatus.HANDOFF})
    made = decision(
        Action.HANDOFF, reasons=[Reason.HANDOFF_REQUESTED], handoff_summary="Quer um orçamento"
    )
    events = events_after_turn(before, after, made)
    assert types(events) == ["conversation.handoff"]
    assert events[0].data["handoff_summary"] == "Quer um orçamento"
    assert events[0].data["reasons"] == ["handoff_requested"]
    already = after.model_copy()
    assert events_after_turn(already, already.model_copy(), made) == []


def test_a_booking_carried_out_is_a_meeting_event() -> None:
    slot = Slot(start=START, end=START + timedelta(minutes=30), label="qua 25/11 às 09:00")
    before = conversation(stage="scheduling")
    after = before.model_copy(
        update={"stage": "scheduled", "booking_id": "conv-1-3", "booking_start": START}
    )
    booked = decision(
        booking=BookingRequest(kind="book", slot=slot, booking_id="conv-1-3"), stage="scheduled"
    )
    events = events_after_turn(before, after, booked, location="Rua A, 10")
    assert types(events) == ["conversation.stage_changed", "meeting.booked"]
    meeting = events[1].data["meeting"]
    assert events[1].event_id == "20261124120000-abc123.booked"
    assert meeting["booking_id"] == "conv-1-3"
    assert meeting["start"] == START.isoformat()
    assert meeting["end"] == (START + timedelta(minutes=30)).isoformat()
    assert meeting["location"] == "Rua A, 10"


@pytest.mark.parametrize(
    ("kind", "expected"), [("reschedule", "meeting.rescheduled"), ("cancel", "meeting.canceled")]
)
def test_reschedule_and_cancel(kind: str, expected: str) -> None:
    old = START - timedelta(hours=3)
    slot = (
        Slot(start=START, end=START + timedelta(minutes=30), label="x")
        if kind != "cancel"
        else None
    )
    before = conversation(booking_id="conv-1-3", booking_start=old, booking_status="confirmed")
    request = BookingRequest(kind=kind, slot=slot, booking_id="conv-1-3")
    events = events_after_turn(before, before.model_copy(), decision(booking=request))
    assert types(events) == [expected]
    meeting = events[0].data["meeting"]
    assert meeting["booking_id"] == "conv-1-3"
    if kind == "cancel":
        assert meeting["start"] == old.isoformat()
    else:
        assert meeting["previous_start"] == old.isoformat()


def test_an_offer_is_no_meeting_event() -> None:
    before = conversation()
    offer = decision(booking=BookingRequest(kind="offer"))
    assert events_after_turn(before, before.model_copy(), offer) == []


def test_won_and_lost_by_stage() -> None:
    before = conversation(stage="closing")
    won = events_after_turn(before, before.model_copy(update={"stage": "won"}), decision())
    assert types(won) == ["conversation.stage_changed", "conversation.won"]
    lost = events_after_turn(before, before.model_copy(update={"stage": "lost"}), decision())
    assert types(lost) == ["conversation.stage_changed", "conversation.lost"]
    assert lost[1].event_id == "20261124120000-abc123.lost"


def test_a_close_without_a_sale_is_lost_with_its_reason() -> None:
    before = conversation()
    after = before.model_copy(
        update={"status": ConversationStatus.CLOSED, "close_reason": "no_response"}
    )
    events = events_after_turn(before, after, decision(Action.CLOSE), source="system")
    assert types(events) == ["conversation.lost"]
    assert events[0].data["close_reason"] == "no_response"
    assert events[0].source == "system"


def test_ids_are_stable_for_the_same_decision() -> None:
    before = conversation(answered_seq=0)
    after = before.model_copy(update={"stage": "qualified"})
    first = events_after_turn(before, after, decision())
    again = events_after_turn(before, after, decision())
    assert [event.event_id for event in first] == [event.event_id for event in again]
    assert len({event.event_id for event in first}) == len(first) == 3


def test_a_sellers_close() -> None:
    closed = conversation(status=ConversationStatus.CLOSED, close_reason="won", stage="won")
    (event,) = close_events(closed, won=True, now=NOW, actor_uid="seller-1", reason="won")
    assert event.event_id == "conv-1.closed-won"
    assert event.type is T.CONVERSATION_WON
    assert event.source == "seller"
    assert event.data["actor_uid"] == "seller-1"
    (lost,) = close_events(closed, won=False, now=NOW)
    assert lost.event_id == "conv-1.closed-lost"


def insight() -> Insight:
    return Insight(
        insight_id="ins-1",
        tenant_id="clinica",
        conversation_id="conv-1",
        contact_key="+5511999990001",
        contact_name="Ana",
        agent_id="qa",
        agent_name="Auditor",
        event_id="msg:conv-1:1",
        event_type=EventType.NEW_MESSAGE_RECEIVED,
        trigger_id="t1",
        status=InsightStatus.SUGGESTION,
        payload={"score": 8},
        apply_action=ApplyAction.MARK_WON,
        created_at=NOW,
    )


def test_insight_ready_and_applied() -> None:
    ready = insight_event(insight(), "ready", now=NOW, assignee_uid="seller-1")
    applied = insight_event(insight(), "applied", now=NOW, actor_uid="seller-2")
    assert (ready.event_id, ready.type) == ("ins-1.ready", T.INSIGHT_READY)
    assert (applied.event_id, applied.type) == ("ins-1.applied", T.INSIGHT_APPLIED)
    assert ready.data["insight"]["payload"] == {"score": 8}
    assert ready.data["assignee_uid"] == "seller-1"
    assert applied.source == "seller"


def test_a_sellers_cancel_of_a_booking() -> None:
    booking = Booking(
        booking_id="conv-1-3",
        tenant_id="clinica",
        conversation_id="conv-1",
        contact_key="+5511999990001",
        start=START,
        end=START + timedelta(minutes=30),
        status=BookingStatus.CANCELED,
        created_at=NOW,
        updated_at=NOW,
    )
    event = meeting_event(booking, T.MEETING_CANCELED, now=NOW, reason="Dentista doente")
    assert event.event_id == "conv-1-3.canceled"
    assert event.data["meeting"]["status"] == "canceled"
    with pytest.raises(ValueError, match="not a meeting event"):
        meeting_event(booking, T.CONVERSATION_WON, now=NOW)


def test_each_test_event_is_new_and_names_its_endpoint() -> None:
    first, second = test_event("clinica", "ep1", NOW), test_event("clinica", "ep1", NOW)
    assert first.event_id != second.event_id
    assert first.type is T.WEBHOOK_TEST
    assert first.public()["data"]["endpoint_id"] == "ep1"
