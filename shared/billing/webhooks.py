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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfoNotFoundError

import stripe

from shared.admin.errors import ApiError, contended
from shared.billing.accounts import (
    ACCOUNTS_COLLECTION,
    BillingAccount,
    SubscriptionStatus,
    account_ref,
)
from shared.billing.plans import Catalogue
from shared.billing.stripe_api import (
    StripeRefused,
    StripeUnavailable,
    SubscriptionState,
    retrieve_subscription,
)
from shared.billing.usage import day_key, month_key, notice_ref
from shared.secrets import SecretUnavailable, resolve_secret
from shared.settings import Settings, variable_name
from shared.store.conversations import tenant_ref

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

EVENTS_COLLECTION = "stripe_events"
"""``stripe_events/{event_id}``: every event received (the dedupe key) and what it did."""

HANDLED_TYPES = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
    }
)
"""The event types the webhook endpoint is subscribed to; any other one is acknowledged."""

DEFAULT_TIMEZONE = "America/Sao_Paulo"

HandleStatus = Literal["applied", "duplicate", "stale", "ignored", "unknown_account"]
Retriever = Callable[[Any, str], SubscriptionState]


class BadStripeEvent(ValueError):
    """A request that is not a correctly signed, recent Stripe event; the reason says why."""


class BillingUnavailable(RuntimeError):
    """Firestore did not settle an event's transaction; nothing was written, Stripe retries."""


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


@dataclass(frozen=True)
class HandleResult:
    """What one event did: applied, duplicate, stale, ignored or unknown_account."""

    status: HandleStatus
    detail: str = ""
    account_id: str | None = None


@dataclass(frozen=True)
class _EventRefs:
    """What an event names: its subscription, the account it says it is for, the customer."""

    subscription_id: str | None
    account_id: str | None
    customer_id: str | None


def _id_of(value: Any) -> str | None:
    """Return an expandable field's id (a string, or an expanded object's ``id``)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _metadata_account(metadata: Any) -> str | None:
    if isinstance(metadata, Mapping):
        account_id = metadata.get("account_id")
        if isinstance(account_id, str) and account_id:
            return account_id
    return None


def event_refs(event_type: str, obj: Mapping[str, Any]) -> _EventRefs:
    """Return the subscription, account and customer one handled event's object names."""
    customer_id = _id_of(obj.get("customer"))
    if event_type == "checkout.session.completed":
        account_id = obj.get("client_reference_id") or _metadata_account(obj.get("metadata"))
        return _EventRefs(
            _id_of(obj.get("subscription")),
            account_id if isinstance(account_id, str) and account_id else None,
            customer_id,
        )
    if event_type.startswith("customer.subscription."):
        return _EventRefs(
            _id_of(obj.get("id")), _metadata_account(obj.get("metadata")), customer_id
        )
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    subscription_id = _id_of(details.get("subscription")) or _id_of(obj.get("subscription"))
    return _EventRefs(subscription_id, _metadata_account(details.get("metadata")), customer_id)


def _account_id_for_customer(client: Any, customer_id: str | None) -> str | None:
    if not customer_id:
        return None
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client.collection(ACCOUNTS_COLLECTION)
        .where(filter=FieldFilter("stripe_customer_id", "==", customer_id))
        .limit(1)
    )
    for snapshot in query.stream():
        return str(snapshot.id)
    return None


def _day_key(now: datetime, zone: str) -> str:
    try:
        return day_key(now, zone)
    except (ZoneInfoNotFoundError, ValueError):
        return day_key(now, DEFAULT_TIMEZONE)


def _month_key(now: datetime, zone: str) -> str:
    try:
        return month_key(now, zone)
    except (ZoneInfoNotFoundError, ValueError):
        return month_key(now, DEFAULT_TIMEZONE)


