"""The Scheduler as the turn runner uses it, on the Firestore emulator with a fake Google."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.models.conversation import Conversation
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.scheduling import bookings
from shared.scheduling.models import (
    Booking,
    BookingRequest,
    BookingStatus,
    CalendarSettings,
    GoogleCalendarLink,
)
from shared.scheduling.reminders import ReminderRequest
from shared.scheduling.service import CalendarUnavailable, Scheduler
from shared.store.conversations import tenant_ref

SP = "America/Sao_Paulo"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday 09:00 in São Paulo


class FakeGoogle:
    def __init__(self) -> None:
        self.busy_times: list[tuple[datetime, datetime]] = []
        self.created: list[str] = []
        self.canceled: list[str] = []
        self.down = False

    def busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        if self.down:
            raise CalendarUnavailable("Google Calendar indisponível")
        return self.busy_times

    def create_event(
        self, booking: Booking, title: str, description: str, location: str | None
    ) -> str:
        if self.down:
            raise CalendarUnavailable("Google Calendar indisponível")
        self.created.append(title)
        return "ev" + booking.booking_id

    def move_event(self, event_id: str, booking: Booking) -> None: ...
    def cancel_event(self, event_id: str) -> None:
        self.canceled.append(event_id)

    def add_attendee(self, event_id: str, email: str) -> None: ...


@pytest.fixture
def client(local_stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=local_stack.project_id)


def _setup(
    client: Any, google: FakeGoogle | None = None
) -> tuple[Scheduler, Conversation, list[Any]]:
    tenant_id = f"sch-{uuid.uuid4().hex[:10]}"
    settings = CalendarSettings(enabled=True, slots_offered=3, min_notice_minutes=60)
    if google is not None:
        settings = settings.model_copy(
            update={
                "provider": "google",
                "google": GoogleCalendarLink(token_secret="local:x", connected_at=NOW),
            }
        )
    tenant_ref(client, tenant_id).collection("settings").document("calendar").set(
        settings.model_dump(mode="json")
    )
    reminders: list[Any] = []
    scheduler = Scheduler(
        firestore=client,
        backend_for=lambda _tenant, _settings: google,
        schedule_reminder=lambda request, at: reminders.append((request, at)),
        now=lambda: NOW,
    )
    conversation = Conversation(
        conversation_id="conv-9",
        tenant_id=tenant_id,
        channel_id="ch",
        contact_key="+5511988887777",
        contact_name="Bruno Lima",
        fields={"email": "bruno@example.com"},
        created_at=NOW,
        updated_at=NOW,
    )
    return scheduler, conversation, reminders


def _book(conversation: Conversation, request: BookingRequest) -> Decision:
    return Decision(
        decision_id="d1",
        action=Action.SPEAK,
        reasons=[Reason.MEETING_BOOKED],
        messages=[OutboundMessage(text="Reunião marcada!")],
        booking=request,
        decided_at=NOW,
    )


def _ask(
    scheduler: Scheduler, conversation: Conversation, request: BookingRequest, inbound_seq: int
) -> Decision:
    """Carry out a turn's booking request (turn ``inbound_seq``) as the turn runner does, now."""
    return scheduler.carry_out(
        conversation,
        _book(conversation, request),
        inbound_seq=inbound_seq,
        timezone=SP,
        now=NOW,
    )


def _store(scheduler: Scheduler, conversation: Conversation, decision: Decision) -> None:
    batch = scheduler.firestore.batch()
    scheduler.stage(batch, conversation, decision, NOW)
    batch.commit()


def test_book_confirm_sync_and_remind(client: firestore.Client) -> None:
    google = FakeGoogle()
    scheduler, conversation, reminders = _setup(client, google)
    lookup = scheduler.slots_for(conversation.tenant_id, SP, NOW)
    assert lookup.calendar is not None and len(lookup.slots) == 3 and lookup.error is None
    slot = lookup.slots[-1]  # a later day: its reminder is two hours before, not now
    decision = _ask(scheduler, conversation, BookingRequest(kind="book", slot=slot), 4)
    assert decision.booking is not None and decision.booking.booking_id == "conv-9-4"
    assert scheduler.booking_fields(decision)["booking_start"] == slot.start
    _store(scheduler, conversation, decision)
    scheduler.after_commit(conversation, decision, SP)
    stored = bookings.read_booking(client, conversation.tenant_id, "conv-9-4")
    assert stored is not None
    booking = stored[0]
    assert booking.status == BookingStatus.CONFIRMED and booking.email == "bruno@example.com"
    assert booking.calendar_synced and booking.google_event_id == "evconv-9-4"
    assert google.created == ["Reunião com Bruno Lima"]
    assert reminders == [
        (
            ReminderRequest(conversation.tenant_id, "conv-9-4", slot.start),
            slot.start - timedelta(hours=2),
        )
    ]
    assert booking.reminder_at == slot.start - timedelta(hours=2)
    # The slot is no longer offered.
    assert slot not in scheduler.slots_for(conversation.tenant_id, SP, NOW).slots


def test_a_lost_race_becomes_a_fresh_offer(client: firestore.Client) -> None:
    scheduler, conversation, _ = _setup(client)
    slot = scheduler.slots_for(conversation.tenant_id, SP, NOW).slots[0]
    other = conversation.model_copy(update={"conversation_id": "conv-8"})
    first = _ask(scheduler, other, BookingRequest(kind="book", slot=slot), 2)
    assert first.booking is not None and first.booking.kind == "book"
    lost = _ask(scheduler, conversation, BookingRequest(kind="book", slot=slot), 4)
    assert lost.reasons == [Reason.SLOT_TAKEN, Reason.MEETING_OFFERED]
    assert lost.booking is not None and lost.booking.kind == "offer"
    assert slot not in lost.booking.slots and lost.booking.slots
    assert [choice.title for choice in lost.messages[0].choices] == [
        s.label for s in lost.booking.slots
    ]
    assert "acabou de ser preenchido" in (lost.messages[0].text or "")


