"""shared/billing/stripe_api: reading subscriptions, the client's configuration, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from shared.billing import stripe_api
from shared.billing.stripe_api import (
    StripeRefused,
    StripeUnavailable,
    stripe_client,
    subscription_state,
)
from shared.settings import Settings

PERIOD_END = 1_780_000_000


def subscription(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": "active",
        "metadata": {"account_id": "clinica"},
        "cancel_at_period_end": False,
        "canceled_at": None,
        "trial_end": None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "current_period_end": PERIOD_END,
                    "price": {"id": "price_pro", "lookup_key": "piloto_pro_monthly"},
                }
            ],
        },
    }
    document.update(overrides)
    return document


def test_a_subscription_is_read_from_its_first_item() -> None:
    state = subscription_state(subscription())

    assert state == stripe_api.SubscriptionState(
        subscription_id="sub_1",
        customer_id="cus_1",
        account_id="clinica",
        status="active",
        lookup_key="piloto_pro_monthly",
        price_id="price_pro",
        item_id="si_1",
        current_period_end=datetime.fromtimestamp(PERIOD_END, UTC),
        cancel_at_period_end=False,
        canceled_at=None,
        trial_end=None,
    )


def test_a_library_object_reads_like_the_payload() -> None:
    document = subscription(customer={"id": "cus_1", "object": "customer"}, canceled_at=PERIOD_END)
    constructed = stripe.Subscription.construct_from(document, "sk_test_x")

    state = subscription_state(constructed)

    assert state == subscription_state(document)
    assert state.customer_id == "cus_1"
    assert state.canceled_at == datetime.fromtimestamp(PERIOD_END, UTC)


def test_older_payloads_keep_the_period_on_the_subscription() -> None:
    document = subscription(current_period_end=PERIOD_END + 60)
    del document["items"]["data"][0]["current_period_end"]

    assert subscription_state(document).current_period_end == datetime.fromtimestamp(
        PERIOD_END + 60, UTC
    )


def test_missing_parts_read_as_none() -> None:
    state = subscription_state(subscription(metadata={}, items={"object": "list", "data": []}))

    assert (state.account_id, state.lookup_key, state.item_id, state.current_period_end) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "overrides", [{"id": None}, {"status": ""}, {"customer": None}, {"customer": {"id": 3}}]
)
def test_a_malformed_subscription_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="subscription"):
        subscription_state(subscription(**overrides))


def test_the_client_needs_a_key_reference() -> None:
    with pytest.raises(RuntimeError, match="PILOTO_STRIPE_SECRET_KEY"):
        stripe_client(Settings(project_id="p"))


def test_one_client_per_key_and_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIT_STRIPE_KEY", "sk_test_unit")
    settings = Settings(
        project_id="p", stripe_secret_key="env:UNIT_STRIPE_KEY", stripe_api_base="http://x/stripe/"
    )

    client = stripe_client(settings)

    assert stripe_client(settings) is client
    monkeypatch.setenv("UNIT_STRIPE_KEY", "sk_test_rotated")
    assert stripe_client(settings) is not client


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (stripe.APIConnectionError("connection refused"), StripeUnavailable),
        (stripe.RateLimitError("too many", http_status=429), StripeUnavailable),
        (stripe.APIError("boom", http_status=500), StripeUnavailable),
        (stripe.InvalidRequestError("No such price", "price", http_status=400), StripeRefused),
        (stripe.CardError("declined", "card", "card_declined", http_status=402), StripeRefused),
        (stripe.AuthenticationError("Invalid API Key", http_status=401), StripeRefused),
        (stripe.PermissionError("restricted key", http_status=403), StripeRefused),
        (stripe.IdempotencyError("key reused", http_status=400), StripeRefused),
    ],
)
def test_library_errors_become_unavailable_or_refused(
    error: stripe.StripeError, expected: type[Exception]
) -> None:
    with pytest.raises(expected) as raised, stripe_api._calling_stripe("a call"):
        raise error

    assert raised.value.__cause__ is error


def test_a_refusal_keeps_stripes_message_code_and_param() -> None:
    error = stripe.InvalidRequestError(
        "No such customer: 'cus_x'", "customer", code="resource_missing", http_status=404
    )

    with pytest.raises(StripeRefused) as raised, stripe_api._calling_stripe("a call"):
        raise error

    refused = raised.value
    assert (str(refused), refused.code, refused.param, refused.http_status) == (
        "No such customer: 'cus_x'",
        "resource_missing",
        "customer",
        404,
    )
