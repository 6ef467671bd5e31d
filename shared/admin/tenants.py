"""Sign-up, the caller's tenants, invitations and the team.

Sign-up is ``POST /api/tenants``: the caller's new tenant, with them as its owner. Others join
by invitation: an owner invites an email with a role; the user who signs in with that email,
verified, accepts it. A tenant always keeps at least one owner. Sign-up opens the tenant's
billing account (``billing_accounts/{tenant_id}``) on the trial plan in the same batch; an
agency's client workspaces are created the same way under the agency's account
(``shared.admin.workspaces``).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.admin.access import (
    Membership,
    invite_ref,
    member_ref,
    user_ref,
)
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.auth import Caller
from shared.admin.errors import ApiError, conflict, not_found
from shared.admin.http import Request, Response
from shared.admin.query import equal
from shared.admin.schemas import (
    InviteCreate,
    InviteForMe,
    InviteOut,
    Me,
    MemberOut,
    MembershipOut,
    RoleChange,
    Team,
    TenantCreate,
    TenantOut,
)
from shared.billing.accounts import account_ref, new_trial_account
from shared.billing.plans import load_catalogue
from shared.billing.stock import require_room
from shared.models.tenant import AgentSettings
from shared.store.conversations import tenant_ref

MAX_OWNED_TENANTS = 10


def me(request: Request) -> Me:
    """Return the caller, their tenants and the invitations waiting for them."""
    client = request.services.firestore
    caller = request.user
    record = user_ref(client, caller.uid).get().to_dict() or {}
    memberships = [
        MembershipOut(tenant_id=tenant_id, tenant_name=entry.get("tenant_name", ""), role=role)
        for tenant_id, entry in sorted((record.get("memberships") or {}).items())
        if (role := entry.get("role")) in ("owner", "admin", "seller")
    ]
    invites = []
    if caller.email and caller.email_verified:
        for snapshot in (
            client.collection("invites").where(filter=equal("email", caller.email)).stream()
        ):
            invite = snapshot.to_dict() or {}
            invites.append(
                InviteForMe(
                    tenant_id=invite["tenant_id"],
                    tenant_name=invite.get("tenant_name", ""),
                    role=invite["role"],
                    invited_by_email=invite.get("invited_by_email"),
                )
            )
    return Me(
        uid=caller.uid,
        email=caller.email,
        email_verified=caller.email_verified,
        memberships=memberships,
        invites=invites,
    )


def create_tenant(request: Request) -> Response:
    """Sign up: create a tenant with default agent settings, the caller as its owner, and its
    billing account on the trial plan."""
    client = request.services.firestore
    body: TenantCreate = request.body
    caller = request.user
    now = request.services.now()
    catalogue = load_catalogue(request.services.settings.plans_file)
    owned = (user_ref(client, caller.uid).get().to_dict() or {}).get("memberships") or {}
    if sum(1 for item in owned.items() if _signed_up_by_owner(*item)) >= MAX_OWNED_TENANTS:
        raise conflict(f"one account may own at most {MAX_OWNED_TENANTS} tenants")
    for _attempt in range(5):
        tenant_id = tenant_id_for(body.name)
        batch, tenant = new_tenant_batch(client, caller, tenant_id, body, now, tenant_id)
        account = new_trial_account(tenant_id, caller.uid, now, catalogue)
        batch.create(account_ref(client, tenant_id), account.model_dump(mode="python"))
        batch.set(
            audit_ref(client, tenant_id, now),
            audit_entry(caller, "tenant.create", f"tenants/{tenant_id}", now, after=plain(tenant)),
        )
        try:
            batch.commit()
        except AlreadyExists:
            continue
        return Response(201, tenant_out(tenant, "owner").model_dump(mode="json"))
    raise ApiError(503, "could not pick a free tenant id; try again")


def new_tenant_batch(
    client: Any,
    caller: Caller,
    tenant_id: str,
    body: TenantCreate,
    now: datetime,
    billing_account_id: str,
) -> tuple[Any, dict[str, Any]]:
    """Return a batch creating a tenant (default agent settings, the caller as its owner, paid
    by ``billing_account_id``) and the tenant record; the caller adds its own writes and commits
    (AlreadyExists: the id was taken, pick another)."""
    tenant = {
        "tenant_id": tenant_id,
        "name": body.name,
        "timezone": body.timezone,
        "locale": body.locale,
        "created_at": now,
        "created_by": caller.uid,
        "billing_account_id": billing_account_id,
    }
    batch = client.batch()
    batch.create(tenant_ref(client, tenant_id), tenant)
    batch.set(
        tenant_ref(client, tenant_id).collection("settings").document("agent"),
        AgentSettings(language=body.locale).model_dump(mode="json"),
    )
    batch.set(
        member_ref(client, tenant_id, caller.uid),
        {
            "uid": caller.uid,
            "email": caller.email,
            "role": "owner",
            "added_at": now,
            "added_by": caller.uid,
        },
    )
    batch.set(
        user_ref(client, caller.uid),
        {
            "email": caller.email,
            "memberships": {
                tenant_id: {
                    "role": "owner",
                    "tenant_name": body.name,
                    "billing_account_id": billing_account_id,
                }
            },
        },
        merge=True,
    )
    return batch, tenant


def _signed_up_by_owner(tenant_id: str, entry: dict[str, Any]) -> bool:
    """Return whether a membership is an owned workspace of one's own (sign-up's limit).

    An agency's client workspaces are paid by the agency's account and limited by its plan's
    ``workspaces`` quota, not by how many tenants one person may sign up.
    """
    return entry.get("role") == "owner" and entry.get("billing_account_id", tenant_id) == tenant_id


def accept_invite(request: Request, tenant_id: str) -> TenantOut:
    """Join a tenant the caller's verified email was invited to."""
    client = request.services.firestore
    caller = request.user
    if not caller.email or not caller.email_verified:
        raise ApiError(403, "verify your email address before accepting an invitation")
    now = request.services.now()
    invite_doc = invite_ref(client, tenant_id, caller.email)
    invite = invite_doc.get()
    if not invite.exists:
        raise not_found("invitation")
    role = (invite.to_dict() or {})["role"]
    tenant = tenant_ref(client, tenant_id).get()
    if not tenant.exists:
        raise not_found("tenant")
    tenant_record = tenant.to_dict() or {}
    batch = client.batch()
    batch.set(
        member_ref(client, tenant_id, caller.uid),
        {
            "uid": caller.uid,
            "email": caller.email,
            "role": role,
            "added_at": now,
            "added_by": (invite.to_dict() or {}).get("invited_by_uid"),
        },
    )
    batch.set(
        user_ref(client, caller.uid),
        {
            "email": caller.email,
            "memberships": {tenant_id: {"role": role, "tenant_name": tenant_record["name"]}},
        },
        merge=True,
    )
    batch.delete(invite_doc)
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(caller, "invite.accept", f"members/{caller.uid}", now, after={"role": role}),
    )
    batch.commit()
    return tenant_out(tenant_record, role)


