"""Billing in the admin API: the plans, a workspace's subscription and usage, Stripe Checkout,
the Customer Portal and plan changes.

A workspace is paid for by a billing account (``shared.billing.accounts``); the owners of the
account's home workspace manage it from there: they start Checkout (the first subscription),
open the Customer Portal (invoices, payment method, cancelling) and change plan (Stripe prorates).
Client workspaces show their plan and usage but send the owner to the home workspace.

Stripe stays the authority on the subscription: Checkout and the portal change nothing here
(the webhook, ``shared.billing.webhooks``, applies what Stripe did); a plan change writes the
subscription Stripe returns through the same ``account_changes`` the webhook uses, leaving
``stripe_event_created`` to the events. A tenant created before billing has no account: it is
served on the trial plan, and its first Checkout opens an account (trialing, no end) for it.
The ``stripe`` library is imported on the first Stripe call, so the admin's cold start stays
cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.api_core.exceptions import AlreadyExists, FailedPrecondition
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, conflict, not_found
from shared.admin.http import Request
from shared.admin.schemas import (
    BillingOut,
    CheckoutOut,
    NoticeOut,
    PlanChoice,
    PlanList,
    PlanOut,
    PortalOut,
    WorkspaceUsage,
)
from shared.billing.accounts import (
    BillingAccount,
    ServiceState,
    account_ref,
    plan_of,
    read_account,
    service_state,
)
from shared.billing.plans import Catalogue, Plan, QuotaName, load_catalogue
from shared.billing.quota import UsageLine, usage_line
from shared.billing.stock import stock_usage
from shared.billing.usage import NOTICES_COLLECTION, month_key, month_replies
from shared.settings import variable_name
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.admin.billing")

BILLING_PAGE = "/assinatura"
"""The console's billing page (BrowserRouter path; Hosting serves index.html there)."""
STOP_NOTICE_DAYS = 7
"""How long a service_stopped notice keeps showing."""
NOTICE_KINDS = ("quota_warning", "quota_reached", "quota_exceeded", "service_stopped")


@dataclass(frozen=True)
class Billing:
    """A workspace, the account paying for it (None before billing existed) and what applies."""

    tenant_id: str
    tenant: dict[str, Any]
    account: BillingAccount | None
    plan: Plan
    service: ServiceState
    catalogue: Catalogue

    @property
    def account_id(self) -> str:
        """Return the account's id (a tenant without one would get its own id)."""
        return self.account.account_id if self.account is not None else self.tenant_id

    @property
    def home_tenant_id(self) -> str:
        """Return the workspace whose owners manage the account."""
        return self.account.home_tenant_id if self.account is not None else self.tenant_id

    @property
    def is_home(self) -> bool:
        """Return whether this workspace is the account's home workspace."""
        return self.home_tenant_id == self.tenant_id

    @property
    def timezone(self) -> str:
        """Return the workspace's time zone (its months are calendar months there)."""
        return str(self.tenant.get("timezone") or "America/Sao_Paulo")


def catalogue_of(request: Request) -> Catalogue:
    """Return the plan catalogue the deployment uses."""
    return load_catalogue(request.services.settings.plans_file)


def billing_of(request: Request, tenant_id: str) -> Billing:
    """Read a workspace and its billing account (two reads)."""
    client = request.services.firestore
    snapshot = tenant_ref(client, tenant_id).get()
    if not snapshot.exists:
        raise not_found("tenant")
    tenant = snapshot.to_dict() or {}
    account_id = tenant.get("billing_account_id")
    account = read_account(client, account_id) if account_id else None
    catalogue = catalogue_of(request)
    return Billing(
        tenant_id=tenant_id,
        tenant=tenant,
        account=account,
        plan=plan_of(account, catalogue),
        service=service_state(account, catalogue, request.services.now()),
        catalogue=catalogue,
    )


def require_home(request: Request, billing: Billing) -> None:
    """Refuse (403) unless the workspace is its account's home workspace."""
    if billing.is_home:
        return
    name = _tenant_name(request.services.firestore, billing.home_tenant_id)
    raise ApiError(
        403,
        f"billing is managed in workspace {name!r} ({billing.home_tenant_id}), by its owners",
    )


def plan_out(plan: Plan) -> PlanOut:
    """Return a plan as the API shows it."""
    return PlanOut(
        plan_id=plan.plan_id,
        name=plan.name,
        price_cents=plan.price_cents,
        quotas=plan.quotas,
        grace_percent=plan.grace_percent,
    )


