"""Sign-up, the account, invitations and the team, over real HTTP with Auth emulator users."""

from __future__ import annotations

from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User


def _me(admin: AdminStack, user: User) -> dict:
    answer = admin.api.get("/api/me", user)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_sign_up_creates_a_tenant_with_the_caller_as_owner_and_default_agent_settings(
    admin: AdminStack,
) -> None:
    owner = admin.auth.sign_up("owner")
    before = _me(admin, owner)
    assert before["uid"] == owner.uid
    assert before["email"] == owner.email
    assert before["email_verified"] is False
    assert before["memberships"] == []
    assert before["invites"] == []

    created = admin.api.post("/api/tenants", owner, {"name": "Clínica São João"})

    assert created.status_code == 201, created.text
    tenant = created.json()
    assert tenant["name"] == "Clínica São João"
    assert tenant["timezone"] == "America/Sao_Paulo"
    assert tenant["locale"] == "pt-BR"
    assert tenant["role"] == "owner"
    assert tenant["tenant_id"].startswith("clinica-sao-joao-")
    after = _me(admin, owner)
    assert after["memberships"] == [
        {"tenant_id": tenant["tenant_id"], "tenant_name": "Clínica São João", "role": "owner"}
    ]
    got = admin.api.get(f"/api/tenants/{tenant['tenant_id']}", owner)
    assert got.json() == tenant
    agent = admin.api.get(f"/api/tenants/{tenant['tenant_id']}/agent", owner).json()
    assert agent["mode"] == "pilot"
    assert agent["language"] == "pt-BR"
    assert agent["followups"]
    assert agent["templates"] == {"followup": None, "reengagement": None, "reminder": None}
    stored = (
        admin.db.collection("tenants")
        .document(tenant["tenant_id"])
        .collection("settings")
        .document("agent")
        .get()
    )
    assert stored.exists, "sign-up stores the default agent settings"
    team = admin.api.get(f"/api/tenants/{tenant['tenant_id']}/members", owner).json()
    assert [(m["uid"], m["role"]) for m in team["members"]] == [(owner.uid, "owner")]
    assert [e["action"] for e in admin.audit(tenant["tenant_id"])] == ["tenant.create"]


