"""Read-only workspaces over HTTP: a canceled subscription or an ended trial refuses every change
(402, nothing written) while reads, billing, invitations being accepted and LGPD erasure work.

The served admin trusts a workspace's account for no time here (PILOTO_BILLING_CACHE_SECONDS=0)
so a test may change the subscription between requests; the 10-second cache is unit-tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.billing.accounts import account_ref
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User
from tests.integration.admin.test_validation import VALID_CHANNELS

MUTATING = ("post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def admin_env() -> dict[str, str]:
    return {"PILOTO_BILLING_CACHE_SECONDS": "0"}


@dataclass
class Workspace:
    owner: User
    tenant_id: str

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}"


def subscription(admin: AdminStack, tenant_id: str, status: str, **fields: Any) -> None:
    """Set the workspace's billing account (made at sign-up) as Stripe's webhook would."""
    now = datetime.now(UTC)
    account_ref(admin.db, tenant_id).update(
        {"status": status, "trial_ends_at": None, "updated_at": now, **fields}
    )


@pytest.fixture(scope="module")
def furnished(admin: AdminStack) -> Workspace:
    """A workspace with a channel, an invitation and knowledge, then its subscription canceled."""
    owner = admin.auth.sign_up("owner", verified=True)
    workspace = Workspace(owner, admin.tenant(owner))
    channel = {
        "provider": "meta",
        "config": VALID_CHANNELS["meta"]["config"],
        "secrets": VALID_CHANNELS["meta"]["secrets"],
    }
    assert admin.api.post(f"{workspace.base}/channels", owner, channel).status_code == 201
    fact = {"kind": "fact", "title": "Horário", "content": "Atendemos das 9h às 19h."}
    assert admin.api.post(f"{workspace.base}/knowledge", owner, fact).status_code == 201
    subscription(admin, workspace.tenant_id, "canceled", canceled_at=datetime.now(UTC))
    return workspace


def concrete(path: str, tenant_id: str) -> str:
    """Fill a documented path: the workspace's id, any valid id for the rest."""
    path = path.replace("{tenant_id}", tenant_id).replace("{email}", "ninguem@example.com")
    return re.sub(r"\{[^}]+\}", "x1", path)


def operations(admin: AdminStack, *, gated: bool) -> list[tuple[str, str]]:
    """Return the workspace's changing operations the document says a read-only workspace
    refuses (402 listed) or does not."""
    assert admin.api.contract is not None
    found = []
    for path, entry in admin.api.contract.document["paths"].items():
        if not path.startswith("/api/tenants/{tenant_id}"):
            continue
        for method, operation in entry.items():
            if method in MUTATING and ("402" in operation["responses"]) == gated:
                found.append((method, path))
    return sorted(found)


def test_a_canceled_workspace_refuses_every_change_and_writes_nothing(
    admin: AdminStack, furnished: Workspace
) -> None:
    gated = operations(admin, gated=True)
    assert len(gated) > 30  # every changing route of a workspace but the few below
    before = admin.tenant_state(furnished.tenant_id)

    for method, path in gated:
        answer = admin.api.request(
            method.upper(), concrete(path, furnished.tenant_id), furnished.owner
        )
        assert answer.status_code == 402, f"{method} {path}: {answer.text}"
        error = answer.json()["error"]
        assert error["code"] == "payment_required"
        assert error["message"] == (
            "this workspace is read-only: its subscription is canceled; "
            "subscribe again on the billing page"
        )

    assert admin.tenant_state(furnished.tenant_id) == before


def test_only_billing_search_erasure_and_accepting_stay_open(
    admin: AdminStack, furnished: Workspace
) -> None:
    open_ones = {
        (method, path.removeprefix("/api/tenants/{tenant_id}"))
        for method, path in operations(admin, gated=False)
    }

    assert open_ones == {
        ("post", "/billing/checkout"),
        ("post", "/billing/plan"),
        ("post", "/billing/portal"),
        ("post", "/knowledge/search"),
        ("delete", "/contacts/{contact_key}"),
        ("post", "/invites/accept"),
        ("post", "/notifications/read"),  # the caller's own bell and preferences (H8)
        ("put", "/notification-preferences"),
    }


def test_a_canceled_workspace_still_reads_searches_and_reaches_billing(
    admin: AdminStack, furnished: Workspace
) -> None:
    owner, base = furnished.owner, furnished.base
    for path in ("", "/channels", "/knowledge", "/agent", "/members", "/billing", "/audit"):
        answer = admin.api.get(f"{base}{path}", owner)
        assert answer.status_code == 200, f"{path}: {answer.text}"
    billing = admin.api.get(f"{base}/billing", owner).json()
    assert (billing["status"], billing["read_only"], billing["agent_on"]) == (
        "canceled",
        True,
        False,
    )

    search = admin.api.post(f"{base}/knowledge/search", owner, {"query": "que horas abre?"})
    assert search.status_code == 200, search.text
    # Billing stays open: no customer yet, so the portal and a plan change explain why (409).
    assert admin.api.post(f"{base}/billing/portal", owner).status_code == 409
    assert admin.api.post(f"{base}/billing/plan", owner, {"plan_id": "starter"}).status_code == 409
    # Erasing a contact's data (LGPD) is not refused for the subscription (this one is unknown).
    assert admin.api.delete(f"{base}/contacts/5511900000000", owner).status_code == 404


def test_an_invitation_is_accepted_in_a_read_only_workspace(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    workspace = Workspace(owner, admin.tenant(owner))
    seller = admin.auth.sign_up("seller", verified=True)
    invited = admin.api.post(
        f"{workspace.base}/invites", owner, {"email": seller.email, "role": "seller"}
    )
    assert invited.status_code == 201
    subscription(admin, workspace.tenant_id, "canceled", canceled_at=datetime.now(UTC))

    accepted = admin.api.post(f"{workspace.base}/invites/accept", seller)

    assert accepted.status_code == 200, accepted.text
    taken = admin.api.post(f"{workspace.base}/conversations/x1/takeover", seller)
    assert taken.status_code == 402  # a seller changes nothing either


def test_the_subscription_decides_when_a_workspace_is_read_only(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    workspace = Workspace(owner, admin.tenant(owner))
    now = datetime.now(UTC)

    def rename() -> int:
        body = {"name": f"Clínica {datetime.now(UTC).timestamp()}"}
        return admin.api.patch(workspace.base, owner, body).status_code

    assert rename() == 200  # the trial
    subscription(admin, workspace.tenant_id, "trialing", trial_ends_at=now - timedelta(minutes=1))
    answer = admin.api.patch(workspace.base, owner, {"name": "Outra"})
    assert answer.status_code == 402
    assert answer.json()["error"]["message"] == (
        "this workspace is read-only: its trial ended; subscribe on the billing page"
    )
    assert admin.api.get(workspace.base, owner).status_code == 200

    subscription(admin, workspace.tenant_id, "past_due", past_due_since=now - timedelta(days=2))
    assert rename() == 200  # within the grace period
    subscription(admin, workspace.tenant_id, "past_due", past_due_since=now - timedelta(days=30))
    assert rename() == 200  # the agent is off, but the owner may still fix things
    subscription(admin, workspace.tenant_id, "canceled", canceled_at=now)
    assert rename() == 402
    subscription(admin, workspace.tenant_id, "active", canceled_at=None)
    assert rename() == 200  # subscribed again
