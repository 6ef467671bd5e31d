"""Billing routes when Stripe or its configuration fails: a clear 5xx naming what is wrong
(never an unhandled error), and nothing written: no customer stored, no audit entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from shared.admin import billing
from shared.admin.access import Membership
from shared.admin.errors import ApiError
from shared.admin.http import Request
from shared.admin.schemas import PlanChoice
from shared.billing.accounts import account_ref, new_trial_account, read_account
from shared.billing.plans import load_catalogue
from shared.store.conversations import tenant_ref
from shared.store.memory import MemoryFirestore

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TENANT = "clinica-abc123"


@dataclass
class Settings:
    plans_file: str | None = None
    console_url: str | None = "https://console.example.com"


@dataclass
class Services:
    stripe: Callable[[], Any]
    settings: Settings = field(default_factory=Settings)
    firestore: MemoryFirestore = field(default_factory=MemoryFirestore)
    now: Callable[[], datetime] = lambda: NOW


class Listed:
    def __init__(self, data: list[Any]) -> None:
        self.data = data


class Price:
    def __init__(self, lookup_key: str) -> None:
        self.id = f"price_{lookup_key}"
        self.lookup_key = lookup_key


class Prices:
    def list(self, params: dict[str, Any]) -> Listed:
        return Listed([Price(key) for key in params["lookup_keys"]])


class RefusingCustomers:
    def create(self, params: dict[str, Any], options: dict[str, Any]) -> Any:
        raise stripe.InvalidRequestError(
            "Invalid email address: x", param="email", code="email_invalid", http_status=400
        )


class V1:
    def __init__(self) -> None:
        self.prices = Prices()
        self.customers = RefusingCustomers()


class RefusingStripe:
    """A Stripe client whose prices exist and which refuses to create a customer."""

    def __init__(self) -> None:
        self.v1 = V1()


def _request(stripe_client: Callable[[], Any], **settings: Any) -> Request:
    services = Services(stripe=stripe_client, settings=Settings(**settings))
    client = services.firestore
    tenant_ref(client, TENANT).set(
        {"tenant_id": TENANT, "name": "Clínica", "billing_account_id": TENANT}
    )
    account = new_trial_account(TENANT, "u-owner", NOW, load_catalogue())
    account_ref(client, TENANT).set(account.model_dump(mode="python"))
    return Request(
        services=services,
        membership=Membership(TENANT, "u-owner", "dona@example.com", "owner"),
        body=PlanChoice(plan_id="starter"),
    )


def _unwritten(request: Request) -> None:
    client = request.services.firestore
    account = read_account(client, TENANT)
    assert account is not None and account.stripe_customer_id is None
    assert tenant_ref(client, TENANT).collection("audit").stream() == []


def _unreachable() -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_x", base_addresses={"api": "http://127.0.0.1:9"}, max_network_retries=0
    )


def _no_key() -> stripe.StripeClient:
    raise RuntimeError("PILOTO_STRIPE_SECRET_KEY is not set: give a secret reference")


@pytest.mark.parametrize(
    ("stripe_client", "settings", "status", "reason"),
    [
        (_unreachable, {"console_url": None}, 503, "PILOTO_CONSOLE_URL is not set"),
        (_no_key, {}, 503, "billing is not configured: PILOTO_STRIPE_SECRET_KEY is not set"),
        (_unreachable, {}, 503, "Stripe is unavailable"),
        (RefusingStripe, {}, 502, "Stripe refused the request: Invalid email address"),
    ],
    ids=["no console URL", "no key", "Stripe unreachable", "Stripe refuses"],
)
def test_checkout_fails_with_a_reason_and_writes_nothing(
    stripe_client: Callable[[], Any], settings: dict[str, Any], status: int, reason: str
) -> None:
    request = _request(stripe_client, **settings)

    with pytest.raises(ApiError) as raised:
        billing.start_checkout(request, TENANT)

    assert raised.value.status == status
    assert reason in raised.value.message
    assert raised.value.code == {502: "bad_gateway", 503: "unavailable"}[status]
    _unwritten(request)


def test_the_portal_without_a_console_url_is_refused_before_calling_stripe() -> None:
    calls: list[str] = []

    def counted() -> Any:
        calls.append("stripe")
        return RefusingStripe()

    request = _request(counted, console_url=None)
    account_ref(request.services.firestore, TENANT).update({"stripe_customer_id": "cus_1"})

    with pytest.raises(ApiError) as raised:
        billing.open_portal(request, TENANT)

    assert raised.value.status == 503
    assert calls == []
