"""Stripe events received by ``functions/billing``: signature, dedupe, ordering, account state.

Stripe is the authority on a subscription. An event only says *that* something changed: the
handler retrieves the subscription's current state from Stripe's API, so the order in which
events arrive never matters, and applies it in one Firestore transaction that also creates
``stripe_events/{event_id}`` (a redelivered event changes nothing) and skips an event older
than the newest one applied (``BillingAccount.stripe_event_created``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import stripe

from shared.billing.accounts import BillingAccount, SubscriptionStatus
from shared.billing.plans import Catalogue

if TYPE_CHECKING:
    from shared.billing.stripe_api import SubscriptionState

logger = logging.getLogger("piloto.billing")

STRIPE_STATUSES: Mapping[str, SubscriptionStatus] = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "unpaid": "past_due",
    "canceled": "canceled",
    "incomplete_expired": "canceled",
    "paused": "canceled",
}
"""Stripe's subscription statuses as Piloto's; ``incomplete`` (not paid yet) changes nothing."""

LIVE_STATUSES: frozenset[SubscriptionStatus] = frozenset({"trialing", "active", "past_due"})


class BadStripeEvent(ValueError):
    """A request that is not a correctly signed, recent Stripe event; the reason says why."""


def verify_event(
    payload: bytes, signature_header: str | None, secret: str, tolerance: int
) -> dict[str, Any]:
    """Check ``Stripe-Signature`` over the raw body and return the event, or raise BadStripeEvent.

    Stripe's library checks the HMAC (any of the ``v1`` signatures may match) and refuses a
    timestamp older than ``tolerance`` seconds (a replay); a timestamp further than
    ``tolerance`` in the future is refused too.
    """
    if not signature_header:
        raise BadStripeEvent("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadStripeEvent("body is not UTF-8 text") from error
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as error:
        message = str(error.user_message or error)
        if "tolerance" in message:
            raise BadStripeEvent(
                f"Stripe-Signature timestamp is older than {tolerance} seconds (replay)"
            ) from error
        if "extract timestamp" in message or "expected scheme" in message:
            raise BadStripeEvent("malformed Stripe-Signature header") from error
        raise BadStripeEvent("Stripe-Signature does not match the body") from error
    timestamp = _signed_timestamp(signature_header)
    if timestamp > time.time() + tolerance:
        raise BadStripeEvent(
            f"Stripe-Signature timestamp is more than {tolerance} seconds in the future"
        )
    try:
        event = json.loads(text)
    except ValueError as error:
        raise BadStripeEvent("body is not JSON") from error
    if not isinstance(event, dict) or event.get("object") != "event":
        raise BadStripeEvent("body is not a Stripe event object")
    data = event.get("data")
    if (
        not isinstance(event.get("id"), str)
        or not event["id"]
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("created"), int)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
    ):
        raise BadStripeEvent("Stripe event without id, type, created or data.object")
    return event


def _signed_timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    raise BadStripeEvent("malformed Stripe-Signature header")


def account_changes(
    account: BillingAccount | None,
    state: SubscriptionState,
    catalogue: Catalogue,
    now: datetime,
) -> dict[str, Any]:
    """Return the account fields Stripe's current subscription state sets (pure).

    ``incomplete`` (the first payment has not gone through) keeps status and plan. A state of
    another subscription than the account's changes nothing unless it is live (a new
    subscription replaces an ended one). An unknown lookup key keeps the plan (logged).
    """
    status = STRIPE_STATUSES.get(state.status)
    other_subscription = (
        account is not None
        and account.stripe_subscription_id is not None
        and account.stripe_subscription_id != state.subscription_id
    )
    if other_subscription and status not in LIVE_STATUSES:
        return {}
    if status is None:
        if state.status != "incomplete":
            logger.error(
                "unknown Stripe subscription status; account unchanged",
                extra={"stripe_status": state.status, "subscription_id": state.subscription_id},
            )
        changes: dict[str, Any] = {"updated_at": now}
        if account is None or account.stripe_customer_id is None:
            changes["stripe_customer_id"] = state.customer_id
        return changes
    changes = {
        "status": status,
        "stripe_customer_id": state.customer_id,
        "stripe_subscription_id": state.subscription_id,
        "trial_ends_at": None,
        "cancel_at_period_end": state.cancel_at_period_end,
        "canceled_at": None,
        "current_period_end": state.current_period_end,
        "past_due_since": None,
        "updated_at": now,
    }
    plan = catalogue.plan_for_lookup_key(state.lookup_key)
    if plan is not None:
        changes["plan_id"] = plan.plan_id
    else:
        logger.error(
            "Stripe price lookup key matches no plan; plan unchanged",
            extra={"lookup_key": state.lookup_key, "subscription_id": state.subscription_id},
        )
    if status == "trialing" and state.current_period_end is None:
        changes["current_period_end"] = state.trial_end
    if status == "past_due":
        kept = account is not None and account.status == "past_due" and not other_subscription
        since = account.past_due_since if account is not None and kept else None
        changes["past_due_since"] = since or now
    if status == "canceled":
        changes["canceled_at"] = state.canceled_at or now
    return changes
