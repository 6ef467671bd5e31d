"""The dashboard's figures: conversations started in the period, on the tenant's wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User, seed_conversation

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SAO_PAULO)  # type: ignore[misc]


@pytest.fixture(scope="module")
def owner(admin: AdminStack) -> User:
    return admin.auth.sign_up("owner", verified=True)


def _seed(admin: AdminStack, tenant: str, created: datetime, **figures: Any) -> None:
    seed_conversation(admin.db, tenant, at=created.astimezone(UTC), **figures)


def _metrics(admin: AdminStack, tenant: str, user: User, **params: str) -> dict[str, Any]:
    answer = admin.api.get(f"/api/tenants/{tenant}/metrics", user, params=params or None)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_every_figure_of_a_period_with_its_daily_series(admin: AdminStack, owner: User) -> None:
    tenant = admin.tenant(owner)
    first = local(2026, 3, 1, 12, 0)
    _seed(
        admin,
        tenant,
        first,
        first_response_at=first + timedelta(seconds=30),
        silences={"quiet_hours": 1, "human_active": 2},
        agent_messages=3,
        followups_sent=1,
        followups_answered=1,
        suggestions_offered=2,
        suggestions_accepted=1,
    )
    # 23:30 in São Paulo is 02:30 UTC the next day: still 1 March on the tenant's clock.
    late = local(2026, 3, 1, 23, 30)
    assert late.astimezone(UTC).day == 2
    _seed(
        admin,
        tenant,
        late,
        first_response_at=late + timedelta(seconds=90),
        handed_off_at=late + timedelta(minutes=5),
        agent_messages=1,
    )
    early = local(2026, 3, 2, 0, 10)
    _seed(
        admin,
        tenant,
        early,
        silences={"quiet_hours": 1},
        meeting_booked_at=early + timedelta(hours=2),
        followups_sent=2,
    )
    last_minute = local(2026, 3, 3, 23, 59)
    _seed(
        admin,
        tenant,
        last_minute,
        first_response_at=last_minute + timedelta(seconds=10),
        handed_off_at=last_minute + timedelta(minutes=1),
        meeting_booked_at=last_minute + timedelta(minutes=2),
        agent_messages=1,
        suggestions_offered=1,
    )
    # Outside: the evening before (already 1 March in UTC), the midnight after, and February.
    for outside in (local(2026, 2, 28, 23, 59), local(2026, 3, 4, 0, 0), local(2026, 2, 15, 9)):
        _seed(
            admin,
            tenant,
            outside,
            first_response_at=outside + timedelta(seconds=1),
            handed_off_at=outside,
            meeting_booked_at=outside,
            silences={"duplicate": 5},
            agent_messages=7,
            followups_sent=4,
            followups_answered=4,
            suggestions_offered=9,
            suggestions_accepted=9,
        )

    figures = _metrics(admin, tenant, owner, **{"from": "2026-03-01", "to": "2026-03-03"})

    assert figures == {
        "from": "2026-03-01",
        "to": "2026-03-03",
        "timezone": "America/Sao_Paulo",
        "conversations_started": 4,
        "answered_by_agent": 3,
        "agent_messages": 3 + 1 + 1 + 1 + 2,  # replies, plus follow-ups sent
        "silences_by_reason": {"human_active": 2, "quiet_hours": 2},
        "handoffs": 2,
        "meetings_booked": 2,
        "followups_sent": 3,
        "followups_answered": 1,
        "median_first_response_seconds": 30.0,
        "suggestions_offered": 3,
        "suggestions_accepted": 1,
        "daily": [
            {
                "date": "2026-03-01",
                "conversations_started": 2,
                "answered_by_agent": 2,
                "handoffs": 1,
                "meetings_booked": 0,
            },
            {
                "date": "2026-03-02",
                "conversations_started": 1,
                "answered_by_agent": 0,
                "handoffs": 0,
                "meetings_booked": 1,
            },
            {
                "date": "2026-03-03",
                "conversations_started": 1,
                "answered_by_agent": 1,
                "handoffs": 1,
                "meetings_booked": 1,
            },
        ],
    }


def test_one_day_and_an_empty_period(admin: AdminStack, owner: User) -> None:
    tenant = admin.tenant(owner)
    late = local(2026, 5, 10, 23, 30)
    _seed(admin, tenant, late, first_response_at=late + timedelta(seconds=4))
    _seed(admin, tenant, late - timedelta(hours=1), first_response_at=late + timedelta(seconds=1))

    day = _metrics(admin, tenant, owner, **{"from": "2026-05-10", "to": "2026-05-10"})
    next_day = _metrics(admin, tenant, owner, **{"from": "2026-05-11", "to": "2026-05-11"})

    assert day["conversations_started"] == 2
    assert day["median_first_response_seconds"] == pytest.approx((4 + 3601) / 2)
    assert [d["date"] for d in day["daily"]] == ["2026-05-10"]
    assert next_day["conversations_started"] == 0
    assert next_day["median_first_response_seconds"] is None
    assert next_day["silences_by_reason"] == {}
    assert next_day["daily"] == [
        {
            "date": "2026-05-11",
            "conversations_started": 0,
            "answered_by_agent": 0,
            "handoffs": 0,
            "meetings_booked": 0,
        }
    ]


def test_the_default_period_is_the_last_30_days_on_the_tenants_clock(
    admin: AdminStack, owner: User
) -> None:
    tenant = admin.tenant(owner)
    now = datetime.now(UTC)
    _seed(admin, tenant, now - timedelta(days=2))
    _seed(admin, tenant, now - timedelta(days=40))

    figures = _metrics(admin, tenant, owner)

    today = now.astimezone(SAO_PAULO).date()
    assert figures["to"] == today.isoformat()
    assert figures["from"] == (today - timedelta(days=29)).isoformat()
    assert len(figures["daily"]) == 30
    assert figures["conversations_started"] == 1
    only_from = _metrics(admin, tenant, owner, **{"from": (today - timedelta(days=3)).isoformat()})
    assert only_from["to"] == today.isoformat()
    assert only_from["conversations_started"] == 1


def test_the_tenants_time_zone_decides_the_day(admin: AdminStack, owner: User) -> None:
    tenant = admin.tenant(owner)
    # 02:30 UTC on 2 March: 1 March in São Paulo, 2 March in Lisbon.
    _seed(admin, tenant, datetime(2026, 3, 2, 2, 30, tzinfo=UTC))
    period = {"from": "2026-03-01", "to": "2026-03-01"}

    in_sao_paulo = _metrics(admin, tenant, owner, **period)
    admin.api.patch(f"/api/tenants/{tenant}", owner, {"timezone": "Europe/Lisbon"})
    in_lisbon = _metrics(admin, tenant, owner, **period)

    assert in_sao_paulo["conversations_started"] == 1
    assert in_lisbon["timezone"] == "Europe/Lisbon"
    assert in_lisbon["conversations_started"] == 0
