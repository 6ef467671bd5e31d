"""The inbox: filters and pages, the detail with messages and decisions, polling with ETags, and
what a seller does (take over, release, close, write, use the copilot's suggestions)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.models.conversation import Contact, Conversation
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.policy.guards import guard_sending
from shared.policy.verdict import PolicyContext, Verdict
from shared.store.conversations import conversation_ref, outbound_ledger_ref
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import SeededConversation, User, seed_conversation
from tests.integration.admin.test_validation import VALID_CHANNELS


@dataclass
class Inbox:
    tenant_id: str
    owner: User
    seller: User
    evolution: str  # a channel without WhatsApp's 24-hour window
    meta: str  # a channel with it

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}/conversations"


@pytest.fixture(scope="module")
def inbox(admin: AdminStack) -> Inbox:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(owner, tenant_id, seller, "seller")
    channels = {}
    for provider in ("evolution", "meta"):
        answer = admin.api.post(
            f"/api/tenants/{tenant_id}/channels",
            owner,
            {"provider": provider, **VALID_CHANNELS[provider]},
        )
        assert answer.status_code == 201, answer.text
        channels[provider] = answer.json()["channel_id"]
    admin.api.put(f"/api/tenants/{tenant_id}/agent", owner, {"human_takeover_minutes": 45})
    return Inbox(tenant_id, owner, seller, channels["evolution"], channels["meta"])


def _seed(admin: AdminStack, inbox: Inbox, **fields: Any) -> SeededConversation:
    fields.setdefault("channel_id", inbox.evolution)
    return seed_conversation(admin.db, inbox.tenant_id, **fields)


def _stored(admin: AdminStack, inbox: Inbox, conversation_id: str) -> Conversation:
    snapshot = conversation_ref(admin.db, inbox.tenant_id, conversation_id).get()
    return Conversation.model_validate(snapshot.to_dict())


def _list(admin: AdminStack, inbox: Inbox, user: User, **params: str) -> dict[str, Any]:
    answer = admin.api.get(inbox.base, user, params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# Listing


@pytest.fixture(scope="module")
def listed(admin: AdminStack, inbox: Inbox) -> dict[str, str]:
    """A separate tenant's worth of conversations with known filters (ids by name)."""
    start = datetime.now(UTC) - timedelta(hours=3)
    specs: dict[str, dict[str, Any]] = {
        "open_new": {},
        "handoff": {"status": "handoff", "needs_human": True, "attention_reason": "handoff"},
        "closed": {"status": "closed", "close_reason": "won"},
        "qualified": {"stage": "qualified", "channel_id": inbox.meta},
        "mine": {"assignee_uid": inbox.owner.uid, "assignee_email": inbox.owner.email},
        "sellers": {"assignee_uid": inbox.seller.uid, "assignee_email": inbox.seller.email},
    }
    ids = {}
    for offset, (name, fields) in enumerate(specs.items()):
        seeded = _seed(admin, inbox, at=start + timedelta(minutes=offset), **fields)
        ids[name] = seeded.id
    return ids


def _names(listed: dict[str, str], answer: dict[str, Any]) -> list[str]:
    by_id = {value: key for key, value in listed.items()}
    return [
        by_id[c["conversation_id"]]
        for c in answer["conversations"]
        if c["conversation_id"] in by_id
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["sellers", "mine", "qualified", "closed", "handoff", "open_new"]),
        ({"status": "handoff"}, ["handoff"]),
        ({"status": "closed"}, ["closed"]),
        ({"status": "open"}, ["sellers", "mine", "qualified", "open_new"]),
        ({"stage": "qualified"}, ["qualified"]),
        ({"needs_human": "true"}, ["handoff"]),
        ({"needs_human": "false"}, ["sellers", "mine", "qualified", "closed", "open_new"]),
        ({"assignee": "me"}, ["mine"]),
        ({"assignee": "none"}, ["qualified", "closed", "handoff", "open_new"]),
        ({"status": "open", "assignee": "none"}, ["qualified", "open_new"]),
    ],
)
def test_the_list_filters(
    admin: AdminStack,
    inbox: Inbox,
    listed: dict[str, str],
    params: dict[str, str],
    expected: list[str],
) -> None:
    answer = _list(admin, inbox, inbox.owner, **params)

    assert _names(listed, answer) == expected