def list_plans(request: Request) -> PlanList:
    """Return the plans on offer."""
    catalogue = catalogue_of(request)
    return PlanList(
        currency=catalogue.currency,
        trial_days=catalogue.trial_days,
        plans=[plan_out(plan) for plan in catalogue.plans],
    )


def get_billing(request: Request, tenant_id: str) -> BillingOut:
    """Return the workspace's subscription, this month's usage and the notices to show."""
    return billing_out(request, billing_of(request, tenant_id))


def billing_out(request: Request, billing: Billing) -> BillingOut:
    """Return what ``GET .../billing`` answers for a workspace already read."""
    client = request.services.firestore
    now = request.services.now()
    account = billing.account
    month = month_key(now, billing.timezone)
    manages = request.member.role == "owner" and billing.is_home
    home_name = (
        str(billing.tenant.get("name", ""))
        if billing.is_home
        else _tenant_name(client, billing.home_tenant_id)
    )
    workspaces: list[WorkspaceUsage] = []
    if manages:
        workspaces = [
            WorkspaceUsage(tenant_id=tenant_id, name=name, usage=[replies])
            for tenant_id, name, _, replies in replies_per_workspace(request, billing)
        ]
    return BillingOut(
        account_id=billing.account_id,
        home_tenant_id=billing.home_tenant_id,
        home_tenant_name=home_name,
        manages_billing=manages,
        plan=plan_out(billing.plan),
        status=account.status if account is not None else "trialing",
        trial_ends_at=account.trial_ends_at if account is not None else None,
        past_due_since=account.past_due_since if account is not None else None,
        grace_ends_at=billing.service.grace_ends_at,
        current_period_end=account.current_period_end if account is not None else None,
        cancel_at_period_end=account.cancel_at_period_end if account is not None else False,
        has_subscription=has_live_subscription(account),
        agent_on=billing.service.agent_on,
        read_only=billing.service.read_only,
        stop_reason=billing.service.reason,
        month=month,
        usage=usage_lines(request, billing, month),
        notices=notices(client, billing.tenant_id, month, now),
        workspaces=workspaces,
    )


def usage_lines(request: Request, billing: Billing, month: str) -> list[UsageLine]:
    """Return a workspace's usage lines: replies this month and its stock quotas (client
    workspaces only on the home workspace, when the plan allows some or the account has some:
    after a downgrade they show as exceeded)."""
    client = request.services.firestore
    used: dict[QuotaName, float] = {
        "agent_replies": month_replies(client, billing.tenant_id, month),
        **stock_usage(client, billing.tenant_id, billing.account),
    }
    if not billing.is_home or (billing.plan.quotas.workspaces == 0 and not used["workspaces"]):
        used.pop("workspaces", None)
    return [
        usage_line(quota, amount, billing.plan, billing.catalogue) for quota, amount in used.items()
    ]


def replies_per_workspace(
    request: Request, billing: Billing
) -> list[tuple[str, str, Any, UsageLine]]:
    """Return (tenant id, name, created_at, replies line) for each of the account's workspaces,
    the home one first; each counts its own calendar month."""
    client = request.services.firestore
    now = request.services.now()
    tenant_ids = billing.account.workspaces if billing.account is not None else []
    if billing.tenant_id not in tenant_ids:
        tenant_ids = [billing.tenant_id, *tenant_ids]
    references = [tenant_ref(client, tenant_id) for tenant_id in tenant_ids]
    records = {
        snapshot.id: snapshot.to_dict() or {}
        for snapshot in client.get_all(references)
        if snapshot.exists
    }
    found = []
    for tenant_id in tenant_ids:
        record = records.get(tenant_id)
        if record is None:
            continue  # listed but gone: nothing to show
        month = month_key(now, str(record.get("timezone") or "America/Sao_Paulo"))
        replies = month_replies(client, tenant_id, month)
        line = usage_line("agent_replies", replies, billing.plan, billing.catalogue)
        found.append((tenant_id, str(record.get("name", "")), record.get("created_at"), line))
    return found


def notices(client: Any, tenant_id: str, month: str, now: datetime) -> list[NoticeOut]:
    """Return this month's quota notices and the service stops of the last days, newest first."""
    collection = tenant_ref(client, tenant_id).collection(NOTICES_COLLECTION)
    found: dict[str, NoticeOut] = {}
    since = now - timedelta(days=STOP_NOTICE_DAYS)
    for query, keep in (
        (collection.where(filter=FieldFilter("month", "==", month)), None),
        (collection.where(filter=FieldFilter("kind", "==", "service_stopped")), since),
    ):
        for snapshot in query.stream():
            record = snapshot.to_dict() or {}
            created_at = record.get("created_at")
            if record.get("kind") not in NOTICE_KINDS or not isinstance(created_at, datetime):
                continue
            if keep is not None and created_at < keep:
                continue
            found[snapshot.id] = NoticeOut(
                notice_id=snapshot.id,
                kind=record["kind"],
                created_at=created_at,
                month=record.get("month"),
                quota=record.get("quota"),
            )
    return sorted(found.values(), key=lambda notice: notice.created_at, reverse=True)