def test_google_busy_and_google_down(client: firestore.Client) -> None:
    google = FakeGoogle()
    scheduler, conversation, _ = _setup(client, google)
    slot = scheduler.slots_for(conversation.tenant_id, SP, NOW).slots[0]
    google.busy_times = [(slot.start, slot.end)]
    taken = _ask(scheduler, conversation, BookingRequest(kind="book", slot=slot), 4)
    assert Reason.SLOT_TAKEN in taken.reasons
    google.down = True
    lookup = scheduler.slots_for(conversation.tenant_id, SP, NOW)
    assert lookup.slots == [] and lookup.error == "Google Calendar indisponível"


def test_cancel_through_the_turn_frees_the_time(client: firestore.Client) -> None:
    scheduler, conversation, _ = _setup(client)
    slot = scheduler.slots_for(conversation.tenant_id, SP, NOW).slots[0]
    booked = _ask(scheduler, conversation, BookingRequest(kind="book", slot=slot), 4)
    _store(scheduler, conversation, booked)
    current = conversation.model_copy(update=scheduler.booking_fields(booked))
    cancel = _ask(scheduler, current, BookingRequest(kind="cancel"), 5)
    assert cancel.booking is not None and cancel.booking.booking_id == "conv-9-4"
    _store(scheduler, current, cancel)
    assert scheduler.booking_fields(cancel)["booking_status"] == "canceled"
    stored = bookings.read_booking(client, conversation.tenant_id, "conv-9-4")
    assert stored is not None and stored[0].status == BookingStatus.CANCELED
    assert slot in scheduler.slots_for(conversation.tenant_id, SP, NOW).slots
    again = _ask(scheduler, current, BookingRequest(kind="cancel"), 6)
    assert again.booking is None  # nothing left to cancel


def test_scheduling_off_offers_nothing(client: firestore.Client) -> None:
    _scheduler, conversation, _ = _setup(client)
    tenant_ref(client, conversation.tenant_id).collection("settings").document("calendar").set(
        {"enabled": False}
    )
    fresh = Scheduler(firestore=client, now=lambda: NOW)
    assert fresh.slots_for(conversation.tenant_id, SP, NOW).calendar is None


def test_a_meeting_booked_within_the_reminder_lead_time_gets_no_reminder(
    client: firestore.Client,
) -> None:
    scheduler, conversation, reminders = _setup(client)
    lookup = scheduler.slots_for(conversation.tenant_id, SP, NOW)
    soonest = min(lookup.slots, key=lambda slot: slot.start)
    assert soonest.start - NOW < timedelta(hours=2)  # closer than the default 120 minutes
    decision = _ask(scheduler, conversation, BookingRequest(kind="book", slot=soonest), 7)
    _store(scheduler, conversation, decision)
    scheduler.after_commit(conversation, decision, SP)

    stored = bookings.read_booking(client, conversation.tenant_id, "conv-9-7")
    assert stored is not None and stored[0].status == BookingStatus.CONFIRMED
    assert stored[0].reminder_at is None
    assert reminders == []  # the confirmation just sent is the reminder


def test_what_a_crash_after_the_commit_left_undone_is_finished_once(
    client: firestore.Client,
) -> None:
    google = FakeGoogle()
    scheduler, conversation, reminders = _setup(client, google)
    slot = scheduler.slots_for(conversation.tenant_id, SP, NOW).slots[-1]
    decision = _ask(scheduler, conversation, BookingRequest(kind="book", slot=slot), 4)
    _store(scheduler, conversation, decision)  # the turn's batch; then the instance died
    stored = bookings.read_booking(client, conversation.tenant_id, "conv-9-4")
    assert stored is not None and stored[0].follow_through == "book"
    assert (google.created, reminders) == ([], [])

    assert scheduler.finish(conversation.tenant_id, "conv-9-4", SP)  # the redelivered turn

    stored = bookings.read_booking(client, conversation.tenant_id, "conv-9-4")
    assert stored is not None
    booking = stored[0]
    assert booking.follow_through is None
    assert booking.calendar_synced and booking.google_event_id == "evconv-9-4"
    assert booking.reminder_at == slot.start - timedelta(hours=2)
    assert google.created == ["Reunião com Bruno Lima"] and len(reminders) == 1
    assert not scheduler.finish(conversation.tenant_id, "conv-9-4", SP)  # nothing left
    assert len(google.created) == 1 and len(reminders) == 1

    current = conversation.model_copy(update=scheduler.booking_fields(decision))
    cancel = _ask(scheduler, current, BookingRequest(kind="cancel"), 5)
    _store(scheduler, current, cancel)
    assert scheduler.finish(conversation.tenant_id, "conv-9-4", SP)
    assert google.canceled == ["evconv-9-4"]
    stored = bookings.read_booking(client, conversation.tenant_id, "conv-9-4")
    assert stored is not None and stored[0].follow_through is None


def test_after_the_commit_nothing_is_left_to_finish(client: firestore.Client) -> None:
    scheduler, conversation, reminders = _setup(client, FakeGoogle())
    slot = scheduler.slots_for(conversation.tenant_id, SP, NOW).slots[-1]
    decision = _ask(scheduler, conversation, BookingRequest(kind="book", slot=slot), 4)
    _store(scheduler, conversation, decision)
    scheduler.after_commit(conversation, decision, SP)

    assert not scheduler.finish(conversation.tenant_id, "conv-9-4", SP)
    assert len(reminders) == 1
