"""Scheduling in the console: calendar settings, the slots the agent offers, bookings.

- ``GET/PUT T/calendar``: ``settings/calendar`` without its Google link (managers save; the link
  is kept as it is: ``shared.admin.google_calendar`` makes and removes it). Times are "HH:MM"
  in the tenant's time zone; ranges that overlap in a day are a 422 naming the day, provider
  google without a connected calendar a 409.
- ``GET T/calendar/slots``: the next free slots exactly as the agent would offer them
  (``Scheduler.slots_for``); a failing Google Calendar fills ``error``, never a 500.
- ``GET T/bookings``: upcoming bookings (every seller sees them all: a small team shares one
  calendar); ``POST T/bookings/{booking_id}/cancel``: a seller cancels a meeting. The booking,
  its conversation (booking canceled, no offer left), the ``meeting.canceled`` business event
  and the audit entry are one transaction; the event is published and the Google event deleted
  after the commit (a failure is logged or recorded on the booking, never raised).

Every change is audited (``calendar.update``, ``booking.cancel``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import pairwise
from typing import Any, Literal

from google.cloud import firestore
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, conflict, from_validation_error, invalid, not_found
from shared.admin.http import Request
from shared.admin.schemas import Strict
from shared.integrations.events import meeting_event
from shared.integrations.models import BusinessEvent, BusinessEventType
from shared.integrations.outbox import stage_events
from shared.integrations.publish import publish_logged
from shared.models.conversation import Conversation
from shared.scheduling import bookings
from shared.scheduling.models import (
    WEEKDAYS,
    Booking,
    BookingRequest,
    BookingStatus,
    CalendarSettings,
    Weekday,
)
from shared.scheduling.service import BackendFor, Scheduler, read_calendar
from shared.store.conversations import conversation_ref, tenant_ref

logger = logging.getLogger("piloto.admin.calendar")

DEFAULT_TIMEZONE = "America/Sao_Paulo"
HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_DEFAULTS = CalendarSettings()


class HoursIn(Strict):
    """One opening on a day, "HH:MM" in the tenant's time zone."""

    start: str = Field(pattern=HH_MM, examples=["09:00"])
    end: str = Field(pattern=HH_MM, examples=["12:00"])


class CalendarIn(Strict):
    """How the tenant takes meetings (``CalendarSettings`` without the Google link)."""

    enabled: bool = _DEFAULTS.enabled
    provider: Literal["builtin", "google"] = _DEFAULTS.provider
    business_hours: dict[Weekday, list[HoursIn]] = Field(
        default_factory=lambda: _hours_in(_DEFAULTS),
        description="Openings per weekday (mon…sun); a day left out is closed.",
    )
    meeting_minutes: int = Field(default=_DEFAULTS.meeting_minutes, ge=10, le=240)
    buffer_before_minutes: int = Field(default=_DEFAULTS.buffer_before_minutes, ge=0, le=120)
    buffer_after_minutes: int = Field(default=_DEFAULTS.buffer_after_minutes, ge=0, le=120)
    min_notice_minutes: int = Field(default=_DEFAULTS.min_notice_minutes, ge=0, le=7 * 24 * 60)
    horizon_days: int = Field(default=_DEFAULTS.horizon_days, ge=1, le=60)
    slots_offered: int = Field(default=_DEFAULTS.slots_offered, ge=1, le=10)
    meeting_title: str = Field(
        default=_DEFAULTS.meeting_title,
        min_length=1,
        max_length=200,
        description="The calendar event's title; {nome} is the lead's name.",
    )
    location: str | None = Field(default=None, max_length=500)
    reminder_minutes_before: int = Field(
        default=_DEFAULTS.reminder_minutes_before, ge=0, le=48 * 60, description="0: none."
    )


class GoogleState(BaseModel):
    """The connected Google Calendar as the console shows it (never the token reference)."""

    connected: bool
    account_email: str | None = None
    calendar_id: str | None = None
    status: Literal["connected", "failing"] | None = None
    error: str | None = None


class CalendarOut(BaseModel):
    """The calendar settings, the tenant's time zone and the Google Calendar connection."""

    settings: CalendarIn
    timezone: str
    google: GoogleState
    google_available: bool = Field(description="The deployment has a Google OAuth client.")


class SlotOut(BaseModel):
    start: AwareDatetime
    end: AwareDatetime
    label: str


class SlotsPreview(BaseModel):
    """The free slots the agent would offer now; ``error`` when Google Calendar failed."""

    slots: list[SlotOut]
    error: str | None = None


