"""Which business events a change makes: pure functions from before/after to events.

Every producer calls one of these with the state it read and the state it is about to store,
and stages what they return in the same batch (``shared.integrations.outbox.stage_events``).
Event ids are derived from the cause, so a retried turn or request yields the same ids:

- a turn (or a follow-up step): ``{decision_id}.{suffix}``, suffix ``started``, ``qualified``,
  ``stage``, ``handoff``, ``booked``, ``rescheduled``, ``canceled``, ``won``, ``lost``;
- an admin close: ``{conversation_id}.closed-{won|lost}``;
- an insight: ``{insight_id}.applied`` / ``{insight_id}.ready``;
- a seller's cancel of a booking: ``{booking_id}.canceled``;
- a test event: ``test.{endpoint_id}.{random}`` (every press is a new event).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from shared.insights.models import Insight
from shared.integrations.models import BusinessEvent, BusinessEventType, EventContact
from shared.models.conversation import Conversation, ConversationStatus
from shared.models.decision import Action, Decision
from shared.scheduling.models import Booking

Source = Literal["agent", "seller", "api", "system"]

QUALIFIED_STAGE = "qualified"
WON_STAGE = "won"
LOST_STAGE = "lost"
EMAIL_FIELDS = ("email", "e-mail", "e_mail")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

MEETING_SUFFIXES: dict[str, tuple[str, BusinessEventType]] = {
    "book": ("booked", BusinessEventType.MEETING_BOOKED),
    "reschedule": ("rescheduled", BusinessEventType.MEETING_RESCHEDULED),
    "cancel": ("canceled", BusinessEventType.MEETING_CANCELED),
}


def phone_of(contact_key: str) -> str | None:
    """Return the lead's phone when its contact key is one (E.164), else None."""
    return contact_key if contact_key.startswith("+") and contact_key[1:].isdigit() else None


def email_of(conversation: Conversation) -> str | None:
    """Return the e-mail the lead gave (a qualification field named email/e-mail), if any."""
    for name, value in conversation.fields.items():
        if name.strip().lower() in EMAIL_FIELDS and _EMAIL.match(value.strip()):
            return value.strip()
    return None


def lead_contact(
    conversation: Conversation, *, phone: str | None = None, email: str | None = None
) -> EventContact:
    """Return the event's contact: the conversation's lead, phone and e-mail when known."""
    return EventContact(
        contact_key=conversation.contact_key,
        phone=phone or phone_of(conversation.contact_key),
        name=conversation.contact_name,
        email=email or email_of(conversation),
    )


