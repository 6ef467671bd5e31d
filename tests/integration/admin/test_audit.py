"""The audit log: every change made through the API leaves one entry with who, what and the
before/after; the agent settings' entry keeps only the fields that changed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulators.simulator.rdstation import DEFAULT_TOKEN as RDSTATION_TOKEN
from shared.admin.routes import ROUTES
from shared.knowledge.proposals import KnowledgeProposal, proposal_ref
from shared.models.decision import Action, Decision
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import (
    User,
    seed_booking,
    seed_conversation,
    seed_insight,
    subscribe,
)
from tests.integration.admin.test_isolation import AGENT_SPEC
from tests.integration.admin.test_validation import VALID_CHANNELS


@dataclass
class Office:
    tenant_id: str
    owner: User
    seller: User

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}"


@pytest.fixture(scope="module")
def office(admin: AdminStack) -> Office:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant = admin.tenant(owner)
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(owner, tenant, seller, "seller")
    return Office(tenant, owner, seller)


def test_agent_settings_changes_are_logged_with_only_the_changed_fields(
    admin: AdminStack, office: Office
) -> None:
    path = f"{office.base}/agent"
    current = admin.api.get(path, office.owner).json()
    count = len(admin.audit(office.tenant_id))

    saved = admin.api.put(
        path,
        office.owner,
        {
            **current,
            "debounce_seconds": 12,
            "quiet_hours": {"start": "22:00:00", "end": "07:30:00"},
            "business_facts": {"preco": "R$ 180"},
        },
    )

    assert saved.status_code == 200, saved.text
    entries = admin.audit(office.tenant_id)
    assert len(entries) == count + 1
    entry = entries[-1]
    assert (entry["action"], entry["target"], entry["actor_uid"], entry["actor_email"]) == (
        "agent.update",
        "settings/agent",
        office.owner.uid,
        office.owner.email,
    )
    assert entry["before"] == {
        "business_facts": current["business_facts"],
        "debounce_seconds": current["debounce_seconds"],
        "quiet_hours": current["quiet_hours"],
    }
    assert entry["after"] == {
        "business_facts": {"preco": "R$ 180"},
        "debounce_seconds": 12,
        "quiet_hours": {"start": "22:00:00", "end": "07:30:00"},
    }
    # Saving the same settings again changes nothing, so logs nothing.
    again = admin.api.put(path, office.owner, saved.json())
    assert again.status_code == 200
    assert len(admin.audit(office.tenant_id)) == count + 1


def test_the_audit_endpoint_lists_newest_first_with_a_limit(
    admin: AdminStack, office: Office
) -> None:
    for name in ("Um", "Dois", "Três"):
        admin.api.patch(office.base, office.owner, {"name": f"Nome {name}"})

    answer = admin.api.get(f"{office.base}/audit", office.owner, params={"limit": "2"})

    assert answer.status_code == 200
    entries = answer.json()["entries"]
    assert [e["after"] for e in entries] == [{"name": "Nome Três"}, {"name": "Nome Dois"}]
    assert all(e["id"] and e["actor_email"] == office.owner.email for e in entries)
    everything = admin.api.get(f"{office.base}/audit", office.owner).json()["entries"]
    times = [e["at"] for e in everything]
    assert times == sorted(times, reverse=True)
    assert everything[-1]["action"] == "tenant.create"


Step = Callable[[AdminStack, Office, dict[str, Any]], Any]


def _steps() -> list[tuple[str, str, Step]]:
    """Every change the API makes, in an order that works, by route (method and path)."""
    t = "/api/tenants/<tenant_id>"
    c = f"{t}/conversations/<conversation_id>"

    def invitee(admin: AdminStack, ids: dict[str, Any]) -> User:
        if "invitee" not in ids:
            ids["invitee"] = admin.auth.sign_up("invitee", verified=True)
        return ids["invitee"]  # type: ignore[no-any-return]

    def sign_up(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.post("/api/tenants", office.owner, {"name": "Nova"})

    def rename(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.patch(office.base, office.owner, {"locale": "en-US"})

    def invite(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"email": invitee(admin, ids).email, "role": "admin"}
        return admin.api.post(f"{office.base}/invites", office.owner, body)

    def revoke(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/invites/{invitee(admin, ids).email}", office.owner)

    def accept(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        invite(admin, office, ids)
        return admin.api.post(f"{office.base}/invites/accept", invitee(admin, ids))

    def change_role(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        path = f"{office.base}/members/{invitee(admin, ids).uid}"
        return admin.api.patch(path, office.owner, {"role": "seller"})

    def remove(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/members/{invitee(admin, ids).uid}", office.owner)

    def connect(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"provider": "zapi", **VALID_CHANNELS["zapi"]}
        answer = admin.api.post(f"{office.base}/channels", office.owner, body)
        ids["channel"] = answer.json()["channel_id"]
        return answer

    def change_channel(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        path = f"{office.base}/channels/{ids['channel']}"
        return admin.api.patch(path, office.owner, {"display_name": "Vendas"})

    def disconnect(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/channels/{ids['channel']}", office.owner)

    def save_agent(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"persona": f"Ana {uuid.uuid4().hex[:4]}"}
        return admin.api.put(f"{office.base}/agent", office.owner, body)

    def erase(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/contacts/{ids['contact']}", office.owner)

    def conversation(admin: AdminStack, office: Office, ids: dict[str, Any]) -> str:
        if "conversation" not in ids:
            decision = Decision(
                decision_id=f"d-{uuid.uuid4().hex[:8]}",
                action=Action.STAY_SILENT,
                reasons=["copilot_mode"],  # type: ignore[list-item]
                suggestions=["Sim", "Não"],
                decided_at=datetime.now(UTC),
            )
            seeded = seed_conversation(
                admin.db, office.tenant_id, decisions=[decision], channel_id=ids["channel"]
            )
            ids |= {
                "decision": decision.decision_id,
                "contact": seeded.conversation.contact_key,
                "conversation": f"{office.base}/conversations/{seeded.id}",
                "conversation_id": seeded.id,
            }
        return str(ids["conversation_id"])

    def on_conversation(suffix: str, body: dict[str, Any] | None) -> Step:
        def step(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
            conversation(admin, office, ids)
            filled = {k: ids["decision"] if v == "<d>" else v for k, v in (body or {}).items()}
            return admin.api.post(f"{ids['conversation']}{suffix}", office.owner, filled or None)

        return step

    def add_knowledge(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"kind": "fact", "title": "Endereço", "content": "Rua das Flores, 120."}
        answer = admin.api.post(f"{office.base}/knowledge", office.owner, body)
        ids["entry"] = answer.json()["entry_id"]
        return answer

    def change_knowledge(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"kind": "fact", "title": "Endereço", "content": "Rua das Flores, 130."}
        return admin.api.put(f"{office.base}/knowledge/{ids['entry']}", office.owner, body)

    def upload_knowledge(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"filename": "faq.txt", "mime_type": "text/plain", "content_base64": "T2ku"}
        return admin.api.post(f"{office.base}/knowledge/files", office.owner, body)

    def delete_knowledge(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/knowledge/{ids['entry']}", office.owner)

    def proposal(admin: AdminStack, office: Office, answer: str | None) -> str:
        proposal_id = f"d-gap-{uuid.uuid4().hex[:8]}"
        record = KnowledgeProposal(
            proposal_id=proposal_id,
            conversation_id="c-any",
            decision_id=proposal_id,
            question="Tem estacionamento?",
            answer=answer,
            status="proposed" if answer else "open",
            created_at=datetime.now(UTC),
        )
        proposal_ref(admin.db, office.tenant_id, proposal_id).set(record.model_dump())
        return proposal_id

    def approve(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        path = f"{office.base}/knowledge/proposals/{proposal(admin, office, 'Sim, no subsolo.')}"
        return admin.api.post(f"{path}/approve", office.owner, {})

    def reject(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        path = f"{office.base}/knowledge/proposals/{proposal(admin, office, None)}"
        return admin.api.post(f"{path}/reject", office.owner, {})

    def promote(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        path = f"{office.base}/copilot/intents/sell"
        return admin.api.put(path, office.owner, {"mode": "pilot"})

    # Scheduling (H1b): the calendar settings and a seller's cancel of a booked meeting
    def save_calendar(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"enabled": True, "meeting_minutes": 45}
        return admin.api.put(f"{office.base}/calendar", office.owner, body)

    def cancel_booking(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        start = datetime.now(UTC).replace(hour=13, minute=0, second=0, microsecond=0)
        booking = seed_booking(admin.db, office.tenant_id, start + timedelta(days=20))
        path = f"{office.base}/bookings/{booking.booking_id}/cancel"
        return admin.api.post(path, office.owner, {"reason": "Remarcar"})

    def add_agent(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        answer = admin.api.post(f"{office.base}/insight-agents", office.owner, AGENT_SPEC)
        ids["agent"] = answer.json()["agent_id"]
        return answer

    def add_template(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"template": "ghosting_sentinel"}
        return admin.api.post(f"{office.base}/insight-agents/from-template", office.owner, body)

    def change_agent(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        path = f"{office.base}/insight-agents/{ids['agent']}"
        return admin.api.put(path, office.owner, {**AGENT_SPEC, "name": "Auditor 2"})

    def switch_agent(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        path = f"{office.base}/insight-agents/{ids['agent']}"
        return admin.api.patch(path, office.owner, {"active": False})

    def delete_agent(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/insight-agents/{ids['agent']}", office.owner)

    def review(verb: str) -> Step:
        def step(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
            conversation_id = conversation(admin, office, ids)
            insight = seed_insight(admin.db, office.tenant_id, conversation_id)
            return admin.api.post(
                f"{office.base}/insights/{insight.insight_id}/{verb}", office.owner
            )

        return step

    def save_conversions(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"dataset_id": "1234567890", "access_token": "EAAG-token"}
        return admin.api.put(f"{office.base}/conversions", office.owner, body)

    def forget_conversions(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/conversions", office.owner)

    def connect_crm(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"token": RDSTATION_TOKEN}
        return admin.api.put(f"{office.base}/crm", office.owner, body)

    def disconnect_crm(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/crm", office.owner)

    def disconnect_google(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        # connected as the callback leaves it (the callback itself is audited in
        # test_google_calendar.py: it is public, so not part of this sweep)
        link = {
            "calendar_id": "primary",
            "account_email": office.owner.email,
            "token_secret": f"local:piloto-tenant-{office.tenant_id}-google-calendar",
            "connected_at": datetime.now(UTC),
            "connected_by": office.owner.uid,
        }
        calendar = admin.db.document(f"tenants/{office.tenant_id}/settings/calendar")
        calendar.set({"provider": "google", "google": link}, merge=True)
        return admin.api.delete(f"{office.base}/calendar/google", office.owner)

    def checkout(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"plan_id": "starter"}
        return admin.api.post(f"{office.base}/billing/checkout", office.owner, body)

    def portal(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.post(f"{office.base}/billing/portal", office.owner)

    def change_plan(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        # paid straight at Stripe and applied as the webhook would: no audit entry of its own
        subscribe(admin.db, admin.api.http, admin.stripe_url, office.tenant_id, "starter")
        body = {"plan_id": "agency"}
        return admin.api.post(f"{office.base}/billing/plan", office.owner, body)

    def add_workspace(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.post(f"{office.base}/workspaces", office.owner, {"name": "Cliente"})

    def choose_notifications(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"types": {"daily_digest": {"email": False, "console": True}}}  # H8
        return admin.api.put(f"{office.base}/notification-preferences", office.owner, body)

    # Outbound webhooks, API keys and the public API (H6)
    def add_endpoint(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"url": "https://example.com/hook", "events": ["conversation.won"]}
        answer = admin.api.post(f"{office.base}/webhooks", office.owner, body)
        ids["endpoint"] = f"{office.base}/webhooks/{answer.json()['endpoint']['endpoint_id']}"
        return answer

    def change_endpoint(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.patch(ids["endpoint"], office.owner, {"description": "n8n"})

    def rotate(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.post(f"{ids['endpoint']}/secret", office.owner)

    def test_event(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        answer = admin.api.post(f"{ids['endpoint']}/test", office.owner)
        ids["delivery"] = answer.json()["delivery_id"]
        return answer

    def redeliver(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        delivery = admin.db.document(
            f"tenants/{office.tenant_id}/event_deliveries/{ids['delivery']}"
        )
        delivery.update({"status": "failed", "attempts": 9})  # as the runner would leave it
        path = f"{ids['endpoint']}/deliveries/{ids['delivery']}/redeliver"
        return admin.api.post(path, office.owner)

    def delete_endpoint(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(ids["endpoint"], office.owner)

    def make_key(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        answer = admin.api.post(f"{office.base}/api-keys", office.owner, {"name": "Zapier"})
        ids["key"] = {"Authorization": f"Bearer {answer.json()['secret']}"}
        ids["key_id"] = answer.json()["key"]["key_id"]
        return answer

    def revoke_key(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return admin.api.delete(f"{office.base}/api-keys/{ids['key_id']}", office.owner)

    def api_contact(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        body = {"phone": "+5511955550001", "name": "Lia"}
        return admin.api.post("/api/v1/contacts", None, body, headers=ids["key"])

    def api_conversation(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        agent = admin.db.document(f"tenants/{office.tenant_id}/settings/agent")
        agent.set(  # an approved template and no quiet hours, straight in Firestore (no audit)
            {
                "templates": {"followup": {"name": "ola", "language": "pt_BR"}},
                "quiet_hours": {"start": "00:00", "end": "00:00"},
            },
            merge=True,
        )
        body = {"phone": "+5511955550002", "template": "ola"}
        return admin.api.post("/api/v1/conversations", None, body, headers=ids["key"])

    def api_macro(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        conversation_id = conversation(admin, office, ids)
        path = f"/api/v1/conversations/{conversation_id}/macros/{ids['agent']}"
        return admin.api.post(path, None, headers=ids["key"])

    def assign(admin: AdminStack, office: Office, ids: dict[str, Any]) -> Any:
        return on_conversation("/assign", {"assignee_uid": office.seller.uid})(admin, office, ids)

    return [
        ("POST", "/api/tenants", sign_up),
        ("PATCH", t, rename),
        ("POST", f"{t}/invites", invite),
        ("DELETE", f"{t}/invites/<email>", revoke),
        ("POST", f"{t}/invites/accept", accept),
        ("PATCH", f"{t}/members/<uid>", change_role),
        ("DELETE", f"{t}/members/<uid>", remove),
        ("POST", f"{t}/channels", connect),
        ("PATCH", f"{t}/channels/<channel_id>", change_channel),
        ("PUT", f"{t}/agent", save_agent),
        ("POST", f"{t}/knowledge", add_knowledge),
        ("PUT", f"{t}/knowledge/<entry_id>", change_knowledge),
        ("POST", f"{t}/knowledge/files", upload_knowledge),
        ("DELETE", f"{t}/knowledge/<entry_id>", delete_knowledge),
        ("POST", f"{t}/knowledge/proposals/<proposal_id>/approve", approve),
        ("POST", f"{t}/knowledge/proposals/<proposal_id>/reject", reject),
        ("PUT", f"{t}/copilot/intents/<intent>", promote),
        ("PUT", f"{t}/calendar", save_calendar),
        ("POST", f"{t}/bookings/<booking_id>/cancel", cancel_booking),
        ("POST", f"{c}/takeover", on_conversation("/takeover", None)),
        ("POST", f"{c}/release", on_conversation("/release", None)),
        ("POST", f"{c}/assign", assign),
        ("POST", f"{c}/mode", on_conversation("/mode", {"mode": "copilot"})),
        ("POST", f"{c}/messages", on_conversation("/messages", {"text": "Olá!"})),
        ("POST", f"{c}/suggestions/accept",
         on_conversation("/suggestions/accept", {"decision_id": "<d>", "index": 0})),
        ("POST", f"{c}/suggestions/dismiss",
         on_conversation("/suggestions/dismiss", {"decision_id": "<d>", "index": 1})),
        ("POST", f"{t}/insight-agents", add_agent),
        ("POST", f"{t}/insight-agents/from-template", add_template),
        ("POST", f"{t}/api-keys", make_key),
        ("POST", "/api/v1/conversations/<conversation_id>/macros/<agent_id>", api_macro),
        ("PUT", f"{t}/insight-agents/<agent_id>", change_agent),
        ("PATCH", f"{t}/insight-agents/<agent_id>", switch_agent),
        ("DELETE", f"{t}/insight-agents/<agent_id>", delete_agent),
        ("POST", f"{t}/insights/<insight_id>/apply", review("apply")),
        ("POST", f"{t}/insights/<insight_id>/dismiss", review("dismiss")),
        ("PUT", f"{t}/conversions", save_conversions),
        ("DELETE", f"{t}/conversions", forget_conversions),
        ("PUT", f"{t}/crm", connect_crm),
        ("DELETE", f"{t}/crm", disconnect_crm),
        ("DELETE", f"{t}/calendar/google", disconnect_google),
        ("POST", f"{t}/billing/checkout", checkout),
        ("POST", f"{t}/billing/portal", portal),
        ("POST", f"{t}/billing/plan", change_plan),
        ("POST", f"{t}/workspaces", add_workspace),
        ("PUT", f"{t}/notification-preferences", choose_notifications),
        ("POST", f"{t}/webhooks", add_endpoint),
        ("PATCH", f"{t}/webhooks/<endpoint_id>", change_endpoint),
        ("POST", f"{t}/webhooks/<endpoint_id>/secret", rotate),
        ("POST", f"{t}/webhooks/<endpoint_id>/test", test_event),
        ("POST", f"{t}/webhooks/<endpoint_id>/deliveries/<delivery_id>/redeliver", redeliver),
        ("DELETE", f"{t}/webhooks/<endpoint_id>", delete_endpoint),
        ("POST", "/api/v1/contacts", api_contact),
        ("POST", "/api/v1/conversations", api_conversation),
        ("DELETE", f"{t}/api-keys/<key_id>", revoke_key),
        ("POST", f"{c}/close", on_conversation("/close", {"reason": "won"})),
        ("DELETE", f"{t}/contacts/<contact_key>", erase),
        ("DELETE", f"{t}/channels/<channel_id>", disconnect),
    ]  # fmt: skip


EXPECTED_ACTIONS = {
    "POST /api/tenants": "tenant.create",
    "PATCH /api/tenants/<tenant_id>": "tenant.update",
    "POST /api/tenants/<tenant_id>/invites": "invite.create",
    "DELETE /api/tenants/<tenant_id>/invites/<email>": "invite.revoke",
    "POST /api/tenants/<tenant_id>/invites/accept": "invite.accept",
    "PATCH /api/tenants/<tenant_id>/members/<uid>": "member.role",
    "DELETE /api/tenants/<tenant_id>/members/<uid>": "member.remove",
    "POST /api/tenants/<tenant_id>/channels": "channel.create",
    "PATCH /api/tenants/<tenant_id>/channels/<channel_id>": "channel.update",
    "PUT /api/tenants/<tenant_id>/calendar": "calendar.update",
    "POST /api/tenants/<tenant_id>/bookings/<booking_id>/cancel": "booking.cancel",
    "PUT /api/tenants/<tenant_id>/agent": "agent.update",
    "POST /api/tenants/<tenant_id>/knowledge": "knowledge.create",
    "PUT /api/tenants/<tenant_id>/knowledge/<entry_id>": "knowledge.update",
    "POST /api/tenants/<tenant_id>/knowledge/files": "knowledge.upload",
    "DELETE /api/tenants/<tenant_id>/knowledge/<entry_id>": "knowledge.delete",
    "POST /api/tenants/<tenant_id>/knowledge/proposals/<proposal_id>/approve": (
        "knowledge.proposal.approve"
    ),
    "POST /api/tenants/<tenant_id>/knowledge/proposals/<proposal_id>/reject": (
        "knowledge.proposal.reject"
    ),
    "PUT /api/tenants/<tenant_id>/copilot/intents/<intent>": "agent.intent_mode",
    "POST /api/tenants/<tenant_id>/insight-agents": "insight_agent.create",
    "POST /api/tenants/<tenant_id>/insight-agents/from-template": "insight_agent.create",
    "PUT /api/tenants/<tenant_id>/insight-agents/<agent_id>": "insight_agent.update",
    "PATCH /api/tenants/<tenant_id>/insight-agents/<agent_id>": "insight_agent.activate",
    "DELETE /api/tenants/<tenant_id>/insight-agents/<agent_id>": "insight_agent.delete",
    "POST /api/tenants/<tenant_id>/insights/<insight_id>/apply": "insight.apply",
    "POST /api/tenants/<tenant_id>/insights/<insight_id>/dismiss": "insight.dismiss",
    "PUT /api/tenants/<tenant_id>/conversions": "conversions.update",
    "DELETE /api/tenants/<tenant_id>/conversions": "conversions.delete",
    "PUT /api/tenants/<tenant_id>/crm": "crm.update",
    "DELETE /api/tenants/<tenant_id>/crm": "crm.delete",
    "DELETE /api/tenants/<tenant_id>/calendar/google": "calendar.google_disconnect",
    "POST /api/tenants/<tenant_id>/billing/checkout": "billing.checkout",
    "POST /api/tenants/<tenant_id>/billing/portal": "billing.portal",
    "POST /api/tenants/<tenant_id>/billing/plan": "billing.plan_change",
    "POST /api/tenants/<tenant_id>/workspaces": "workspace.create",
    "POST /api/tenants/<tenant_id>/webhooks": "webhook.create",  # H6
    "PATCH /api/tenants/<tenant_id>/webhooks/<endpoint_id>": "webhook.update",
    "POST /api/tenants/<tenant_id>/webhooks/<endpoint_id>/secret": "webhook.rotate_secret",
    "POST /api/tenants/<tenant_id>/webhooks/<endpoint_id>/test": "webhook.test",
    "POST /api/tenants/<tenant_id>/webhooks/<endpoint_id>/deliveries/<delivery_id>/redeliver": (
        "webhook.redeliver"
    ),
    "DELETE /api/tenants/<tenant_id>/webhooks/<endpoint_id>": "webhook.delete",
    "POST /api/tenants/<tenant_id>/api-keys": "api_key.create",
    "DELETE /api/tenants/<tenant_id>/api-keys/<key_id>": "api_key.revoke",
    "POST /api/v1/contacts": "contact.create",
    "POST /api/v1/conversations": "conversation.start",
    "POST /api/v1/conversations/<conversation_id>/macros/<agent_id>": "macro.press",
    "PUT /api/tenants/<tenant_id>/notification-preferences": "notifications.preferences",
}

# POSTs that change nothing (so leave no audit entry): a search is a read with a body; a macro
# press only publishes an event (the insight it produces records who pressed).
READ_ONLY = {
    ("POST", "/api/tenants/<tenant_id>/knowledge/search"),
    ("POST", "/api/tenants/<tenant_id>/conversations/<conversation_id>/macros/<agent_id>"),
    # the consent URL only: the public callback makes (and audits) the connection
    ("POST", "/api/tenants/<tenant_id>/calendar/google/authorize"),
    # marking one's own notifications read changes only the caller's bell (H8)
    ("POST", "/api/tenants/<tenant_id>/notifications/read"),
}


def test_every_change_through_the_api_leaves_one_audit_entry(
    admin: AdminStack, office: Office
) -> None:
    steps = _steps()
    changing = {(r.method, r.path) for r in ROUTES if r.method != "GET"} - READ_ONLY
    assert {(method, path) for method, path, _ in steps} == changing, "a change without a step"
    ids: dict[str, Any] = {}
    admin.api.put(f"{office.base}/agent", office.owner, {"human_takeover_minutes": 10})

    for method, path, step in steps:
        before = len(admin.audit(office.tenant_id))
        answer = step(admin, office, ids)
        assert answer.status_code < 300, f"{method} {path}: {answer.text}"
        if path == "/api/tenants":
            created = answer.json()["tenant_id"]
            entries = admin.audit(created)
            assert [e["action"] for e in entries] == ["tenant.create"]
            assert entries[0]["actor_uid"] == office.owner.uid
            assert entries[0]["after"]["name"] == "Nova"
            continue
        entries = admin.audit(office.tenant_id)
        new = entries[before:]
        # creating a seeded conversation writes no audit; a step may add one extra prerequisite
        expected = 2 if path.endswith("/invites/accept") else 1
        assert len(new) == expected, f"{method} {path}: {[e['action'] for e in new]}"
        entry = new[-1]
        key = f"{method} {path}"
        if key in EXPECTED_ACTIONS:
            assert entry["action"] == EXPECTED_ACTIONS[key], key
        assert entry["actor_uid"] in (
            office.owner.uid,
            ids.get("invitee", office.owner).uid,
            f"api-key:{ids.get('key_id')}",  # the public API (H6)
        )
        assert entry["target"]
        assert entry["at"] is not None
        if entry["action"] != "message.send":  # the target names the message; no text is kept
            assert entry["before"] is not None or entry["after"] is not None, key