def test_the_list_filters_by_channel(
    admin: AdminStack, inbox: Inbox, listed: dict[str, str]
) -> None:
    answer = _list(admin, inbox, inbox.owner, channel_id=inbox.meta)

    assert _names(listed, answer) == ["qualified"]
    assert all(c["channel_id"] == inbox.meta for c in answer["conversations"])


def test_a_summary_carries_what_the_list_shows(
    admin: AdminStack, inbox: Inbox, listed: dict[str, str]
) -> None:
    answer = _list(admin, inbox, inbox.owner, status="handoff")
    summary = next(c for c in answer["conversations"] if c["conversation_id"] == listed["handoff"])

    assert summary["needs_human"] is True
    assert summary["attention_reason"] == "handoff"
    assert summary["contact_name"] == "Maria Lead"
    assert summary["contact_phone"] == summary["contact_key"]
    assert summary["last_message"]["role"] == "lead"
    assert summary["last_message"]["text"] == "Oi, quanto custa?"


@pytest.mark.parametrize("who", ["owner", "seller"])
def test_pages_follow_next_cursor_newest_first_without_repeats(
    admin: AdminStack, inbox: Inbox, who: str
) -> None:
    user = inbox.owner if who == "owner" else inbox.seller
    # A fresh tenant of its own, so the whole list is known.
    tenant = admin.tenant(inbox.owner, "Paginas")
    admin.join(inbox.owner, tenant, admin.auth.sign_up("x", verified=True), "admin")
    if who == "seller":
        admin.api.post(
            f"/api/tenants/{tenant}/invites", inbox.owner, {"email": user.email, "role": "seller"}
        )
        admin.api.post(f"/api/tenants/{tenant}/invites/accept", user)
    start = datetime.now(UTC) - timedelta(days=1)
    expected = []
    for index in range(7):
        assignee = {"assignee_uid": user.uid} if index % 2 and who == "seller" else {}
        seeded = seed_conversation(
            admin.db, tenant, at=start + timedelta(minutes=index), **assignee
        )
        expected.insert(0, seeded.id)
    # Two with the same updated_at: the id breaks the tie.
    same = start + timedelta(hours=1)
    for _ in range(2):
        seeded = seed_conversation(admin.db, tenant, at=same - timedelta(seconds=1))
        expected.insert(0, seeded.id)
    expected[:2] = sorted(expected[:2], reverse=True)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        answer = admin.api.get(f"/api/tenants/{tenant}/conversations", user, params=params).json()
        assert len(answer["conversations"]) <= 2
        seen += [c["conversation_id"] for c in answer["conversations"]]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            break
        assert pages < 10

    assert seen == expected
    assert pages >= 5


# Detail and polling