def handle_event(
    client: Any,
    stripe_api_client: Any,
    event: Mapping[str, Any],
    catalogue: Catalogue,
    now: datetime,
    *,
    retrieve: Retriever = retrieve_subscription,
) -> HandleResult:
    """Apply one verified Stripe event: Stripe's current subscription state, once, in order.

    Raises ``StripeUnavailable`` / ``StripeRefused`` when the subscription cannot be
    retrieved and ``google.api_core`` errors when Firestore fails: nothing was written, the
    caller answers 503 and Stripe delivers the event again.
    """
    event_id, event_type = str(event["id"]), str(event["type"])
    created = int(event["created"])
    if event_type not in HANDLED_TYPES:
        return HandleResult("ignored", f"event type {event_type} is not handled")
    refs = event_refs(event_type, event["data"]["object"])
    if refs.subscription_id is None:
        return HandleResult("ignored", f"{event_type} names no subscription")
    state = retrieve(stripe_api_client, refs.subscription_id)
    account_id = (
        refs.account_id
        or state.account_id
        or _account_id_for_customer(client, state.customer_id or refs.customer_id)
    )
    from google.cloud import firestore

    created_notices: list[tuple[str, str]] = []  # (tenant, notice key): owners told after

    @firestore.transactional
    def apply(transaction: Any) -> HandleResult:
        created_notices.clear()
        event_doc = client.collection(EVENTS_COLLECTION).document(event_id)
        if event_doc.get(transaction=transaction).exists:
            return HandleResult("duplicate", f"event {event_id} was received before", account_id)
        account = None
        if account_id is not None:
            snapshot = account_ref(client, account_id).get(transaction=transaction)
            if snapshot.exists:
                account = BillingAccount.model_validate(snapshot.to_dict())
        result = _decide(account, state, created, catalogue, now)
        stopped = (
            account is not None
            and result.status == "applied"
            and result.changes.get("status") == "canceled"
            and account.status != "canceled"
        )
        notices = []
        if stopped and account is not None:
            for tenant_id in account.workspaces or [account.home_tenant_id]:
                tenant = tenant_ref(client, tenant_id).get(transaction=transaction)
                zone = str((tenant.to_dict() or {}).get("timezone") or DEFAULT_TIMEZONE)
                notice = notice_ref(
                    client, tenant_id, f"service_stopped-canceled-{_day_key(now, zone)}"
                )
                if not notice.get(transaction=transaction).exists:
                    notices.append((notice, _month_key(now, zone)))
                    created_notices.append((tenant_id, f"canceled-{_day_key(now, zone)}"))
        transaction.create(
            event_doc,
            {
                "type": event_type,
                "created": created,
                "account_id": account.account_id if account is not None else account_id,
                "subscription_id": state.subscription_id,
                "status": result.status,
                "detail": result.detail,
                "received_at": now,
            },
        )
        if account is not None and result.status == "applied":
            transaction.update(
                account_ref(client, account.account_id),
                {
                    **result.changes,
                    "stripe_event_created": max(created, account.stripe_event_created),
                },
            )
        for notice, month in notices:
            transaction.create(
                notice,
                {
                    "kind": "service_stopped",
                    "reason": "canceled",
                    "month": month,
                    "quota": None,
                    "created_at": now,
                },
            )
        return HandleResult(result.status, result.detail, account_id)

    try:
        result: HandleResult = contended(lambda: apply(client.transaction()))
    except ApiError as error:  # contention never settled: nothing was written
        raise BillingUnavailable(error.message) from error
    if created_notices:  # notifications (H8): the owners are told in the console and by mail
        from shared.notifications.plan import tell_owners_of_notice

        for tenant_id, key in created_notices:
            fields = {"reason": "canceled"}
            tell_owners_of_notice(client, tenant_id, "service_stopped", key, fields, now)
    if result.status == "unknown_account":
        logger.warning(
            "Stripe event for an unknown billing account; only the event is recorded",
            extra={"event_id": event_id, "type": event_type, "customer_id": state.customer_id},
        )
    return result


@dataclass(frozen=True)
class _Decision:
    status: HandleStatus
    detail: str
    changes: dict[str, Any]


def _decide(
    account: BillingAccount | None,
    state: SubscriptionState,
    created: int,
    catalogue: Catalogue,
    now: datetime,
) -> _Decision:
    if account is None:
        return _Decision("unknown_account", f"no billing account for {state.subscription_id}", {})
    if created < account.stripe_event_created:
        return _Decision(
            "stale",
            f"created {created} is older than the last applied {account.stripe_event_created}",
            {},
        )
    changes = account_changes(account, state, catalogue, now)
    if not changes:
        return _Decision(
            "ignored",
            f"{state.subscription_id} ({state.status}) is not the account's subscription",
            {},
        )
    return _Decision("applied", f"{state.subscription_id} is {state.status}", changes)


