"""The billing function served in-process: Stripe's signed deliveries, bad input, retries.

Firestore is the in-process store and Stripe's API a table of subscriptions here; the same
paths run against the Firestore emulator and the simulator's Stripe in
tests/integration/billing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from functions_framework import create_app

from shared.billing.accounts import account_ref, new_trial_account
from shared.billing.plans import load_catalogue
from shared.billing.stripe_api import StripeUnavailable, SubscriptionState, subscription_state
from shared.billing.webhooks import EVENTS_COLLECTION, BillingWebhook, signing_secret
from shared.settings import get_settings
from shared.store.memory import MemoryFirestore
from tests.functions.conftest import ROOT
from tests.support import stripe as stripe_events

SECRET = "whsec_test_piloto_function"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


class Stripe:
    """Stripe's current subscriptions, or Stripe down."""

    def __init__(self) -> None:
        self.subscriptions = {
            "sub_1": stripe_events.subscription(
                "sub_1", customer="cus_1", account_id="acme", lookup_key="piloto_starter_monthly"
            )
        }
        self.down = False

    def retrieve(self, _client: Any, subscription_id: str) -> SubscriptionState:
        if self.down:
            raise StripeUnavailable("Stripe is unavailable (retrieve a subscription)")
        return subscription_state(self.subscriptions[subscription_id])


@pytest.fixture
def store() -> MemoryFirestore:
    client = MemoryFirestore()
    trial = new_trial_account("acme", "uid-owner", NOW - timedelta(days=1), load_catalogue())
    account_ref(client, "acme").set(trial.model_dump())
    return client


@pytest.fixture
def stripe_api() -> Stripe:
    return Stripe()


@pytest.fixture
def billing_client(
    monkeypatch: pytest.MonkeyPatch, store: MemoryFirestore, stripe_api: Stripe
) -> Iterator[Any]:
    """A test client of the real billing function with Firestore and Stripe in-process."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    get_settings.cache_clear()
    app = create_app("billing", str(ROOT / "functions/billing/main.py"), "http")
    module = sys.modules["main"]
    monkeypatch.setattr(
        module,
        "_webhook",
        BillingWebhook(
            firestore=store,
            catalogue=load_catalogue(),
            signing_secret=lambda: SECRET,
            stripe_api_client=lambda: None,
            tolerance_seconds=300,
            now=lambda: NOW,
            retrieve=stripe_api.retrieve,
        ),
    )
    yield app.test_client()
    get_settings.cache_clear()


def deliver(
    client: Any,
    event: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> Any:
    body = event if isinstance(event, bytes) else stripe_events.body(event)
    signature = header if header is not None else stripe_events.sign(body, secret, timestamp)
    return client.post(
        "/",
        data=body,
        headers={"Stripe-Signature": signature} if signature else {},
        content_type="application/json; charset=utf-8",
    )


def updated(stripe_api: Stripe, event_id: str = "evt_1", created: int = 100) -> dict[str, Any]:
    return stripe_events.event(
        "customer.subscription.updated", stripe_api.subscriptions["sub_1"], created, event_id
    )


def events(store: MemoryFirestore) -> list[str]:
    return [snapshot.id for snapshot in store.collection(EVENTS_COLLECTION).stream()]


def account(store: MemoryFirestore) -> dict[str, Any]:
    document = account_ref(store, "acme").get().to_dict()
    assert document is not None
    return document


def test_a_signed_event_is_applied_and_its_redelivery_is_a_duplicate(
    billing_client: Any, store: MemoryFirestore, stripe_api: Stripe
) -> None:
    first = deliver(billing_client, updated(stripe_api))
    again = deliver(billing_client, updated(stripe_api))

    assert (first.status_code, first.get_json()["status"]) == (200, "applied")
    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")
    assert events(store) == ["evt_1"]
    assert (account(store)["status"], account(store)["plan_id"]) == ("active", "starter")


@pytest.mark.parametrize(
    ("delivery", "reason"),
    [
        ({"header": ""}, "missing Stripe-Signature header"),
        ({"secret": "whsec_another_endpoint"}, "does not match the body"),
        ({"header": "t=1,v2=abc"}, "malformed Stripe-Signature"),
        ({"timestamp": int(time.time()) - 3600}, "older than 300 seconds (replay)"),
        ({"timestamp": int(time.time()) + 3600}, "in the future"),
    ],
)
def test_bad_signatures_and_replays_are_400_and_write_nothing(
    billing_client: Any,
    store: MemoryFirestore,
    stripe_api: Stripe,
    delivery: dict[str, Any],
    reason: str,
) -> None:
    before = account(store)

    response = deliver(billing_client, updated(stripe_api), **delivery)

    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert events(store) == []
    assert account(store) == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xc3\x28", "not UTF-8"),
        (json.dumps({"object": "list", "data": []}).encode(), "not a Stripe event"),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_400(
    billing_client: Any, store: MemoryFirestore, body: bytes, reason: str
) -> None:
    response = deliver(billing_client, body)

    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert events(store) == []


def test_only_post_is_accepted(billing_client: Any) -> None:
    response = billing_client.get("/")

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert "Stripe POSTs" in response.get_json()["error"]


def test_a_body_over_a_megabyte_is_refused_unread(
    billing_client: Any, store: MemoryFirestore
) -> None:
    body = b"{" + b" " * (1024 * 1024) + b"}"

    response = deliver(billing_client, body)

    assert response.status_code == 413
    assert events(store) == []


def test_an_unhandled_event_type_is_acknowledged(
    billing_client: Any, store: MemoryFirestore
) -> None:
    event = stripe_events.event("customer.created", {"id": "cus_1", "object": "customer"})

    response = deliver(billing_client, event)

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert events(store) == []


def test_stripe_down_is_503_with_nothing_written_and_the_retry_applies(
    billing_client: Any, store: MemoryFirestore, stripe_api: Stripe
) -> None:
    stripe_api.down = True
    refused = deliver(billing_client, updated(stripe_api))
    stripe_api.down = False
    retried = deliver(billing_client, updated(stripe_api))

    assert refused.status_code == 503
    assert "retry later" in refused.get_json()["error"]
    assert retried.get_json()["status"] == "applied"
    assert events(store) == ["evt_1"]


def test_without_a_signing_secret_the_webhook_asks_for_a_retry(
    billing_client: Any, store: MemoryFirestore, stripe_api: Stripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules["main"]
    monkeypatch.delenv("PILOTO_STRIPE_WEBHOOK_SECRET", raising=False)
    get_settings.cache_clear()
    unconfigured = replace(module._webhook, signing_secret=lambda: signing_secret(get_settings()))
    monkeypatch.setattr(module, "_webhook", unconfigured)

    response = deliver(billing_client, updated(stripe_api))

    assert response.status_code == 503
    assert "not configured" in response.get_json()["error"]