def test_the_detail_has_messages_with_status_decisions_with_reasons_and_fields(
    admin: AdminStack, inbox: Inbox
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=20)
    speak = Decision(
        decision_id=f"d-speak-{uuid.uuid4().hex[:6]}",
        action=Action.SPEAK,
        reasons=["lead_replied"],  # type: ignore[list-item]
        messages=[OutboundMessage(text="Olá! Custa R$ 180.")],
        stage="qualifying",
        specialist="sdr",
        offline_model=True,
        decided_at=at + timedelta(seconds=5),
    )
    copilot = Decision(
        decision_id=f"d-copilot-{uuid.uuid4().hex[:6]}",
        action=Action.STAY_SILENT,
        reasons=["copilot_mode"],  # type: ignore[list-item]
        suggestions=["Posso agendar amanhã?", "Temos horário às 15h."],
        suggestion_states={"1": "dismissed"},
        decided_at=at + timedelta(seconds=30),
    )
    seeded = _seed(
        admin,
        inbox,
        at=at,
        decisions=[copilot, speak],
        fields={"nome": "Maria", "procedimento": "limpeza de pele"},
        summary="lead: quer saber preço",
        unanswered_count=1,
        followups_sent=2,
        followup_due_at=at + timedelta(days=1),
        stage="qualifying",
    )
    document = conversation_ref(admin.db, inbox.tenant_id, seeded.id)
    key = f"{speak.decision_id}:0"
    document.collection("messages").document("wamid.out-1").set(
        {
            "role": "agent",
            "author_uid": None,
            "provider": "evolution",
            "at": at + timedelta(seconds=10),
            "decision_id": speak.decision_id,
            "outbound_key": key,
            "content": {"text": "Olá! Custa R$ 180.", "template": None},
            "provider_message_id": "wamid.out-1",
        }
    )
    outbound_ledger_ref(admin.db, inbox.tenant_id, key).set(
        {"key": key, "conversation_id": seeded.id, "status": "delivered"}
    )

    answer = admin.api.get(f"{inbox.base}/{seeded.id}", inbox.owner)

    assert answer.status_code == 200
    detail = answer.json()
    conversation = detail["conversation"]
    assert conversation["fields"] == {"nome": "Maria", "procedimento": "limpeza de pele"}
    assert conversation["summary"] == "lead: quer saber preço"
    assert conversation["unanswered_count"] == 1
    assert conversation["followups_sent"] == 2
    assert conversation["followup_due_at"] is not None
    assert conversation["stage"] == "qualifying"
    assert [(m["role"], m["text"], m["status"]) for m in detail["messages"]] == [
        ("lead", "Oi, quanto custa?", None),
        ("agent", "Olá! Custa R$ 180.", "delivered"),
    ]
    assert [d["decision_id"] for d in detail["decisions"]] == [
        speak.decision_id,
        copilot.decision_id,
    ]
    first, second = detail["decisions"]
    assert first["action"] == "speak"
    assert first["reasons"] == ["lead_replied"]
    assert first["messages"] == [{"text": "Olá! Custa R$ 180.", "template": None}]
    assert (first["specialist"], first["stage"], first["offline_model"]) == (
        "sdr",
        "qualifying",
        True,
    )
    assert second["action"] == "stay_silent"
    assert second["reasons"] == ["copilot_mode"]
    assert second["suggestions"] == [
        {"index": 0, "text": "Posso agendar amanhã?", "state": "pending"},
        {"index": 1, "text": "Temos horário às 15h.", "state": "dismissed"},
    ]


def test_polling_gets_304_until_something_changes(admin: AdminStack, inbox: Inbox) -> None:
    seeded = _seed(admin, inbox)
    path = f"{inbox.base}/{seeded.id}"

    first = admin.api.get(path, inbox.owner)
    etag = first.headers["ETag"]
    unchanged = admin.api.get(path, inbox.owner, headers={"If-None-Match": etag})
    listed = admin.api.get(inbox.base, inbox.owner)
    list_unchanged = admin.api.get(
        inbox.base, inbox.owner, headers={"If-None-Match": listed.headers["ETag"]}
    )
    admin.api.post(f"{path}/takeover", inbox.owner)
    changed = admin.api.get(path, inbox.owner, headers={"If-None-Match": etag})
    list_changed = admin.api.get(
        inbox.base, inbox.owner, headers={"If-None-Match": listed.headers["ETag"]}
    )

    assert first.status_code == 200
    assert etag.startswith('"') and etag.endswith('"')
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["ETag"] == etag
    assert list_unchanged.status_code == 304
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()["conversation"]["taken_over_by"] == inbox.owner.uid
    assert list_changed.status_code == 200
    assert admin.api.get(path, inbox.seller, headers={"If-None-Match": etag}).status_code == 403


# Actions


