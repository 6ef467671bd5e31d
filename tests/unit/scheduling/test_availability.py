"""Free slots: business hours on the meeting grid, notice, horizon, buffers, DST, busy; labels."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.scheduling.availability import free_slots, slot_label
from shared.scheduling.models import CalendarSettings, Slot, TimeRange

SP = "America/Sao_Paulo"
ZONE = ZoneInfo(SP)
MONDAY_8 = datetime(2026, 11, 23, 8, 0, tzinfo=ZONE)  # a Monday, 08:00 in São Paulo


def _settings(**changes: object) -> CalendarSettings:
    base = {
        "enabled": True,
        "business_hours": {"mon": [TimeRange(start=time(9), end=time(11))]},
        "meeting_minutes": 30,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "min_notice_minutes": 0,
        "horizon_days": 1,
    }
    return CalendarSettings.model_validate({**base, **changes})


def _starts(slots: list[Slot]) -> list[str]:
    return [f"{slot.start.astimezone(ZONE):%a %H:%M}" for slot in slots]


def test_slots_follow_the_grid_from_each_opening_and_end_within_it() -> None:
    settings = _settings(
        meeting_minutes=45,
        business_hours={
            "mon": [
                TimeRange(start=time(9), end=time(11)),
                TimeRange(start=time(14, 15), end=time(15, 45)),
            ]
        },
    )
    slots = free_slots(settings, SP, MONDAY_8, [])
    assert _starts(slots) == ["Mon 09:00", "Mon 09:45", "Mon 14:15", "Mon 15:00"]
    assert all(slot.end - slot.start == timedelta(minutes=45) for slot in slots)


def test_min_notice_and_horizon_bound_the_slots() -> None:
    settings = _settings(
        min_notice_minutes=90,
        horizon_days=2,
        business_hours={
            day: [TimeRange(start=time(9), end=time(11))] for day in ("mon", "tue", "wed")
        },
    )
    slots = free_slots(settings, SP, MONDAY_8, [])
    # 08:00 + 90 min: 09:30 is the first; the horizon ends Wednesday 08:00.
    assert _starts(slots) == [
        "Mon 09:30",
        "Mon 10:00",
        "Mon 10:30",
        "Tue 09:00",
        "Tue 09:30",
        "Tue 10:00",
        "Tue 10:30",
    ]


def test_busy_intervals_widened_by_buffers_remove_slots() -> None:
    settings = _settings(buffer_before_minutes=15, buffer_after_minutes=15)
    busy = [
        (datetime(2026, 11, 23, 10, 0, tzinfo=ZONE), datetime(2026, 11, 23, 10, 20, tzinfo=ZONE))
    ]
    # 09:30-10:00 ends inside the 15-minute buffer before; 10:30 starts inside the 15 after.
    assert _starts(free_slots(settings, SP, MONDAY_8, busy)) == ["Mon 09:00"]
    plain = _settings()
    assert _starts(free_slots(plain, SP, MONDAY_8, busy)) == ["Mon 09:00", "Mon 09:30", "Mon 10:30"]


def test_busy_from_another_zone_counts_by_instant() -> None:
    busy = [(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), datetime(2026, 11, 23, 12, 30, tzinfo=UTC))]
    assert _starts(free_slots(_settings(), SP, MONDAY_8, busy)) == [
        "Mon 09:30",
        "Mon 10:00",
        "Mon 10:30",
    ]


def test_dst_day_skips_missing_wall_times_and_keeps_real_durations() -> None:
    zone = "America/New_York"  # 2026-03-08 02:00 jumps to 03:00
    settings = _settings(
        business_hours={"sun": [TimeRange(start=time(1), end=time(4))]}, meeting_minutes=60
    )
    now = datetime(2026, 3, 8, 0, 0, tzinfo=ZoneInfo(zone))
    slots = free_slots(settings, zone, now, [])
    local = [slot.start.astimezone(ZoneInfo(zone)).strftime("%H:%M") for slot in slots]
    assert local == ["01:00", "03:00"]
    assert all(
        slot.end.astimezone(UTC) - slot.start.astimezone(UTC) == timedelta(hours=1)
        for slot in slots
    )
    fall = datetime(2026, 11, 1, 0, 0, tzinfo=ZoneInfo(zone))  # 02:00 back to 01:00
    autumn = _settings(
        business_hours={"sun": [TimeRange(start=time(0), end=time(3))]}, meeting_minutes=60
    )
    starts = [slot.start for slot in free_slots(autumn, zone, fall, [])]
    assert len(starts) == 3 and len(set(starts)) == 3 and starts == sorted(starts)


def test_an_offer_spreads_over_days_and_through_each_day() -> None:
    settings = _settings(
        horizon_days=7,
        business_hours={
            day: [TimeRange(start=time(9), end=time(12)), TimeRange(start=time(13), end=time(18))]
            for day in ("mon", "tue", "wed", "thu", "fri")
        },
    )
    offer = free_slots(settings, SP, MONDAY_8, [], limit=5)
    assert _starts(offer) == ["Mon 09:00", "Mon 14:00", "Tue 09:00", "Tue 14:00", "Wed 09:00"]
    assert len(free_slots(settings, SP, MONDAY_8, [])) == 80


def test_an_offer_fills_from_the_earliest_left_when_few_days_have_room() -> None:
    settings = _settings(horizon_days=1)
    offer = free_slots(settings, SP, MONDAY_8, [], limit=3)
    # One day only: two spread through it (09:00, 10:00), then the earliest left (09:30).
    assert _starts(offer) == ["Mon 09:00", "Mon 09:30", "Mon 10:00"]


def test_no_business_hours_means_no_slots() -> None:
    assert free_slots(_settings(business_hours={}), SP, MONDAY_8, []) == []


def test_labels_are_short_portuguese() -> None:
    assert slot_label(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), SP) == "ter 24/11 às 09:00"
    assert slot_label(datetime(2026, 11, 28, 13, 30, tzinfo=UTC), SP) == "sáb 28/11 às 10:30"
    longest = max(
        (
            slot_label(MONDAY_8 + timedelta(days=day, minutes=minute), SP)
            for day in range(7)
            for minute in (0, 95)
        ),
        key=len,
    )
    assert len(longest) <= 24