def get_tenant(request: Request, tenant_id: str) -> TenantOut:
    """Return the tenant and the caller's role in it."""
    snapshot = tenant_ref(request.services.firestore, tenant_id).get()
    if not snapshot.exists:
        raise not_found("tenant")
    return tenant_out(snapshot.to_dict() or {}, request.member.role)


def update_tenant(request: Request, tenant_id: str) -> TenantOut:
    """Rename the tenant or change its time zone or locale."""
    client = request.services.firestore
    changes = request.body.model_dump(exclude_none=True)
    now = request.services.now()
    document = tenant_ref(client, tenant_id)
    before = document.get().to_dict() or {}
    after = {**before, **changes}
    if changes:
        batch = client.batch()
        batch.update(document, changes)
        batch.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "tenant.update",
                f"tenants/{tenant_id}",
                now,
                before={name: before.get(name) for name in changes},
                after=changes,
            ),
        )
        if "name" in changes:
            for snapshot in document.collection("members").stream():
                batch.set(
                    user_ref(client, snapshot.id),
                    {"memberships": {tenant_id: {"tenant_name": changes["name"]}}},
                    merge=True,
                )
        batch.commit()
    return tenant_out(after, request.member.role)


def team(request: Request, tenant_id: str) -> Team:
    """Return the members and the pending invitations."""
    client = request.services.firestore
    members = [
        MemberOut.model_validate(snapshot.to_dict())
        for snapshot in tenant_ref(client, tenant_id).collection("members").stream()
    ]
    invites = [
        InviteOut.model_validate(snapshot.to_dict())
        for snapshot in client.collection("invites")
        .where(filter=equal("tenant_id", tenant_id))
        .stream()
    ]
    members.sort(key=lambda member: (member.role != "owner", member.email or ""))
    return Team(members=members, invites=sorted(invites, key=lambda invite: invite.email))


