"""The read-only gate: a workspace whose subscription is canceled or whose trial ended changes
nothing through the admin API but billing; reads and everything else stay as they were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from shared.admin.auth import Caller
from shared.admin.http import READ_ONLY_CACHE_SECONDS, Request, Route, Router, openapi_document
from shared.billing.accounts import BillingAccount
from tests.unit.billing.fake_firestore import FakeFirestore

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
T = "/api/tenants/<tenant_id>"


def done(request: Request, **params: str) -> dict[str, Any]:
    """Answer what was called (a handler that would have changed something)."""
    request.services.handled.append(params)
    return {"ok": True}


ROUTES = [
    Route("GET", f"{T}/things", done, "List things"),
    Route("POST", f"{T}/things", done, "Add a thing"),
    Route("PATCH", f"{T}/things/<thing_id>", done, "Change a thing"),
    Route("PUT", f"{T}/things/<thing_id>", done, "Replace a thing"),
    Route("DELETE", f"{T}/things/<thing_id>", done, "Delete a thing"),
    Route("POST", f"{T}/billing/checkout", done, "Subscribe", billing=True),
    Route("POST", f"{T}/search", done, "Search", while_read_only=True),
    Route("POST", f"{T}/invites/accept", done, "Accept an invitation", "user"),
    Route("POST", "/api/tenants", done, "Sign up", "user"),
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def account(status: str, **changes: Any) -> BillingAccount:
    return BillingAccount.model_validate(
        {
            "account_id": "clinica",
            "home_tenant_id": "clinica",
            "plan_id": "pro",
            "status": status,
            "workspaces": ["clinica"],
            "created_at": NOW - timedelta(days=30),
            "updated_at": NOW - timedelta(days=30),
            **changes,
        }
    )


def services(db: FakeFirestore, cache_seconds: float = 60.0) -> Any:
    return SimpleNamespace(
        firestore=db,
        settings=SimpleNamespace(plans_file=None, billing_cache_seconds=cache_seconds),
        verify_token=lambda token: Caller(uid="u1", email="dona@example.com", email_verified=True),
        now=lambda: NOW,
        handled=[],
    )


def world(billing: BillingAccount | None) -> FakeFirestore:
    db = FakeFirestore()
    tenant: dict[str, Any] = {"tenant_id": "clinica", "name": "Clínica"}
    if billing is not None:
        tenant["billing_account_id"] = billing.account_id
        db.put("billing_accounts/clinica", billing.model_dump(mode="python"))
    db.put("tenants/clinica", tenant)
    db.put("tenants/clinica/members/u1", {"uid": "u1", "role": "owner"})
    return db


def call(router: Router, wired: Any, method: str, path: str) -> Any:
    return router.dispatch(wired, method, path, {}, {"Authorization": "Bearer t"}, b"{}")


CHANGES = [
    ("POST", "/api/tenants/clinica/things"),
    ("PATCH", "/api/tenants/clinica/things/x1"),
    ("PUT", "/api/tenants/clinica/things/x1"),
    ("DELETE", "/api/tenants/clinica/things/x1"),
]
OPEN = [
    ("GET", "/api/tenants/clinica/things"),
    ("POST", "/api/tenants/clinica/billing/checkout"),
    ("POST", "/api/tenants/clinica/search"),
    ("POST", "/api/tenants/clinica/invites/accept"),
    ("POST", "/api/tenants"),
]
STOPPED = {
    "canceled": (account("canceled", canceled_at=NOW - timedelta(days=1)), "canceled"),
    "trial ended": (
        account("trialing", trial_ends_at=NOW - timedelta(minutes=1)),
        "trial ended",
    ),
}


@pytest.mark.parametrize("stopped", sorted(STOPPED))
def test_a_stopped_subscription_refuses_every_change_with_a_402(stopped: str) -> None:
    billing, why = STOPPED[stopped]
    wired = services(world(billing))
    router = Router(ROUTES)

    for method, path in CHANGES:
        answer = call(router, wired, method, path)
        assert answer.status == 402, (method, path, answer.body)
        assert answer.body["error"]["code"] == "payment_required"
        message = answer.body["error"]["message"]
        assert message.startswith("this workspace is read-only: ") and why in message
    assert wired.handled == []


@pytest.mark.parametrize("stopped", sorted(STOPPED))
def test_reads_billing_and_user_routes_stay_open(stopped: str) -> None:
    wired = services(world(STOPPED[stopped][0]))
    router = Router(ROUTES)

    for method, path in OPEN:
        assert call(router, wired, method, path).status == 200, (method, path)
    assert len(wired.handled) == len(OPEN)


@pytest.mark.parametrize(
    "billing",
    [
        None,  # a seeded or legacy workspace: no account, service on
        account("active"),
        account("trialing", trial_ends_at=NOW + timedelta(days=3)),
        account("past_due", past_due_since=NOW - timedelta(days=2)),  # within the grace
        account("past_due", past_due_since=NOW - timedelta(days=30)),  # agent off, editable
    ],
    ids=["no account", "active", "trialing", "past due in grace", "past due after grace"],
)
def test_a_live_subscription_changes_as_before(billing: BillingAccount | None) -> None:
    wired = services(world(billing))
    router = Router(ROUTES)

    for method, path in CHANGES:
        assert call(router, wired, method, path).status == 200, (method, path)


def test_the_account_is_read_once_per_tenant_per_ten_seconds() -> None:
    db = world(account("active"))
    wired = services(db)
    clock = Clock()
    router = Router(ROUTES, clock=clock)
    membership_reads = 1

    call(router, wired, "POST", "/api/tenants/clinica/things")
    assert db.reads == membership_reads + 2  # the tenant, then its account
    call(router, wired, "POST", "/api/tenants/clinica/things")
    call(router, wired, "GET", "/api/tenants/clinica/things")
    assert db.reads == 3 * membership_reads + 2

    db.put("billing_accounts/clinica", account("canceled").model_dump(mode="python"))
    clock.now += READ_ONLY_CACHE_SECONDS - 0.5
    assert call(router, wired, "POST", "/api/tenants/clinica/things").status == 200  # cached
    clock.now += 1
    assert call(router, wired, "POST", "/api/tenants/clinica/things").status == 402


def test_a_shorter_billing_cache_shortens_the_gates() -> None:
    db = world(account("active"))
    wired = services(db, cache_seconds=0)
    router = Router(ROUTES, clock=Clock())

    call(router, wired, "POST", "/api/tenants/clinica/things")
    db.put("billing_accounts/clinica", account("canceled").model_dump(mode="python"))

    assert call(router, wired, "POST", "/api/tenants/clinica/things").status == 402


def test_a_non_member_is_refused_before_the_account_is_read() -> None:
    db = world(account("canceled"))
    db.documents.pop("tenants/clinica/members/u1")
    router = Router(ROUTES)

    answer = call(router, services(db), "POST", "/api/tenants/clinica/things")

    assert answer.status == 403
    assert db.reads == 1


def test_the_document_lists_402_exactly_on_gated_routes() -> None:
    document = openapi_document(ROUTES, title="t", version="1")

    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "402" in operation["responses"]
    }
    assert listed == {
        ("POST", "/api/tenants/{tenant_id}/things"),
        ("PATCH", "/api/tenants/{tenant_id}/things/{thing_id}"),
        ("PUT", "/api/tenants/{tenant_id}/things/{thing_id}"),
        ("DELETE", "/api/tenants/{tenant_id}/things/{thing_id}"),
    }
