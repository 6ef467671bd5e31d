"""Stock quotas: what a workspace counts against its plan, and the 402 that refuses one more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.admin.errors import ApiError
from shared.billing.accounts import BillingAccount
from shared.billing.plans import load_catalogue
from shared.billing.stock import (
    BYTES_PER_MB,
    channels_used,
    insight_agents_used,
    knowledge_mb_used,
    plan_for_tenant,
    quota_refusal,
    require_room,
    seats_used,
    stock_usage,
    workspaces_used,
)
from tests.unit.billing.fake_firestore import FakeFirestore

CATALOGUE = load_catalogue()
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def account(tenant_id: str, plan_id: str = "starter", **changes: object) -> BillingAccount:
    return BillingAccount.model_validate(
        {
            "account_id": tenant_id,
            "home_tenant_id": tenant_id,
            "plan_id": plan_id,
            "status": "active",
            "workspaces": [tenant_id],
            "created_at": NOW,
            "updated_at": NOW,
            **changes,
        }
    )


def workspace(db: FakeFirestore, tenant_id: str, billing: BillingAccount | None = None) -> None:
    tenant = {"tenant_id": tenant_id, "name": tenant_id}
    if billing is not None:
        tenant["billing_account_id"] = billing.account_id
        db.put(f"billing_accounts/{billing.account_id}", billing.model_dump(mode="python"))
    db.put(f"tenants/{tenant_id}", tenant)


@pytest.fixture
def db() -> FakeFirestore:
    db = FakeFirestore()
    workspace(db, "clinica", account("clinica"))
    workspace(db, "outra")
    for channel_id, tenant_id in (("meta-1", "clinica"), ("meta-2", "outra"), ("zapi-3", "outra")):
        db.put(f"channels/{channel_id}", {"tenant_id": tenant_id, "provider": "meta"})
    db.put("tenants/clinica/members/u1", {"uid": "u1", "role": "owner"})
    db.put("tenants/clinica/members/u2", {"uid": "u2", "role": "seller"})
    db.put("tenants/outra/members/u3", {"uid": "u3", "role": "owner"})
    db.put("invites/clinica:ana@example.com", {"tenant_id": "clinica", "email": "ana@example.com"})
    db.put("invites/outra:bia@example.com", {"tenant_id": "outra", "email": "bia@example.com"})
    db.put("tenants/clinica/insight_agents/ia-1", {"agent_id": "ia-1", "active": False})
    db.put("tenants/outra/insight_agents/ia-2", {"agent_id": "ia-2", "active": True})
    return db


def test_each_count_is_the_workspaces_own(db: FakeFirestore) -> None:
    assert channels_used(db, "clinica") == 1
    assert channels_used(db, "outra") == 2
    assert seats_used(db, "clinica") == 3  # two members and a pending invitation
    assert seats_used(db, "outra") == 2
    assert insight_agents_used(db, "clinica") == 1  # switched off still counts
    assert channels_used(db, "nobody") == seats_used(db, "nobody") == 0


def test_counts_are_aggregations_not_document_reads(db: FakeFirestore) -> None:
    stock_usage(db, "clinica", None)

    assert db.aggregations == 4  # channels, members, invitations, insight agents
    assert db.reads == 2  # settings/knowledge, and the entries it falls back to (none)


def test_knowledge_is_the_running_total_in_mb_with_two_decimals(db: FakeFirestore) -> None:
    db.put("tenants/clinica/settings/knowledge", {"content_bytes": 3 * BYTES_PER_MB // 2 + 7000})

    assert knowledge_mb_used(db, "clinica") == 1.51
    assert db.reads == 1  # the entries are not read when the total is kept


def test_knowledge_without_a_running_total_is_summed_from_the_entries(db: FakeFirestore) -> None:
    db.put("tenants/clinica/settings/knowledge", {"entry_count": 2, "chunk_count": 2})
    db.put("tenants/clinica/knowledge/k-1", {"content": "á" * (BYTES_PER_MB // 2)})  # 2 bytes
    db.put("tenants/clinica/knowledge/k-2", {"content": "b" * (BYTES_PER_MB // 4)})

    assert knowledge_mb_used(db, "clinica") == 1.25
    assert knowledge_mb_used(db, "outra") == 0


def test_workspaces_are_the_accounts_clients_not_its_home() -> None:
    assert workspaces_used(None) == 0
    assert workspaces_used(account("agencia")) == 0
    assert workspaces_used(account("agencia", workspaces=["agencia", "c1", "c2"])) == 2


def test_stock_usage_names_every_stock_quota(db: FakeFirestore) -> None:
    usage = stock_usage(db, "clinica", account("clinica", workspaces=["clinica", "c1"]))

    assert usage == {
        "channels": 1,
        "seats": 3,
        "insight_agents": 1,
        "knowledge_mb": 0,
        "workspaces": 1,
    }


def test_the_plan_is_the_accounts_or_the_trial_plan_without_one(db: FakeFirestore) -> None:
    billing, plan, service = plan_for_tenant(db, "clinica", CATALOGUE, NOW)
    assert billing is not None and billing.plan_id == "starter"
    assert plan.plan_id == "starter" and service.agent_on and not service.read_only

    billing, plan, service = plan_for_tenant(db, "outra", CATALOGUE, NOW)
    assert billing is None and plan.plan_id == CATALOGUE.trial_plan and service.agent_on


def test_the_trial_ended_is_read_only(db: FakeFirestore) -> None:
    ended = account("velha", "pro", status="trialing", trial_ends_at=NOW - timedelta(seconds=1))
    workspace(db, "velha", ended)

    _, _, service = plan_for_tenant(db, "velha", CATALOGUE, NOW)

    assert service.read_only and not service.agent_on and service.reason == "trial_expired"


def test_room_left_passes_and_returns_the_plan(db: FakeFirestore) -> None:
    # Starter: 1 channel, 3 seats, 3 insight agents, 20 MB.
    assert require_room(db, "clinica", "insight_agents", catalogue=CATALOGUE).plan_id == "starter"
    assert require_room(db, "clinica", "insight_agents", 2, catalogue=CATALOGUE)
    assert require_room(db, "clinica", "knowledge_mb", 20, catalogue=CATALOGUE)
    assert require_room(db, "clinica", "seats", 0, catalogue=CATALOGUE)  # re-inviting


@pytest.mark.parametrize(
    ("quota", "adding", "message"),
    [
        ("channels", 1, "the Starter plan allows 1 channel; remove one or upgrade"),
        (
            "seats",
            1,
            "the Starter plan allows 3 seats (members and pending invitations); "
            "remove one or upgrade",
        ),
        ("insight_agents", 3, "the Starter plan allows 3 insight agents; remove one or upgrade"),
        ("knowledge_mb", 20.01, "the Starter plan allows 20 MB of knowledge text; remove some"),
        ("workspaces", 1, "the Starter plan includes no client workspaces; upgrade to add one"),
    ],
)
def test_an_add_past_the_limit_is_a_402_naming_quota_and_plan(
    db: FakeFirestore, quota: str, adding: float, message: str
) -> None:
    with pytest.raises(ApiError) as refused:
        require_room(db, "clinica", quota, adding, catalogue=CATALOGUE)  # type: ignore[arg-type]

    assert refused.value.status == 402
    assert refused.value.code == "payment_required"
    assert refused.value.message.startswith(message)
    assert refused.value.field == quota


def test_a_workspace_over_its_limit_after_a_downgrade_adds_nothing(db: FakeFirestore) -> None:
    db.put("channels/twilio-9", {"tenant_id": "clinica"})  # 2 channels on a 1-channel plan

    with pytest.raises(ApiError):
        require_room(db, "clinica", "channels", catalogue=CATALOGUE)
    assert require_room(db, "clinica", "channels", 0, catalogue=CATALOGUE)  # nothing added


def test_the_knowledge_limit_is_held_to_the_byte(db: FakeFirestore) -> None:
    limit_bytes = 20 * BYTES_PER_MB
    db.put("tenants/clinica/settings/knowledge", {"content_bytes": limit_bytes - 10})

    require_room(db, "clinica", "knowledge_mb", 10 / BYTES_PER_MB, catalogue=CATALOGUE)
    with pytest.raises(ApiError):
        require_room(db, "clinica", "knowledge_mb", 11 / BYTES_PER_MB, catalogue=CATALOGUE)


def test_an_agency_plan_counts_client_workspaces(db: FakeFirestore) -> None:
    clients = [f"c{n}" for n in range(20)]
    workspace(db, "agencia", account("agencia", "agency", workspaces=["agencia", *clients[:19]]))

    require_room(db, "agencia", "workspaces", catalogue=CATALOGUE)
    workspace(db, "agencia", account("agencia", "agency", workspaces=["agencia", *clients]))
    with pytest.raises(ApiError) as refused:
        require_room(db, "agencia", "workspaces", catalogue=CATALOGUE)
    assert "allows 20 client workspaces" in refused.value.message


def test_a_flow_quota_is_not_a_stock_quota(db: FakeFirestore) -> None:
    with pytest.raises(ValueError, match="not a stock quota"):
        require_room(db, "clinica", "agent_replies", catalogue=CATALOGUE)


def test_a_plan_without_a_quota_says_so() -> None:
    starter = CATALOGUE.plan("starter")

    assert quota_refusal(starter, "workspaces").message == (
        "the Starter plan includes no client workspaces; upgrade to add one"
    )
