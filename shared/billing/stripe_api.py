"""Stripe calls Piloto makes: prices, customers, Checkout, the Customer Portal, subscriptions.

Every call goes through the ``stripe`` library's ``StripeClient`` against
``settings.stripe_api_base`` (``https://api.stripe.com``; locally the provider simulator's
``/stripe``), with the library's own retries (``max_network_retries``: connection errors, 409,
429 and 5xx, each POST with one idempotency key across its attempts). Errors come out as two
kinds the callers act on:

- ``StripeUnavailable``: Stripe could not be reached or answered 429/5xx after the retries
  (try again later; the admin API answers 503);
- ``StripeRefused``: Stripe answered a 4xx (bad parameters, unknown id, refused key); its
  message is Stripe's.

The objects are read in the shape of the library's pinned API version (``2026-08-26.dahlia``),
where a subscription's billing period lives on its items, not on the subscription.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import stripe

from shared.secrets import resolve_secret
from shared.settings import Settings, variable_name

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams
    from stripe.params.checkout import SessionCreateParams as CheckoutSessionCreateParams

logger = logging.getLogger("piloto.billing.stripe")

MAX_NETWORK_RETRIES = 2
TIMEOUT_SECONDS = 20.0
PRICE_CACHE_SECONDS = 600.0
"""How long a price id found by lookup key is reused (lookup keys move rarely)."""


class StripeUnavailable(RuntimeError):
    """Stripe could not be reached, timed out, or answered 429/5xx after the retries."""


class StripeRefused(ValueError):
    """Stripe answered a 4xx: the message is Stripe's; ``code`` is its error code, if any."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.param = param


@dataclass(frozen=True)
class SubscriptionState:
    """What Piloto keeps of a Stripe subscription."""

    subscription_id: str
    customer_id: str
    account_id: str | None
    """``metadata.account_id``: the billing account the subscription pays for."""
    status: str
    """Stripe's raw status (trialing, active, past_due, canceled, unpaid, incomplete, ...)."""
    lookup_key: str | None
    """The first item's ``price.lookup_key``: which plan it is."""
    price_id: str | None
    item_id: str | None
    current_period_end: datetime | None
    """The first item's period end (aware UTC)."""
    cancel_at_period_end: bool
    canceled_at: datetime | None
    trial_end: datetime | None


def subscription_state(subscription: Mapping[str, Any] | stripe.Subscription) -> SubscriptionState:
    """Parse a subscription object (an API answer or a webhook payload); ValueError if malformed."""
    document = (
        subscription.to_dict() if isinstance(subscription, stripe.StripeObject) else subscription
    )
    if not isinstance(document, Mapping):
        raise ValueError("a subscription must be an object")
    subscription_id = document.get("id")
    status = document.get("status")
    customer_id = _id_of(document.get("customer"))
    if not isinstance(subscription_id, str) or not subscription_id:
        raise ValueError("the subscription has no id")
    if not isinstance(status, str) or not status:
        raise ValueError(f"subscription {subscription_id} has no status")
    if customer_id is None:
        raise ValueError(f"subscription {subscription_id} has no customer")
    metadata = document.get("metadata")
    account_id = metadata.get("account_id") if isinstance(metadata, Mapping) else None
    item = _first_item(document)
    price = item.get("price") if item is not None else None
    price = price if isinstance(price, Mapping) else {}
    period_end = item.get("current_period_end") if item is not None else None
    if period_end is None:  # API versions before 2025-03-31 kept it on the subscription
        period_end = document.get("current_period_end")
    return SubscriptionState(
        subscription_id=subscription_id,
        customer_id=customer_id,
        account_id=account_id if isinstance(account_id, str) and account_id else None,
        status=status,
        lookup_key=_text(price.get("lookup_key")),
        price_id=_text(price.get("id")),
        item_id=_text(item.get("id")) if item is not None else None,
        current_period_end=_moment(period_end),
        cancel_at_period_end=document.get("cancel_at_period_end") is True,
        canceled_at=_moment(document.get("canceled_at")),
        trial_end=_moment(document.get("trial_end")),
    )


def stripe_client(settings: Settings) -> stripe.StripeClient:
    """Return a Stripe client for the configured key and API base (one per key and base)."""
    if not settings.stripe_secret_key:
        raise RuntimeError(
            f"{variable_name('stripe_secret_key')} is not set: give a secret reference to "
            "Stripe's secret API key (env:NAME or sm:SECRET)"
        )
    api_key = resolve_secret(settings.stripe_secret_key, settings.project_id)
    return _client(api_key, settings.stripe_api_base.rstrip("/"))


@lru_cache(maxsize=8)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=MAX_NETWORK_RETRIES,
        http_client=stripe.new_default_http_client(timeout=TIMEOUT_SECONDS),
    )


_prices: weakref.WeakKeyDictionary[stripe.StripeClient, dict[str, tuple[str, float]]] = (
    weakref.WeakKeyDictionary()
)
_prices_lock = threading.Lock()


