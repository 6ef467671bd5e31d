"""When the agent may write: quiet hours in the tenant's time zone and WhatsApp's 24-hour window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.models.tenant import QuietHours

WHATSAPP_WINDOW = timedelta(hours=24)


def within_24h_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Return whether free text may still go out: the lead wrote less than 24 hours ago."""
    return last_inbound_at is not None and now - last_inbound_at < WHATSAPP_WINDOW


def in_quiet_hours(now: datetime, quiet_hours: QuietHours, timezone: str) -> bool:
    """Return whether ``now`` falls in the quiet hours, read on the tenant's wall clock.

    Quiet hours may span midnight (21:00 to 08:00) or not (12:00 to 14:00); equal start and end mean
    none. The start is inside, the end outside.
    """
    start, end = quiet_hours.start, quiet_hours.end
    local = now.astimezone(ZoneInfo(timezone)).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(now: datetime, quiet_hours: QuietHours, timezone: str) -> datetime:
    """Return when the quiet hours around ``now`` end; ``now`` itself when it is not quiet."""
    if not in_quiet_hours(now, quiet_hours, timezone):
        return now
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    end_date = local.date()
    if quiet_hours.start > quiet_hours.end and local.time() >= quiet_hours.start:
        end_date += timedelta(days=1)
    end = datetime.combine(end_date, quiet_hours.end, tzinfo=zone)
    # A round trip through UTC moves a wall time that a DST change skipped to a real instant.
    return end.astimezone(UTC).astimezone(zone)