def _agent_verdict(conversation: Conversation) -> Verdict:
    """Return what the engine's guards say about answering the lead now."""
    context = PolicyContext(
        conversation=conversation,
        contact=Contact(contact_key=conversation.contact_key),
        settings=AgentSettings(),
        now=datetime.now(UTC) + timedelta(days=1, seconds=-60),
    )
    return guard_sending(context, lead_replied=True, proactive=False)


def test_take_over_puts_a_human_in_charge_and_release_gives_it_back(
    admin: AdminStack, inbox: Inbox
) -> None:
    seeded = _seed(admin, inbox, status="handoff", needs_human=True)
    path = f"{inbox.base}/{seeded.id}"

    taken = admin.api.post(f"{path}/takeover", inbox.seller)

    assert taken.status_code == 200, taken.text
    assert taken.json()["taken_over_by"] == inbox.seller.uid
    assert taken.json()["assignee_uid"] == inbox.seller.uid
    stored = _stored(admin, inbox, seeded.id)
    assert stored.taken_over_by == inbox.seller.uid
    assert stored.assignee_email == inbox.seller.email
    assert stored.human_is_active(datetime.now(UTC) + timedelta(days=30))
    assert _agent_verdict(stored).reasons == (Reason.HUMAN_ACTIVE,)

    released = admin.api.post(f"{path}/release", inbox.seller)

    assert released.status_code == 200
    assert released.json()["taken_over_by"] is None
    assert released.json()["status"] == "open"
    assert released.json()["assignee_uid"] == inbox.seller.uid, "release keeps the assignee"
    stored = _stored(admin, inbox, seeded.id)
    assert stored.taken_over_by is None
    assert stored.human_active_until is None
    assert not stored.human_is_active(datetime.now(UTC))
    assert _agent_verdict(stored).action is None, "the agent may answer again"
    entries = [
        e for e in admin.audit(inbox.tenant_id) if e["target"] == f"conversations/{seeded.id}"
    ]
    assert [(e["action"], e["actor_uid"]) for e in entries] == [
        ("conversation.takeover", inbox.seller.uid),
        ("conversation.release", inbox.seller.uid),
    ]
    assert entries[0]["before"]["taken_over_by"] is None
    assert entries[0]["after"]["taken_over_by"] == inbox.seller.uid
    assert entries[1]["before"]["status"] == "handoff"
    assert entries[1]["after"]["status"] == "open"


def test_take_over_keeps_an_existing_assignee(admin: AdminStack, inbox: Inbox) -> None:
    seeded = _seed(admin, inbox, assignee_uid=inbox.seller.uid, assignee_email=inbox.seller.email)

    taken = admin.api.post(f"{inbox.base}/{seeded.id}/takeover", inbox.owner)

    assert taken.json()["taken_over_by"] == inbox.owner.uid
    assert taken.json()["assignee_uid"] == inbox.seller.uid


def test_close_with_a_reason_is_final(admin: AdminStack, inbox: Inbox) -> None:
    seeded = _seed(admin, inbox, followup_generation=3, pending_suggestions=2)
    path = f"{inbox.base}/{seeded.id}"

    closed = admin.api.post(f"{path}/close", inbox.owner, {"reason": "won", "note": "Fechou!"})

    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["close_reason"] == "won"
    assert closed.json()["pending_suggestions"] == 0
    stored = _stored(admin, inbox, seeded.id)
    assert stored.status == "closed"
    assert stored.followup_generation == 4
    assert stored.followup_due_at is None
    audit = admin.audit(inbox.tenant_id)[-1]
    assert audit["action"] == "conversation.close"
    assert audit["after"]["close_reason"] == "won"
    before = admin.tenant_state(inbox.tenant_id)
    for action, body in (
        ("close", {"reason": "lost"}),
        ("takeover", None),
        ("release", None),
        ("messages", {"text": "Oi?"}),
    ):
        again = admin.api.post(f"{path}/{action}", inbox.owner, body)
        assert again.status_code == 409, f"{action}: {again.text}"
        assert again.json()["error"]["code"] == "conflict"
    assert admin.tenant_state(inbox.tenant_id) == before
    assert admin.published(inbox.tenant_id) == []


