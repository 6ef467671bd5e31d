"""Billing through the admin API: plans, the trial a sign-up gets, usage levels and notices,
Stripe Checkout, the Customer Portal and plan changes against the simulated Stripe (reached by
the admin function through the real ``stripe`` library), and who may do what."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.billing.accounts import account_ref, read_account
from shared.billing.usage import month_key, notice_ref, usage_ref
from shared.store.conversations import tenant_ref
from tests.integration.admin.conftest import CONSOLE_URL, AdminStack
from tests.integration.admin.support import User, apply_checkout, pay, seed_tenant, stripe_for

ZONE = "America/Sao_Paulo"
STOCK = ["channels", "seats", "insight_agents", "knowledge_mb"]


def _billing(admin: AdminStack, tenant_id: str, user: User) -> dict[str, Any]:
    answer = admin.api.get(f"/api/tenants/{tenant_id}/billing", user)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _lines(billing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["quota"]: line for line in billing["usage"]}


def _actions(admin: AdminStack, tenant_id: str) -> list[str]:
    return [entry["action"] for entry in admin.audit(tenant_id)]


def _error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return dict(answer.json()["error"])


@pytest.fixture
def owner(admin: AdminStack) -> User:
    return admin.auth.sign_up("dona", verified=True)


def test_the_plans_are_the_catalogues_for_any_signed_in_user(admin: AdminStack) -> None:
    unverified = admin.auth.sign_up("curioso")

    answer = admin.api.get("/api/plans", unverified)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["currency"], body["trial_days"]) == ("brl", 14)
    plans = {plan["plan_id"]: plan for plan in body["plans"]}
    assert list(plans) == ["starter", "pro", "agency"]
    assert plans["starter"]["price_cents"] == 19700
    assert plans["pro"]["quotas"]["agent_replies"] == 5000
    assert plans["agency"]["quotas"]["workspaces"] == 20
    assert plans["pro"]["grace_percent"] == 10
    assert admin.api.get("/api/plans").status_code == 401


def test_sign_up_starts_a_14_day_pro_trial(admin: AdminStack, owner: User) -> None:
    before = datetime.now(UTC)
    tenant_id = admin.tenant(owner)

    billing = _billing(admin, tenant_id, owner)

    tenant = tenant_ref(admin.db, tenant_id).get().to_dict() or {}
    assert tenant["billing_account_id"] == tenant_id
    account = read_account(admin.db, tenant_id)
    assert account is not None
    assert (account.status, account.plan_id, account.owner_uid) == ("trialing", "pro", owner.uid)
    assert account.workspaces == [tenant_id]
    assert account.stripe_customer_id is None
    trial_end = datetime.fromisoformat(billing["trial_ends_at"])
    assert timedelta(days=14) <= trial_end - before <= timedelta(days=14, minutes=1)
    assert billing["account_id"] == billing["home_tenant_id"] == tenant_id
    assert billing["home_tenant_name"] == tenant["name"]
    assert billing["plan"]["plan_id"] == "pro"
    assert billing["status"] == "trialing"
    assert billing["manages_billing"] is True
    assert billing["has_subscription"] is False
    assert (billing["agent_on"], billing["read_only"], billing["stop_reason"]) == (
        True,
        False,
        None,
    )
    assert billing["month"] == month_key(datetime.now(UTC), ZONE)
    lines = _lines(billing)
    assert list(lines) == ["agent_replies", *STOCK]  # no client workspaces on Pro
    assert lines["agent_replies"] == {
        "quota": "agent_replies",
        "used": 0,
        "limit": 5000,
        "ceiling": 5500,
        "percent": 0,
        "level": "ok",
    }
    assert (lines["seats"]["used"], lines["seats"]["limit"]) == (1, 15)
    assert billing["notices"] == []
    assert billing["workspaces"] == [
        {"tenant_id": tenant_id, "name": tenant["name"], "usage": [lines["agent_replies"]]}
    ]


def _seed_replies(admin: AdminStack, tenant_id: str, month: str, *counts: int) -> None:
    """Store the month's day counters as the turns' batches would have."""
    for day, count in enumerate(counts, start=1):
        usage_ref(admin.db, tenant_id, date.fromisoformat(f"{month}-{day:02d}")).set(
            {"month": month, "day": f"{month}-{day:02d}", "agent_replies": count}
        )


@pytest.mark.parametrize(
    ("counts", "level", "percent"),
    [
        ((3000, 500), "ok", 70),
        ((4000, 250), "warning", 85),
        ((3000, 2000), "reached", 100),
        ((5000, 499), "reached", 110),  # within the 10 % grace margin
        ((5000, 500), "exceeded", 110),  # the ceiling: the agent hands over
        ((4000, 1000, 1000), "exceeded", 120),
    ],
    ids=["ok", "warning", "reached", "within grace", "at the ceiling", "over"],
)
def test_reply_usage_levels_follow_the_month_s_day_counters(
    admin: AdminStack, owner: User, counts: tuple[int, ...], level: str, percent: int
) -> None:
    tenant_id = admin.tenant(owner)
    month = month_key(datetime.now(UTC), ZONE)
    _seed_replies(admin, tenant_id, month, *counts)
    _seed_replies(admin, tenant_id, "2020-01", 999_999)  # another month: never counted

    line = _lines(_billing(admin, tenant_id, owner))["agent_replies"]

    assert line["used"] == sum(counts)
    assert (line["limit"], line["ceiling"]) == (5000, 5500)
    assert line["percent"] == percent
    assert line["level"] == level


def test_notices_are_this_month_s_and_the_recent_stops_newest_first(
    admin: AdminStack, owner: User
) -> None:
    tenant_id = admin.tenant(owner)
    now = datetime.now(UTC)
    month = month_key(now, ZONE)
    today = now.date().isoformat()
    old_day = (now - timedelta(days=10)).date().isoformat()
    seeded = {
        f"quota_warning-{month}": (now - timedelta(hours=2), "quota_warning", month),
        f"quota_reached-{month}": (now - timedelta(hours=1), "quota_reached", month),
        "quota_warning-2020-01": (datetime(2020, 1, 20, tzinfo=UTC), "quota_warning", "2020-01"),
        f"service_stopped-canceled-{today}": (now - timedelta(hours=3), "service_stopped", None),
        f"service_stopped-canceled-{old_day}": (
            now - timedelta(days=10),
            "service_stopped",
            None,
        ),
    }
    for notice_id, (created_at, kind, notice_month) in seeded.items():
        record: dict[str, Any] = {"kind": kind, "created_at": created_at}
        if notice_month:
            record |= {"month": notice_month, "quota": "agent_replies", "used": 4000, "limit": 5000}
        notice_ref(admin.db, tenant_id, notice_id).set(record)

    notices = _billing(admin, tenant_id, owner)["notices"]

    assert [(n["notice_id"], n["kind"], n["month"], n["quota"]) for n in notices] == [
        (f"quota_reached-{month}", "quota_reached", month, "agent_replies"),
        (f"quota_warning-{month}", "quota_warning", month, "agent_replies"),
        (f"service_stopped-canceled-{today}", "service_stopped", None, None),
    ]


def test_checkout_makes_one_customer_and_a_session_in_stripe(
    admin: AdminStack, owner: User
) -> None:
    tenant_id = admin.tenant(owner)
    name = (tenant_ref(admin.db, tenant_id).get().to_dict() or {})["name"]
    checkout = f"/api/tenants/{tenant_id}/billing/checkout"
    stripe = stripe_for(admin.stripe_url)

    first = admin.api.post(checkout, owner, {"plan_id": "starter"})

    assert first.status_code == 200, first.text
    session_id = first.json()["session_id"]
    assert first.json()["url"] == f"{admin.stripe_url}/checkout/{session_id}"
    account = read_account(admin.db, tenant_id)
    assert account is not None and account.stripe_customer_id
    customer = stripe.v1.customers.retrieve(account.stripe_customer_id)
    assert (customer.email, customer.name) == (owner.email, name)
    assert customer.metadata["account_id"] == tenant_id
    session = stripe.v1.checkout.sessions.retrieve(session_id)
    assert (session.mode, session.status, session.customer) == (
        "subscription",
        "open",
        account.stripe_customer_id,
    )
    assert session.client_reference_id == tenant_id
    assert session.success_url == f"{CONSOLE_URL}/assinatura?checkout=success"
    assert session.cancel_url == f"{CONSOLE_URL}/assinatura?checkout=cancel"
    assert "Starter" in admin.api.http.get(first.json()["url"]).text
    entry = admin.audit(tenant_id)[-1]
    assert entry["action"] == "billing.checkout"
    assert entry["actor_uid"] == owner.uid
    assert entry["before"] == {"plan_id": "pro"}
    assert entry["after"]["plan_id"] == "starter"
    assert entry["after"]["session_id"] == session_id

    minute = datetime.now(UTC).strftime("%H%M")
    second = admin.api.post(checkout, owner, {"plan_id": "agency"})
    again = admin.api.post(checkout, owner, {"plan_id": "agency"})

    assert second.status_code == again.status_code == 200, second.text
    assert second.json()["session_id"] != session_id
    if datetime.now(UTC).strftime("%H%M") == minute:  # a double click: the same session
        assert again.json()["session_id"] == second.json()["session_id"]
    assert read_account(admin.db, tenant_id).stripe_customer_id == account.stripe_customer_id  # type: ignore[union-attr]
    later = stripe.v1.checkout.sessions.retrieve(second.json()["session_id"])
    assert later.customer == account.stripe_customer_id
    assert "Agency" in admin.api.http.get(second.json()["url"]).text


def test_a_tenant_from_before_billing_is_on_the_trial_plan_and_checkout_opens_its_account(
    admin: AdminStack, owner: User
) -> None:
    tenant_id = f"antiga-{owner.uid[:8].lower()}"
    seed_tenant(admin.db, tenant_id, {"owner": (owner, "owner")})

    billing = _billing(admin, tenant_id, owner)
    assert (billing["status"], billing["plan"]["plan_id"], billing["trial_ends_at"]) == (
        "trialing",
        "pro",
        None,
    )
    assert (billing["agent_on"], billing["read_only"], billing["manages_billing"]) == (
        True,
        False,
        True,
    )
    assert read_account(admin.db, tenant_id) is None

    answer = admin.api.post(f"/api/tenants/{tenant_id}/billing/checkout", owner, {"plan_id": "pro"})

    assert answer.status_code == 200, answer.text
    account = read_account(admin.db, tenant_id)
    assert account is not None
    assert (account.status, account.plan_id, account.trial_ends_at) == ("trialing", "pro", None)
    assert account.workspaces == [tenant_id] and account.stripe_customer_id
    tenant = tenant_ref(admin.db, tenant_id).get().to_dict() or {}
    assert tenant["billing_account_id"] == tenant_id


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"plan_id": "gold"}, 404, "plan_id"),
        ({"plan_id": "Gold Plan!"}, 422, "plan_id"),
        ({}, 422, "plan_id"),
        ({"plan_id": "pro", "coupon": "x"}, 422, "coupon"),
    ],
)
def test_a_bad_plan_changes_nothing(
    admin: AdminStack, owner: User, body: dict[str, Any], status: int, field: str
) -> None:
    tenant_id = admin.tenant(owner)
    before = admin.tenant_state(tenant_id)
    account = account_ref(admin.db, tenant_id).get().to_dict()

    for route in ("checkout", "plan"):
        answer = admin.api.post(f"/api/tenants/{tenant_id}/billing/{route}", owner, body)
        assert _error(answer, status)["field"] == field

    assert admin.tenant_state(tenant_id) == before
    assert account_ref(admin.db, tenant_id).get().to_dict() == account


def test_the_portal_needs_a_customer_and_returns_to_the_billing_page(
    admin: AdminStack, owner: User
) -> None:
    tenant_id = admin.tenant(owner)
    portal = f"/api/tenants/{tenant_id}/billing/portal"
    audit = _actions(admin, tenant_id)

    refused = admin.api.post(portal, owner)

    assert "Checkout" in _error(refused, 409)["message"]
    assert _actions(admin, tenant_id) == audit
    admin.api.post(f"/api/tenants/{tenant_id}/billing/checkout", owner, {"plan_id": "pro"})

    opened = admin.api.post(portal, owner)

    assert opened.status_code == 200, opened.text
    url = opened.json()["url"]
    assert url.startswith(f"{admin.stripe_url}/portal/")
    page = admin.api.http.get(url)
    assert page.status_code == 200
    assert f'href="{CONSOLE_URL}/assinatura"' in page.text
    assert _actions(admin, tenant_id)[-2:] == ["billing.checkout", "billing.portal"]


def test_a_plan_change_moves_the_stripe_subscription_and_the_account(
    admin: AdminStack, owner: User
) -> None:
    tenant_id = admin.tenant(owner)
    base = f"/api/tenants/{tenant_id}/billing"
    no_subscription = admin.api.post(f"{base}/plan", owner, {"plan_id": "agency"})
    assert "Checkout first" in _error(no_subscription, 409)["message"]
    checkout = admin.api.post(f"{base}/checkout", owner, {"plan_id": "starter"})
    pay(admin.api.http, checkout.json()["url"])
    subscribed = apply_checkout(
        admin.db, admin.stripe_url, tenant_id, checkout.json()["session_id"]
    )
    billing = _billing(admin, tenant_id, owner)
    assert (billing["status"], billing["plan"]["plan_id"], billing["has_subscription"]) == (
        "active",
        "starter",
        True,
    )
    assert billing["trial_ends_at"] is None and billing["current_period_end"] is not None
    assert _lines(billing)["channels"]["limit"] == 1
    assert (
        "/billing/plan"
        in _error(admin.api.post(f"{base}/checkout", owner, {"plan_id": "pro"}), 409)["message"]
    )
    same = admin.api.post(f"{base}/plan", owner, {"plan_id": "starter"})
    assert "already on the Starter plan" in _error(same, 409)["message"]

    changed = admin.api.post(f"{base}/plan", owner, {"plan_id": "agency"})

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["plan"]["plan_id"], body["status"], body["has_subscription"]) == (
        "agency",
        "active",
        True,
    )
    assert _lines(body)["workspaces"] == {
        "quota": "workspaces",
        "used": 0,
        "limit": 20,
        "ceiling": 20,
        "percent": 0,
        "level": "ok",
    }
    at_stripe = stripe_for(admin.stripe_url).v1.subscriptions.retrieve(subscribed.subscription_id)
    assert at_stripe["items"]["data"][0]["price"]["lookup_key"] == "piloto_agency_monthly"
    account = read_account(admin.db, tenant_id)
    assert account is not None
    assert (account.plan_id, account.status) == ("agency", "active")
    assert account.stripe_subscription_id == subscribed.subscription_id
    assert account.stripe_event_created == 0  # left to the webhook's events
    entry = admin.audit(tenant_id)[-1]
    assert entry["action"] == "billing.plan_change"
    assert (entry["before"], entry["after"]["plan_id"]) == ({"plan_id": "starter"}, "agency")

    down = admin.api.post(f"{base}/plan", owner, {"plan_id": "starter"})

    assert down.status_code == 200, down.text
    assert down.json()["plan"]["plan_id"] == "starter"
    assert "workspaces" not in _lines(down.json())


def test_only_owners_start_checkout_and_sellers_do_not_see_billing(
    admin: AdminStack, owner: User
) -> None:
    tenant_id = admin.tenant(owner)
    manager = admin.auth.sign_up("gerente", verified=True)
    seller = admin.auth.sign_up("vendedor", verified=True)
    admin.join(owner, tenant_id, manager, "admin")
    admin.join(owner, tenant_id, seller, "seller")
    before = admin.tenant_state(tenant_id)
    account = account_ref(admin.db, tenant_id).get().to_dict()

    seen_by_admin = _billing(admin, tenant_id, manager)
    assert (seen_by_admin["manages_billing"], seen_by_admin["workspaces"]) == (False, [])
    assert _lines(seen_by_admin)["seats"]["used"] == 3
    assert _error(admin.api.get(f"/api/tenants/{tenant_id}/billing", seller), 403)
    for route in ("checkout", "plan", "portal"):
        body = None if route == "portal" else {"plan_id": "starter"}
        for user in (manager, seller):
            answer = admin.api.post(f"/api/tenants/{tenant_id}/billing/{route}", user, body)
            assert _error(answer, 403)["code"] == "forbidden"

    assert admin.tenant_state(tenant_id) == before
    assert account_ref(admin.db, tenant_id).get().to_dict() == account
