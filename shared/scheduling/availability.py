"""Free slots: business hours on a meeting-length grid, minus busy time, spread over days.

Slots start on the grid of ``meeting_minutes`` steps from each opening (09:00, 09:30, … for
30-minute meetings) and end within that opening, in the tenant's time zone (wall-clock times
that do not exist on a DST change are skipped; durations are real minutes). A slot is free
when it starts at least ``min_notice_minutes`` from now, before now + ``horizon_days``, and no
busy interval, widened by ``buffer_before_minutes`` before and ``buffer_after_minutes`` after,
overlaps it.

An offer (``limit``) spreads over days so a lead gets a real choice: at most
``ceil(limit / 3)`` slots a day (at least 2), taken evenly through the day's free slots
(morning and afternoon rather than 09:00 and 09:30), the earliest days first; when the horizon
has too few days with room, the remaining places go to the earliest slots left.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.scheduling.models import WEEKDAYS, CalendarSettings, Slot

WEEKDAY_LABELS = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")


def free_slots(
    settings: CalendarSettings,
    timezone: str,
    now: datetime,
    busy: Sequence[tuple[datetime, datetime]],
    *,
    limit: int | None = None,
) -> list[Slot]:
    """Return the free slots in order; with ``limit``, an offer of at most that many."""
    zone = ZoneInfo(timezone)
    earliest = now + timedelta(minutes=settings.min_notice_minutes)
    latest = now + timedelta(days=settings.horizon_days)
    blocked = widen(busy, settings)
    by_day: list[list[Slot]] = []
    day = now.astimezone(zone).date()
    while _day_start(day, zone) < latest:
        free = [
            slot
            for slot in day_grid(settings, day, zone)
            if earliest <= slot.start < latest and not overlaps(slot.start, slot.end, blocked)
        ]
        if free:
            by_day.append(free)
        day += timedelta(days=1)
    every = [slot for slots in by_day for slot in slots]
    if limit is None or len(every) <= limit:
        return every
    return spread(by_day, limit)


def spread(by_day: Sequence[Sequence[Slot]], limit: int) -> list[Slot]:
    """Pick ``limit`` slots: a few a day, evenly through each day, then the earliest left."""
    per_day = max(2, math.ceil(limit / 3))
    chosen: list[Slot] = []
    for slots in by_day:
        if len(chosen) >= limit:
            break
        take = min(per_day, len(slots), limit - len(chosen))
        chosen.extend(slots[index * len(slots) // take] for index in range(take))
    if len(chosen) < limit:
        taken = set(chosen)
        rest = [slot for slots in by_day for slot in slots if slot not in taken]
        chosen.extend(rest[: limit - len(chosen)])
    return sorted(chosen, key=lambda slot: slot.start)


def day_grid(settings: CalendarSettings, day: date, zone: ZoneInfo) -> list[Slot]:
    """Return every slot of one tenant-local day's business hours (busy or not)."""
    length = timedelta(minutes=settings.meeting_minutes)
    slots: list[Slot] = []
    for opening in settings.business_hours.get(WEEKDAYS[day.weekday()], []):
        close = _local(day, opening.end, zone) or _local_after_gap(day, opening.end, zone)
        wall = datetime.combine(day, opening.start)
        while wall.time() < opening.end and wall.date() == day:
            start = _local(day, wall.time(), zone)
            if start is not None:
                end = (start.astimezone(UTC) + length).astimezone(zone)
                if end.astimezone(UTC) > close.astimezone(UTC):
                    break
                slots.append(Slot(start=start, end=end, label=slot_label(start, zone.key)))
            wall += length
    return slots


def widen(
    busy: Sequence[tuple[datetime, datetime]], settings: CalendarSettings
) -> list[tuple[datetime, datetime]]:
    """Return the busy intervals widened by the buffers before and after each meeting."""
    before = timedelta(minutes=settings.buffer_before_minutes)
    after = timedelta(minutes=settings.buffer_after_minutes)
    return [(start - before, end + after) for start, end in busy]


def overlaps(
    start: datetime, end: datetime, intervals: Sequence[tuple[datetime, datetime]]
) -> bool:
    """Tell whether ``[start, end)`` overlaps any of ``intervals`` (compared as instants)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    return any(
        start < other_end.astimezone(UTC) and other_start.astimezone(UTC) < end
        for other_start, other_end in intervals
    )


def slot_label(start: datetime, timezone: str) -> str:
    """Return what a lead reads for a slot, in pt-BR: ``ter 24/11 às 09:00`` (≤ 24 chars)."""
    local = start.astimezone(ZoneInfo(timezone))
    return f"{WEEKDAY_LABELS[local.weekday()]} {local:%d/%m} às {local:%H:%M}"


def _local(day: date, wall: time, zone: ZoneInfo) -> datetime | None:
    """Return the aware wall-clock time, or None when the DST change skips it."""
    aware = datetime.combine(day, wall, tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone)
    return aware if back.replace(tzinfo=None) == aware.replace(tzinfo=None) else None


def _local_after_gap(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """Return the first real instant at or after a wall-clock time skipped by a DST change."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC).astimezone(zone)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """Return the first instant of a tenant-local day."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
