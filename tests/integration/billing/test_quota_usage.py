"""Reply counters and the billing check on the Firestore emulator: exact under concurrency,
summed per month in the tenant's time zone, one notice per level whichever instance sees it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.billing.accounts import account_ref
from shared.billing.plans import load_catalogue
from shared.billing.quota import QuotaLevel
from shared.billing.usage import BillingCheck, month_replies, record_replies, usage_ref
from shared.store.conversations import tenant_ref

SAO_PAULO = "America/Sao_Paulo"
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


@pytest.fixture
def client(local_stack: LocalStack) -> Any:
    return firestore.Client(project=local_stack.project_id)


def new_tenant() -> str:
    return f"t-usage-{uuid.uuid4().hex[:8]}"


def record(client: Any, tenant_id: str, at: datetime, count: int = 1) -> None:
    batch = client.batch()
    record_replies(batch, client, tenant_id, at, SAO_PAULO, count)
    batch.commit()


def test_concurrent_turns_on_one_day_are_all_counted(client: Any) -> None:
    tenant_id = new_tenant()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda _: record(client, tenant_id, NOW), range(16)))

    document = usage_ref(client, tenant_id, NOW.date()).get().to_dict()
    assert document["agent_replies"] == 16
    assert (document["month"], document["day"]) == ("2026-03", "2026-03-10")
    assert month_replies(client, tenant_id, "2026-03") == 16


def test_a_month_sums_its_days_and_nothing_else(client: Any) -> None:
    tenant_id, other = new_tenant(), new_tenant()
    for day in range(1, 32):  # every day of March, 13:00 in São Paulo
        record(client, tenant_id, datetime(2026, 3, day, 16, 0, tzinfo=UTC), day)
    record(client, tenant_id, datetime(2026, 2, 28, 16, 0, tzinfo=UTC), 1000)
    record(client, tenant_id, datetime(2026, 4, 1, 16, 0, tzinfo=UTC), 1000)
    record(client, other, NOW, 1000)

    assert month_replies(client, tenant_id, "2026-03") == sum(range(1, 32))
    assert month_replies(client, tenant_id, "2026-04") == 1000
    assert month_replies(client, new_tenant(), "2026-03") == 0


def test_the_month_ends_at_midnight_in_the_tenant_time_zone(client: Any) -> None:
    tenant_id = new_tenant()
    last_evening = datetime(2026, 4, 1, 2, 59, tzinfo=UTC)  # 31 March 23:59 in São Paulo
    record(client, tenant_id, last_evening)
    record(client, tenant_id, last_evening + timedelta(minutes=1))  # 1 April 00:00

    assert month_replies(client, tenant_id, "2026-03") == 1
    assert month_replies(client, tenant_id, "2026-04") == 1
    assert usage_ref(client, tenant_id, last_evening.date() - timedelta(days=1)).get().exists


def test_the_check_reads_the_account_and_usage_and_notifies_once(client: Any) -> None:
    tenant_id = new_tenant()
    catalogue = load_catalogue()
    tenant_ref(client, tenant_id).set({"name": "Uso", "billing_account_id": tenant_id})
    account_ref(client, tenant_id).set(
        {
            "account_id": tenant_id,
            "home_tenant_id": tenant_id,
            "plan_id": "starter",
            "status": "active",
            "workspaces": [tenant_id],
            "created_at": NOW - timedelta(days=30),
            "updated_at": NOW - timedelta(days=30),
        }
    )
    record(client, tenant_id, NOW - timedelta(days=1), 1099)  # starter: 1,000 + 10% grace
    first = BillingCheck(client, catalogue, ttl_seconds=60)
    second = BillingCheck(client, catalogue, ttl_seconds=0)

    result = first.check(tenant_id, NOW, SAO_PAULO)
    assert (result.plan_id, result.replies_used, result.reply_ceiling) == ("starter", 1099, 1100)
    assert (result.level, result.quota_exceeded, result.agent_on) == (
        QuotaLevel.REACHED,
        False,
        True,
    )
    record(client, tenant_id, NOW)
    first.recorded(tenant_id, NOW, SAO_PAULO, 1)
    assert first.check(tenant_id, NOW, SAO_PAULO).quota_exceeded
    assert second.check(tenant_id, NOW, SAO_PAULO).replies_used == 1100  # read, not cached

    notices = tenant_ref(client, tenant_id).collection("notices").stream()
    stored = {snapshot.id: snapshot.to_dict() for snapshot in notices}
    assert set(stored) == {"quota_reached-2026-03", "quota_exceeded-2026-03"}
    assert stored["quota_exceeded-2026-03"]["used"] == 1100
    assert stored["quota_exceeded-2026-03"]["limit"] == 1000