def test_the_mode_of_one_conversation_changes(admin: AdminStack, inbox: Inbox) -> None:
    seeded = _seed(admin, inbox)

    answer = admin.api.post(f"{inbox.base}/{seeded.id}/mode", inbox.owner, {"mode": "copilot"})

    assert answer.json()["mode"] == "copilot"
    assert _stored(admin, inbox, seeded.id).mode == "copilot"


def test_a_seller_message_is_queued_once_and_takes_the_conversation_over(
    admin: AdminStack, inbox: Inbox
) -> None:
    seeded = _seed(admin, inbox)
    path = f"{inbox.base}/{seeded.id}"
    text = "Oi Maria, aqui é a Ana da recepção 😊"
    sent_at = datetime.now(UTC)

    answer = admin.api.post(f"{path}/messages", inbox.seller, {"text": text})

    assert answer.status_code == 202, answer.text
    message = answer.json()["message"]
    assert message["role"] == "seller"
    assert message["text"] == text
    assert message["status"] == "queued"
    assert message["author_email"] == inbox.seller.email
    published = admin.published(inbox.tenant_id, expect=1)
    assert len(published) == 1
    job = published[0].job
    assert job.message.sent_by == inbox.seller.uid
    assert job.message.text == text
    assert job.key == message["message_id"]
    assert (job.conversation_id, job.channel_id, job.contact_key) == (
        seeded.id,
        inbox.evolution,
        seeded.conversation.contact_key,
    )
    assert published[0].ordering_key == f"{inbox.tenant_id}:{seeded.id}"
    stored = _stored(admin, inbox, seeded.id)
    assert stored.window[-1].role == "seller"
    assert stored.window[-1].text == text
    assert stored.window[-1].message_id == job.key
    assert stored.taken_over_by == inbox.seller.uid
    assert stored.assignee_uid == inbox.seller.uid
    assert stored.outbound_count == 1
    assert stored.human_active_until is not None
    expected_until = sent_at + timedelta(minutes=45)
    assert abs((stored.human_active_until - expected_until).total_seconds()) < 30
    detail = admin.api.get(path, inbox.seller).json()
    last = detail["messages"][-1]
    assert (last["message_id"], last["role"], last["text"]) == (job.key, "seller", text)
    assert last["status"] == "queued"
    assert last["author_email"] == inbox.seller.email
    assert detail["conversation"]["last_message"]["role"] == "seller"
    audit = admin.audit(inbox.tenant_id)[-1]
    assert (audit["action"], audit["actor_uid"], audit["target"]) == (
        "message.send",
        inbox.seller.uid,
        f"conversations/{seeded.id}/messages/{job.key}",
    )


def test_no_message_goes_to_an_opted_out_contact(admin: AdminStack, inbox: Inbox) -> None:
    key = f"+55119{uuid.uuid4().int % 10**8:08d}"
    seeded = _seed(
        admin,
        inbox,
        contact_key=key,
        contact_opted_out=True,
        contact=Contact(contact_key=key, phone=key, opted_out=True),
    )
    before = admin.tenant_state(inbox.tenant_id)

    answer = admin.api.post(f"{inbox.base}/{seeded.id}/messages", inbox.owner, {"text": "Oi"})

    assert answer.status_code == 409
    assert admin.tenant_state(inbox.tenant_id) == before
    assert admin.published(inbox.tenant_id) == []


def test_no_free_text_outside_whatsapps_24_hour_window(admin: AdminStack, inbox: Inbox) -> None:
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    seeded = _seed(admin, inbox, channel_id=inbox.meta, at=two_days_ago)
    inside = _seed(admin, inbox, channel_id=inbox.meta)
    before = admin.tenant_state(inbox.tenant_id)

    refused = admin.api.post(f"{inbox.base}/{seeded.id}/messages", inbox.owner, {"text": "Oi"})

    assert refused.status_code == 409
    assert "24-hour" in refused.json()["error"]["message"]
    assert admin.tenant_state(inbox.tenant_id) == before
    sent = admin.api.post(f"{inbox.base}/{inside.id}/messages", inbox.owner, {"text": "Oi"})
    assert sent.status_code == 202
    published = admin.published(inbox.tenant_id, expect=1)
    assert [p.job.conversation_id for p in published] == [inside.id]