def price_id_for(client: stripe.StripeClient, lookup_key: str) -> str:
    """Return the id of the active price with ``lookup_key`` (cached); StripeRefused if none."""
    now = time.monotonic()
    with _prices_lock:
        cached = _prices.get(client, {}).get(lookup_key)
    if cached is not None and now - cached[1] < PRICE_CACHE_SECONDS:
        return cached[0]
    with _calling_stripe("list prices"):
        prices = client.v1.prices.list(params={"lookup_keys": [lookup_key], "active": True})
    found = next((price.id for price in prices.data if price.lookup_key == lookup_key), None)
    if found is None:
        raise StripeRefused(
            f"no active Stripe price has the lookup key {lookup_key!r}", code="resource_missing"
        )
    with _prices_lock:
        _prices.setdefault(client, {})[lookup_key] = (found, now)
    return found


def ensure_customer(
    client: stripe.StripeClient,
    *,
    customer_id: str | None,
    account_id: str,
    email: str | None,
    name: str,
) -> str:
    """Return the account's Stripe customer: ``customer_id`` while it exists, else a new one."""
    if customer_id:
        try:
            with _calling_stripe("retrieve a customer"):
                customer = client.v1.customers.retrieve(customer_id)
            if not customer.to_dict().get("deleted"):
                return customer_id
        except StripeRefused as refused:
            if refused.code != "resource_missing":
                raise
        logger.warning(
            "stripe customer gone, creating another",
            extra={"account_id": account_id, "customer_id": customer_id},
        )
    params: CustomerCreateParams = {"name": name, "metadata": {"account_id": account_id}}
    if email:
        params["email"] = email
    with _calling_stripe("create a customer"):
        created = client.v1.customers.create(
            params=params,
            # two concurrent first checkouts make one customer, not two
            options={"idempotency_key": f"piloto-customer-{account_id}-{customer_id or 'new'}"},
        )
    return created.id


def create_checkout_session(
    client: stripe.StripeClient,
    *,
    account_id: str,
    customer_id: str,
    price_id: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str | None = None,
) -> tuple[str, str]:
    """Start a subscription Checkout for one price; return the session id and its URL."""
    params: CheckoutSessionCreateParams = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": account_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": {"account_id": account_id},
        "subscription_data": {"metadata": {"account_id": account_id}},
    }
    options: stripe.RequestOptions = {}
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    with _calling_stripe("create a Checkout session"):
        session = client.v1.checkout.sessions.create(params=params, options=options)
    if not session.url:
        raise StripeRefused(f"Checkout session {session.id} has no URL")
    return session.id, session.url


def create_portal_session(client: stripe.StripeClient, *, customer_id: str, return_url: str) -> str:
    """Open a Customer Portal session for a customer; return its URL."""
    with _calling_stripe("create a Customer Portal session"):
        session = client.v1.billing_portal.sessions.create(
            params={"customer": customer_id, "return_url": return_url}
        )
    return session.url


def retrieve_subscription(client: stripe.StripeClient, subscription_id: str) -> SubscriptionState:
    """Return a subscription's current state as Stripe has it now."""
    with _calling_stripe("retrieve a subscription"):
        subscription = client.v1.subscriptions.retrieve(subscription_id)
    return subscription_state(subscription)


def change_subscription_price(
    client: stripe.StripeClient, *, subscription_id: str, item_id: str, price_id: str
) -> SubscriptionState:
    """Move a subscription's item to another price, prorated; return the updated state."""
    with _calling_stripe("change a subscription's price"):
        subscription = client.v1.subscriptions.update(
            subscription_id,
            params={
                "items": [{"id": item_id, "price": price_id}],
                "proration_behavior": "create_prorations",
            },
        )
    return subscription_state(subscription)


@contextmanager
def _calling_stripe(what: str) -> Iterator[None]:
    """Translate the library's errors into StripeUnavailable / StripeRefused."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        logger.warning("stripe unavailable", extra={"call": what, "error": _describe(error)})
        raise StripeUnavailable(f"Stripe is unavailable ({what}): {_message(error)}") from error
    except stripe.AuthenticationError as error:
        logger.error(
            "stripe refused the API key: check the secret PILOTO_STRIPE_SECRET_KEY points to",
            extra={"call": what, "error": _describe(error)},
        )
        raise _refused(
            error, f"Stripe refused Piloto's API key (a configuration problem): {_message(error)}"
        ) from error
    except stripe.StripeError as error:
        status = error.http_status
        if status is None or status >= 500 or status == 429:
            logger.warning("stripe unavailable", extra={"call": what, "error": _describe(error)})
            raise StripeUnavailable(f"Stripe is unavailable ({what}): {_message(error)}") from error
        logger.info("stripe refused", extra={"call": what, "error": _describe(error)})
        raise _refused(error, _message(error)) from error


def _refused(error: stripe.StripeError, message: str) -> StripeRefused:
    return StripeRefused(
        message,
        code=error.code,
        http_status=error.http_status,
        param=getattr(error, "param", None),
    )


def _message(error: stripe.StripeError) -> str:
    return str(error.user_message or type(error).__name__)


def _describe(error: stripe.StripeError) -> dict[str, Any]:
    """Return what may be logged of an error (never the key or the request)."""
    return {
        "type": type(error).__name__,
        "http_status": error.http_status,
        "code": error.code,
        "message": _message(error),
        "request_id": error.request_id,
    }


def _first_item(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    items = document.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return data[0]
    return None


def _id_of(value: object) -> str | None:
    """Return an id whether the field is an id or an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _moment(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)
