"""Tenant isolation: another tenant's ids, forged tenant ids and bad tokens never reach data.

Every tenant-scoped route of ``shared.admin.routes.ROUTES`` is tried (the table is iterated, so a
new route is covered the day it is added), with a valid body so that only the caller's access can
refuse it, and every document of the tenant is compared before and after.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulators.simulator.rdstation import DEFAULT_TOKEN as RDSTATION_TOKEN
from shared.admin.http import Route
from shared.admin.routes import ROUTES
from shared.knowledge.proposals import KnowledgeProposal, proposal_ref
from shared.models.decision import Action, Decision
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import (
    User,
    emulator_claims,
    seed_booking,
    seed_conversation,
    seed_insight,
    unsigned_token,
)

MEMBER_ROUTES = [route for route in ROUTES if route.access == "member"]
AUTHENTICATED_ROUTES = [route for route in ROUTES if route.access != "public"]


@dataclass
class Tenant:
    """A tenant of the test with real ids of everything in it."""

    tenant_id: str
    owner: User
    ids: dict[str, str]


@dataclass
class World:
    a: Tenant
    b: Tenant
    old_user: User  # valid since two hours ago (for tokens that expired after sign-in)


def _tenant(admin: AdminStack, name: str) -> Tenant:
    owner = admin.auth.sign_up(name, verified=True)
    tenant_id = admin.tenant(owner, name)
    seller = admin.auth.sign_up(f"{name}-seller", verified=True)
    admin.join(owner, tenant_id, seller, "seller")
    invited = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    admin.api.post(f"/api/tenants/{tenant_id}/invites", owner, {"email": invited, "role": "admin"})
    channel = admin.api.post(
        f"/api/tenants/{tenant_id}/channels",
        owner,
        {
            "provider": "evolution",
            "display_name": f"WhatsApp {name}",
            "config": {"instance": name, "api_base_url": "http://127.0.0.1:9"},
            "secrets": {"apikey": f"apikey-of-{name}"},
        },
    )
    assert channel.status_code == 201, channel.text
    decision = Decision(
        decision_id=f"d-{uuid.uuid4().hex[:10]}",
        action=Action.STAY_SILENT,
        reasons=["copilot_mode"],  # type: ignore[list-item]
        suggestions=["Olá! Custa R$ 180.", "Posso agendar?"],
        decided_at=time_now(),
    )
    seeded = seed_conversation(
        admin.db,
        tenant_id,
        channel_id=channel.json()["channel_id"],
        decisions=[decision],
        mode="copilot",
        pending_suggestions=2,
        suggestions_decision_id=decision.decision_id,
    )
    meeting = datetime.now(UTC).replace(hour=13, minute=0, second=0, microsecond=0)
    booking = seed_booking(
        admin.db, tenant_id, meeting + timedelta(days=50), conversation_id=seeded.id
    )
    entry = admin.api.post(
        f"/api/tenants/{tenant_id}/knowledge",
        owner,
        {"kind": "fact", "title": "Endereço", "content": f"Rua {name}, 10, Campinas."},
    )
    assert entry.status_code == 201, entry.text
    proposal = KnowledgeProposal(
        proposal_id=f"d-gap-{uuid.uuid4().hex[:8]}",
        conversation_id=seeded.id,
        decision_id="d-gap",
        question="Tem estacionamento?",
        answer="Sim, no subsolo.",
        status="proposed",
        created_at=time_now(),
    )
    proposal_ref(admin.db, tenant_id, proposal.proposal_id).set(proposal.model_dump())
    agent = admin.api.post(
        f"/api/tenants/{tenant_id}/insight-agents/from-template", owner, {"template": "qa_auditor"}
    )
    assert agent.status_code == 201, agent.text
    insight = seed_insight(admin.db, tenant_id, seeded.id, agent_id=agent.json()["agent_id"])
    endpoint_id, delivery_id, key_id = _integrations(admin, owner, tenant_id)  # H6
    return Tenant(
        tenant_id=tenant_id,
        owner=owner,
        ids={
            "tenant_id": tenant_id,
            "conversation_id": seeded.id,
            "booking_id": booking.booking_id,  # scheduling (H1b)
            "channel_id": channel.json()["channel_id"],
            "contact_key": seeded.conversation.contact_key,
            "uid": seller.uid,
            "email": invited,
            "decision_id": decision.decision_id,
            "entry_id": entry.json()["entry_id"],
            "proposal_id": proposal.proposal_id,
            "intent": "sell",
            "agent_id": agent.json()["agent_id"],
            "insight_id": insight.insight_id,
            "endpoint_id": endpoint_id,
            "delivery_id": delivery_id,
            "key_id": key_id,
        },
    )


def _integrations(admin: AdminStack, owner: User, tenant_id: str) -> tuple[str, str, str]:
    """H6: a webhook endpoint with a failed delivery, and an API key; return their ids."""
    from shared.integrations.dispatch import deliveries

    made = admin.api.post(
        f"/api/tenants/{tenant_id}/webhooks",
        owner,
        {"url": "https://example.com/hook", "events": ["conversation.handoff"]},
    )
    assert made.status_code == 201, made.text
    endpoint_id = made.json()["endpoint"]["endpoint_id"]
    delivery_id = f"ev-{uuid.uuid4().hex[:8]}~wh-{endpoint_id}"
    now = time_now()
    deliveries(admin.db, tenant_id).document(delivery_id).set(
        {
            "delivery_id": delivery_id,
            "kind": "webhook",
            "event_id": delivery_id.split("~")[0],
            "event_type": "conversation.handoff",
            "target_id": endpoint_id,
            "status": "failed",
            "attempts": 9,
            "created_at": now,
            "updated_at": now,
        }
    )
    key = admin.api.post(f"/api/tenants/{tenant_id}/api-keys", owner, {"name": "Zapier"})
    assert key.status_code == 201, key.text
    return endpoint_id, delivery_id, key.json()["key"]["key_id"]


def time_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.fixture(scope="module")
def world(admin: AdminStack) -> World:
    old_user = admin.auth.sign_up("old")
    # Tokens issued since then are not revoked ones: an expired token fails for its expiry.
    admin.auth.update(old_user, validSince=str(int(time.time()) - 7200))
    assert int(admin.auth.lookup(old_user)["validSince"]) < time.time() - 7000
    return World(
        a=_tenant(admin, "alfa"),
        b=_tenant(admin, "beta"),
        old_user=old_user,
    )


AGENT_SPEC: dict[str, Any] = {
    "name": "Auditor tomado",
    "prompt": "Avalie a conversa.",
    "triggers": [{"event": "MACRO_BUTTON_CLICKED"}],
    "fields": [{"name": "nota", "type": "number", "minimum": 0, "maximum": 10}],
}


def body_for(route: Route, ids: dict[str, str], stranger: User) -> dict[str, Any] | None:
    """Return a valid body for the route (so only access can refuse the request)."""
    if route.body is None:
        return None
    samples: dict[str, dict[str, Any]] = {
        "TenantCreate": {"name": "Outro Tenant"},
        "TenantUpdate": {"name": "Tomado"},
        "CalendarIn": {"enabled": True, "provider": "builtin", "meeting_minutes": 45},  # H1b
        "BookingCancel": {"reason": "Cancelado por outro tenant"},  # H1b
        "InviteCreate": {"email": stranger.email, "role": "owner"},
        "RoleChange": {"role": "owner"},
        "ChannelCreate": {
            "provider": "evolution",
            "config": {"instance": "x", "api_base_url": "http://127.0.0.1:9"},
            "secrets": {"apikey": "stolen"},
        },
        "ChannelUpdate": {"display_name": "Tomado", "enabled": False, "secrets": {"apikey": "x"}},
        "AgentSettings": {"persona": "Tomado", "mode": "copilot"},
        "Assign": {"assignee_uid": stranger.uid},
        "Close": {"reason": "spam"},
        "ModeChange": {"mode": "pilot"},
        "SellerMessage": {"text": "Mensagem de outro tenant"},
        "SuggestionAccept": {"decision_id": ids["decision_id"], "index": 0},
        "SuggestionDismiss": {"decision_id": ids["decision_id"], "index": 1},
        "KnowledgeEntryIn": {"kind": "fact", "title": "Tomado", "content": "Preço: R$ 1."},
        "KnowledgeFileIn": {
            "filename": "tomado.txt",
            "mime_type": "text/plain",
            "content_base64": "UHJlw6dvOiBSJCAxLg==",
        },
        "KnowledgeSearch": {"query": "preço"},
        "ProposalApprove": {"answer": "Resposta de outro tenant"},
        "ProposalReject": {},
        "IntentModeChange": {"mode": "pilot"},
        "InsightAgentSpec": AGENT_SPEC,
        "FromTemplate": {"template": "qa_auditor"},
        "AgentActive": {"active": False},
        "ConversionsIn": {"dataset_id": "1234567890", "access_token": "stolen-token"},
        "PlanChoice": {"plan_id": "agency"},
        "WorkspaceCreate": {"name": "Cliente Tomado"},
        "CrmIn": {"token": RDSTATION_TOKEN, "deal_name": "{nome} (tomado)"},  # H7
        "MarkRead": {"all": True},  # notifications (H8)
        "PreferencesIn": {"types": {"handoff": {"email": False, "console": True}}},  # H8
        "EndpointIn": {"url": "https://example.com/tomado", "events": ["meeting.booked"]},  # H6
        "EndpointPatch": {"url": "https://example.com/tomado", "enabled": False},  # H6
        "ApiKeyCreate": {"name": "Tomada"},  # H6
        "ContactIn": {"phone": "+5511900000001", "name": "Tomado"},  # H6: public API
        "ConversationStart": {"phone": "+5511900000001", "template": "x"},  # H6: public API
    }
    name = route.body.__name__
    assert name in samples, f"no sample body for {name} ({route.method} {route.path}): add one"
    return samples[name]


def path_for(route: Route, ids: dict[str, str], tenant_id: str | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "tenant_id" and tenant_id is not None:
            return tenant_id
        assert name in ids, f"no id for <{name}> in {route.path}: add one to the test world"
        return ids[name]

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", value, route.path)


def call(admin: AdminStack, route: Route, path: str, user: User | None, body: Any) -> Any:
    return admin.api.request(route.method, path, user, json_body=body)


def test_the_world_has_an_id_for_every_path_parameter(world: World) -> None:
    for route in MEMBER_ROUTES:
        path = path_for(route, world.a.ids)
        assert "<" not in path, path


@pytest.mark.parametrize(
    "route", [r for r in MEMBER_ROUTES if r.method == "GET"], ids=lambda r: f"{r.method} {r.path}"
)
def test_the_owner_reads_everything_the_fixture_ids_name(
    admin: AdminStack, world: World, route: Route
) -> None:
    """Sanity check of the world: the real ids exist, so the refusals above are about access."""
    answer = call(admin, route, path_for(route, world.a.ids), world.a.owner, None)
    assert answer.status_code == 200, answer.text


def test_another_tenant_using_real_ids_of_this_tenant_is_refused_on_every_route(
    admin: AdminStack, world: World
) -> None:
    a, b = world.a, world.b
    before = admin.tenant_state(a.tenant_id)

    statuses = {}
    for route in MEMBER_ROUTES:
        answer = call(
            admin, route, path_for(route, a.ids), b.owner, body_for(route, a.ids, b.owner)
        )
        statuses[f"{route.method} {route.path}"] = answer.status_code
        assert answer.json()["error"]["code"] == "forbidden"

    assert set(statuses.values()) == {403}, statuses
    assert admin.tenant_state(a.tenant_id) == before
    assert admin.published(a.tenant_id) == []


def test_another_tenants_ids_under_ones_own_tenant_are_not_found(
    admin: AdminStack, world: World
) -> None:
    a, b = world.a, world.b
    before_a = admin.tenant_state(a.tenant_id)
    before_b = admin.tenant_state(b.tenant_id)
    checked = 0

    for route in MEMBER_ROUTES:
        # an intent names the same thing in every tenant: it is not one tenant's resource
        names = set(re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", route.path)) - {"tenant_id", "intent"}
        if not names:
            continue
        ids = {**a.ids, "decision_id": a.ids["decision_id"]}
        path = path_for(route, ids, tenant_id=b.tenant_id)
        answer = call(admin, route, path, b.owner, body_for(route, ids, b.owner))
        assert answer.status_code == 404, f"{route.method} {path}: {answer.text}"
        checked += 1

    assert checked >= 15
    assert admin.tenant_state(a.tenant_id) == before_a
    assert admin.tenant_state(b.tenant_id) == before_b
    assert admin.published(a.tenant_id) == []
    assert admin.published(b.tenant_id) == []


@pytest.mark.parametrize(
    "forged",
    ["nope-123456", "..%2Fx", "%2E%2E", "UPPER", "a", "x" * 300, "caf%C3%A9-1", "%00"],
)
def test_forged_tenant_ids_are_refused_never_served_or_crashed(
    admin: AdminStack, world: World, forged: str
) -> None:
    for route in MEMBER_ROUTES:
        path = path_for(route, world.a.ids, tenant_id=forged)
        answer = call(
            admin, route, path, world.b.owner, body_for(route, world.a.ids, world.b.owner)
        )
        assert answer.status_code in (403, 404), f"{route.method} {path}: {answer.status_code}"


def test_the_uppercased_id_of_ones_own_tenant_is_not_ones_tenant(
    admin: AdminStack, world: World
) -> None:
    before = admin.tenant_state(world.a.tenant_id)
    for route in MEMBER_ROUTES:
        path = path_for(route, world.a.ids, tenant_id=world.a.tenant_id.upper())
        answer = call(
            admin, route, path, world.a.owner, body_for(route, world.a.ids, world.b.owner)
        )
        assert answer.status_code in (403, 404), f"{route.method} {path}"
    assert admin.tenant_state(world.a.tenant_id) == before


@pytest.mark.parametrize("bad_id", ["%2E%2E", "%2E", "__reserved__", "x" * 2000, "a%2Fb", "%00"])
def test_malformed_resource_ids_are_not_found(admin: AdminStack, world: World, bad_id: str) -> None:
    a = world.a
    for route in MEMBER_ROUTES:
        names = set(re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", route.path)) - {"tenant_id"}
        if not names:
            continue
        ids = {**a.ids, **dict.fromkeys(names, bad_id)}
        path = path_for(route, ids)
        answer = call(admin, route, path, a.owner, body_for(route, a.ids, world.b.owner))
        assert answer.status_code in (404, 422), f"{route.method} {path}: {answer.text[:300]}"


# Tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def token_cases(admin: AdminStack, world: World) -> dict[str, dict[str, str]]:
    """Return the Authorization headers that must each be a 401."""
    project = admin.project_id
    user = world.a.owner
    disabled = admin.auth.sign_up("disabled", verified=True)
    admin.auth.update(disabled, disableUser=True)
    long_ago = int(time.time()) - 7200
    # Expired after sign-in (iat not before the account's validSince: not a revocation).
    iat = int(time.time()) - 3600
    expired_after_sign_in = emulator_claims(world.old_user, project, iat=iat, exp=iat + 1800)
    return {
        "missing header": {},
        "empty header": {"Authorization": ""},
        "Basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "Bearer only": {"Authorization": "Bearer"},
        "Bearer garbage": _bearer("garbage"),
        "Bearer three dots": _bearer("a.b.c"),
        "expired long ago": _bearer(
            unsigned_token(emulator_claims(user, project, iat=long_ago, exp=long_ago + 3600))
        ),
        "expired after sign-in": _bearer(unsigned_token(expired_after_sign_in)),
        "other project (aud)": _bearer(
            unsigned_token(emulator_claims(user, project, aud="another-project"))
        ),
        "other project (iss)": _bearer(
            unsigned_token(
                emulator_claims(user, project, iss="https://securetoken.google.com/another")
            )
        ),
        "no subject": _bearer(unsigned_token(emulator_claims(user, project, sub=""))),
        "unknown user": _bearer(
            unsigned_token(emulator_claims(user, project, sub="nobody-" + uuid.uuid4().hex[:10]))
        ),
        "disabled user": _bearer(disabled.token),
    }


CASES = [
    "missing header",
    "empty header",
    "Basic",
    "Bearer only",
    "Bearer garbage",
    "Bearer three dots",
    "expired long ago",
    "expired after sign-in",
    "other project (aud)",
    "other project (iss)",
    "no subject",
    "unknown user",
    "disabled user",
]


@pytest.mark.parametrize("case", CASES)
def test_token_problems_are_401_on_every_authenticated_route(
    admin: AdminStack, world: World, token_cases: dict[str, dict[str, str]], case: str
) -> None:
    before = admin.tenant_state(world.a.tenant_id)
    for route in AUTHENTICATED_ROUTES:
        path = path_for(route, world.a.ids)
        answer = admin.api.request(
            route.method,
            path,
            None,
            json_body=body_for(route, world.a.ids, world.b.owner),
            headers=token_cases[case],
        )
        assert answer.status_code == 401, f"{case}: {route.method} {path}: {answer.text[:300]}"
        error = answer.json()["error"]
        assert error["code"] == "unauthenticated"
        assert error["message"]
    assert admin.tenant_state(world.a.tenant_id) == before


def test_a_valid_emulator_token_of_the_owner_is_accepted(admin: AdminStack, world: World) -> None:
    """The forged tokens above fail for their flaw, not for their shape: the same shape works."""
    project = admin.project_id
    token = unsigned_token(emulator_claims(world.a.owner, project, email_verified=True))

    answer = admin.api.get(f"/api/tenants/{world.a.tenant_id}", headers=_bearer(token))

    assert answer.status_code == 200, answer.text


def test_another_tenants_member_and_decision_are_unknown_in_ones_own_tenant(
    admin: AdminStack, world: World
) -> None:
    a, b = world.a, world.b
    base = f"/api/tenants/{b.tenant_id}/conversations/{b.ids['conversation_id']}"
    before = admin.tenant_state(b.tenant_id)

    assign = admin.api.post(f"{base}/assign", b.owner, {"assignee_uid": a.ids["uid"]})
    accept = admin.api.post(
        f"{base}/suggestions/accept", b.owner, {"decision_id": a.ids["decision_id"], "index": 0}
    )

    assert assign.status_code == 422
    assert assign.json()["error"]["field"] == "assignee_uid"
    assert accept.status_code == 422
    assert accept.json()["error"]["field"] == "decision_id"
    assert admin.tenant_state(b.tenant_id) == before
    assert admin.published(b.tenant_id) == []
