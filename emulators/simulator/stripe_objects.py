"""Stripe's wire formats for the simulated Stripe (``emulators/simulator/stripe.py``).

Form bodies with nested keys (``line_items[0][price]``), Stripe's error objects, ids, and the
JSON objects (price, customer, subscription with its items, invoice, event) in the shape of the
API version the ``stripe`` library pins (``2026-08-26.dahlia``: a subscription's billing period
is on its items; an invoice names its subscription under ``parent.subscription_details``).
"""

from __future__ import annotations

import calendar
import re
import secrets as random_tokens
import string
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from emulators.simulator.routing import Response, json_response
from shared.billing.plans import Catalogue, Plan

API_VERSION = "2026-08-26.dahlia"
"""What the simulated account answers and stamps on events (the ``stripe`` library's pin)."""
DEFAULT_SECRET_KEY = "sk_test_piloto_local"  # noqa: S105 (the simulator's public test key)
DOCS = "https://stripe.com/docs/error-codes"

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PART = re.compile(r"\[([^\[\]]*)\]")
_ALPHABET = string.ascii_letters + string.digits


class StripeInvalid(Exception):
    """A request Stripe would refuse: answered with Stripe's error object."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.kind = kind

    def response(self, request_id: str) -> Response:
        """Return the error as Stripe answers it."""
        return stripe_error(
            self.status,
            self.message,
            param=self.param,
            code=self.code,
            kind=self.kind,
            request_id=request_id,
        )


def missing(kind: str, object_id: str, param: str = "id", status: int = 404) -> StripeInvalid:
    """Return Stripe's ``resource_missing`` error for an unknown id."""
    return StripeInvalid(
        f"No such {kind}: '{object_id}'", param=param, code="resource_missing", status=status
    )


def stripe_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    kind: str = "invalid_request_error",
    request_id: str | None = None,
) -> Response:
    """Return ``{"error": {...}}`` with Stripe's fields and its ``Request-Id`` header."""
    error: dict[str, Any] = {}
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"{DOCS}/{code.replace('_', '-')}"
    error["message"] = message
    if param is not None:
        error["param"] = param
    request_id = request_id or new_id("req_", 14)
    error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
    error["type"] = kind
    return json_response(status, {"error": error}, {"Request-Id": request_id})


# Form bodies and query strings with Stripe's nested keys


def decode_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Return nested parameters from ``a[b][0][c]=v`` pairs (digit-keyed levels become lists)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.fullmatch(key)
        if match is None:
            raise StripeInvalid(f"Invalid parameter name: {key}", param=key)
        path = [match.group(1), *_PART.findall(match.group(2))]
        node = root
        for depth, part in enumerate(path):
            if part == "":
                part = str(len(node))  # ``expand[]=...`` appends
            if depth == len(path) - 1:
                if isinstance(node.get(part), dict):
                    raise StripeInvalid(f"Invalid value for {key}: expected an object", param=key)
                node[part] = value
                break
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeInvalid(f"Invalid value for {key}: it is not an object", param=key)
            node = child
    return _listed(root)


def _listed(node: dict[str, Any]) -> dict[str, Any]:
    listed: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            value = _listed(value)
            if value and all(part.isdigit() for part in value):
                value = [value[part] for part in sorted(value, key=int)]
        listed[key] = value
    return listed


def unknown_params(params: Mapping[str, Any], known: Iterable[str], prefix: str = "") -> None:
    """Refuse a parameter the endpoint does not take, naming it as Stripe does."""
    allowed = set(known) | {"expand"}
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise StripeInvalid(f"Received unknown parameter: {name}", param=name)


