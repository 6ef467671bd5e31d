"""Roles inside one tenant: what an admin and a seller may not do, and which conversations a seller
sees and works on (assigned to them, or to nobody)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from shared.admin.routes import ROUTES
from shared.models.decision import Action, Decision
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User, seed_conversation
from tests.integration.admin.test_isolation import body_for, path_for


@dataclass
class Team:
    tenant_id: str
    owner: User
    admin: User
    seller: User
    other_seller: User
    unassigned: str
    mine: str
    theirs: str
    decision_id: str


@pytest.fixture(scope="module")
def team(admin: AdminStack) -> Team:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    members = {}
    for role, name in (("admin", "admin"), ("seller", "seller"), ("seller", "other_seller")):
        members[name] = admin.auth.sign_up(name.replace("_", "-"), verified=True)
        admin.join(owner, tenant_id, members[name], role)
    now = datetime.now(UTC)
    decision = Decision(
        decision_id="d-theirs",
        action=Action.STAY_SILENT,
        reasons=["copilot_mode"],  # type: ignore[list-item]
        suggestions=["Sugestão"],
        decided_at=now,
    )
    ids = {}
    for offset, (name, assignee) in enumerate(
        (("unassigned", None), ("mine", members["seller"]), ("theirs", members["other_seller"]))
    ):
        seeded = seed_conversation(
            admin.db,
            tenant_id,
            at=now - timedelta(minutes=30 - offset),
            assignee_uid=assignee.uid if assignee else None,
            assignee_email=assignee.email if assignee else None,
            decisions=[decision] if name == "theirs" else [],
        )
        ids[name] = seeded.id
    return Team(
        tenant_id=tenant_id,
        owner=owner,
        admin=members["admin"],
        seller=members["seller"],
        other_seller=members["other_seller"],
        unassigned=ids["unassigned"],
        mine=ids["mine"],
        theirs=ids["theirs"],
        decision_id=decision.decision_id,
    )


def _ids(team: Team, conversation_id: str) -> dict[str, str]:
    return {
        "tenant_id": team.tenant_id,
        "conversation_id": conversation_id,
        "channel_id": "ch-none",
        "contact_key": "+5511900000000",
        "uid": team.other_seller.uid,
        "email": "nobody@example.com",
        "decision_id": team.decision_id,
        "entry_id": "entry-none",
        "proposal_id": "proposal-none",
        "intent": "sell",
        "agent_id": "agent-none",
        "insight_id": "insight-none",
        "booking_id": "booking-none",
        "endpoint_id": "we_none",  # H6
        "delivery_id": "delivery-none",
        "key_id": "ak_none",
    }


@pytest.mark.parametrize("role", ["admin", "seller"])
def test_every_route_closed_to_a_role_refuses_it_and_changes_nothing(
    admin: AdminStack, team: Team, role: str
) -> None:
    caller = team.admin if role == "admin" else team.seller
    closed = [r for r in ROUTES if r.access == "member" and role not in r.roles]
    assert closed, role
    before = admin.tenant_state(team.tenant_id)

    for route in closed:
        path = path_for(route, _ids(team, team.unassigned))
        answer = admin.api.request(
            route.method, path, caller, json_body=body_for(route, _ids(team, team.mine), caller)
        )
        assert answer.status_code == 403, f"{role}: {route.method} {route.path}: {answer.text}"
        assert answer.json()["error"]["code"] == "forbidden"

    assert admin.tenant_state(team.tenant_id) == before
    assert admin.published(team.tenant_id) == []


def test_the_seller_reads_the_agent_settings_but_cannot_save_them(
    admin: AdminStack, team: Team
) -> None:
    path = f"/api/tenants/{team.tenant_id}/agent"
    assert admin.api.get(path, team.seller).status_code == 200
    assert admin.api.put(path, team.seller, {"persona": "x"}).status_code == 403
    assert admin.api.put(path, team.admin, {"persona": "Ana"}).status_code == 200


def _listed(admin: AdminStack, team: Team, user: User, **params: str) -> set[str]:
    answer = admin.api.get(
        f"/api/tenants/{team.tenant_id}/conversations", user, params=params or None
    )
    assert answer.status_code == 200, answer.text
    return {c["conversation_id"] for c in answer.json()["conversations"]}


def test_a_seller_sees_only_unassigned_and_own_conversations(admin: AdminStack, team: Team) -> None:
    assert _listed(admin, team, team.seller) == {team.unassigned, team.mine}
    assert _listed(admin, team, team.seller, assignee="me") == {team.mine}
    assert _listed(admin, team, team.seller, assignee="none") == {team.unassigned}
    assert _listed(admin, team, team.seller, assignee=team.seller.uid) == {team.mine}
    everyone = {team.unassigned, team.mine, team.theirs}
    assert _listed(admin, team, team.admin) == everyone
    assert _listed(admin, team, team.owner) == everyone
    assert _listed(admin, team, team.admin, assignee=team.other_seller.uid) == {team.theirs}
    assert _listed(admin, team, team.admin, assignee="me") == set()


def test_a_seller_asking_for_another_sellers_conversations_is_refused(
    admin: AdminStack, team: Team
) -> None:
    answer = admin.api.get(
        f"/api/tenants/{team.tenant_id}/conversations",
        team.seller,
        params={"assignee": team.other_seller.uid},
    )

    assert answer.status_code == 403


def test_another_sellers_conversation_is_closed_to_a_seller(admin: AdminStack, team: Team) -> None:
    base = f"/api/tenants/{team.tenant_id}/conversations/{team.theirs}"
    before = admin.tenant_state(team.tenant_id)
    attempts = [
        ("GET", "", None),
        ("POST", "/takeover", None),
        ("POST", "/release", None),
        ("POST", "/assign", {"assignee_uid": team.seller.uid}),
        ("POST", "/close", {"reason": "lost"}),
        ("POST", "/messages", {"text": "Oi, aqui é outro vendedor"}),
        ("POST", "/suggestions/accept", {"decision_id": team.decision_id, "index": 0}),
        ("POST", "/suggestions/dismiss", {"decision_id": team.decision_id, "index": 0}),
        ("POST", "/mode", {"mode": "pilot"}),
    ]

    for method, suffix, body in attempts:
        answer = admin.api.request(method, base + suffix, team.seller, json_body=body)
        assert answer.status_code == 403, f"{method} {suffix}: {answer.text}"

    assert admin.tenant_state(team.tenant_id) == before
    assert admin.published(team.tenant_id) == []
    # ... while its own seller and the admin may read it
    assert admin.api.get(base, team.other_seller).status_code == 200
    assert admin.api.get(base, team.admin).status_code == 200


def test_a_seller_may_assign_only_to_themselves(admin: AdminStack, team: Team) -> None:
    seeded = seed_conversation(admin.db, team.tenant_id)
    assign = f"/api/tenants/{team.tenant_id}/conversations/{seeded.id}/assign"

    to_other = admin.api.post(assign, team.seller, {"assignee_uid": team.other_seller.uid})
    assert to_other.status_code == 403
    to_self = admin.api.post(assign, team.seller, {"assignee_uid": team.seller.uid})
    assert to_self.status_code == 200, to_self.text
    assert to_self.json()["assignee_uid"] == team.seller.uid
    assert to_self.json()["assignee_email"] == team.seller.email

    # The admin gives it to the other seller: the first one loses it.
    by_admin = admin.api.post(assign, team.admin, {"assignee_uid": team.other_seller.uid})
    assert by_admin.status_code == 200
    back = admin.api.post(assign, team.seller, {"assignee_uid": team.seller.uid})
    assert back.status_code == 403
    assert seeded.id not in _listed(admin, team, team.seller)

    not_member = admin.api.post(assign, team.admin, {"assignee_uid": "not-a-member"})
    assert not_member.status_code == 422
    assert not_member.json()["error"]["field"] == "assignee_uid"
    entries = [e for e in admin.audit(team.tenant_id) if e["action"] == "conversation.assign"]
    assert [(e["actor_uid"], e["after"]["assignee_uid"]) for e in entries[-2:]] == [
        (team.seller.uid, team.seller.uid),
        (team.admin.uid, team.other_seller.uid),
    ]


def test_a_seller_taking_over_an_unassigned_conversation_gets_it(
    admin: AdminStack, team: Team
) -> None:
    seeded = seed_conversation(admin.db, team.tenant_id)
    base = f"/api/tenants/{team.tenant_id}/conversations/{seeded.id}"

    answer = admin.api.post(f"{base}/takeover", team.other_seller)

    assert answer.status_code == 200
    assert answer.json()["assignee_uid"] == team.other_seller.uid
    assert admin.api.get(base, team.seller).status_code == 403