# The copilot's suggestions


def _copilot(admin: AdminStack, inbox: Inbox) -> tuple[SeededConversation, Decision]:
    decision = Decision(
        decision_id=f"d-{uuid.uuid4().hex[:10]}",
        action=Action.STAY_SILENT,
        reasons=["copilot_mode"],  # type: ignore[list-item]
        suggestions=["Custa R$ 180.", "Quer agendar?", "Temos horário amanhã."],
        decided_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    seeded = _seed(
        admin,
        inbox,
        mode="copilot",
        decisions=[decision],
        pending_suggestions=3,
        suggestions_decision_id=decision.decision_id,
        suggestions_offered=3,
    )
    return seeded, decision


def _states(admin: AdminStack, inbox: Inbox, conversation_id: str) -> list[str]:
    detail = admin.api.get(f"{inbox.base}/{conversation_id}", inbox.owner).json()
    return [s["state"] for s in detail["decisions"][-1]["suggestions"]]


def test_suggestions_are_accepted_edited_or_dismissed_once(admin: AdminStack, inbox: Inbox) -> None:
    seeded, decision = _copilot(admin, inbox)
    path = f"{inbox.base}/{seeded.id}/suggestions"
    ids = {"decision_id": decision.decision_id}

    accepted = admin.api.post(f"{path}/accept", inbox.seller, {**ids, "index": 0})

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["message"]["text"] == "Custa R$ 180."
    published = admin.published(inbox.tenant_id, expect=1)
    assert [(p.job.message.text, p.job.message.sent_by) for p in published] == [
        ("Custa R$ 180.", inbox.seller.uid)
    ]
    stored = _stored(admin, inbox, seeded.id)
    assert (stored.suggestions_accepted, stored.pending_suggestions) == (1, 2)
    assert _states(admin, inbox, seeded.id) == ["accepted", "pending", "pending"]

    edited = admin.api.post(
        f"{path}/accept", inbox.seller, {**ids, "index": 1, "text": "Quer agendar para amanhã?"}
    )

    assert edited.status_code == 202
    published = admin.published(inbox.tenant_id, expect=1)
    assert [p.job.message.text for p in published] == ["Quer agendar para amanhã?"]
    stored = _stored(admin, inbox, seeded.id)
    assert (stored.suggestions_accepted, stored.pending_suggestions) == (2, 1)
    assert _states(admin, inbox, seeded.id) == ["accepted", "edited", "pending"]

    dismissed = admin.api.post(f"{path}/dismiss", inbox.seller, {**ids, "index": 2})

    assert dismissed.status_code == 200
    assert dismissed.json() == {**ids, "index": 2, "state": "dismissed"}
    stored = _stored(admin, inbox, seeded.id)
    assert (stored.suggestions_accepted, stored.pending_suggestions) == (2, 0)
    assert _states(admin, inbox, seeded.id) == ["accepted", "edited", "dismissed"]

    before = admin.tenant_state(inbox.tenant_id)
    for action, index in (("accept", 0), ("dismiss", 0), ("accept", 2), ("dismiss", 1)):
        again = admin.api.post(f"{path}/{action}", inbox.seller, {**ids, "index": index})
        assert again.status_code == 409, f"{action} {index}: {again.text}"
    for body, field in (
        ({**ids, "index": 5}, "index"),
        ({"decision_id": "d-unknown", "index": 0}, "decision_id"),
        ({**ids, "index": -1}, "index"),
    ):
        bad = admin.api.post(f"{path}/accept", inbox.seller, body)
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["field"] == field
    assert admin.tenant_state(inbox.tenant_id) == before
    assert admin.published(inbox.tenant_id) == []
    actions = [e["action"] for e in admin.audit(inbox.tenant_id)[-3:]]
    assert actions == ["suggestion.accept", "suggestion.accept", "suggestion.dismiss"]
    assert admin.audit(inbox.tenant_id)[-2]["after"] == {"state": "edited"}


def test_accepting_with_the_same_text_is_accepted_not_edited(
    admin: AdminStack, inbox: Inbox
) -> None:
    seeded, decision = _copilot(admin, inbox)

    answer = admin.api.post(
        f"{inbox.base}/{seeded.id}/suggestions/accept",
        inbox.owner,
        {"decision_id": decision.decision_id, "index": 1, "text": "Quer agendar?"},
    )

    assert answer.status_code == 202
    assert _states(admin, inbox, seeded.id) == ["pending", "accepted", "pending"]
    assert len(admin.published(inbox.tenant_id, expect=1)) == 1


def test_a_suggestion_of_an_older_decision_can_still_be_used(
    admin: AdminStack, inbox: Inbox
) -> None:
    seeded, latest = _copilot(admin, inbox)
    older = Decision(
        decision_id=f"d-older-{uuid.uuid4().hex[:6]}",
        action=Action.STAY_SILENT,
        reasons=["copilot_mode"],  # type: ignore[list-item]
        suggestions=["Bom dia!", "Como posso ajudar?"],
        decided_at=latest.decided_at - timedelta(hours=1),
    )
    conversation_ref(admin.db, inbox.tenant_id, seeded.id).collection("decisions").document(
        older.decision_id
    ).set(older.model_dump(mode="python"))
    path = f"{inbox.base}/{seeded.id}/suggestions"

    dismissed = admin.api.post(
        f"{path}/dismiss", inbox.seller, {"decision_id": older.decision_id, "index": 0}
    )
    accepted = admin.api.post(
        f"{path}/accept", inbox.seller, {"decision_id": older.decision_id, "index": 1}
    )

    assert dismissed.status_code == 200, dismissed.text
    assert accepted.status_code == 202, accepted.text
    stored = _stored(admin, inbox, seeded.id)
    assert stored.pending_suggestions == 3, "the latest decision's suggestions are still pending"
    assert stored.suggestions_accepted == 1
    detail = admin.api.get(f"{inbox.base}/{seeded.id}", inbox.owner).json()
    assert [s["state"] for s in detail["decisions"][0]["suggestions"]] == ["dismissed", "accepted"]
    assert [p.job.message.text for p in admin.published(inbox.tenant_id, expect=1)] == [
        "Como posso ajudar?"
    ]


def test_concurrent_accepts_of_one_suggestion_send_it_once(admin: AdminStack, inbox: Inbox) -> None:
    seeded, decision = _copilot(admin, inbox)
    path = f"{inbox.base}/{seeded.id}/suggestions/accept"
    body = {"decision_id": decision.decision_id, "index": 0}

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(
            pool.map(lambda _: admin.api.post(path, inbox.seller, body).status_code, range(4))
        )

    assert statuses == [202, 409, 409, 409]
    assert len(admin.published(inbox.tenant_id, expect=1, settle=1.0)) == 1
    stored = _stored(admin, inbox, seeded.id)
    assert (stored.suggestions_accepted, stored.pending_suggestions) == (1, 2)
    assert [m.role for m in stored.window].count("seller") == 1


def test_concurrent_closes_close_once(admin: AdminStack, inbox: Inbox) -> None:
    seeded = _seed(admin, inbox, followup_generation=1)
    path = f"{inbox.base}/{seeded.id}/close"

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(
            pool.map(
                lambda _: admin.api.post(path, inbox.owner, {"reason": "lost"}).status_code,
                range(4),
            )
        )

    assert statuses == [200, 409, 409, 409]
    assert _stored(admin, inbox, seeded.id).followup_generation == 2
    closes = [
        e
        for e in admin.audit(inbox.tenant_id)
        if e["target"] == f"conversations/{seeded.id}" and e["action"] == "conversation.close"
    ]
    assert len(closes) == 1