def text_param(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """Return a string parameter (``""`` is None), or raise naming it."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeInvalid(f"Missing required param: {name}.", param=name)
        return None
    if not isinstance(value, str):
        raise StripeInvalid(f"Invalid string: {name} must be a string", param=name)
    return value


def bool_param(params: Mapping[str, Any], name: str) -> bool | None:
    """Return a boolean parameter sent as ``true``/``false``."""
    value = params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise StripeInvalid(f"Invalid boolean: {value!r}", param=name)
    return bool(value == "true")


def int_param(
    params: Mapping[str, Any], name: str, *, minimum: int, maximum: int, param: str | None = None
) -> int | None:
    """Return a whole-number parameter within bounds."""
    value = params.get(name)
    if value is None:
        return None
    where = param or name
    if not isinstance(value, str) or not value.isdigit():
        raise StripeInvalid(f"Invalid integer: {value!r}", param=where)
    number = int(value)
    if not minimum <= number <= maximum:
        raise StripeInvalid(
            f"Invalid {where}: must be between {minimum} and {maximum}", param=where
        )
    return number


def metadata_param(params: Mapping[str, Any], name: str = "metadata") -> dict[str, str]:
    """Return a metadata object (string keys and values)."""
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise StripeInvalid(f"Invalid object: {name} must be string keys and values", param=name)
    return dict(value)


def merged_metadata(current: Mapping[str, str], update: Mapping[str, str]) -> dict[str, str]:
    """Return metadata after an update (an empty value unsets the key, as Stripe does)."""
    merged = {**current, **update}
    return {key: value for key, value in merged.items() if value != ""}


# Ids, time and money


def new_id(prefix: str, length: int = 24) -> str:
    """Return a Stripe-looking id (``cus_``, ``sub_1``...)."""
    return prefix + "".join(random_tokens.choice(_ALPHABET) for _ in range(length))


def now_seconds() -> int:
    """Return the Unix time in whole seconds (Stripe's timestamps)."""
    return int(datetime.now(UTC).timestamp())


def add_month(seconds: int) -> int:
    """Return the same time a calendar month later (the 31st becomes the month's last day)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def reais(cents: int) -> str:
    """Return an amount as Brazilians read it: ``R$ 1.497,00``."""
    whole = f"{cents // 100:,}".replace(",", ".")
    return f"R$ {whole},{cents % 100:02d}"


def brazilian_date(seconds: int | None) -> str:
    """Return a date as ``dd/mm/aaaa`` (UTC)."""
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime("%d/%m/%Y")


# Objects


def seeded_prices(catalogue: Catalogue, created: int) -> dict[str, dict[str, Any]]:
    """Return one active monthly price per plan: ``price_sim_<plan_id>`` with its lookup key."""
    return {
        f"price_sim_{plan.plan_id}": price_object(plan, catalogue.currency, created)
        for plan in catalogue.plans
    }


def price_object(plan: Plan, currency: str, created: int) -> dict[str, Any]:
    """Return a plan's Stripe price."""
    return {
        "id": f"price_sim_{plan.plan_id}",
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": plan.stripe_lookup_key,
        "metadata": {"plan_id": plan.plan_id},
        "nickname": plan.name,
        "product": f"prod_sim_{plan.plan_id}",
        "recurring": {
            "interval": "month",
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": plan.price_cents,
        "unit_amount_decimal": str(plan.price_cents),
    }


def customer_object(
    customer_id: str,
    *,
    name: str | None,
    email: str | None,
    metadata: Mapping[str, str],
    created: int,
) -> dict[str, Any]:
    """Return a new customer."""
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": random_tokens.token_hex(4).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": dict(metadata),
        "name": name,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def subscription_item(
    subscription_id: str, price: Mapping[str, Any], quantity: int, start: int, end: int
) -> dict[str, Any]:
    """Return a subscription item for one price over one billing period."""
    return {
        "id": new_id("si_", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": start,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "plan": legacy_plan(price),
        "price": dict(price),
        "quantity": quantity,
        "subscription": subscription_id,
        "tax_rates": [],
    }


def legacy_plan(price: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``plan`` object Stripe still shows next to an item's price."""
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": "month",
        "interval_count": 1,
        "livemode": False,
        "metadata": dict(price["metadata"]),
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def subscription_object(
    *,
    customer_id: str,
    price: Mapping[str, Any],
    quantity: int,
    metadata: Mapping[str, str],
    trial_days: int | None,
    created: int,
) -> dict[str, Any]:
    """Return a new subscription: active for a month, or trialing for ``trial_days``."""
    subscription_id = new_id("sub_1", 23)
    trial_end = created + trial_days * 86400 if trial_days else None
    period_end = trial_end or add_month(created)
    item = subscription_item(subscription_id, price, quantity, created, period_end)
    return {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": period_end if trial_end else created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": price["currency"],
        "customer": customer_id,
        "days_until_due": None,
        "default_payment_method": new_id("pm_1", 23),
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [item],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": dict(metadata),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": None,
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": "trialing" if trial_end else "active",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": created if trial_end else None,
    }


def invoice_object(
    *,
    customer: Mapping[str, Any],
    subscription: Mapping[str, Any],
    amount: int,
    billing_reason: str,
    paid: bool,
    created: int,
    hosted_base: str,
) -> dict[str, Any]:
    """Return an invoice for the subscription's current period (paid, or open after a failure)."""
    item = subscription["items"]["data"][0]
    price = item["price"]
    invoice_id = new_id("in_1", 23)
    number = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
    line = {
        "id": new_id("il_1", 23),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": f"{item['quantity']} x {price['nickname']} "
        f"(at {reais(price['unit_amount'])} / month)",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": billing_reason == "subscription_update",
                "proration_details": {"credited_items": None},
                "subscription": subscription["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": item["current_period_end"], "start": item["current_period_start"]},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": item["quantity"],
        "taxes": [],
    }
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "BR",
        "account_name": "Piloto (simulador)",
        "amount_due": amount,
        "amount_overpaid": 0,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "amount_shipping": 0,
        "attempt_count": 1,
        "attempted": True,
        "auto_advance": not paid,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": price["currency"],
        "customer": customer["id"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": created,
        "ending_balance": 0,
        "hosted_invoice_url": f"{hosted_base}/stripe/invoices/{invoice_id}",
        "invoice_pdf": f"{hosted_base}/stripe/invoices/{invoice_id}?format=pdf",
        "lines": {
            "object": "list",
            "data": [line],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None if paid else created + 3 * 86400,
        "number": number,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription["metadata"]),
                "subscription": subscription["id"],
            },
            "type": "subscription_details",
        },
        "period_end": item["current_period_end"],
        "period_start": item["current_period_start"],
        "starting_balance": 0,
        "status": "paid" if paid else "open",
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": None,
            "paid_at": created if paid else None,
            "voided_at": None,
        },
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "total": amount,
        "total_excluding_tax": amount,
        "webhooks_delivered_at": created,
    }


def event_object(
    event_type: str,
    data_object: Mapping[str, Any],
    *,
    created: int,
    previous_attributes: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Return an event as Stripe posts it to a webhook endpoint."""
    data: dict[str, Any] = {"object": data_object}
    if previous_attributes is not None:
        data["previous_attributes"] = dict(previous_attributes)
    return {
        "id": new_id("evt_1", 23),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


def list_object(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a list answer (every item on one page)."""
    return {"object": "list", "data": data, "has_more": False, "url": url}
