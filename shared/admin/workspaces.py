"""Agencies' client workspaces: tenants paid for by the agency's billing account.

The owner of an account's home workspace, on a plan with ``quotas.workspaces`` above zero,
creates client workspaces: each is a tenant like a sign-up's (default agent settings, the
caller as its only owner) whose ``billing_account_id`` is the agency's account, listed in the
account's ``workspaces``. One subscription, one invoice; everything else stays as isolated as
between any two tenants: nobody else of the home workspace gets access, and a client
workspace's members see only it.
"""

from __future__ import annotations

from datetime import datetime

from google.api_core.exceptions import AlreadyExists, FailedPrecondition
from google.cloud import firestore

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.billing import (
    Billing,
    billing_of,
    replies_per_workspace,
    require_home,
)
from shared.admin.errors import ApiError, conflict
from shared.admin.http import Request, Response
from shared.admin.schemas import WorkspaceCreate, WorkspaceList, WorkspaceOut
from shared.admin.tenants import new_tenant_batch, plain, tenant_id_for, tenant_out
from shared.billing.accounts import BillingAccount, account_ref, plan_of
from shared.billing.quota import usage_line
from shared.billing.stock import quota_refusal, stock_usage, workspaces_used


def list_workspaces(request: Request, tenant_id: str) -> WorkspaceList:
    """Return the account's workspaces (home first) with their usage this month."""
    client = request.services.firestore
    billing = billing_of(request, tenant_id)
    require_home(request, billing)
    listed = []
    for workspace_id, name, created_at, replies in replies_per_workspace(request, billing):
        stock = stock_usage(client, workspace_id, billing.account)
        stock.pop("workspaces", None)
        lines = [replies] + [
            usage_line(quota, used, billing.plan, billing.catalogue)
            for quota, used in stock.items()
        ]
        listed.append(
            WorkspaceOut(
                tenant_id=workspace_id,
                name=name,
                created_at=created_at if isinstance(created_at, datetime) else None,
                usage=lines,
            )
        )
    return WorkspaceList(
        workspaces=listed,
        limit=billing.plan.quotas.workspaces,
        used=workspaces_used(billing.account),
    )


def create_workspace(request: Request, tenant_id: str) -> Response:
    """Create a client workspace under the account, the caller as its owner (402 when the plan
    has no room for another)."""
    client = request.services.firestore
    body: WorkspaceCreate = request.body
    caller = request.member
    billing = billing_of(request, tenant_id)
    require_home(request, billing)
    document = account_ref(client, billing.account_id)
    for _attempt in range(8):
        snapshot = document.get()
        account = BillingAccount.model_validate(snapshot.to_dict()) if snapshot.exists else None
        _require_room(billing, account)
        assert account is not None and snapshot.update_time is not None
        now = request.services.now()
        workspace_id = tenant_id_for(body.name)
        batch, tenant = new_tenant_batch(
            client, request.user, workspace_id, body, now, account.account_id
        )
        # Conditional on the account as read: a concurrent create makes this one read again.
        batch.update(
            document,
            {"workspaces": firestore.ArrayUnion([workspace_id]), "updated_at": now},
            option=client.write_option(last_update_time=snapshot.update_time),
        )
        record = {"home_tenant_id": tenant_id, "account_id": account.account_id, **plain(tenant)}
        for audited in (tenant_id, workspace_id):
            batch.set(
                audit_ref(client, audited, now),
                audit_entry(
                    caller, "workspace.create", f"tenants/{workspace_id}", now, after=record
                ),
            )
        try:
            batch.commit()
        except (AlreadyExists, FailedPrecondition):
            continue  # the id was taken, or the account changed since it was read
        return Response(201, tenant_out(tenant, "owner").model_dump(mode="json"))
    raise ApiError(503, "the billing account is being changed by other requests; try again")


def _require_room(billing: Billing, account: BillingAccount | None) -> None:
    """Refuse (402) unless the plan allows one more client workspace."""
    plan = plan_of(account, billing.catalogue) if account is not None else billing.plan
    limit = plan.quotas.workspaces
    if limit == 0:
        message = (
            f"the {plan.name} plan has no client workspaces; upgrade to a plan with "
            "workspaces (Agency)"
        )
        raise ApiError(402, message, "workspaces", [{"field": "workspaces", "reason": message}])
    if account is None:
        raise conflict("this workspace has no billing account yet: subscribe through Checkout")
    if workspaces_used(account) >= limit:
        raise quota_refusal(plan, "workspaces")