def has_live_subscription(account: BillingAccount | None) -> bool:
    """Return whether the account has a Stripe subscription that has not ended."""
    return (
        account is not None
        and account.stripe_subscription_id is not None
        and account.status != "canceled"
    )


def start_checkout(request: Request, tenant_id: str) -> CheckoutOut:
    """Start Stripe Checkout for a plan (the account's first subscription, or a new one after
    it was canceled); the Stripe customer is made on the first one."""
    client = request.services.firestore
    body: PlanChoice = request.body
    billing = billing_of(request, tenant_id)
    require_home(request, billing)
    plan = _known_plan(billing.catalogue, body.plan_id)
    if has_live_subscription(billing.account):
        raise conflict(
            "the account already has a subscription: change plan with POST .../billing/plan "
            "or manage it in the Customer Portal"
        )
    from shared.billing.stripe_api import create_checkout_session

    console = _console_url(request)
    now = request.services.now()
    stripe = _stripe(request)
    with _stripe_errors():
        price_id = _price_id(stripe, plan)
        customer_id = _keep_customer(request, billing, stripe)
        session_id, url = create_checkout_session(
            stripe,
            account_id=billing.account_id,
            customer_id=customer_id,
            price_id=price_id,
            success_url=f"{console}{BILLING_PAGE}?checkout=success",
            cancel_url=f"{console}{BILLING_PAGE}?checkout=cancel",
            # a double click within the minute gets the same session, not two
            idempotency_key=f"piloto-checkout-{billing.account_id}-{plan.plan_id}-{now:%Y%m%d%H%M}",
        )
    audit_ref(client, tenant_id, now).set(
        audit_entry(
            request.member,
            "billing.checkout",
            f"billing_accounts/{billing.account_id}",
            now,
            before={"plan_id": billing.plan.plan_id},
            after={"plan_id": plan.plan_id, "session_id": session_id, "customer_id": customer_id},
        )
    )
    return CheckoutOut(url=url, session_id=session_id)


def change_plan(request: Request, tenant_id: str) -> BillingOut:
    """Move the live subscription to another plan (prorated by Stripe) and keep what Stripe
    returns. A downgrade removes nothing: stock over the new limits shows as exceeded."""
    client = request.services.firestore
    body: PlanChoice = request.body
    billing = billing_of(request, tenant_id)
    require_home(request, billing)
    plan = _known_plan(billing.catalogue, body.plan_id)
    account = billing.account
    if account is None or not has_live_subscription(account):
        raise conflict("the account has no subscription: start one through Checkout first")
    assert account.stripe_subscription_id is not None
    if account.plan_id == plan.plan_id:
        raise conflict(f"the account is already on the {plan.name} plan", "plan_id")
    from shared.billing.stripe_api import change_subscription_price, retrieve_subscription
    from shared.billing.webhooks import account_changes

    stripe = _stripe(request)
    with _stripe_errors():
        price_id = _price_id(stripe, plan)
        current = retrieve_subscription(stripe, account.stripe_subscription_id)
        if current.status in ("canceled", "incomplete_expired") or current.item_id is None:
            raise conflict(
                f"the subscription is {current.status} at Stripe: start a new one through Checkout"
            )
        state = change_subscription_price(
            stripe,
            subscription_id=current.subscription_id,
            item_id=current.item_id,
            price_id=price_id,
        )
    now = request.services.now()
    changes = account_changes(account, state, billing.catalogue, now)
    changes.pop("stripe_event_created", None)  # the events keep their own order
    batch = client.batch()
    batch.update(account_ref(client, account.account_id), changes or {"updated_at": now})
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "billing.plan_change",
            f"billing_accounts/{account.account_id}",
            now,
            before={"plan_id": account.plan_id},
            after={"plan_id": changes.get("plan_id", account.plan_id), "status": state.status},
        ),
    )
    batch.commit()
    return billing_out(request, billing_of(request, tenant_id))


