"""Bookings in Firestore: holds, confirmations, moves and cancellations that never double-book.

``tenants/{t}/calendar_days/{YYYY-MM-DD}`` (the tenant-local day a booking starts) keeps
``{"intervals": {booking_id: {"start", "end", "expires_at"}}}``: confirmed bookings
(``expires_at`` None) and holds (``expires_at`` = hold time + 10 minutes). A hold, a move and a
cancellation are transactions on the day documents they touch, so two leads can never take
overlapping times (buffers included); a hold the turn did not confirm is ignored once expired
and dropped by the next transaction on its day. A booking never spans midnight: business hours
are per day, and only the start day's document is checked (buffers do not cross midnight).

The booking document ``tenants/{t}/bookings/{booking_id}`` (a ``Booking``) also keeps ``day``,
the key of its day document, so a confirmation in the turn's batch needs no time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.scheduling.availability import overlaps, widen
from shared.scheduling.models import Booking, BookingStatus, CalendarSettings
from shared.store.conversations import tenant_ref

HOLD_MINUTES = 10
TRANSACTION_ATTEMPTS = 10
BOOKINGS_COLLECTION = "bookings"
DAYS_COLLECTION = "calendar_days"

HoldStatus = Literal["held", "already_held", "taken"]


@dataclass(frozen=True)
class HoldResult:
    """What a hold or move did: ``booking`` is the stored booking unless the time was taken."""

    status: HoldStatus
    booking: Booking | None = None


class BookingNotFound(Exception):
    """The booking to move or cancel does not exist (or is already canceled, for a move)."""


def booking_ref(client: Any, tenant_id: str, booking_id: str) -> Any:
    """Return ``tenants/{t}/bookings/{booking_id}``."""
    return tenant_ref(client, tenant_id).collection(BOOKINGS_COLLECTION).document(booking_id)


def day_ref(client: Any, tenant_id: str, day: str) -> Any:
    """Return ``tenants/{t}/calendar_days/{YYYY-MM-DD}``."""
    return tenant_ref(client, tenant_id).collection(DAYS_COLLECTION).document(day)


def day_key(moment: datetime, timezone: str) -> str:
    """Return the tenant-local date of ``moment`` as ``YYYY-MM-DD``."""
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def read_booking(client: Any, tenant_id: str, booking_id: str) -> tuple[Booking, str] | None:
    """Return the stored booking and the key of its day document, or None."""
    snapshot = booking_ref(client, tenant_id, booking_id).get()
    return _stored(snapshot.to_dict() or {}) if snapshot.exists else None


def hold(
    client: Any,
    tenant_id: str,
    booking: Booking,
    settings: CalendarSettings,
    timezone: str,
    now: datetime,
) -> HoldResult:
    """Hold ``booking``'s time for 10 minutes unless another booking (with buffers) overlaps.

    The same booking id holding the same times again is ``already_held`` (a retried turn);
    a booking already canceled is ``taken`` (it is never revived).
    """
    day = _single_day(booking.start, booking.end, timezone)
    transaction = client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
    result: HoldResult = _hold(transaction, client, tenant_id, booking, settings, day, now)
    return result


@firestore.transactional
def _hold(
    transaction: Any,
    client: Any,
    tenant_id: str,
    booking: Booking,
    settings: CalendarSettings,
    day: str,
    now: datetime,
) -> HoldResult:
    booking_doc = booking_ref(client, tenant_id, booking.booking_id)
    day_doc = day_ref(client, tenant_id, day)
    stored_snapshot = booking_doc.get(transaction=transaction)
    intervals = _intervals(day_doc.get(transaction=transaction))
    stored = _stored(stored_snapshot.to_dict() or {})[0] if stored_snapshot.exists else None
    if stored is not None and stored.status == BookingStatus.CANCELED:
        return HoldResult("taken")
    same = stored is not None and (stored.start, stored.end) == (booking.start, booking.end)
    if same and stored is not None and stored.status == BookingStatus.CONFIRMED:
        return HoldResult("already_held", stored)
    live = _live(intervals, now, exclude=booking.booking_id)
    if overlaps(booking.start, booking.end, widen(list(live.values()), settings)):
        return HoldResult("taken")
    expires = now + timedelta(minutes=HOLD_MINUTES)
    held = booking.model_copy(
        update={
            "status": BookingStatus.HELD,
            "hold_expires_at": expires,
            "created_at": stored.created_at if stored is not None else booking.created_at,
            "updated_at": now,
        }
    )
    transaction.set(day_doc, {"intervals": _with(live, intervals, held, expires)})
    transaction.set(booking_doc, _document(held, day))
    return HoldResult("already_held" if same else "held", held)


def move(
    client: Any,
    tenant_id: str,
    booking_id: str,
    start: datetime,
    end: datetime,
    settings: CalendarSettings,
    timezone: str,
    now: datetime,
) -> HoldResult:
    """Hold the new time of an existing booking and free its old one, in one transaction.

    The booking keeps its id and becomes HELD at the new time until the turn confirms it; a
    move to the time it already has is ``already_held``. Raises BookingNotFound when there is
    no live booking to move.
    """
    day = _single_day(start, end, timezone)
    transaction = client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
    result: HoldResult = _move(
        transaction, client, tenant_id, booking_id, start, end, settings, day, now
    )
    return result


@firestore.transactional
def _move(
    transaction: Any,
    client: Any,
    tenant_id: str,
    booking_id: str,
    start: datetime,
    end: datetime,
    settings: CalendarSettings,
    day: str,
    now: datetime,
) -> HoldResult:
    booking_doc = booking_ref(client, tenant_id, booking_id)
    snapshot = booking_doc.get(transaction=transaction)
    if not snapshot.exists:
        raise BookingNotFound(booking_id)
    stored, old_day = _stored(snapshot.to_dict() or {})
    if stored.status == BookingStatus.CANCELED:
        raise BookingNotFound(booking_id)
    new_doc = day_ref(client, tenant_id, day)
    old_doc = day_ref(client, tenant_id, old_day)
    new_intervals = _intervals(new_doc.get(transaction=transaction))
    old_intervals = (
        new_intervals if old_day == day else _intervals(old_doc.get(transaction=transaction))
    )
    if (stored.start, stored.end) == (start, end):
        return HoldResult("already_held", stored)
    live = _live(new_intervals, now, exclude=booking_id)
    if overlaps(start, end, widen(list(live.values()), settings)):
        return HoldResult("taken")
    expires = now + timedelta(minutes=HOLD_MINUTES)
    moved = stored.model_copy(
        update={
            "start": start,
            "end": end,
            "status": BookingStatus.HELD,
            "hold_expires_at": expires,
            "calendar_synced": False,
            "reminder_at": None,
            "reminder_sent_at": None,
            "updated_at": now,
        }
    )
    if old_day != day:
        old_live = _live(old_intervals, now, exclude=booking_id)
        transaction.set(old_doc, {"intervals": _raw(old_live, old_intervals)})
    transaction.set(new_doc, {"intervals": _with(live, new_intervals, moved, expires)})
    transaction.set(booking_doc, _document(moved, day))
    return HoldResult("held", moved)


def confirm_in(
    writer: Any, client: Any, tenant_id: str, booking: Booking, day: str, now: datetime
) -> None:
    """Add to ``writer`` (the turn's batch) what makes a held booking confirmed.

    ``booking`` and ``day`` are what ``read_booking`` returns; the interval is written whole,
    so a confirmation is complete even if its expired hold was dropped meanwhile.
    """
    writer.set(
        day_ref(client, tenant_id, day),
        {"intervals": {booking.booking_id: _entry(booking.start, booking.end, None)}},
        merge=True,
    )
    writer.update(
        booking_ref(client, tenant_id, booking.booking_id),
        {"status": BookingStatus.CONFIRMED.value, "hold_expires_at": None, "updated_at": now},
    )


def cancel_in(
    writer: Any,
    client: Any,
    tenant_id: str,
    booking: Booking,
    day: str,
    reason: str | None,
    now: datetime,
) -> None:
    """Add to ``writer`` what cancels ``booking`` and frees its time on ``day``."""
    writer.set(
        day_ref(client, tenant_id, day),
        {"intervals": {booking.booking_id: firestore.DELETE_FIELD}},
        merge=True,
    )
    writer.update(
        booking_ref(client, tenant_id, booking.booking_id),
        {
            "status": BookingStatus.CANCELED.value,
            "hold_expires_at": None,
            "canceled_reason": reason,
            "updated_at": now,
        },
    )


def cancel(
    client: Any,
    tenant_id: str,
    booking_id: str,
    reason: str | None,
    now: datetime,
    *,
    check: Callable[[Booking], None] | None = None,
    also: Callable[[Any, Booking], None] | None = None,
) -> Booking | None:
    """Cancel a booking in a transaction; return it canceled, or None when there is none.

    ``check`` may raise to refuse (nothing written); ``also`` adds writes of the caller (an
    audit entry, business events) to the same transaction. A booking already canceled is
    returned as it is (``check`` sees it first).
    """
    transaction = client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
    result: Booking | None = _cancel(
        transaction, client, tenant_id, booking_id, reason, now, check, also
    )
    return result


@firestore.transactional
def _cancel(
    transaction: Any,
    client: Any,
    tenant_id: str,
    booking_id: str,
    reason: str | None,
    now: datetime,
    check: Callable[[Booking], None] | None,
    also: Callable[[Any, Booking], None] | None,
) -> Booking | None:
    snapshot = booking_ref(client, tenant_id, booking_id).get(transaction=transaction)
    if not snapshot.exists:
        return None
    stored, day = _stored(snapshot.to_dict() or {})
    if check is not None:
        check(stored)
    if stored.status == BookingStatus.CANCELED:
        return stored
    canceled = stored.model_copy(
        update={
            "status": BookingStatus.CANCELED,
            "hold_expires_at": None,
            "canceled_reason": reason,
            "updated_at": now,
        }
    )
    cancel_in(transaction, client, tenant_id, stored, day, reason, now)
    if also is not None:
        also(transaction, canceled)
    return canceled


def busy_intervals(
    client: Any, tenant_id: str, start: datetime, end: datetime, timezone: str, now: datetime
) -> list[tuple[datetime, datetime]]:
    """Return the confirmed and unexpired held intervals of the days from ``start`` to ``end``."""
    zone = ZoneInfo(timezone)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    refs = [
        day_ref(client, tenant_id, (first + timedelta(days=offset)).isoformat())
        for offset in range((last - first).days + 1)
    ]
    busy: list[tuple[datetime, datetime]] = []
    for snapshot in client.get_all(refs):
        busy.extend(_live(_intervals(snapshot), now).values())
    return sorted(busy)


def list_bookings(
    client: Any,
    tenant_id: str,
    *,
    start_from: datetime,
    start_to: datetime | None,
    statuses: Iterable[BookingStatus],
    limit: int = 200,
) -> list[Booking]:
    """Return the bookings starting in the range with one of ``statuses``, earliest first."""
    query = (
        tenant_ref(client, tenant_id)
        .collection(BOOKINGS_COLLECTION)
        .where(filter=FieldFilter("start", ">=", start_from))
    )
    if start_to is not None:
        query = query.where(filter=FieldFilter("start", "<", start_to))
    wanted = set(statuses)
    found = [
        Booking.model_validate(snapshot.to_dict())
        for snapshot in query.order_by("start").limit(limit * 2).stream()
    ]
    return [booking for booking in found if booking.status in wanted][:limit]


def _single_day(start: datetime, end: datetime, timezone: str) -> str:
    """Return the day key of a booking, refusing one that spans midnight."""
    if end <= start:
        raise ValueError("a booking must end after it starts")
    day = day_key(start, timezone)
    if day_key(end - timedelta(microseconds=1), timezone) != day:
        raise ValueError("a booking cannot span midnight in the tenant's time zone")
    return day


def _stored(document: dict[str, Any]) -> tuple[Booking, str]:
    """Return a booking document's booking and day key."""
    booking = Booking.model_validate(document)
    return booking, str(document.get("day") or booking.start.date().isoformat())


def _document(booking: Booking, day: str) -> dict[str, Any]:
    return {**booking.model_dump(mode="python"), "day": day}


def _entry(start: datetime, end: datetime, expires_at: datetime | None) -> dict[str, Any]:
    return {"start": start, "end": end, "expires_at": expires_at}


def _intervals(snapshot: Any) -> dict[str, dict[str, Any]]:
    """Return a day document's intervals by booking id."""
    if not snapshot.exists:
        return {}
    intervals = (snapshot.to_dict() or {}).get("intervals") or {}
    return {key: value for key, value in intervals.items() if isinstance(value, dict)}


def _live(
    intervals: dict[str, dict[str, Any]], now: datetime, exclude: str | None = None
) -> dict[str, tuple[datetime, datetime]]:
    """Return the confirmed and unexpired held intervals, by booking id."""
    return {
        booking_id: (entry["start"], entry["end"])
        for booking_id, entry in intervals.items()
        if booking_id != exclude and (entry.get("expires_at") is None or entry["expires_at"] > now)
    }


def _raw(
    live: dict[str, tuple[datetime, datetime]], intervals: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Return the stored entries of the live intervals (expired holds dropped)."""
    return {booking_id: intervals[booking_id] for booking_id in live}


def _with(
    live: dict[str, tuple[datetime, datetime]],
    intervals: dict[str, dict[str, Any]],
    booking: Booking,
    expires_at: datetime | None,
) -> dict[str, dict[str, Any]]:
    """Return the day's live entries plus ``booking``'s."""
    return {
        **_raw(live, intervals),
        booking.booking_id: _entry(booking.start, booking.end, expires_at),
    }
