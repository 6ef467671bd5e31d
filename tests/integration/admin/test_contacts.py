"""LGPD: a contact's data is exported whole, and erased everywhere (the erasure itself logged by a
hash only), leaving other contacts untouched."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.models.conversation import Contact
from shared.models.decision import Action, Decision, OutboundMessage
from shared.store.conversations import (
    contact_ref,
    conversation_ref,
    delivery_ref,
    outbound_ledger_ref,
    tenant_ref,
)
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import (
    User,
    seed_booking,
    seed_conversation,
    seed_insight,
    snapshot_tree,
)


@dataclass
class Person:
    """A contact with two conversations and everything the engine keeps about them."""

    phone: str
    name: str
    conversations: list[str]
    paths: list[str]  # documents outside the conversations that name them


def _phone() -> str:
    return f"+55219{uuid.uuid4().int % 10**8:08d}"


def _person(admin: AdminStack, tenant: str, name: str) -> Person:
    phone = _phone()
    contact = Contact(contact_key=phone, phone=phone, name=name)
    paths = []
    conversations = []
    for age, status in ((timedelta(days=10), "closed"), (timedelta(hours=1), "open")):
        at = datetime.now(UTC) - age
        decision = Decision(
            decision_id=f"d-{uuid.uuid4().hex[:10]}",
            action=Action.SPEAK,
            reasons=["lead_replied"],  # type: ignore[list-item]
            messages=[OutboundMessage(text=f"Olá {name}!")],
            extracted_fields={"nome": name},
            decided_at=at + timedelta(seconds=5),
        )
        seeded = seed_conversation(
            admin.db,
            tenant,
            contact_key=phone,
            at=at,
            lead_texts=(f"Oi, sou {name}", "Meu CPF é 123.456.789-00"),
            decisions=[decision],
            contact=contact,
            status=status,
            contact_name=name,
            fields={"nome": name},
            summary=f"lead: {name} quer preço",
        )
        conversations.append(seeded.id)
        key = f"{decision.decision_id}:0"
        conversation_ref(admin.db, tenant, seeded.id).collection("messages").document(
            f"wamid.out-{seeded.id}"
        ).set(
            {
                "role": "agent",
                "at": at + timedelta(seconds=6),
                "outbound_key": key,
                "content": {"text": f"Olá {name}!"},
            }
        )
        for reference, record in (
            (
                outbound_ledger_ref(admin.db, tenant, key),
                {"key": key, "conversation_id": seeded.id, "contact_key": phone,
                 "message": {"text": f"Olá {name}!"}, "status": "delivered"},
            ),
            (
                delivery_ref(admin.db, tenant, "meta", f"wamid.out-{seeded.id}"),
                {"status": "delivered", "outbound_key": key, "conversation_id": seeded.id},
            ),
            (
                tenant_ref(admin.db, tenant)
                .collection("trigger_events")
                .document(f"{seeded.id}:INACTIVITY_2H:1"),
                {"type": "INACTIVITY_2H", "conversation_id": seeded.id, "contact_key": phone},
            ),
        ):  # fmt: skip
            reference.set(record)
            paths.append(reference.path)
        insight = seed_insight(
            admin.db, tenant, seeded.id, contact_key=phone, contact_name=name,
            payload={"perfil": f"{name}, dona de clínica"},
        )  # fmt: skip
        paths.append(f"tenants/{tenant}/insights/{insight.insight_id}")
    return Person(phone, name, conversations, paths)


@dataclass
class Scene:
    tenant_id: str
    owner: User
    erased: Person
    kept: Person

    def path(self, person: Person, suffix: str = "") -> str:
        return f"/api/tenants/{self.tenant_id}/contacts/{person.phone}{suffix}"


@pytest.fixture(scope="module")
def scene(admin: AdminStack) -> Scene:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant = admin.tenant(owner)
    erased = _person(admin, tenant, "Zuleica Quintanilha")
    kept = _person(admin, tenant, "Bartolomeu Esteves")
    return Scene(tenant, owner, erased, kept)


def _text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def test_the_export_has_the_contact_conversations_messages_and_decisions(
    admin: AdminStack, scene: Scene
) -> None:
    answer = admin.api.get(scene.path(scene.erased, "/export"), scene.owner)

    assert answer.status_code == 200, answer.text
    export = answer.json()
    assert export["contact"]["phone"] == scene.erased.phone
    assert export["contact"]["name"] == scene.erased.name
    assert sorted(c["conversation_id"] for c in export["conversations"]) == sorted(
        scene.erased.conversations
    )
    for conversation in export["conversations"]:
        assert conversation["contact_key"] == scene.erased.phone
        texts = [m["content"]["text"] for m in conversation["messages"]]
        assert texts == [
            f"Oi, sou {scene.erased.name}",
            "Meu CPF é 123.456.789-00",
            f"Olá {scene.erased.name}!",
        ]
        assert [d["reasons"] for d in conversation["decisions"]] == [["lead_replied"]]
        assert conversation["decisions"][0]["extracted_fields"] == {"nome": scene.erased.name}
        assert [i["contact_name"] for i in conversation["insights"]] == [scene.erased.name]
    assert scene.kept.phone not in answer.text
    assert scene.kept.name not in answer.text


def test_erasure_removes_the_contact_everywhere_and_logs_only_a_hash(
    admin: AdminStack, scene: Scene
) -> None:
    person, other = scene.erased, scene.kept
    # A seller's close note about the lead is personal data too; closing as lost also stages a
    # conversation.lost business event naming the lead.
    closed = admin.api.post(
        f"/api/tenants/{scene.tenant_id}/conversations/{person.conversations[1]}/close",
        scene.owner,
        {"reason": "lost", "note": "não quer mais contato"},
    )
    assert closed.status_code == 200, closed.text
    tenant = tenant_ref(admin.db, scene.tenant_id)
    [lost] = [
        each
        for each in tenant.collection("business_events").stream()
        if each.get("conversation_id") == person.conversations[1]
    ]
    assert lost.get("contact")["phone"] == person.phone
    # what issue 10 keeps about the lead: an event with no conversation (a contact the public API
    # created), each event's delivery (its payload), a seller's notification, a booking
    tenant.collection("business_events").document("api-contact.created").set(
        {
            "event_id": "api-contact.created",
            "conversation_id": None,
            "contact": {"contact_key": person.phone, "name": person.name},
        }
    )
    for event in (
        lost.to_dict() or {},
        {"conversation_id": person.conversations[0], "contact": {"contact_key": person.phone}},
    ):
        tenant.collection("event_deliveries").document(f"{uuid.uuid4().hex[:8]}~crm").set(
            {"target_id": "crm", "event": {**event, "data": {"note": f"{person.name} perdido"}}}
        )
    tenant.collection("notifications").document("n-1").set(
        {"conversation_id": person.conversations[0], "title": f"{person.name} pediu atendente"}
    )
    booking = seed_booking(
        admin.db,
        scene.tenant_id,
        datetime.now(UTC) + timedelta(days=3),
        conversation_id=person.conversations[0],
        contact_key=person.phone,
        contact_name=person.name,
        phone=person.phone,
        email="zuleica@example.com",
    )
    # A delivery status for a message Piloto did not send names the phone too.
    unmatched = tenant_ref(admin.db, scene.tenant_id).collection("unmatched_statuses")
    unmatched.document("status-1").set({"contact": {"key": person.phone}, "status": "read"})
    others_before = {
        path: document
        for path, document in admin.tenant_state(scene.tenant_id).items()
        if any(c in path for c in other.conversations) or path in other.paths
        or path.endswith(f"/contacts/{other.phone}")
    }  # fmt: skip

    answer = admin.api.delete(scene.path(person), scene.owner)

    assert answer.status_code == 200, answer.text
    assert answer.json()["deleted"] == {
        "messages": 6,
        "decisions": 2,
        "deliveries": 2,
        "trigger_events": 2,
        "insights": 2,
        "notifications": 1,
        "business_events": 2,
        "event_deliveries": 2,
        "outbound": 2,
        "conversations_anonymised": 2,
        "bookings_anonymised": 1,
        "unmatched_statuses": 1,
        "audit_notes_erased": 1,
        "contacts": 1,
    }
    assert not unmatched.document("status-1").get().exists
    assert "não quer mais contato" not in _text(admin.audit(scene.tenant_id))
    tree = snapshot_tree(admin.db, tenant_ref(admin.db, scene.tenant_id))
    assert not contact_ref(admin.db, scene.tenant_id, person.phone).get().exists
    for path in person.paths:
        assert path not in tree, path
    for conversation_id in person.conversations:
        document = conversation_ref(admin.db, scene.tenant_id, conversation_id)
        assert list(document.collection("messages").list_documents()) == []
        assert list(document.collection("decisions").list_documents()) == []
        anonymous = document.get().to_dict() or {}
        assert anonymous["contact_key"].startswith("erased:")
        assert anonymous["contact_name"] is None
        assert anonymous["window"] == []
        assert anonymous["summary"] == ""
        assert anonymous["fields"] == {}
        assert not anonymous.get("close_note")
        assert anonymous["erased_at"] is not None
    kept_booking = tree[f"tenants/{scene.tenant_id}/bookings/{booking.booking_id}"]
    assert (kept_booking["start"], kept_booking["status"]) == (booking.start, "confirmed")
    assert kept_booking["contact_key"] is None and kept_booking["email"] is None
    remaining = _text(tree)
    assert "zuleica@example.com" not in remaining
    assert person.phone not in remaining
    assert person.phone.removeprefix("+") not in remaining
    assert person.name not in remaining
    assert "123.456.789-00" not in _text(
        {p: d for p, d in tree.items() if any(c in p for c in person.conversations)}
    )
    entry = admin.audit(scene.tenant_id)[-1]
    assert entry["action"] == "contact.delete"
    assert entry["actor_uid"] == scene.owner.uid
    assert entry["target"].startswith("contacts/sha256:")
    assert person.phone.removeprefix("+")[-8:] not in _text(entry)
    assert entry["after"]["conversations_anonymised"] == 2
    # the other contact is untouched
    others_after = admin.tenant_state(scene.tenant_id)
    for path, document in others_before.items():
        assert others_after.get(path) == document, path
    # the dashboard's figures of the erased conversations stay
    listed = admin.api.get(
        f"/api/tenants/{scene.tenant_id}/conversations", scene.owner, params={"limit": "100"}
    ).json()
    erased = [c for c in listed["conversations"] if c["conversation_id"] in person.conversations]
    assert len(erased) == 2
    assert all(c["contact_phone"] is None and c["last_message"] is None for c in erased)

    assert admin.api.get(scene.path(person, "/export"), scene.owner).status_code == 404
    assert admin.api.delete(scene.path(person), scene.owner).status_code == 404
    kept = admin.api.get(scene.path(other, "/export"), scene.owner)
    assert kept.status_code == 200
    assert len(kept.json()["conversations"]) == 2


def test_an_unknown_contact_is_not_found(admin: AdminStack, scene: Scene) -> None:
    for method in ("GET", "DELETE"):
        suffix = "/export" if method == "GET" else ""
        path = f"/api/tenants/{scene.tenant_id}/contacts/{_phone()}{suffix}"
        assert admin.api.request(method, path, scene.owner).status_code == 404