def open_portal(request: Request, tenant_id: str) -> PortalOut:
    """Open Stripe's Customer Portal for the account's customer (invoices, card, cancelling)."""
    client = request.services.firestore
    billing = billing_of(request, tenant_id)
    require_home(request, billing)
    account = billing.account
    if account is None or not account.stripe_customer_id:
        raise conflict("the account has no Stripe customer yet: subscribe through Checkout first")
    from shared.billing.stripe_api import create_portal_session

    console = _console_url(request)
    stripe = _stripe(request)
    with _stripe_errors():
        url = create_portal_session(
            stripe, customer_id=account.stripe_customer_id, return_url=f"{console}{BILLING_PAGE}"
        )
    now = request.services.now()
    audit_ref(client, tenant_id, now).set(
        audit_entry(
            request.member,
            "billing.portal",
            f"billing_accounts/{account.account_id}",
            now,
            after={"customer_id": account.stripe_customer_id},
        )
    )
    return PortalOut(url=url)


def _keep_customer(request: Request, billing: Billing, stripe: Any) -> str:
    """Return the account's Stripe customer, made and stored on first use (the first stored
    wins a race; a tenant without an account gets one here)."""
    from shared.billing.stripe_api import ensure_customer

    client = request.services.firestore
    now = request.services.now()
    email = request.member.email
    name = str(billing.tenant.get("name") or billing.tenant_id)
    document = account_ref(client, billing.account_id)
    for _attempt in range(5):
        snapshot = document.get()
        stored = (snapshot.to_dict() or {}).get("stripe_customer_id") if snapshot.exists else None
        customer_id = ensure_customer(
            stripe, customer_id=stored, account_id=billing.account_id, email=email, name=name
        )
        if customer_id == stored:
            return customer_id
        try:
            if snapshot.exists:
                document.update(
                    {"stripe_customer_id": customer_id, "updated_at": now},
                    option=client.write_option(last_update_time=snapshot.update_time),
                )
            else:
                _open_account(client, billing, customer_id, now)
        except (AlreadyExists, FailedPrecondition):
            continue  # another request stored one meanwhile: use that one
        return customer_id
    raise ApiError(503, "the billing account is being changed by other requests; try again")


def _open_account(client: Any, billing: Billing, customer_id: str, now: datetime) -> None:
    """Create the account of a tenant that has none (made before billing), with its customer."""
    account = BillingAccount(
        account_id=billing.tenant_id,
        home_tenant_id=billing.tenant_id,
        plan_id=billing.catalogue.trial_plan,
        status="trialing",
        stripe_customer_id=customer_id,
        workspaces=[billing.tenant_id],
        created_at=now,
        updated_at=now,
    )
    batch = client.batch()
    batch.create(account_ref(client, account.account_id), account.model_dump(mode="python"))
    batch.update(tenant_ref(client, billing.tenant_id), {"billing_account_id": account.account_id})
    batch.commit()


def _known_plan(catalogue: Catalogue, plan_id: str) -> Plan:
    try:
        return catalogue.plan(plan_id)
    except KeyError:
        raise ApiError(
            404,
            f"plan {plan_id!r} not found (one of {', '.join(p.plan_id for p in catalogue.plans)})",
            "plan_id",
        ) from None


def _console_url(request: Request) -> str:
    url = request.services.settings.console_url
    if not url:
        raise ApiError(
            503,
            f"{variable_name('console_url')} is not set: Stripe needs the console's address "
            "to send the owner back",
        )
    return str(url).rstrip("/")


def _stripe(request: Request) -> Any:
    """Return the Stripe client, or a 503 naming what is not configured."""
    try:
        return request.services.stripe()
    except RuntimeError as error:  # no key configured, or its secret cannot be read
        logger.error("stripe is not configured: %s", error)
        raise ApiError(503, f"billing is not configured: {error}") from None


def _price_id(stripe: Any, plan: Plan) -> str:
    from shared.billing.stripe_api import StripeRefused, price_id_for

    try:
        return price_id_for(stripe, plan.stripe_lookup_key)
    except StripeRefused as refused:
        logger.error("no Stripe price for plan %s: %s", plan.plan_id, refused)
        raise ApiError(503, f"the {plan.name} plan cannot be bought now: {refused}") from None


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Turn Stripe's failures into the API's answers: 503 unavailable, 502 refused."""
    from shared.billing.stripe_api import StripeRefused, StripeUnavailable

    try:
        yield
    except StripeUnavailable as error:
        raise ApiError(503, f"{error}; try again in a moment") from None
    except StripeRefused as error:
        raise ApiError(502, f"Stripe refused the request: {error}") from None


def _tenant_name(client: Any, tenant_id: str) -> str:
    snapshot = tenant_ref(client, tenant_id).get()
    return str((snapshot.to_dict() or {}).get("name", "")) if snapshot.exists else ""
