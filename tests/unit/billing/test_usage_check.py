"""The cached billing check: levels, the ceiling with grace, cache expiry, own replies, stops."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.billing.accounts import BillingAccount
from shared.billing.plans import Catalogue, Plan, Quotas
from shared.billing.quota import QuotaLevel
from shared.billing.usage import BillingCheck, QuotaCheck, day_key, month_key
from shared.store.memory import MemoryFirestore

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 13:00 in São Paulo
TIMEZONE = "America/Sao_Paulo"
TENANT = "clinica"
CATALOGUE = Catalogue(
    trial_plan="tiny",
    plans=(
        Plan(
            plan_id="tiny",
            name="Tiny",
            price_cents=100,
            stripe_lookup_key="tiny",
            grace_percent=20,
            quotas=Quotas(agent_replies=10, channels=1, seats=1, insight_agents=0, knowledge_mb=1),
        ),
        Plan(
            plan_id="big",
            name="Big",
            price_cents=900,
            stripe_lookup_key="big",
            grace_percent=0,
            quotas=Quotas(agent_replies=100, channels=1, seats=1, insight_agents=0, knowledge_mb=1),
        ),
    ),
)


def account(**changes: Any) -> BillingAccount:
    fields: dict[str, Any] = {
        "account_id": TENANT,
        "home_tenant_id": TENANT,
        "plan_id": "tiny",
        "status": "active",
        "workspaces": [TENANT],
        "created_at": NOW - timedelta(days=30),
        "updated_at": NOW - timedelta(days=1),
    }
    return BillingAccount(**(fields | changes))


@dataclass
class Reader:
    """What Firestore holds for the check (account, replies per month), and how often it is read."""

    account: BillingAccount | None = field(default_factory=account)
    replies: dict[str, int] = field(default_factory=dict)
    account_reads: int = 0
    replies_reads: int = 0
    clock: float = 0.0

    def read_account(self, client: Any, tenant_id: str) -> BillingAccount | None:
        assert tenant_id == TENANT
        self.account_reads += 1
        return self.account

    def read_replies(self, client: Any, tenant_id: str, month: str) -> int:
        assert tenant_id == TENANT
        self.replies_reads += 1
        return self.replies.get(month, 0)

    def check(self, client: Any | None = None, ttl: float = 60) -> BillingCheck:
        return BillingCheck(
            client if client is not None else MemoryFirestore(),
            CATALOGUE,
            ttl,
            clock=lambda: self.clock,
            read_account=self.read_account,
            read_replies=self.read_replies,
        )


def notices(client: MemoryFirestore) -> dict[str, dict[str, Any]]:
    collection = client.collection("tenants").document(TENANT).collection("notices")
    return {snapshot.id: snapshot.to_dict() or {} for snapshot in collection.stream()}


@pytest.mark.parametrize(
    ("used", "level", "exceeded"),
    [
        (0, QuotaLevel.OK, False),
        (7, QuotaLevel.OK, False),
        (8, QuotaLevel.WARNING, False),  # 80% of 10
        (10, QuotaLevel.REACHED, False),  # the limit: the grace margin still answers
        (11, QuotaLevel.REACHED, False),
        (12, QuotaLevel.EXCEEDED, True),  # 10 + 20% grace
        (40, QuotaLevel.EXCEEDED, True),
    ],
)
def test_levels_and_the_ceiling_with_grace(used: int, level: QuotaLevel, exceeded: bool) -> None:
    reader = Reader(replies={"2026-03": used})
    result = reader.check().check(TENANT, NOW, TIMEZONE)
    assert result == QuotaCheck(
        agent_on=True,
        quota_exceeded=exceeded,
        plan_id="tiny",
        replies_used=used,
        reply_ceiling=12,
        level=level,
    )


def test_a_cached_check_reads_nothing_until_it_expires() -> None:
    reader = Reader(replies={"2026-03": 3})
    check = reader.check(ttl=60)
    for _ in range(5):
        assert check.check(TENANT, NOW, TIMEZONE).replies_used == 3
    assert (reader.account_reads, reader.replies_reads) == (1, 1)

    reader.replies["2026-03"] = 9  # other instances answered meanwhile
    reader.clock = 59.9
    assert check.check(TENANT, NOW, TIMEZONE).replies_used == 3  # still the cached month
    reader.clock = 60.0
    assert check.check(TENANT, NOW, TIMEZONE).replies_used == 9
    assert (reader.account_reads, reader.replies_reads) == (2, 2)


def test_replies_this_instance_recorded_count_at_once_without_a_read() -> None:
    reader = Reader(replies={"2026-03": 11})
    check = reader.check()
    assert not check.check(TENANT, NOW, TIMEZONE).quota_exceeded

    check.recorded(TENANT, NOW, TIMEZONE, 1)

    result = check.check(TENANT, NOW, TIMEZONE)
    assert (result.replies_used, result.quota_exceeded) == (12, True)
    assert reader.replies_reads == 1


def test_replies_recorded_after_the_cache_expired_are_left_to_the_next_read() -> None:
    reader = Reader(replies={"2026-03": 5})
    check = reader.check(ttl=10)
    check.check(TENANT, NOW, TIMEZONE)
    reader.clock = 10
    reader.replies["2026-03"] = 6  # the reply committed: the next read counts it
    check.recorded(TENANT, NOW, TIMEZONE, 1)
    assert check.check(TENANT, NOW, TIMEZONE).replies_used == 6  # not 7


def test_a_new_month_in_the_tenant_time_zone_reads_again_and_starts_over() -> None:
    reader = Reader(replies={"2026-03": 12, "2026-04": 0})
    check = reader.check()
    last_evening = datetime(2026, 4, 1, 2, 59, tzinfo=UTC)  # 31 March, 23:59 in São Paulo
    assert check.check(TENANT, last_evening, TIMEZONE).quota_exceeded
    next_morning = last_evening + timedelta(minutes=1)  # 1 April, 00:00 in São Paulo
    result = check.check(TENANT, next_morning, TIMEZONE)
    assert (result.replies_used, result.quota_exceeded) == (0, False)
    assert reader.replies_reads == 2


def test_month_and_day_keys_follow_the_tenant_time_zone() -> None:
    instant = datetime(2026, 4, 1, 2, 30, tzinfo=UTC)
    assert (month_key(instant, TIMEZONE), day_key(instant, TIMEZONE)) == ("2026-03", "2026-03-31")
    assert (month_key(instant, "UTC"), day_key(instant, "UTC")) == ("2026-04", "2026-04-01")


def test_no_account_gets_the_trial_plan_with_the_service_on() -> None:
    reader = Reader(account=None, replies={"2026-03": 12})
    result = reader.check().check(TENANT, NOW, TIMEZONE)
    assert (result.agent_on, result.plan_id, result.quota_exceeded) == (True, "tiny", True)


def test_the_plan_of_the_account_sets_the_ceiling() -> None:
    reader = Reader(account=account(plan_id="big"), replies={"2026-03": 99})
    result = reader.check().check(TENANT, NOW, TIMEZONE)
    assert (result.reply_ceiling, result.quota_exceeded, result.level) == (
        100,
        False,
        QuotaLevel.WARNING,
    )


@pytest.mark.parametrize(
    ("changes", "agent_on", "stop_reason"),
    [
        ({"status": "trialing", "trial_ends_at": NOW + timedelta(seconds=1)}, True, None),
        ({"status": "trialing", "trial_ends_at": NOW}, False, "trial_expired"),
        ({"status": "past_due", "past_due_since": NOW - timedelta(days=6)}, True, None),
        (
            {"status": "past_due", "past_due_since": NOW - timedelta(days=7)},
            False,
            "past_due_expired",
        ),
        ({"status": "canceled"}, False, "canceled"),
        ({"status": "active"}, True, None),
    ],
    ids=["trial", "trial-expired", "past-due-in-grace", "past-due-after-grace", "canceled", "on"],
)
def test_the_subscription_state_turns_the_agent_off(
    changes: dict[str, Any], agent_on: bool, stop_reason: str | None
) -> None:
    reader = Reader(account=account(**changes))
    result = reader.check().check(TENANT, NOW, TIMEZONE)
    assert (result.agent_on, result.stop_reason, result.quota_exceeded) == (
        agent_on,
        stop_reason,
        False,
    )


def test_a_trial_ends_on_time_even_while_the_account_is_cached() -> None:
    reader = Reader(account=account(status="trialing", trial_ends_at=NOW + timedelta(minutes=1)))
    check = reader.check(ttl=3600)
    assert check.check(TENANT, NOW, TIMEZONE).agent_on
    assert not check.check(TENANT, NOW + timedelta(minutes=1), TIMEZONE).agent_on
    assert reader.account_reads == 1


def test_notices_are_created_once_per_level_and_month() -> None:
    client = MemoryFirestore()
    reader = Reader(replies={"2026-03": 7})
    check = reader.check(client)
    check.check(TENANT, NOW, TIMEZONE)
    assert notices(client) == {}

    check.recorded(TENANT, NOW, TIMEZONE, 1)  # 8 of 10: warning
    check.check(TENANT, NOW, TIMEZONE)
    check.check(TENANT, NOW, TIMEZONE)
    assert notices(client) == {
        "quota_warning-2026-03": {
            "kind": "quota_warning",
            "month": "2026-03",
            "quota": "agent_replies",
            "used": 8,
            "limit": 10,
            "created_at": NOW,
        }
    }

    check.recorded(TENANT, NOW, TIMEZONE, 4)  # 12: past the ceiling
    assert check.check(TENANT, NOW, TIMEZONE).quota_exceeded
    assert set(notices(client)) == {"quota_warning-2026-03", "quota_exceeded-2026-03"}
    assert notices(client)["quota_exceeded-2026-03"]["used"] == 12


def test_another_instance_finds_the_notice_already_there(caplog: pytest.LogCaptureFixture) -> None:
    client = MemoryFirestore()
    first = Reader(replies={"2026-03": 12}).check(client)
    second = Reader(replies={"2026-03": 13}).check(client)
    first.check(TENANT, NOW, TIMEZONE)
    second.check(TENANT, NOW + timedelta(minutes=5), TIMEZONE)
    assert notices(client)["quota_exceeded-2026-03"]["used"] == 12  # the first one wins
    assert any(
        "over quota" in record.message and getattr(record, "tenant_id", None) == TENANT
        for record in caplog.records
    )


def test_a_stopped_service_creates_one_notice_per_reason_and_day() -> None:
    client = MemoryFirestore()
    reader = Reader(account=account(status="canceled"))
    check = reader.check(client, ttl=0)
    for _ in range(3):
        assert not check.check(TENANT, NOW, TIMEZONE).agent_on
    assert notices(client) == {
        "service_stopped-canceled-2026-03-10": {
            "kind": "service_stopped",
            "reason": "canceled",
            "month": "2026-03",
            "quota": None,
            "created_at": NOW,
        }
    }
