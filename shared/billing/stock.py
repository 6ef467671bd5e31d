"""Stock quotas: how many channels, seats, insight agents, knowledge MB and workspaces are in use.

Stock limits are checked by the admin API when something is added (``require_room``): a refusal
is a 402 naming the quota and the plan, and nothing is written. Nothing is ever removed when a
workspace is over a limit (after a downgrade, say); only adding is refused.

Counting is cheap: count() aggregation queries (one read per 1,000 documents counted) and, for
knowledge, the running ``content_bytes`` of ``tenants/{t}/settings/knowledge`` that
``shared.knowledge.store`` keeps with every save and delete (summed from the entries when a
workspace's knowledge predates it).

- channels: top-level ``channels/{id}`` with the workspace's ``tenant_id``.
- seats: members (``tenants/{t}/members``) plus pending invitations (top-level
  ``invites/{t}:{email}`` with ``tenant_id``).
- insight agents: ``tenants/{t}/insight_agents``.
- knowledge_mb: the UTF-8 bytes of the entries' text, in MB (1024 x 1024 bytes).
- workspaces: the billing account's client workspaces (its workspaces but the home one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter

from shared.admin.errors import ApiError
from shared.billing.accounts import (
    BillingAccount,
    ServiceState,
    account_of_tenant,
    plan_of,
    service_state,
)
from shared.billing.plans import Catalogue, Plan, QuotaName
from shared.billing.quota import may_add
from shared.store.conversations import tenant_ref

STOCK_QUOTAS: tuple[QuotaName, ...] = (
    "channels",
    "seats",
    "insight_agents",
    "knowledge_mb",
    "workspaces",
)
"""The quotas checked when something is added (``agent_replies`` is a monthly flow)."""
BYTES_PER_MB = 1024 * 1024
CHANNELS = "channels"  # shared.store.channels.CHANNELS_COLLECTION
INVITES = "invites"  # shared.admin.access.invite_ref
INSIGHT_AGENTS = "insight_agents"  # shared.admin.insight_agents.AGENTS

_NOUNS: dict[QuotaName, tuple[str, str]] = {
    "agent_replies": ("agent reply a month", "agent replies a month"),
    "channels": ("channel", "channels"),
    "seats": ("seat (members and pending invitations)", "seats (members and pending invitations)"),
    "insight_agents": ("insight agent", "insight agents"),
    "knowledge_mb": ("MB of knowledge text", "MB of knowledge text"),
    "workspaces": ("client workspace", "client workspaces"),
}


def count(query: Any, transaction: Any = None) -> int:
    """Return how many documents ``query`` matches (a count() aggregation, no documents read)."""
    result = query.count().get(transaction=transaction)
    return int(result[0][0].value)


def channels_used(client: Any, tenant_id: str, transaction: Any = None) -> int:
    """Return the workspace's connected channels."""
    query = client.collection(CHANNELS).where(filter=FieldFilter("tenant_id", "==", tenant_id))
    return count(query, transaction)


def seats_used(client: Any, tenant_id: str, transaction: Any = None) -> int:
    """Return the workspace's seats: its members plus its pending invitations."""
    members = tenant_ref(client, tenant_id).collection("members")
    invites = client.collection(INVITES).where(filter=FieldFilter("tenant_id", "==", tenant_id))
    return count(members, transaction) + count(invites, transaction)


def insight_agents_used(client: Any, tenant_id: str, transaction: Any = None) -> int:
    """Return the workspace's insight agents (on or off)."""
    return count(tenant_ref(client, tenant_id).collection(INSIGHT_AGENTS), transaction)


def knowledge_bytes_used(client: Any, tenant_id: str) -> int:
    """Return the UTF-8 bytes of the workspace's knowledge text (the running total, else summed)."""
    from shared.knowledge.store import entries_bytes, status_ref

    snapshot = status_ref(client, tenant_id).get()
    stored = (snapshot.to_dict() or {}).get("content_bytes") if snapshot.exists else None
    if isinstance(stored, int | float):
        return max(0, int(stored))
    return entries_bytes(client, tenant_id)


def knowledge_mb_used(client: Any, tenant_id: str) -> float:
    """Return the workspace's knowledge text in MB, with 2 decimals."""
    return megabytes(knowledge_bytes_used(client, tenant_id))


def megabytes(size_bytes: int) -> float:
    """Return a size in MB with 2 decimals."""
    return round(size_bytes / BYTES_PER_MB, 2)


def workspaces_used(account: BillingAccount | None) -> int:
    """Return the client workspaces of a billing account (all but its home workspace)."""
    return max(0, len(account.workspaces) - 1) if account is not None else 0


def stock_usage(
    client: Any, tenant_id: str, account: BillingAccount | None
) -> dict[QuotaName, float]:
    """Return every stock quota's usage in one workspace (workspaces: the account's)."""
    return {
        "channels": channels_used(client, tenant_id),
        "seats": seats_used(client, tenant_id),
        "insight_agents": insight_agents_used(client, tenant_id),
        "knowledge_mb": knowledge_mb_used(client, tenant_id),
        "workspaces": workspaces_used(account),
    }


def plan_for_tenant(
    client: Any, tenant_id: str, catalogue: Catalogue, now: datetime | None = None
) -> tuple[BillingAccount | None, Plan, ServiceState]:
    """Return the workspace's billing account (or None), the plan that applies and its service."""
    account = account_of_tenant(client, tenant_id)
    plan = plan_of(account, catalogue)
    return account, plan, service_state(account, catalogue, now or datetime.now(UTC))


def quota_refusal(plan: Plan, quota: QuotaName) -> ApiError:
    """Return the 402 refusing to add beyond a stock quota of ``plan``."""
    limit = plan.quotas.limit(quota)
    singular, plural = _NOUNS[quota]
    some = "some" if quota == "knowledge_mb" else "one"
    if limit == 0:
        message = f"the {plan.name} plan includes no {plural}; upgrade to add {some}"
    else:
        noun = singular if limit == 1 else plural
        message = f"the {plan.name} plan allows {limit} {noun}; remove {some} or upgrade"
    return ApiError(402, message, quota, [{"field": quota, "reason": message}])


def require_room(
    client: Any,
    tenant_id: str,
    quota: QuotaName,
    adding: float = 1,
    *,
    catalogue: Catalogue,
) -> Plan:
    """Refuse with a 402 unless the workspace's plan allows ``adding`` more of a stock quota.

    ``adding`` is in the quota's unit (MB for ``knowledge_mb``). Returns the plan that applies.
    Two concurrent adds may both pass (the count is read before the write): a stock limit may
    be overshot by one then, never more per concurrent request.
    """
    account, plan, _ = plan_for_tenant(client, tenant_id, catalogue)
    used: float
    if quota == "channels":
        used = channels_used(client, tenant_id)
    elif quota == "seats":
        used = seats_used(client, tenant_id)
    elif quota == "insight_agents":
        used = insight_agents_used(client, tenant_id)
    elif quota == "knowledge_mb":
        used = knowledge_bytes_used(client, tenant_id) / BYTES_PER_MB
    elif quota == "workspaces":
        used = workspaces_used(account)
    else:
        raise ValueError(f"{quota} is not a stock quota")
    if adding > 0 and not may_add(used, plan.quotas.limit(quota), adding):
        raise quota_refusal(plan, quota)
    return plan
