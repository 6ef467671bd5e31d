"""The scheduler the turn runner, the reminder and the admin use: slots, holds, sync, reminders.

``Scheduler`` is wired with Firestore, a per-instance cache of each tenant's calendar settings,
what reaches a tenant's external calendar (``backend_for``: Google Calendar in
``shared.scheduling.google``, None for the built-in calendar) and what schedules reminder tasks.

The turn runner (``shared.turns``) calls, in order:

- ``slots_for`` (lazily, when the graph needs an offer): the free slots as the agent offers them;
- ``carry_out`` before storing the decision: holds the slot of a ``book``/``reschedule``
  (booking id ``{conversation_id}-{inbound_seq}``), checks a ``cancel``/``add_email``; on a lost
  race the decision's messages become a new offer (reason SLOT_TAKEN);
- ``stage`` in the decision's batch: confirms the hold / cancels the booking;
- ``after_commit``: the external calendar event and the reminder task (never failing the turn).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from shared.models.conversation import Conversation
from shared.models.decision import Action, Choice, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings, QuietHours
from shared.policy.windows import in_quiet_hours
from shared.scheduling import bookings
from shared.scheduling.availability import free_slots, overlaps, widen
from shared.scheduling.models import Booking, BookingRequest, BookingStatus, CalendarSettings, Slot
from shared.scheduling.reminders import ReminderRequest
from shared.store.cache import TTLCache
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.scheduling")

EMAIL_FIELDS = ("email", "e-mail", "e_mail")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

__all__ = [
    "CalendarBackend",
    "CalendarUnavailable",
    "ReminderRequest",
    "Scheduler",
    "SlotLookup",
]


class CalendarUnavailable(Exception):
    """The external calendar could not be reached or refused the call (the reason is the text)."""


class CalendarBackend(Protocol):
    """A tenant's external calendar (Google Calendar); every method may raise CalendarUnavailable.

    Event ids are derived from the booking id, so creating the same booking's event twice finds
    the first one (a retry after a lost answer creates no duplicate).
    """

    def busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Return the busy intervals between ``start`` and ``end`` (aware datetimes)."""
        ...

    def create_event(
        self, booking: Booking, title: str, description: str, location: str | None
    ) -> str:
        """Create the booking's event (or find the one already created); return its id.

        ``booking.email``, when set, is invited (Google sends the invitation).
        """
        ...

    def move_event(self, event_id: str, booking: Booking) -> None:
        """Move the event to the booking's (new) start and end."""
        ...

    def cancel_event(self, event_id: str) -> None:
        """Cancel the event (an event already gone is not an error)."""
        ...

    def add_attendee(self, event_id: str, email: str) -> None:
        """Invite ``email`` to the event (Google sends the invitation)."""
        ...


BackendFor = Callable[[str, CalendarSettings], CalendarBackend | None]
"""Return the tenant's external calendar for its settings, or None (built-in calendar)."""

ScheduleReminder = Callable[[ReminderRequest, datetime], None]
"""Put a reminder task on Cloud Tasks to run at the given time."""


@dataclass(frozen=True)
class SlotLookup:
    """The free slots a turn may offer: ``calendar`` None means scheduling is off."""

    calendar: CalendarSettings | None
    slots: list[Slot] = field(default_factory=list)
    error: str | None = None
    """Why the slots could not be computed (the external calendar failed)."""


def read_calendar(client: Any, tenant_id: str) -> CalendarSettings:
    """Read ``tenants/{t}/settings/calendar``; the defaults (scheduling off) when unset."""
    snapshot = tenant_ref(client, tenant_id).collection("settings").document("calendar").get()
    if not snapshot.exists:
        return CalendarSettings()
    try:
        return CalendarSettings.model_validate(snapshot.to_dict() or {})
    except ValidationError as error:
        logger.error("calendar settings unreadable: %s", error, extra={"tenant_id": tenant_id})
        return CalendarSettings()


def lead_email(conversation: Conversation) -> str | None:
    """Return the e-mail the lead gave in a qualification field, if any."""
    for name, value in conversation.fields.items():
        if name.strip().lower() in EMAIL_FIELDS and _EMAIL.match(value.strip()):
            return value.strip()
    return None


def reminder_time(
    start: datetime, minutes_before: int, quiet_hours: QuietHours | None, timezone: str
) -> datetime:
    """Return when a meeting's reminder goes out: moved before quiet hours it falls in."""
    at = start - timedelta(minutes=minutes_before)
    if quiet_hours is None or not in_quiet_hours(at, quiet_hours, timezone):
        return at
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    began = local.date()
    if quiet_hours.start > quiet_hours.end and local.time() < quiet_hours.end:
        began -= timedelta(days=1)
    quiet_start = datetime.combine(began, quiet_hours.start, tzinfo=zone).astimezone(UTC)
    return quiet_start - timedelta(minutes=1)