MAX_BODY_BYTES = 1024 * 1024
"""Stripe's events are a few kilobytes; anything over a megabyte is refused unread."""


@dataclass(frozen=True)
class BillingWebhook:
    """What the billing function needs, built once per instance (``build_billing_webhook``)."""

    firestore: Any
    catalogue: Catalogue
    signing_secret: Callable[[], str]
    """Resolve the endpoint's ``whsec_`` secret (cached by ``resolve_secret``)."""
    stripe_api_client: Callable[[], Any]
    tolerance_seconds: int
    now: Callable[[], datetime]
    retrieve: Retriever = retrieve_subscription


def signing_secret(settings: Settings) -> str:
    """Return the webhook endpoint's signing secret; SecretUnavailable naming what is missing."""
    if not settings.stripe_webhook_secret:
        raise SecretUnavailable(
            f"{variable_name('stripe_webhook_secret')} is not set: give a secret reference "
            "to the webhook endpoint's signing secret (whsec_...)"
        )
    return resolve_secret(settings.stripe_webhook_secret, settings.project_id)


def build_billing_webhook(settings: Settings) -> BillingWebhook:
    """Wire the webhook to Firestore (the emulator when configured), Stripe and the plans."""
    from shared.billing.plans import load_catalogue
    from shared.billing.stripe_api import stripe_client
    from shared.store.firestore import firestore_client

    return BillingWebhook(
        firestore=firestore_client(settings.project_id),
        catalogue=load_catalogue(settings.plans_file),
        signing_secret=lambda: signing_secret(settings),
        stripe_api_client=lambda: stripe_client(settings),
        tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        now=lambda: datetime.now(UTC),
    )


def receive(
    webhook: BillingWebhook, payload: bytes, signature_header: str | None
) -> tuple[int, dict[str, str]]:
    """Answer one Stripe delivery: 200 with what it did, 400 with a reason, 503 to be retried.

    Never raises: bad input changes nothing and gets a 400; anything Piloto cannot do now
    (Stripe or Firestore unavailable, a secret missing) gets a 503 so Stripe delivers it again.
    """
    try:
        secret = webhook.signing_secret()
    except (SecretUnavailable, RuntimeError) as error:
        logger.error("billing webhook has no signing secret: %s", error)
        return 503, {"error": "the webhook is not configured; retry later"}
    try:
        event = verify_event(payload, signature_header, secret, webhook.tolerance_seconds)
    except BadStripeEvent as rejection:
        logger.warning(
            "Stripe webhook rejected: %s",
            rejection,
            extra={"status": 400, "reason": str(rejection)},
        )
        return 400, {"error": str(rejection)}
    context = {"event_id": event["id"], "type": event["type"], "event_created": event["created"]}
    try:
        handled = event["type"] in HANDLED_TYPES
        result = handle_event(
            webhook.firestore,
            webhook.stripe_api_client() if handled else None,
            event,
            webhook.catalogue,
            webhook.now(),
            retrieve=webhook.retrieve,
        )
    except BillingUnavailable as error:
        logger.warning(
            "Stripe event not applied: Firestore contention; Stripe will retry",
            extra={**context, "status": 503, "reason": str(error)},
        )
        return 503, {"error": "the billing account is being changed; retry later"}
    except (StripeUnavailable, StripeRefused) as error:
        logger.error(
            "Stripe event not applied: the subscription could not be retrieved; Stripe will retry",
            extra={**context, "status": 503, "reason": str(error)[:300]},
        )
        return 503, {"error": "Stripe did not answer with the subscription; retry later"}
    except (SecretUnavailable, RuntimeError) as error:  # no API key configured
        logger.error(
            "Stripe event not applied: %s",
            error,
            extra={**context, "status": 503, "reason": "configuration"},
        )
        return 503, {"error": "the webhook is not configured; retry later"}
    except Exception:
        # Firestore down or contended, or a bug: nothing was committed; ask Stripe to retry.
        logger.exception("Stripe event not applied; Stripe will retry", extra=context)
        return 503, {"error": "temporarily unable to apply the event; retry later"}
    logger.info(
        "Stripe event %s",
        result.status,
        extra={
            **context,
            "status": 200,
            "outcome": result.status,
            "account_id": result.account_id,
            "detail": result.detail,
        },
    )
    return 200, {"status": result.status, "detail": result.detail}
