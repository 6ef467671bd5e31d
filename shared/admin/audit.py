"""The audit log: every change made through the admin API, with who, when, what, before and after.

``tenants/{t}/audit/{id}``: ``{at, actor_uid, actor_email, action, target, before, after}``. The
entry is written in the same batch or transaction as the change it records, so neither exists
without the other. Secret values never reach it (channels record which roles changed).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.admin.access import Membership
from shared.admin.auth import Caller
from shared.store.conversations import tenant_ref


def audit_entry(
    actor: Membership | Caller,
    action: str,
    target: str,
    now: datetime,
    *,
    before: Any = None,
    after: Any = None,
) -> dict[str, Any]:
    """Return an audit record (the caller writes it with the change)."""
    return {
        "at": now,
        "actor_uid": actor.uid,
        "actor_email": actor.email,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
    }


def audit_ref(client: Any, tenant_id: str, now: datetime) -> Any:
    """Return a new audit document, its id ordered by time."""
    return (
        tenant_ref(client, tenant_id)
        .collection("audit")
        .document(f"{now:%Y%m%d%H%M%S%f}-{uuid.uuid4().hex[:8]}")
    )


def recent_entries(client: Any, tenant_id: str, limit: int) -> list[dict[str, Any]]:
    """Return the latest audit entries, newest first."""
    query = (
        tenant_ref(client, tenant_id)
        .collection("audit")
        .order_by("at", direction=firestore.Query.DESCENDING)
        .limit(limit)
    )
    return [{"id": snapshot.id, **(snapshot.to_dict() or {})} for snapshot in query.stream()]