def meeting_description(booking: Booking) -> str:
    """Return the calendar event's description: who the lead is and how to reach them."""
    lines = ["Agendado pelo Piloto (WhatsApp)."]
    if booking.contact_name:
        lines.append(f"Lead: {booking.contact_name}")
    if booking.phone:
        lines.append(f"WhatsApp: {booking.phone}")
    if booking.email:
        lines.append(f"E-mail: {booking.email}")
    return "\n".join(lines)


def meeting_title(settings: CalendarSettings, booking: Booking) -> str:
    """Return the event title from the settings' pattern (``{nome}``: the lead's name)."""
    name = booking.contact_name or booking.phone or "lead"
    return settings.meeting_title.replace("{nome}", name)[:200]


@dataclass
class Scheduler:
    """Slots, holds, confirmations, calendar sync and reminders for the turn runner."""

    firestore: Any
    backend_for: BackendFor = lambda tenant_id, settings: None
    schedule_reminder: ScheduleReminder | None = None
    load_agent: Callable[[str], tuple[AgentSettings, str]] | None = None
    """The tenant's agent settings (quiet hours, for the reminder's time); None: no quiet hours."""
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    settings_ttl_seconds: float = 60.0
    _calendars: TTLCache[CalendarSettings] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._calendars = TTLCache(
            lambda tenant_id: read_calendar(self.firestore, tenant_id),
            ttl_seconds=self.settings_ttl_seconds,
            missing_ttl_seconds=0,
        )

    def calendar(self, tenant_id: str) -> CalendarSettings:
        """Return the tenant's calendar settings (cached per instance; defaults when unset)."""
        settings = self._calendars.get(tenant_id)
        return settings if settings is not None else CalendarSettings()

    def backend(self, tenant_id: str, settings: CalendarSettings) -> CalendarBackend | None:
        """Return the tenant's external calendar when it uses one."""
        if settings.provider != "google" or settings.google is None:
            return None
        return self.backend_for(tenant_id, settings)

    def slots_for(self, tenant_id: str, timezone: str, now: datetime) -> SlotLookup:
        """Return the free slots as the agent offers them (none and no calendar when off)."""
        settings = self.calendar(tenant_id)
        if not settings.enabled:
            return SlotLookup(calendar=None)
        end = now + timedelta(days=settings.horizon_days)
        busy = bookings.busy_intervals(self.firestore, tenant_id, now, end, timezone, now)
        backend = self.backend(tenant_id, settings)
        if backend is not None:
            try:
                busy.extend(backend.busy(now, end))
            except Exception as error:  # a failing calendar hands off, never fails the turn
                logger.warning(
                    "external calendar busy failed: %s", error, extra={"tenant_id": tenant_id}
                )
                return SlotLookup(calendar=settings, error=str(error) or type(error).__name__)
        slots = free_slots(settings, timezone, now, busy, limit=settings.slots_offered)
        return SlotLookup(calendar=settings, slots=slots)

    def carry_out(
        self,
        conversation: Conversation,
        decision: Decision,
        *,
        inbound_seq: int,
        timezone: str,
        now: datetime,
    ) -> Decision:
        """Hold what ``decision.booking`` books; on a lost race return a new offer instead."""
        request = decision.booking
        if request is None or request.kind == "offer":
            return decision
        tenant_id = conversation.tenant_id
        if request.kind in ("book", "reschedule"):
            if request.slot is None:
                raise ValueError(f"a {request.kind} request needs a slot")
            settings = self.calendar(tenant_id)
            if request.slot.start <= now or self._externally_busy(
                tenant_id, settings, request.slot
            ):
                return self._slot_taken(conversation, decision, timezone, now)
            if request.kind == "book":
                booking_id = f"{conversation.conversation_id}-{inbound_seq}"
                result = bookings.hold(
                    self.firestore,
                    tenant_id,
                    self._new_booking(conversation, booking_id, request.slot, settings, now),
                    settings,
                    timezone,
                    now,
                )
            else:
                booking_id = request.booking_id or conversation.booking_id or ""
                try:
                    result = bookings.move(
                        self.firestore,
                        tenant_id,
                        booking_id,
                        request.slot.start,
                        request.slot.end,
                        settings,
                        timezone,
                        now,
                    )
                except bookings.BookingNotFound:
                    logger.warning("reschedule of a missing booking %s", booking_id)
                    return self._slot_taken(conversation, decision, timezone, now)
            if result.status == "taken":
                return self._slot_taken(conversation, decision, timezone, now)
            return self._with_booking(decision, request, booking_id)
        target = request.booking_id or conversation.booking_id
        stored = bookings.read_booking(self.firestore, tenant_id, target) if target else None
        if stored is None or stored[0].status != BookingStatus.CONFIRMED:
            return decision.model_copy(update={"booking": None})  # nothing (left) to change
        if request.kind == "add_email" and not (request.email and _EMAIL.match(request.email)):
            return decision.model_copy(update={"booking": None})
        return self._with_booking(decision, request, stored[0].booking_id)

    def stage(
        self, writer: Any, conversation: Conversation, decision: Decision, now: datetime
    ) -> None:
        """Add to the turn's batch what confirms (or cancels) the decision's booking."""
        request = decision.booking
        if request is None or request.kind == "offer" or not request.booking_id:
            return
        tenant_id = conversation.tenant_id
        stored = bookings.read_booking(self.firestore, tenant_id, request.booking_id)
        if stored is None:
            return
        booking, day = stored
        booking_doc = bookings.booking_ref(self.firestore, tenant_id, booking.booking_id)
        if request.kind in ("book", "reschedule"):
            bookings.confirm_in(writer, self.firestore, tenant_id, booking, day, now)
        elif request.kind == "cancel":
            bookings.cancel_in(writer, self.firestore, tenant_id, booking, day, "lead", now)
        elif request.kind == "add_email" and request.email:
            writer.update(booking_doc, {"email": request.email, "updated_at": now})
        else:
            return
        writer.update(booking_doc, {"follow_through": request.kind})  # ``after_commit`` clears it

    def booking_fields(self, decision: Decision) -> dict[str, Any]:
        """Return the conversation fields the carried-out booking sets (for the turn's write).

        ``offered_slots`` for an offer; ``booking_id``, ``booking_start``, ``booking_status``
        (and no offer left) for a book/reschedule/cancel; empty otherwise. Values are the
        ``Conversation`` model's (for ``model_copy(update=...)``).
        """
        request = decision.booking
        if request is None:
            return {}
        if request.kind == "offer":
            return {"offered_slots": list(request.slots)}
        if request.kind in ("book", "reschedule") and request.slot is not None:
            return {
                "offered_slots": [],
                "booking_id": request.booking_id,
                "booking_start": request.slot.start,
                "booking_status": BookingStatus.CONFIRMED.value,
            }
        if request.kind == "cancel":
            return {"offered_slots": [], "booking_status": BookingStatus.CANCELED.value}
        return {}

    def after_commit(self, conversation: Conversation, decision: Decision, timezone: str) -> None:
        """Sync the external calendar and schedule the reminder; never raise."""
        request = decision.booking
        if request is None or request.kind == "offer" or not request.booking_id:
            return
        try:
            self.sync(conversation.tenant_id, request.booking_id, request, timezone)
        except Exception:
            logger.exception(
                "booking follow-through failed",
                extra={"tenant_id": conversation.tenant_id, "booking_id": request.booking_id},
            )

    def finish(self, tenant_id: str, booking_id: str, timezone: str) -> bool:
        """Carry out what a stored turn left undone for the booking (a crash between its commit
        and ``after_commit``); return whether there was anything. Never raises."""
        try:
            stored = bookings.read_booking(self.firestore, tenant_id, booking_id)
            if stored is None or stored[0].follow_through is None:
                return False
            booking = stored[0]
            request = BookingRequest(
                kind=booking.follow_through, booking_id=booking_id, email=booking.email
            )
            self._sync(booking, request, timezone)
        except Exception:
            logger.exception(
                "booking follow-through failed",
                extra={"tenant_id": tenant_id, "booking_id": booking_id},
            )
        return True

    def sync(self, tenant_id: str, booking_id: str, request: BookingRequest, timezone: str) -> None:
        """Bring the external calendar in line with the booking and schedule its reminder."""
        stored = bookings.read_booking(self.firestore, tenant_id, booking_id)
        if stored is not None:
            self._sync(stored[0], request, timezone)

    def _sync(self, booking: Booking, request: BookingRequest, timezone: str) -> None:
        tenant_id, booking_id = booking.tenant_id, booking.booking_id
        settings = self.calendar(tenant_id)
        changes: dict[str, Any] = {"follow_through": None}
        backend = self.backend(tenant_id, settings)
        if backend is not None:
            changes.update(self._sync_external(backend, settings, booking, request))
        if request.kind in ("book", "reschedule") and booking.status == BookingStatus.CONFIRMED:
            at = self.plan_reminder(tenant_id, booking, settings, timezone)
            if at is not None:
                changes["reminder_at"] = at
        bookings.booking_ref(self.firestore, tenant_id, booking_id).update(
            {**changes, "updated_at": self.now()}
        )

    def plan_reminder(
        self, tenant_id: str, booking: Booking, settings: CalendarSettings, timezone: str
    ) -> datetime | None:
        """Schedule the booking's reminder task; return when it runs (None: no reminder).

        A meeting booked closer than the reminder's lead time gets no reminder: the lead was
        just sent the confirmation, and a second message at once would be noise.
        """
        if settings.reminder_minutes_before <= 0 or self.schedule_reminder is None:
            return None
        now = self.now()
        if booking.start <= now:
            return None
        quiet = self.load_agent(tenant_id)[0].quiet_hours if self.load_agent else None
        at = reminder_time(booking.start, settings.reminder_minutes_before, quiet, timezone)
        if at <= now:  # booked that close to the meeting: the confirmation just sent reminds
            return None
        self.schedule_reminder(ReminderRequest(tenant_id, booking.booking_id, booking.start), at)
        return at

    def _sync_external(
        self,
        backend: CalendarBackend,
        settings: CalendarSettings,
        booking: Booking,
        request: BookingRequest,
    ) -> dict[str, Any]:
        """Create, move, cancel or add to the external event; return what to record."""
        try:
            event_id = booking.google_event_id
            if booking.status == BookingStatus.CANCELED:
                if event_id:
                    backend.cancel_event(event_id)
                return {"calendar_synced": True, "sync_error": None}
            if event_id is None:
                title = meeting_title(settings, booking)
                event_id = backend.create_event(
                    booking, title, meeting_description(booking), settings.location
                )
            elif request.kind == "reschedule":
                backend.move_event(event_id, booking)
            elif request.kind == "add_email" and booking.email:
                backend.add_attendee(event_id, booking.email)
        except Exception as error:  # recorded on the booking; the console shows it
            logger.warning(
                "calendar sync failed: %s", error, extra={"booking_id": booking.booking_id}
            )
            return {
                "calendar_synced": False,
                "sync_error": str(error)[:500] or type(error).__name__,
            }
        return {
            "google_event_id": event_id,
            "provider": "google",
            "calendar_synced": True,
            "sync_error": None,
        }

    def _externally_busy(self, tenant_id: str, settings: CalendarSettings, slot: Slot) -> bool:
        """Return whether the external calendar has the slot busy now (unknown: not busy)."""
        backend = self.backend(tenant_id, settings)
        if backend is None:
            return False
        before = timedelta(minutes=settings.buffer_before_minutes)
        after = timedelta(minutes=settings.buffer_after_minutes)
        try:
            busy = backend.busy(slot.start - before - after, slot.end + before + after)
        except Exception as error:  # the hold still protects against other leads
            logger.warning("external calendar busy failed at booking: %s", error)
            return False
        return overlaps(slot.start, slot.end, widen(busy, settings))

    def _new_booking(
        self,
        conversation: Conversation,
        booking_id: str,
        slot: Slot,
        settings: CalendarSettings,
        now: datetime,
    ) -> Booking:
        return Booking(
            booking_id=booking_id,
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.conversation_id,
            contact_key=conversation.contact_key,
            contact_name=conversation.contact_name or conversation.fields.get("nome"),
            phone=conversation.contact_key,
            email=lead_email(conversation),
            start=slot.start,
            end=slot.end,
            provider=settings.provider,
            created_at=now,
            updated_at=now,
        )

    def _with_booking(
        self, decision: Decision, request: BookingRequest, booking_id: str
    ) -> Decision:
        return decision.model_copy(
            update={"booking": request.model_copy(update={"booking_id": booking_id})}
        )

    def _slot_taken(
        self, conversation: Conversation, decision: Decision, timezone: str, now: datetime
    ) -> Decision:
        """Return the decision with a fresh offer (or a handoff when nothing is free)."""
        lookup = self.slots_for(conversation.tenant_id, timezone, now)
        name = (conversation.contact_name or "").split(" ")[0]
        opening = f"Poxa{', ' + name if name else ''}, esse horário acabou de ser preenchido."
        if lookup.slots:
            message = OutboundMessage(
                text=f"{opening} Tenho estes horários livres, qual fica melhor para você?",
                choices=[Choice(id=slot.slot_id, title=slot.label) for slot in lookup.slots],
                choices_button="Ver horários",
            )
            return decision.model_copy(
                update={
                    "action": Action.SPEAK,
                    "reasons": [Reason.SLOT_TAKEN, Reason.MEETING_OFFERED],
                    "messages": [message],
                    "booking": BookingRequest(kind="offer", slots=lookup.slots),
                }
            )
        reason = Reason.CALENDAR_UNAVAILABLE if lookup.error else Reason.NO_FREE_SLOTS
        message = OutboundMessage(
            text=f"{opening} Vou pedir para alguém da equipe combinar um horário com você."
        )
        return decision.model_copy(
            update={
                "action": Action.HANDOFF,
                "reasons": [Reason.SLOT_TAKEN, reason],
                "messages": [message],
                "booking": None,
                "handoff_summary": "O horário escolhido foi preenchido e não há outro livre "
                "na agenda: combine a reunião com o lead.",
            }
        )
