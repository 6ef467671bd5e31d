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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.models.conversation import Conversation
from shared.models.decision import Decision
from shared.scheduling.models import Booking, CalendarSettings, Slot
from shared.scheduling.reminders import ReminderRequest

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
        """Create the booking's event (or find the one already created); return its id."""
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


@dataclass
class Scheduler:
    """Slots, holds, confirmations, calendar sync and reminders for the turn runner."""

    firestore: Any
    backend_for: BackendFor = lambda tenant_id, settings: None
    schedule_reminder: ScheduleReminder | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    settings_ttl_seconds: float = 60.0

    def calendar(self, tenant_id: str) -> CalendarSettings:
        """Return the tenant's calendar settings (cached per instance; defaults when unset)."""
        raise NotImplementedError

    def slots_for(self, tenant_id: str, timezone: str, now: datetime) -> SlotLookup:
        """Return the free slots as the agent offers them (none and no calendar when off)."""
        raise NotImplementedError

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
        raise NotImplementedError

    def stage(
        self, writer: Any, conversation: Conversation, decision: Decision, now: datetime
    ) -> None:
        """Add to the turn's batch what confirms (or cancels) the decision's booking."""
        raise NotImplementedError

    def booking_fields(self, decision: Decision) -> dict[str, Any]:
        """Return the conversation fields the carried-out booking sets (for the turn's write).

        ``offered_slots`` for an offer; ``booking_id``, ``booking_start``, ``booking_status``
        for a book/reschedule/cancel; empty otherwise.
        """
        raise NotImplementedError

    def after_commit(self, conversation: Conversation, decision: Decision, timezone: str) -> None:
        """Sync the external calendar and schedule the reminder; never raise."""
        raise NotImplementedError