def test_a_second_tenant_is_listed_too_and_tenant_ids_differ(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner")
    first = admin.api.post("/api/tenants", owner, {"name": "Mesmo Nome"}).json()
    second = admin.api.post(
        "/api/tenants", owner, {"name": "Mesmo Nome", "timezone": "America/Manaus"}
    ).json()

    assert first["tenant_id"] != second["tenant_id"]
    assert second["timezone"] == "America/Manaus"
    listed = {m["tenant_id"]: m["role"] for m in _me(admin, owner)["memberships"]}
    assert listed == {first["tenant_id"]: "owner", second["tenant_id"]: "owner"}


def test_an_invitation_is_accepted_only_with_a_verified_email(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant = admin.tenant(owner)
    invitee = admin.auth.sign_up("seller")

    invited = admin.api.post(
        f"/api/tenants/{tenant}/invites", owner, {"email": invitee.email.upper(), "role": "seller"}
    )

    assert invited.status_code == 201, invited.text
    assert invited.json()["email"] == invitee.email
    assert invited.json()["role"] == "seller"
    assert invited.json()["invited_by_email"] == owner.email
    team = admin.api.get(f"/api/tenants/{tenant}/members", owner).json()
    assert [(i["email"], i["role"]) for i in team["invites"]] == [(invitee.email, "seller")]

    unverified = admin.api.post(f"/api/tenants/{tenant}/invites/accept", invitee)
    assert unverified.status_code == 403
    assert _me(admin, invitee)["invites"] == [], "an unverified email sees no invitation"
    assert admin.api.get(f"/api/tenants/{tenant}", invitee).status_code == 403

    admin.auth.verify_email(invitee)
    me = _me(admin, invitee)
    assert me["email_verified"] is True
    assert me["invites"] == [
        {
            "tenant_id": tenant,
            "tenant_name": admin.api.get(f"/api/tenants/{tenant}", owner).json()["name"],
            "role": "seller",
            "invited_by_email": owner.email,
        }
    ]
    accepted = admin.api.post(f"/api/tenants/{tenant}/invites/accept", invitee)

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["role"] == "seller"
    me = _me(admin, invitee)
    assert me["invites"] == []
    assert [(m["tenant_id"], m["role"]) for m in me["memberships"]] == [(tenant, "seller")]
    assert admin.api.get(f"/api/tenants/{tenant}", invitee).json()["role"] == "seller"
    again = admin.api.post(f"/api/tenants/{tenant}/invites/accept", invitee)
    assert again.status_code == 404, "the invitation was used up"
    actions = [(e["action"], e["actor_uid"]) for e in admin.audit(tenant)]
    assert ("invite.create", owner.uid) in actions
    assert ("invite.accept", invitee.uid) in actions


def test_an_invitation_for_another_email_cannot_be_accepted(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner")
    tenant = admin.tenant(owner)
    admin.api.post(
        f"/api/tenants/{tenant}/invites", owner, {"email": "someone@example.com", "role": "admin"}
    )
    stranger = admin.auth.sign_up("stranger", verified=True)

    answer = admin.api.post(f"/api/tenants/{tenant}/invites/accept", stranger)

    assert answer.status_code == 404
    assert admin.api.get(f"/api/tenants/{tenant}", stranger).status_code == 403


def test_a_revoked_invitation_cannot_be_accepted(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner")
    tenant = admin.tenant(owner)
    invitee = admin.auth.sign_up("invitee", verified=True)
    admin.api.post(
        f"/api/tenants/{tenant}/invites", owner, {"email": invitee.email, "role": "admin"}
    )
    assert len(_me(admin, invitee)["invites"]) == 1

    revoked = admin.api.delete(f"/api/tenants/{tenant}/invites/{invitee.email}", owner)

    assert revoked.status_code == 204
    assert revoked.content == b""
    assert _me(admin, invitee)["invites"] == []
    assert admin.api.post(f"/api/tenants/{tenant}/invites/accept", invitee).status_code == 404
    assert admin.api.get(f"/api/tenants/{tenant}/members", owner).json()["invites"] == []
    assert (
        admin.api.delete(f"/api/tenants/{tenant}/invites/{invitee.email}", owner).status_code == 404
    )
    revoke = [e for e in admin.audit(tenant) if e["action"] == "invite.revoke"]
    assert revoke and revoke[0]["before"] == {"role": "admin"}


def test_inviting_a_member_again_is_a_conflict(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant = admin.tenant(owner)

    answer = admin.api.post(
        f"/api/tenants/{tenant}/invites", owner, {"email": owner.email, "role": "seller"}
    )

    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "email"


def test_roles_change_and_the_last_owner_cannot_be_demoted_or_removed(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner")
    tenant = admin.tenant(owner)
    second = admin.auth.sign_up("second", verified=True)
    admin.join(owner, tenant, second, "seller")
    members = f"/api/tenants/{tenant}/members"

    promoted = admin.api.patch(f"{members}/{second.uid}", owner, {"role": "admin"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "admin"
    assert admin.api.get(f"/api/tenants/{tenant}", second).json()["role"] == "admin"
    assert _me(admin, second)["memberships"][0]["role"] == "admin"

    demote_last = admin.api.patch(f"{members}/{owner.uid}", owner, {"role": "admin"})
    assert demote_last.status_code == 409
    remove_last = admin.api.delete(f"{members}/{owner.uid}", owner)
    assert remove_last.status_code == 409
    assert admin.api.get(f"/api/tenants/{tenant}", owner).json()["role"] == "owner"

    # With a second owner the first may step down.
    admin.api.patch(f"{members}/{second.uid}", owner, {"role": "owner"})
    stepped_down = admin.api.patch(f"{members}/{owner.uid}", owner, {"role": "admin"})
    assert stepped_down.status_code == 200
    assert admin.api.get(f"/api/tenants/{tenant}", owner).json()["role"] == "admin"
    assert admin.api.patch(f"{members}/{second.uid}", second, {"role": "seller"}).status_code == 409
    role_changes = [e for e in admin.audit(tenant) if e["action"] == "member.role"]
    assert [(e["target"], e["before"], e["after"]) for e in role_changes] == [
        (f"members/{second.uid}", {"role": "seller"}, {"role": "admin"}),
        (f"members/{second.uid}", {"role": "admin"}, {"role": "owner"}),
        (f"members/{owner.uid}", {"role": "owner"}, {"role": "admin"}),
    ]


def test_a_removed_member_loses_access(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner")
    tenant = admin.tenant(owner)
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(owner, tenant, seller, "seller")
    assert admin.api.get(f"/api/tenants/{tenant}/conversations", seller).status_code == 200

    removed = admin.api.delete(f"/api/tenants/{tenant}/members/{seller.uid}", owner)

    assert removed.status_code == 204
    for path in ("", "/conversations", "/agent"):
        assert admin.api.get(f"/api/tenants/{tenant}{path}", seller).status_code == 403
    assert _me(admin, seller)["memberships"] == []
    team = admin.api.get(f"/api/tenants/{tenant}/members", owner).json()
    assert seller.uid not in [m["uid"] for m in team["members"]]
    removal = [e for e in admin.audit(tenant) if e["action"] == "member.remove"]
    assert [(e["target"], e["before"], e["after"]) for e in removal] == [
        (f"members/{seller.uid}", {"role": "seller"}, None)
    ]
    assert admin.api.delete(f"/api/tenants/{tenant}/members/{seller.uid}", owner).status_code == 404


def test_renaming_the_tenant_renames_it_for_every_member(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner")
    tenant = admin.tenant(owner)
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(owner, tenant, seller, "seller")

    renamed = admin.api.patch(f"/api/tenants/{tenant}", owner, {"name": "Novo Nome"})

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Novo Nome"
    assert _me(admin, seller)["memberships"][0]["tenant_name"] == "Novo Nome"
    assert admin.api.patch(f"/api/tenants/{tenant}", seller, {"name": "Meu"}).status_code == 403
    update = [e for e in admin.audit(tenant) if e["action"] == "tenant.update"]
    assert update[0]["after"] == {"name": "Novo Nome"}
    assert update[0]["before"]["name"].startswith("Clínica")


def test_one_account_owns_at_most_ten_tenants(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner")
    for _ in range(10):
        admin.tenant(owner)

    answer = admin.api.post("/api/tenants", owner, {"name": "Décima primeira"})

    assert answer.status_code == 409
    assert len(_me(admin, owner)["memberships"]) == 10


def test_an_invitation_to_a_tenant_that_does_not_exist_is_not_found(admin: AdminStack) -> None:
    user = admin.auth.sign_up("user", verified=True)

    for tenant in ("nope-000000", "..", "x" * 1100):
        answer = admin.api.post(f"/api/tenants/{tenant}/invites/accept", user)
        assert answer.status_code == 404, tenant
