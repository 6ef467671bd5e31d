"""Holds, moves, confirmations and cancellations on the Firestore emulator: never double-booked."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.scheduling import bookings
from shared.scheduling.models import Booking, BookingStatus, CalendarSettings

SP = "America/Sao_Paulo"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday 09:00 in São Paulo
NINE = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # Tuesday 09:00 in São Paulo
SETTINGS = CalendarSettings(enabled=True, buffer_before_minutes=0, buffer_after_minutes=10)


@pytest.fixture
def client(local_stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=local_stack.project_id)


def _tenant() -> str:
    return f"sched-{uuid.uuid4().hex[:10]}"


def _booking(tenant_id: str, booking_id: str, start: datetime, minutes: int = 30) -> Booking:
    return Booking(
        booking_id=booking_id,
        tenant_id=tenant_id,
        conversation_id=booking_id.rsplit("-", 1)[0],
        start=start,
        end=start + timedelta(minutes=minutes),
        created_at=NOW,
        updated_at=NOW,
    )


def _confirm(client: firestore.Client, tenant_id: str, booking_id: str) -> None:
    stored = bookings.read_booking(client, tenant_id, booking_id)
    assert stored is not None
    batch = client.batch()
    bookings.confirm_in(batch, client, tenant_id, stored[0], stored[1], NOW)
    batch.commit()


def test_eight_leads_holding_the_same_slot_leave_exactly_one_hold(client: firestore.Client) -> None:
    tenant_id = _tenant()
    results: list[str] = []
    barrier = threading.Barrier(8)

    def lead(index: int) -> None:
        barrier.wait()
        booking = _booking(tenant_id, f"conv{index}-1", NINE)
        results.append(bookings.hold(client, tenant_id, booking, SETTINGS, SP, NOW).status)

    threads = [threading.Thread(target=lead, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["held"] + ["taken"] * 7
    busy = bookings.busy_intervals(client, tenant_id, NOW, NOW + timedelta(days=3), SP, NOW)
    assert busy == [(NINE, NINE + timedelta(minutes=30))]


def test_a_retried_hold_is_idempotent_and_confirmation_survives_the_hold_expiry(
    client: firestore.Client,
) -> None:
    tenant_id = _tenant()
    booking = _booking(tenant_id, "conv-3", NINE)
    assert bookings.hold(client, tenant_id, booking, SETTINGS, SP, NOW).status == "held"
    assert bookings.hold(client, tenant_id, booking, SETTINGS, SP, NOW).status == "already_held"
    _confirm(client, tenant_id, "conv-3")
    later = NOW + timedelta(hours=1)
    stored = bookings.read_booking(client, tenant_id, "conv-3")
    assert stored is not None and stored[0].status == BookingStatus.CONFIRMED
    assert stored[0].hold_expires_at is None and stored[1] == "2026-11-24"
    other = _booking(tenant_id, "other-1", NINE)
    assert bookings.hold(client, tenant_id, other, SETTINGS, SP, later).status == "taken"
    assert bookings.hold(client, tenant_id, booking, SETTINGS, SP, later).status == "already_held"


def test_overlap_with_the_buffer_is_refused_and_after_it_is_held(client: firestore.Client) -> None:
    tenant_id = _tenant()
    first = _booking(tenant_id, "a-1", NINE)
    assert bookings.hold(client, tenant_id, first, SETTINGS, SP, NOW).status == "held"
    # 09:30 starts inside the 10-minute buffer after 09:00-09:30.
    inside = _booking(tenant_id, "b-1", NINE + timedelta(minutes=30))
    assert bookings.hold(client, tenant_id, inside, SETTINGS, SP, NOW).status == "taken"
    after = _booking(tenant_id, "c-1", NINE + timedelta(minutes=40))
    assert bookings.hold(client, tenant_id, after, SETTINGS, SP, NOW).status == "held"


def test_an_expired_hold_frees_itself(client: firestore.Client) -> None:
    tenant_id = _tenant()
    orphan = _booking(tenant_id, "orphan-1", NINE)
    assert bookings.hold(client, tenant_id, orphan, SETTINGS, SP, NOW).status == "held"
    soon = NOW + timedelta(minutes=bookings.HOLD_MINUTES - 1)
    late = NOW + timedelta(minutes=bookings.HOLD_MINUTES + 1)
    window = (NOW, NOW + timedelta(days=2))
    assert bookings.busy_intervals(client, tenant_id, *window, SP, soon) != []
    assert bookings.busy_intervals(client, tenant_id, *window, SP, late) == []
    taker = _booking(tenant_id, "taker-1", NINE)
    assert bookings.hold(client, tenant_id, taker, SETTINGS, SP, late).status == "held"
    day = client.document(f"tenants/{tenant_id}/calendar_days/2026-11-24").get().to_dict() or {}
    assert set(day["intervals"]) == {"taker-1"}  # the expired hold was dropped


def test_a_reschedule_frees_the_old_time_in_the_same_transaction(client: firestore.Client) -> None:
    tenant_id = _tenant()
    booking = _booking(tenant_id, "lead-2", NINE)
    bookings.hold(client, tenant_id, booking, SETTINGS, SP, NOW)
    _confirm(client, tenant_id, "lead-2")
    new_start = NINE + timedelta(days=1, hours=5)
    moved = bookings.move(
        client, tenant_id, "lead-2", new_start, new_start + timedelta(minutes=30), SETTINGS, SP, NOW
    )
    assert moved.status == "held" and moved.booking is not None
    assert moved.booking.start == new_start
    _confirm(client, tenant_id, "lead-2")
    busy = bookings.busy_intervals(client, tenant_id, NOW, NOW + timedelta(days=5), SP, NOW)
    assert busy == [(new_start, new_start + timedelta(minutes=30))]
    other = _booking(tenant_id, "other-1", NINE)
    assert bookings.hold(client, tenant_id, other, SETTINGS, SP, NOW).status == "held"
    # Moving onto a taken time changes nothing.
    refused = bookings.move(
        client, tenant_id, "lead-2", NINE, NINE + timedelta(minutes=30), SETTINGS, SP, NOW
    )
    assert refused.status == "taken"
    stored = bookings.read_booking(client, tenant_id, "lead-2")
    assert stored is not None and stored[0].start == new_start


def test_cancel_frees_the_time_and_refusals_write_nothing(client: firestore.Client) -> None:
    tenant_id = _tenant()
    booking = _booking(tenant_id, "lead-5", NINE)
    bookings.hold(client, tenant_id, booking, SETTINGS, SP, NOW)
    _confirm(client, tenant_id, "lead-5")

    def refuse(_booking: Booking) -> None:
        raise LookupError("no")

    with pytest.raises(LookupError):
        bookings.cancel(client, tenant_id, "lead-5", "x", NOW, check=refuse)
    assert bookings.busy_intervals(client, tenant_id, NOW, NINE + timedelta(days=1), SP, NOW)
    canceled = bookings.cancel(client, tenant_id, "lead-5", "cliente desmarcou", NOW)
    assert canceled is not None and canceled.status == BookingStatus.CANCELED
    assert bookings.busy_intervals(client, tenant_id, NOW, NINE + timedelta(days=1), SP, NOW) == []
    assert bookings.hold(client, tenant_id, booking, SETTINGS, SP, NOW).status == "taken"
    assert bookings.cancel(client, tenant_id, "missing", None, NOW) is None


def test_a_booking_spanning_midnight_is_refused(client: firestore.Client) -> None:
    late = datetime(2026, 11, 25, 2, 45, tzinfo=UTC)  # 23:45 in São Paulo
    with pytest.raises(ValueError, match="midnight"):
        bookings.hold(client, "t", _booking("t", "x-1", late), SETTINGS, SP, NOW)