def conversation_event(
    event_type: BusinessEventType,
    conversation: Conversation,
    *,
    event_id: str,
    occurred_at: datetime,
    source: Source = "agent",
    data: dict[str, Any] | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> BusinessEvent:
    """Return one event about a conversation (its stage, fields and assignee in ``data``)."""
    return BusinessEvent(
        event_id=event_id,
        type=event_type,
        tenant_id=conversation.tenant_id,
        occurred_at=occurred_at,
        source=source,
        conversation_id=conversation.conversation_id,
        contact=lead_contact(conversation, phone=phone, email=email),
        data={
            "stage": conversation.stage,
            "status": conversation.status.value,
            "fields": dict(conversation.fields),
            "assignee_uid": conversation.assignee_uid,
            **(data or {}),
        },
    )


def events_after_turn(
    previous: Conversation,
    updated: Conversation,
    decision: Decision,
    *,
    phone: str | None = None,
    email: str | None = None,
    location: str | None = None,
    source: Source = "agent",
) -> list[BusinessEvent]:
    """Return the business events a decided turn (or follow-up step) makes; [] when none.

    ``location`` is the calendar's meeting location (meeting events carry it when known).
    """
    found: list[tuple[str, BusinessEventType, dict[str, Any]]] = []
    reasons = {"reasons": [reason.value for reason in decision.reasons]}
    if previous.answered_seq == 0 and not _started_by_business(previous):
        found.append(("started", BusinessEventType.CONVERSATION_STARTED, reasons))
    stage_changed = updated.stage != previous.stage
    if stage_changed and updated.stage == QUALIFIED_STAGE:
        found.append(("qualified", BusinessEventType.CONVERSATION_QUALIFIED, reasons))
    if stage_changed:
        changed = {**reasons, "previous_stage": previous.stage}
        found.append(("stage", BusinessEventType.STAGE_CHANGED, changed))
    if decision.action is Action.HANDOFF and previous.status is not ConversationStatus.HANDOFF:
        handoff = {**reasons, "handoff_summary": decision.handoff_summary}
        found.append(("handoff", BusinessEventType.HANDOFF, handoff))
    booking = decision.booking
    if booking is not None and booking.kind in MEETING_SUFFIXES:
        suffix, kind = MEETING_SUFFIXES[booking.kind]
        meeting = _turn_meeting(previous, updated, decision, location)
        found.append((suffix, kind, {**reasons, "meeting": meeting}))
    outcome = _outcome(previous, updated)
    if outcome == WON_STAGE:
        found.append(("won", BusinessEventType.CONVERSATION_WON, reasons))
    elif outcome == LOST_STAGE:
        lost = {**reasons, "close_reason": updated.close_reason}
        found.append(("lost", BusinessEventType.CONVERSATION_LOST, lost))
    return [
        conversation_event(
            kind,
            updated,
            event_id=f"{decision.decision_id}.{suffix}",
            occurred_at=decision.decided_at,
            source=source,
            data=data,
            phone=phone,
            email=email,
        )
        for suffix, kind, data in found
    ]


def _started_by_business(previous: Conversation) -> bool:
    """Return whether the business wrote first (a template the public API sent)."""
    first = next(iter(previous.window), None)
    return first is not None and first.role.value == "agent" and first.proactive


def _outcome(previous: Conversation, updated: Conversation) -> str | None:
    """Return won/lost when this change ended the sale, else None."""
    if updated.stage != previous.stage and updated.stage in (WON_STAGE, LOST_STAGE):
        return updated.stage
    closed_now = (
        updated.status is ConversationStatus.CLOSED
        and previous.status is not ConversationStatus.CLOSED
    )
    if closed_now and updated.stage not in (WON_STAGE, LOST_STAGE):
        return LOST_STAGE  # closed without a sale (no response, opt-out, rejection)
    return None


def _turn_meeting(
    previous: Conversation, updated: Conversation, decision: Decision, location: str | None
) -> dict[str, Any]:
    """Return ``{booking_id, start, end, location}`` of the meeting a turn booked or changed."""
    booking = decision.booking
    assert booking is not None
    slot = booking.slot
    start = slot.start if slot is not None else (updated.booking_start or previous.booking_start)
    return {
        "booking_id": booking.booking_id or updated.booking_id or previous.booking_id,
        "start": start.isoformat() if start is not None else None,
        "end": slot.end.isoformat() if slot is not None else None,
        "location": location,
        "previous_start": (
            previous.booking_start.isoformat()
            if booking.kind == "reschedule" and previous.booking_start is not None
            else None
        ),
    }


def close_events(
    conversation: Conversation,
    *,
    won: bool,
    now: datetime,
    actor_uid: str | None = None,
    reason: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> list[BusinessEvent]:
    """Return the event of a seller closing a conversation won or lost (``closed-won|lost``).

    ``conversation`` is the conversation as stored after the close.
    """
    outcome = WON_STAGE if won else LOST_STAGE
    return [
        conversation_event(
            BusinessEventType.CONVERSATION_WON if won else BusinessEventType.CONVERSATION_LOST,
            conversation,
            event_id=f"{conversation.conversation_id}.closed-{outcome}",
            occurred_at=now,
            source="seller",
            data={"actor_uid": actor_uid, "close_reason": reason},
            phone=phone,
            email=email,
        )
    ]


def insight_event(
    insight: Insight,
    kind: Literal["applied", "ready"],
    *,
    now: datetime,
    assignee_uid: str | None = None,
    actor_uid: str | None = None,
    phone: str | None = None,
) -> BusinessEvent:
    """Return ``insight.applied`` (a seller applied it) or ``insight.ready`` (the agent made it)."""
    contact = None
    if insight.contact_key is not None:
        contact = EventContact(
            contact_key=insight.contact_key,
            phone=phone or phone_of(insight.contact_key),
            name=insight.contact_name,
        )
    return BusinessEvent(
        event_id=f"{insight.insight_id}.{kind}",
        type=(
            BusinessEventType.INSIGHT_APPLIED
            if kind == "applied"
            else BusinessEventType.INSIGHT_READY
        ),
        tenant_id=insight.tenant_id,
        occurred_at=now,
        source="seller" if kind == "applied" else "agent",
        conversation_id=insight.conversation_id,
        contact=contact,
        data={
            "insight": {
                "insight_id": insight.insight_id,
                "agent_id": insight.agent_id,
                "agent_name": insight.agent_name,
                "payload": dict(insight.payload),
                "apply_action": insight.apply_action.value,
            },
            "assignee_uid": assignee_uid,
            "actor_uid": actor_uid,
        },
    )


def meeting_event(
    booking: Booking,
    event_type: BusinessEventType,
    *,
    now: datetime,
    source: Source = "seller",
    location: str | None = None,
    reason: str | None = None,
    assignee_uid: str | None = None,
) -> BusinessEvent:
    """Return a meeting event about a booking changed outside a turn (a seller's cancel).

    Its id is ``{booking_id}.{canceled|booked|rescheduled}``.
    """
    suffix = {
        BusinessEventType.MEETING_BOOKED: "booked",
        BusinessEventType.MEETING_RESCHEDULED: "rescheduled",
        BusinessEventType.MEETING_CANCELED: "canceled",
    }.get(event_type)
    if suffix is None:
        raise ValueError(f"{event_type.value} is not a meeting event")
    contact = None
    if booking.contact_key is not None:
        contact = EventContact(
            contact_key=booking.contact_key,
            phone=booking.phone or phone_of(booking.contact_key),
            name=booking.contact_name,
            email=booking.email,
        )
    return BusinessEvent(
        event_id=f"{booking.booking_id}.{suffix}",
        type=event_type,
        tenant_id=booking.tenant_id,
        occurred_at=now,
        source=source,
        conversation_id=booking.conversation_id,
        contact=contact,
        data={
            "meeting": {
                "booking_id": booking.booking_id,
                "start": booking.start.isoformat(),
                "end": booking.end.isoformat(),
                "location": location,
                "status": booking.status.value,
            },
            "reason": reason,
            "assignee_uid": assignee_uid,
        },
    )


def test_event(tenant_id: str, endpoint_id: str, now: datetime) -> BusinessEvent:
    """Return a ``webhook.test`` event for one endpoint (a new id on every press)."""
    return BusinessEvent(
        event_id=f"test.{endpoint_id}.{uuid.uuid4().hex[:12]}",
        type=BusinessEventType.WEBHOOK_TEST,
        tenant_id=tenant_id,
        occurred_at=now,
        source="system",
        data={
            "endpoint_id": endpoint_id,
            "message": "Evento de teste do Piloto: se você recebeu isto, o webhook funciona.",
        },
    )


test_event.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
