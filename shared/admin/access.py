"""Tenant membership and roles: every tenant-scoped request is authorised here.

Firestore layout:

- ``tenants/{t}/members/{uid}``: ``{uid, email, role, added_at, added_by}`` — the authority.
- ``users/{uid}``: ``{email, memberships: {tenant_id: {role, tenant_name}}}`` — the caller's
  tenants at a glance (``GET /api/me``), written in the same transaction as the member record.
- ``invites/{tenant_id}:{email}``: a pending invitation, top level so ``/api/me`` finds a user's
  invitations by email in one query.

A caller who is not a member of the path's tenant gets the same 403 whether the tenant exists or
not, so tenant ids cannot be probed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from shared.admin.auth import Caller
from shared.admin.errors import ApiError
from shared.store.conversations import tenant_ref

Role = Literal["owner", "admin", "seller"]
ROLES: tuple[Role, ...] = ("owner", "admin", "seller")
MANAGERS: frozenset[Role] = frozenset({"owner", "admin"})
OWNERS: frozenset[Role] = frozenset({"owner"})
EVERYONE: frozenset[Role] = frozenset(ROLES)

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


@dataclass(frozen=True)
class Membership:
    """The caller's place in one tenant."""

    tenant_id: str
    uid: str
    email: str | None
    role: Role

    @property
    def manages(self) -> bool:
        """Return whether the role sees every conversation and the tenant's settings."""
        return self.role in MANAGERS


def member_ref(client: Any, tenant_id: str, uid: str) -> Any:
    """Return ``tenants/{t}/members/{uid}``."""
    return tenant_ref(client, tenant_id).collection("members").document(uid)


def user_ref(client: Any, uid: str) -> Any:
    """Return ``users/{uid}``."""
    return client.collection("users").document(uid)


def invite_ref(client: Any, tenant_id: str, email: str) -> Any:
    """Return ``invites/{tenant_id}:{email}``."""
    return client.collection("invites").document(f"{tenant_id}:{email.lower()}")


def membership_of(client: Any, tenant_id: str, caller: Caller) -> Membership:
    """Return the caller's membership in ``tenant_id``, or refuse with 403."""
    refusal = ApiError(403, f"you are not a member of tenant {tenant_id!r}")
    if not TENANT_ID.match(tenant_id):
        raise refusal
    snapshot = member_ref(client, tenant_id, caller.uid).get()
    if not snapshot.exists:
        raise refusal
    record = snapshot.to_dict() or {}
    role = record.get("role")
    if role not in ROLES:
        raise refusal
    return Membership(tenant_id=tenant_id, uid=caller.uid, email=caller.email, role=role)


def may_work_on(member: Membership, assignee_uid: str | None) -> bool:
    """Return whether the member may see and act on a conversation with this assignee.

    Owners and admins see every conversation; a seller sees those assigned to them or to nobody.
    """
    return member.manages or assignee_uid in (None, member.uid)