class BookingsQuery(Strict):
    status: Literal["held", "confirmed", "canceled"] | None = None  # inline in OpenAPI
    from_: AwareDatetime | None = Field(
        default=None, alias="from", description="Meetings starting at or after (default: now)."
    )
    to: AwareDatetime | None = Field(default=None, description="Meetings starting before.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BookingOut(BaseModel):
    """One meeting as the console lists it."""

    booking_id: str
    conversation_id: str | None
    contact_name: str | None
    phone: str | None
    email: str | None
    start: AwareDatetime
    end: AwareDatetime
    status: BookingStatus
    provider: Literal["builtin", "google"]
    calendar_synced: bool
    sync_error: str | None
    reminder_at: AwareDatetime | None
    reminder_sent_at: AwareDatetime | None
    source: Literal["agent", "seller", "api"]
    created_at: AwareDatetime


class BookingList(BaseModel):
    bookings: list[BookingOut]


class BookingCancel(Strict):
    reason: str | None = Field(default=None, max_length=500)


def get_calendar(request: Request, tenant_id: str) -> CalendarOut:
    """Return the calendar settings and the Google Calendar connection."""
    client = request.services.firestore
    return _calendar_out(request, read_calendar(client, tenant_id), _timezone(client, tenant_id))


def put_calendar(request: Request, tenant_id: str) -> CalendarOut:
    """Save the calendar settings, keeping the Google link as it is."""
    body: CalendarIn = request.body
    hours = _checked_hours(body.business_hours)
    services = request.services
    client = services.firestore
    now = services.now()
    document = calendar_document(client, tenant_id)

    @firestore.transactional
    def save(transaction: Any) -> CalendarSettings:
        snapshot = document.get(transaction=transaction)
        stored = (snapshot.to_dict() or {}) if snapshot.exists else {}
        link = stored.get("google")
        if body.provider == "google" and not link:
            raise conflict(
                "connect a Google Calendar before choosing it as the provider", "provider"
            )
        try:
            settings = CalendarSettings.model_validate(
                {
                    **body.model_dump(exclude={"business_hours"}),
                    "business_hours": hours,
                    "google": link,
                }
            )
        except ValidationError as error:
            raise from_validation_error(error) from None
        before = _saved_fields(_stored_settings(stored))
        after = _saved_fields(settings)
        changed = sorted(name for name in after if after[name] != before.get(name))
        if not changed:
            return settings
        transaction.set(
            document, {**settings.model_dump(mode="json", exclude={"google"}), "google": link}
        )
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "calendar.update",
                "settings/calendar",
                now,
                before={name: before.get(name) for name in changed},
                after={name: after[name] for name in changed},
            ),
        )
        return settings

    saved = save(client.transaction())
    return _calendar_out(request, saved, _timezone(client, tenant_id))


def get_slots(request: Request, tenant_id: str) -> SlotsPreview:
    """Return the next free slots as the agent would offer them now."""
    services = request.services
    client = services.firestore
    now = services.now()
    lookup = scheduler_for(services).slots_for(tenant_id, _timezone(client, tenant_id), now)
    return SlotsPreview(
        slots=[SlotOut(start=slot.start, end=slot.end, label=slot.label) for slot in lookup.slots],
        error=lookup.error,
    )


def list_bookings(request: Request, tenant_id: str) -> BookingList:
    """Return the bookings in the range, the earliest first (default: upcoming, not canceled)."""
    query: BookingsQuery = request.query
    now = request.services.now()
    if query.to is not None and query.from_ is not None and query.to <= query.from_:
        raise ApiError(400, "to: must be after from", "to")
    default = [BookingStatus.HELD, BookingStatus.CONFIRMED]
    statuses = [BookingStatus(query.status)] if query.status else default
    found = bookings.list_bookings(
        request.services.firestore,
        tenant_id,
        start_from=query.from_ or now,
        start_to=query.to,
        statuses=statuses,
    )
    live = [booking for booking in found if not _expired_hold(booking, now)]
    return BookingList(bookings=[_booking_out(booking) for booking in live])


def cancel_booking(request: Request, tenant_id: str, booking_id: str) -> BookingOut:
    """Cancel a meeting for the lead: free its time, tell the integrations, delete the event."""
    body: BookingCancel = request.body
    services = request.services
    client = services.firestore
    now = services.now()
    calendar = read_calendar(client, tenant_id)
    stored = bookings.read_booking(client, tenant_id, booking_id)
    if stored is None:
        raise not_found("booking")
    conversation = _conversation(client, tenant_id, stored[0].conversation_id)
    staged: list[BusinessEvent] = []

    def check(booking: Booking) -> None:
        if booking.status == BookingStatus.CANCELED:
            raise conflict("the booking is already canceled")
        if booking.start <= now:
            raise conflict("the meeting has already started or passed")

    def also(transaction: Any, canceled: Booking) -> None:
        event = meeting_event(
            canceled,
            BusinessEventType.MEETING_CANCELED,
            now=now,
            location=calendar.location,
            reason=body.reason,
            assignee_uid=conversation.assignee_uid if conversation else None,
        )
        staged[:] = [event]
        stage_events(transaction, client, staged, cause=canceled.booking_id)
        if conversation is not None and conversation.booking_id == canceled.booking_id:
            transaction.update(
                conversation_ref(client, tenant_id, conversation.conversation_id),
                {
                    "booking_status": BookingStatus.CANCELED.value,
                    "offered_slots": [],
                    "updated_at": now,
                },
            )
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "booking.cancel",
                f"bookings/{canceled.booking_id}",
                now,
                before={"status": stored[0].status.value, "start": stored[0].start.isoformat()},
                after={"status": BookingStatus.CANCELED.value, "reason": body.reason},
            ),
        )

    canceled = bookings.cancel(
        client, tenant_id, booking_id, body.reason, now, check=check, also=also
    )
    if canceled is None:  # deleted meanwhile
        raise not_found("booking")
    # the cancel stands whatever happens now: a failed publish stays in the outbox
    publish_logged(getattr(services, "publish_events", None), staged)
    if canceled.google_event_id:
        try:
            scheduler_for(services).sync(
                tenant_id,
                booking_id,
                BookingRequest(kind="cancel", booking_id=booking_id),
                _timezone(client, tenant_id),
            )
        except Exception:  # recorded on the booking when the calendar refused; else logged
            logger.exception("removing the canceled meeting from the calendar failed")
        fresh = bookings.read_booking(client, tenant_id, booking_id)
        canceled = fresh[0] if fresh is not None else canceled
    return _booking_out(canceled)