def invite(request: Request, tenant_id: str) -> Response:
    """Invite an email to the tenant with a role (owners only).

    A new invitation takes a seat of the plan (402 when members and pending invitations fill
    them); inviting a pending email again only changes its role.
    """
    client = request.services.firestore
    body: InviteCreate = request.body
    email = str(body.email).lower()
    now = request.services.now()
    for snapshot in tenant_ref(client, tenant_id).collection("members").stream():
        if (snapshot.to_dict() or {}).get("email") == email:
            raise conflict(f"{email} is already a member", "email")
    pending = invite_ref(client, tenant_id, email).get().exists
    catalogue = load_catalogue(request.services.settings.plans_file)
    require_room(client, tenant_id, "seats", 0 if pending else 1, catalogue=catalogue)
    tenant = tenant_ref(client, tenant_id).get().to_dict() or {}
    record = {
        "tenant_id": tenant_id,
        "tenant_name": tenant.get("name", ""),
        "email": email,
        "role": body.role,
        "invited_at": now,
        "invited_by_uid": request.member.uid,
        "invited_by_email": request.member.email,
    }
    batch = client.batch()
    batch.set(invite_ref(client, tenant_id, email), record)
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member, "invite.create", f"invites/{email}", now, after={"role": body.role}
        ),
    )
    batch.commit()
    return Response(201, InviteOut.model_validate(record).model_dump(mode="json"))


def revoke_invite(request: Request, tenant_id: str, email: str) -> None:
    """Withdraw a pending invitation."""
    client = request.services.firestore
    document = invite_ref(client, tenant_id, email)
    snapshot = document.get()
    if not snapshot.exists:
        raise not_found("invitation")
    now = request.services.now()
    batch = client.batch()
    batch.delete(document)
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "invite.revoke",
            f"invites/{email.lower()}",
            now,
            before={"role": (snapshot.to_dict() or {}).get("role")},
        ),
    )
    batch.commit()


def change_role(request: Request, tenant_id: str, uid: str) -> MemberOut:
    """Give a member another role; the last owner cannot step down."""
    body: RoleChange = request.body
    record = _change_member(request, tenant_id, uid, body.role)
    return MemberOut.model_validate(record)


def remove_member(request: Request, tenant_id: str, uid: str) -> None:
    """Remove a member (their conversations stay, unassigned ones stay unassigned)."""
    _change_member(request, tenant_id, uid, None)


def _change_member(request: Request, tenant_id: str, uid: str, role: str | None) -> dict[str, Any]:
    client = request.services.firestore
    now = request.services.now()
    transaction = client.transaction()
    record: dict[str, Any] = _change_member_in(
        transaction, client, request.member, tenant_id, uid, role, now
    )
    return record


@firestore.transactional
def _change_member_in(
    transaction: Any,
    client: Any,
    actor: Membership,
    tenant_id: str,
    uid: str,
    role: str | None,
    now: Any,
) -> dict[str, Any]:
    document = member_ref(client, tenant_id, uid)
    snapshot = document.get(transaction=transaction)
    if not snapshot.exists:
        raise not_found("member")
    record = snapshot.to_dict() or {}
    if record.get("role") == "owner" and role != "owner":
        owners = (
            tenant_ref(client, tenant_id)
            .collection("members")
            .where(filter=equal("role", "owner"))
            .limit(2)
        )
        if len(list(owners.stream(transaction=transaction))) < 2:
            raise conflict("a tenant keeps at least one owner: make someone else owner first")
    user = user_ref(client, uid)
    if role is None:
        transaction.delete(document)
        transaction.set(user, {"memberships": {tenant_id: firestore.DELETE_FIELD}}, merge=True)
    else:
        transaction.update(document, {"role": role})
        transaction.set(user, {"memberships": {tenant_id: {"role": role}}}, merge=True)
    transaction.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            actor,
            "member.remove" if role is None else "member.role",
            f"members/{uid}",
            now,
            before={"role": record.get("role")},
            after=None if role is None else {"role": role},
        ),
    )
    return {**record, "role": role or record.get("role")}


def tenant_id_for(name: str) -> str:
    """Return a new tenant id from a display name: a readable slug and a random suffix."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-") or "empresa"
    return f"{slug}-{secrets.token_hex(3)}"


def tenant_out(record: dict[str, Any], role: str) -> TenantOut:
    """Return a tenant record as the API answers it, with the caller's role."""
    return TenantOut.model_validate({**record, "role": role})


def plain(record: dict[str, Any]) -> dict[str, Any]:
    """Return a record for the audit log (without its creation time)."""
    return {key: value for key, value in record.items() if key != "created_at"}
