"""What scheduling stores and passes around: calendar settings, slots, bookings.

Firestore layout under ``tenants/{tenant_id}/``:

- ``settings/calendar``: ``CalendarSettings`` (business hours, meeting length, buffers, which
  calendar; a connected Google Calendar keeps only a Secret Manager reference to its token).
- ``bookings/{booking_id}``: a ``Booking`` (held, confirmed or canceled).
- ``calendar_days/{YYYY-MM-DD}``: ``{"intervals": [{"booking_id", "start", "end"}]}``, the
  held and confirmed bookings starting that tenant-local day. A hold reads and writes this one
  document in a transaction, so two leads can never take overlapping times.

Times are timezone-aware; days and business hours are in the tenant's time zone.
"""

from __future__ import annotations

from datetime import UTC, time
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeRange(BaseModel):
    """Opening hours on one day (tenant time zone), ``start`` before ``end``."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


def _default_hours() -> dict[Weekday, list[TimeRange]]:
    day = [TimeRange(start=time(9), end=time(12)), TimeRange(start=time(13), end=time(18))]
    return {name: list(day) for name in WEEKDAYS[:5]}


class GoogleCalendarLink(BaseModel):
    """A connected Google Calendar: which one, whose, and where its refresh token is."""

    model_config = ConfigDict(extra="forbid")

    calendar_id: str = "primary"
    account_email: str | None = None
    token_secret: str = Field(
        description="Secret reference (sm:…, local:…) to the OAuth refresh token, never the token."
    )
    connected_at: AwareDatetime
    connected_by: str | None = None
    status: Literal["connected", "failing"] = "connected"
    error: str | None = Field(default=None, description="Why the last Calendar call failed.")


class CalendarSettings(BaseModel):
    """How a tenant takes meetings (``tenants/{t}/settings/calendar``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="The agent offers and books meetings.")
    provider: Literal["builtin", "google"] = "builtin"
    business_hours: dict[Weekday, list[TimeRange]] = Field(default_factory=_default_hours)
    meeting_minutes: int = Field(default=30, ge=10, le=240)
    buffer_before_minutes: int = Field(default=0, ge=0, le=120)
    buffer_after_minutes: int = Field(default=10, ge=0, le=120)
    min_notice_minutes: int = Field(
        default=120, ge=0, le=7 * 24 * 60, description="The earliest a lead may book from now."
    )
    horizon_days: int = Field(default=14, ge=1, le=60, description="How far ahead to offer.")
    slots_offered: int = Field(default=5, ge=1, le=10, description="Slots in one offer.")
    meeting_title: str = Field(
        default="Reunião com {nome}", max_length=200, description="{nome}: the lead's name."
    )
    location: str | None = Field(
        default=None, max_length=500, description="An address or a video link, told to the lead."
    )
    reminder_minutes_before: int = Field(
        default=120, ge=0, le=48 * 60, description="When the reminder goes out; 0: no reminder."
    )
    google: GoogleCalendarLink | None = None

    @model_validator(mode="after")
    def _google_needs_link(self) -> CalendarSettings:
        if self.provider == "google" and self.google is None:
            raise ValueError("provider google needs a connected Google Calendar")
        return self


class Slot(BaseModel):
    """A free time a lead may book."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime
    end: AwareDatetime
    label: str = Field(description="What the lead reads, e.g. 'ter 24/11 às 09:00'.")

    @property
    def slot_id(self) -> str:
        """Return the id a choice carries back (``slot-202611240900`` in UTC)."""
        return "slot-" + self.start.astimezone(UTC).strftime("%Y%m%d%H%M")


class BookingStatus(StrEnum):
    """Where a booking stands."""

    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELED = "canceled"


BookingKind = Literal["offer", "book", "reschedule", "cancel", "add_email"]


class Booking(BaseModel):
    """One meeting with one lead (``tenants/{t}/bookings/{booking_id}``)."""

    model_config = ConfigDict(extra="ignore")

    booking_id: str
    tenant_id: str
    conversation_id: str | None = None
    contact_key: str | None = None
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = Field(default=None, description="The lead's e-mail: the invitation.")
    start: AwareDatetime
    end: AwareDatetime
    status: BookingStatus = BookingStatus.HELD
    hold_expires_at: AwareDatetime | None = Field(
        default=None, description="A hold the turn did not confirm frees itself after this."
    )
    provider: Literal["builtin", "google"] = "builtin"
    google_event_id: str | None = None
    calendar_synced: bool = False
    sync_error: str | None = None
    reminder_at: AwareDatetime | None = None
    reminder_sent_at: AwareDatetime | None = None
    follow_through: BookingKind | None = Field(
        default=None,
        description=(
            "What the turn that last changed the booking still owes outside Firestore (the "
            "calendar sync, the reminder task): set in the turn's batch, cleared once carried "
            "out, so a redelivered turn finishes what a crash left undone."
        ),
    )
    rescheduled_from: str | None = None
    canceled_reason: str | None = None
    source: Literal["agent", "seller", "api"] = "agent"
    created_at: AwareDatetime
    updated_at: AwareDatetime


class BookingRequest(BaseModel):
    """What a turn's decision asks of the calendar; the turn runner carries it out.

    - ``offer``: the reply lists ``slots`` (stored on the conversation as its offer).
    - ``book``: hold ``slot`` for the lead, then confirm it with the decision.
    - ``reschedule``: move ``booking_id`` to ``slot`` (one transaction frees the old time).
    - ``cancel``: cancel ``booking_id``.
    - ``add_email``: the lead gave an e-mail; invite it to ``booking_id``.
    """

    model_config = ConfigDict(extra="forbid")

    kind: BookingKind
    slots: list[Slot] = Field(default_factory=list)
    slot: Slot | None = None
    booking_id: str | None = None
    email: str | None = None
