"""Sign and build Stripe webhook events as Stripe does, independently of the stripe library.

Events follow Stripe's documented snapshot format (``object: "event"``, ``data.object``) in the
shape of API version 2026-08-26 (a subscription's period on its items, an invoice's subscription
under ``parent.subscription_details``); signatures are ``Stripe-Signature: t=<unix>,v1=<hex>``
with HMAC-SHA256 over ``"{t}.{raw body}"``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

API_VERSION = "2026-08-26.dahlia"
_serial = itertools.count(1)


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Return the Stripe-Signature header Stripe sends for ``payload`` at ``timestamp``."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def body(event_document: dict[str, Any]) -> bytes:
    """Return an event's raw body as Stripe sends it (pretty-printed JSON)."""
    return json.dumps(event_document, indent=2).encode()


def event(
    event_type: str,
    obj: dict[str, Any],
    created: int | None = None,
    event_id: str | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a Stripe event (snapshot payload) of ``event_type`` about ``obj``."""
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id or f"evt_test_{next(_serial):06d}{int(time.time() * 1000) % 10**8}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def subscription(
    subscription_id: str,
    *,
    customer: str,
    status: str = "active",
    lookup_key: str = "piloto_pro_monthly",
    account_id: str | None = None,
    price_id: str | None = None,
    period_end: int | None = None,
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
) -> dict[str, Any]:
    """Return a subscription object with one item (its period on the item)."""
    start = int(time.time())
    end = period_end if period_end is not None else start + 30 * 86400
    price = {
        "id": price_id or f"price_sim_{lookup_key.split('_')[1]}",
        "object": "price",
        "active": True,
        "currency": "brl",
        "lookup_key": lookup_key,
        "recurring": {"interval": "month", "interval_count": 1},
        "type": "recurring",
        "unit_amount": 49700,
    }
    return {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": canceled_at,
        "created": start,
        "currency": "brl",
        "customer": customer,
        "ended_at": canceled_at,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{subscription_id.removeprefix('sub_')}",
                    "object": "subscription_item",
                    "current_period_start": start,
                    "current_period_end": end,
                    "price": price,
                    "quantity": 1,
                    "subscription": subscription_id,
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "livemode": False,
        "metadata": {"account_id": account_id} if account_id else {},
        "status": status,
        "trial_end": None,
    }


def checkout_session(
    session_id: str,
    *,
    customer: str,
    subscription_id: str | None,
    account_id: str | None,
) -> dict[str, Any]:
    """Return a completed subscription-mode Checkout Session."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": account_id,
        "customer": customer,
        "livemode": False,
        "metadata": {"account_id": account_id} if account_id else {},
        "mode": "subscription" if subscription_id else "payment",
        "payment_status": "paid",
        "status": "complete",
        "subscription": subscription_id,
        "url": None,
    }


def invoice(
    invoice_id: str,
    *,
    customer: str,
    subscription_id: str | None,
    account_id: str | None = None,
    status: str = "paid",
) -> dict[str, Any]:
    """Return an invoice a subscription generated (its subscription under ``parent``)."""
    parent = None
    if subscription_id is not None:
        parent = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": {"account_id": account_id} if account_id else {},
                "subscription": subscription_id,
            },
        }
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": 49700,
        "currency": "brl",
        "customer": customer,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
        "livemode": False,
        "parent": parent,
        "status": status,
    }
