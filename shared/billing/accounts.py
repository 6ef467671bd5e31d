"""Billing accounts: who pays for which workspaces, their subscription, and what it allows.

Firestore layout:

- ``billing_accounts/{account_id}`` (top level): the subscription of one paying customer and the
  workspaces (tenants) it pays for. ``account_id`` is the id of its home workspace, the one in
  which it was created; the home workspace's owners manage billing (Checkout, Customer Portal,
  plan changes, client workspaces). An agency's client workspaces point to the agency's account,
  so one subscription (one Stripe invoice) pays for all of them; everything else about a
  workspace stays as isolated as any other tenant's.
- ``tenants/{t}.billing_account_id``: the account paying for the workspace.

The subscription state is written only from Stripe's own state (``shared.billing.webhooks``),
or at sign-up (a trial without Stripe). A tenant with no account (seeded by the CLI or created
before billing existed) is served on the trial plan's quotas, with the service on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.billing.plans import Catalogue, Plan
from shared.store.conversations import tenant_ref

ACCOUNTS_COLLECTION = "billing_accounts"

SubscriptionStatus = Literal["trialing", "active", "past_due", "canceled"]
SUBSCRIPTION_STATUSES: tuple[SubscriptionStatus, ...] = (
    "trialing",
    "active",
    "past_due",
    "canceled",
)

StopReason = Literal["trial_expired", "past_due_expired", "canceled"]


class BillingAccount(BaseModel):
    """A paying customer: its plan, its Stripe subscription and the workspaces it pays for."""

    model_config = ConfigDict(extra="ignore")

    account_id: str
    home_tenant_id: str
    owner_uid: str | None = None
    """Who created it (signed up); any owner of the home workspace manages billing."""
    plan_id: str
    status: SubscriptionStatus
    trial_ends_at: AwareDatetime | None = None
    """A trial without Stripe (sign-up) ends here; Stripe trials use their own status."""
    past_due_since: AwareDatetime | None = None
    current_period_end: AwareDatetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: AwareDatetime | None = None
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    stripe_event_created: int = 0
    """``created`` (Unix seconds) of the newest Stripe event applied; older ones change nothing."""
    workspaces: list[str] = Field(default_factory=list)
    """The tenant ids it pays for, the home workspace first."""
    created_at: AwareDatetime
    updated_at: AwareDatetime


@dataclass(frozen=True)
class ServiceState:
    """What a workspace's subscription allows now."""

    agent_on: bool
    """The agent answers and follows up (otherwise conversations go to a human)."""
    read_only: bool
    """The admin API refuses changes except billing ones (Checkout, portal, plan)."""
    reason: StopReason | None = None
    grace_ends_at: datetime | None = None
    """``past_due``: when the service stops unless the payment goes through."""


def account_ref(client: Any, account_id: str) -> Any:
    """Return ``billing_accounts/{account_id}``."""
    return client.collection(ACCOUNTS_COLLECTION).document(account_id)


def new_trial_account(
    tenant_id: str, owner_uid: str | None, now: datetime, catalogue: Catalogue
) -> BillingAccount:
    """Return the account a sign-up gets: the trial plan for ``catalogue.trial_days``."""
    return BillingAccount(
        account_id=tenant_id,
        home_tenant_id=tenant_id,
        owner_uid=owner_uid,
        plan_id=catalogue.trial_plan,
        status="trialing",
        trial_ends_at=now + timedelta(days=catalogue.trial_days),
        workspaces=[tenant_id],
        created_at=now,
        updated_at=now,
    )


def read_account(client: Any, account_id: str) -> BillingAccount | None:
    """Read one billing account, or None."""
    snapshot = account_ref(client, account_id).get()
    return BillingAccount.model_validate(snapshot.to_dict()) if snapshot.exists else None


def account_of_tenant(client: Any, tenant_id: str) -> BillingAccount | None:
    """Read the account paying for a workspace (two reads), or None when it has none."""
    tenant = tenant_ref(client, tenant_id).get()
    account_id = (tenant.to_dict() or {}).get("billing_account_id") if tenant.exists else None
    return read_account(client, account_id) if account_id else None


def plan_of(account: BillingAccount | None, catalogue: Catalogue) -> Plan:
    """Return the plan whose quotas apply (the trial plan without an account or a known plan)."""
    if account is not None:
        try:
            return catalogue.plan(account.plan_id)
        except KeyError:
            pass
    return catalogue.plan(catalogue.trial_plan)


def service_state(
    account: BillingAccount | None, catalogue: Catalogue, now: datetime
) -> ServiceState:
    """Return what the subscription allows at ``now``.

    trialing: on until the trial ends (a Stripe trial has no ``trial_ends_at`` here: Stripe
    moves it on); active: on; past_due: on for ``past_due_grace_days`` after it became past
    due, then the agent is off (the workspace stays editable so the owner can fix payment);
    canceled: read-only with the agent off.
    """
    if account is None or account.status == "active":
        return ServiceState(agent_on=True, read_only=False)
    if account.status == "trialing":
        if account.trial_ends_at is not None and now >= account.trial_ends_at:
            return ServiceState(agent_on=False, read_only=True, reason="trial_expired")
        return ServiceState(agent_on=True, read_only=False)
    if account.status == "past_due":
        since = account.past_due_since or account.updated_at
        grace_ends_at = since + timedelta(days=catalogue.past_due_grace_days)
        if now >= grace_ends_at:
            return ServiceState(
                agent_on=False,
                read_only=False,
                reason="past_due_expired",
                grace_ends_at=grace_ends_at,
            )
        return ServiceState(agent_on=True, read_only=False, grace_ends_at=grace_ends_at)
    return ServiceState(agent_on=False, read_only=True, reason="canceled")