def scheduler_for(services: Any) -> Scheduler:
    """Return a scheduler over the admin's services (Google Calendar when one is connected)."""
    backend_for: BackendFor | None = getattr(services, "calendar_backend_for", None)
    if backend_for is None:
        from shared.scheduling.google import google_backend_for

        backend_for = google_backend_for(services.settings, services.http)
    return Scheduler(firestore=services.firestore, backend_for=backend_for, now=services.now)


def calendar_document(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/settings/calendar``."""
    return tenant_ref(client, tenant_id).collection("settings").document("calendar")


def _stored_settings(stored: dict[str, Any]) -> CalendarSettings:
    """Return the stored settings (the defaults when absent or unreadable)."""
    try:
        return CalendarSettings.model_validate(stored) if stored else CalendarSettings()
    except ValidationError:
        return CalendarSettings()


def _checked_hours(hours: dict[Weekday, list[HoursIn]]) -> dict[str, list[dict[str, str]]]:
    """Return the openings per day in order, or a 422 naming the range or day at fault."""
    checked: dict[str, list[dict[str, str]]] = {}
    for day in WEEKDAYS:
        ranges = hours.get(day)
        if not ranges:
            continue
        for index, opening in enumerate(ranges):
            if opening.start >= opening.end:
                raise invalid(f"business_hours.{day}.{index}", "start must be before end")
        ordered = sorted(ranges, key=lambda opening: opening.start)
        for first, second in pairwise(ordered):
            if second.start < first.end:
                raise invalid(
                    f"business_hours.{day}",
                    f"the openings {first.start}-{first.end} and {second.start}-{second.end} "
                    f"overlap on {day}",
                )
        checked[day] = [{"start": opening.start, "end": opening.end} for opening in ordered]
    return checked


def _hours_in(settings: CalendarSettings) -> dict[Weekday, list[HoursIn]]:
    return {
        day: [
            HoursIn(start=f"{opening.start:%H:%M}", end=f"{opening.end:%H:%M}")
            for opening in openings
        ]
        for day, openings in settings.business_hours.items()
    }


def _settings_in(settings: CalendarSettings) -> CalendarIn:
    values = settings.model_dump(exclude={"google", "business_hours"})
    return CalendarIn.model_validate({**values, "business_hours": _hours_in(settings)})


def _saved_fields(settings: CalendarSettings) -> dict[str, Any]:
    """Return what an audit entry compares: the settings as the API shows them."""
    return _settings_in(settings).model_dump(mode="json")


def _calendar_out(request: Request, settings: CalendarSettings, timezone: str) -> CalendarOut:
    link = settings.google
    google = (
        GoogleState(
            connected=True,
            account_email=link.account_email,
            calendar_id=link.calendar_id,
            status=link.status,
            error=link.error,
        )
        if link is not None
        else GoogleState(connected=False)
    )
    return CalendarOut(
        settings=_settings_in(settings),
        timezone=timezone,
        google=google,
        google_available=bool(request.services.settings.google_oauth_client_id),
    )


def _timezone(client: Any, tenant_id: str) -> str:
    snapshot = tenant_ref(client, tenant_id).get()
    record = (snapshot.to_dict() or {}) if snapshot.exists else {}
    return str(record.get("timezone") or DEFAULT_TIMEZONE)


def _conversation(client: Any, tenant_id: str, conversation_id: str | None) -> Conversation | None:
    if not conversation_id:
        return None
    snapshot = conversation_ref(client, tenant_id, conversation_id).get()
    return Conversation.model_validate(snapshot.to_dict()) if snapshot.exists else None


def _expired_hold(booking: Booking, now: datetime) -> bool:
    """Return whether a hold no turn confirmed has freed itself."""
    return (
        booking.status == BookingStatus.HELD
        and booking.hold_expires_at is not None
        and booking.hold_expires_at <= now
    )


def _booking_out(booking: Booking) -> BookingOut:
    return BookingOut.model_validate(booking.model_dump(include=set(BookingOut.model_fields)))
