"""Learning from handoffs and copilot per intent, through the admin API over real HTTP.

A knowledge gap's proposal takes the seller's answer from the inbox composer; an admin approves
it (as edited) into a learned knowledge entry, or rejects it. Sellers' use of suggestions is
counted per intent, and only the owner switches an eligible intent to pilot.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.copilot import daily_ref
from shared.knowledge.embeddings import OfflineEmbedder
from shared.knowledge.proposals import KnowledgeProposal, proposal_ref
from shared.knowledge.store import get_entry, retrieve
from shared.models.decision import Action, Decision
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import SeededConversation, User, seed_conversation
from tests.integration.admin.test_validation import VALID_CHANNELS


class Team:
    def __init__(self, admin: AdminStack) -> None:
        self.owner = admin.auth.sign_up("owner", verified=True)
        self.tenant_id = admin.tenant(self.owner)
        self.manager = admin.auth.sign_up("admin", verified=True)
        self.seller = admin.auth.sign_up("seller", verified=True)
        admin.join(self.owner, self.tenant_id, self.manager, "admin")
        admin.join(self.owner, self.tenant_id, self.seller, "seller")
        answer = admin.api.post(
            f"/api/tenants/{self.tenant_id}/channels",
            self.owner,
            {"provider": "evolution", **VALID_CHANNELS["evolution"]},
        )
        assert answer.status_code == 201, answer.text
        self.channel_id = answer.json()["channel_id"]
        self.base = f"/api/tenants/{self.tenant_id}"


@pytest.fixture(scope="module")
def team(admin: AdminStack) -> Team:
    return Team(admin)


def _gap(admin: AdminStack, team: Team, question: str) -> SeededConversation:
    """Store a conversation handed off for a knowledge gap, with its open proposal."""
    decision_id = f"d-gap-{uuid.uuid4().hex[:8]}"
    seeded = seed_conversation(
        admin.db,
        team.tenant_id,
        channel_id=team.channel_id,
        lead_texts=(question,),
        status="handoff",
        open_question_id=decision_id,
    )
    proposal = KnowledgeProposal(
        proposal_id=decision_id,
        conversation_id=seeded.id,
        decision_id=decision_id,
        question=question,
        created_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    proposal_ref(admin.db, team.tenant_id, decision_id).set(proposal.model_dump(mode="python"))
    return seeded


def _proposal(admin: AdminStack, team: Team, proposal_id: str) -> dict[str, Any]:
    return dict(proposal_ref(admin.db, team.tenant_id, proposal_id).get().to_dict() or {})


def test_the_sellers_answer_is_proposed_and_approval_makes_a_learned_entry(
    admin: AdminStack, team: Team
) -> None:
    seeded = _gap(admin, team, "Vocês aceitam convênio Amil?")
    proposal_id = seeded.conversation.open_question_id
    listed = admin.api.get(
        f"{team.base}/knowledge/proposals", team.seller, params={"status": "open"}
    )
    assert listed.status_code == 200, listed.text
    assert [p["proposal_id"] for p in listed.json()["proposals"]] == [proposal_id]

    for text in ("Oi! Aceitamos Amil sim.", "No plano Amil 400 e superiores."):
        sent = admin.api.post(
            f"{team.base}/conversations/{seeded.id}/messages", team.seller, {"text": text}
        )
        assert sent.status_code == 202, sent.text
    admin.published(team.tenant_id, expect=2)
    stored = _proposal(admin, team, str(proposal_id))
    assert stored["status"] == "proposed"
    assert stored["answer"] == "Oi! Aceitamos Amil sim.\nNo plano Amil 400 e superiores."
    assert stored["answered_by_email"] == team.seller.email

    path = f"{team.base}/knowledge/proposals/{proposal_id}"
    refused = admin.api.post(f"{path}/approve", team.seller, {})
    assert refused.status_code == 403
    answer = "Aceitamos o convênio Amil nos planos Amil 400 e superiores."
    approved = admin.api.post(f"{path}/approve", team.manager, {"answer": answer})

    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["proposal"]["status"] == "approved"
    assert body["proposal"]["entry_id"] == body["entry"]["entry_id"]
    assert (body["entry"]["kind"], body["entry"]["source"]) == ("qa", "learned")
    assert body["entry"]["answer"] == answer
    entry = get_entry(admin.db, team.tenant_id, body["entry"]["entry_id"])
    assert entry is not None and entry.chunk_count >= 1
    found = retrieve(admin.db, team.tenant_id, ["o convênio da amil é aceito?"], OfflineEmbedder())
    assert [snippet.entry_id for snippet in found][:1] == [entry.entry_id]
    stored = _proposal(admin, team, str(proposal_id))
    assert (stored["status"], stored["reviewed_by_email"]) == ("approved", team.manager.email)
    assert stored["answer"] == answer  # the edited answer is what was approved
    audit = admin.audit(team.tenant_id)[-1]
    assert audit["action"] == "knowledge.proposal.approve"
    assert audit["after"]["edited"] == ["answer"]

    before = admin.tenant_state(team.tenant_id)
    for action in ("approve", "reject"):
        again = admin.api.post(f"{path}/{action}", team.owner, {})
        assert again.status_code == 409, again.text
    sent = admin.api.post(
        f"{team.base}/conversations/{seeded.id}/messages", team.seller, {"text": "Mais algo?"}
    )
    assert sent.status_code == 202
    admin.published(team.tenant_id, expect=1)
    after = admin.tenant_state(team.tenant_id)
    proposal_path = f"tenants/{team.tenant_id}/knowledge_proposals/{proposal_id}"
    assert after[proposal_path] == before[proposal_path], "a reviewed proposal takes no answer"


def test_an_unanswered_proposal_needs_an_answer_to_approve_and_can_be_rejected(
    admin: AdminStack, team: Team
) -> None:
    first = _gap(admin, team, "Tem estacionamento?")
    second = _gap(admin, team, "Vocês parcelam em 12 vezes?")
    base = f"{team.base}/knowledge/proposals"

    before = admin.tenant_state(team.tenant_id)
    missing = admin.api.post(
        f"{base}/{first.conversation.open_question_id}/approve", team.owner, {}
    )
    assert missing.status_code == 422, missing.text
    assert missing.json()["error"]["field"] == "answer"
    for body in ({"answer": ""}, {"question": "x"}, {"extra": 1}, {"title": "t" * 201}):
        bad = admin.api.post(
            f"{base}/{first.conversation.open_question_id}/approve", team.owner, body
        )
        assert bad.status_code == 422, (body, bad.text)
    unknown = admin.api.post(f"{base}/no-such-proposal/approve", team.owner, {"answer": "Sim"})
    assert unknown.status_code == 404
    assert admin.tenant_state(team.tenant_id) == before

    approved = admin.api.post(
        f"{base}/{first.conversation.open_question_id}/approve",
        team.owner,
        {"answer": "Sim, estacionamento gratuito no subsolo.", "title": "Estacionamento"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["entry"]["title"] == "Estacionamento"
    rejected = admin.api.post(
        f"{base}/{second.conversation.open_question_id}/reject", team.owner, {}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert (
        get_entry(admin.db, team.tenant_id, f"learned-{second.conversation.open_question_id}")
        is None
    )

    by_status = {
        status: [p["proposal_id"] for p in admin.api.get(
            base, team.owner, params={"status": status}
        ).json()["proposals"]]
        for status in ("approved", "rejected")
    }  # fmt: skip
    assert first.conversation.open_question_id in by_status["approved"]
    assert by_status["rejected"] == [second.conversation.open_question_id]
    actions = [entry["action"] for entry in admin.audit(team.tenant_id)[-2:]]
    assert actions == ["knowledge.proposal.approve", "knowledge.proposal.reject"]


def _copilot(admin: AdminStack, team: Team, intent: str) -> tuple[SeededConversation, Decision]:
    decision = Decision(
        decision_id=f"d-{uuid.uuid4().hex[:10]}",
        action=Action.STAY_SILENT,
        reasons=["copilot_mode"],  # type: ignore[list-item]
        suggestions=["A limpeza custa R$ 180.", "Quer agendar?"],
        specialist=intent,
        decided_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    seeded = seed_conversation(
        admin.db,
        team.tenant_id,
        channel_id=team.channel_id,
        mode="copilot",
        decisions=[decision],
        pending_suggestions=2,
        suggestions_decision_id=decision.decision_id,
        suggestions_intent=intent,
    )
    return seeded, decision


def _intents(admin: AdminStack, team: Team, user: User) -> dict[str, dict[str, Any]]:
    answer = admin.api.get(f"{team.base}/copilot/intents", user, params={"days": "7"})
    assert answer.status_code == 200, answer.text
    return {item["intent"]: item for item in answer.json()["intents"]}


def test_what_sellers_do_with_suggestions_is_counted_per_intent(
    admin: AdminStack, team: Team
) -> None:
    accepted, decision = _copilot(admin, team, "sell")
    path = f"{team.base}/conversations/{accepted.id}/suggestions"
    ids = {"decision_id": decision.decision_id}
    assert admin.api.post(f"{path}/accept", team.seller, {**ids, "index": 0}).status_code == 202
    edited = admin.api.post(
        f"{path}/accept", team.seller, {**ids, "index": 1, "text": "Quer agendar para amanhã?"}
    )
    assert edited.status_code == 202, edited.text
    dismissed, decision = _copilot(admin, team, "sell")
    dismiss = admin.api.post(
        f"{team.base}/conversations/{dismissed.id}/suggestions/dismiss",
        team.seller,
        {"decision_id": decision.decision_id, "index": 0},
    )
    assert dismiss.status_code == 200, dismiss.text
    ignored, _ = _copilot(admin, team, "schedule")
    own = admin.api.post(
        f"{team.base}/conversations/{ignored.id}/messages", team.seller, {"text": "Oi! Tudo bem?"}
    )
    assert own.status_code == 202
    admin.published(team.tenant_id, expect=3)

    figures = _intents(admin, team, team.seller)

    sell = figures["sell"]
    assert (sell["accepted"], sell["edited"], sell["dismissed"], sell["ignored"]) == (1, 1, 1, 0)
    assert 0.6 < sell["mean_similarity"] < 1.0
    assert sell["acceptance_rate"] == pytest.approx((1 + sell["mean_similarity"]) / 3, abs=1e-3)
    assert (figures["schedule"]["ignored"], figures["schedule"]["acceptance_rate"]) == (2, 0.0)
    assert figures["qualify"]["acceptance_rate"] is None
    # the tenant is in pilot mode (only some conversations are copilot): nothing to propose
    assert {item["mode"] for item in figures.values()} == {"pilot"}
    assert not any(item["eligible"] for item in figures.values())
    stored = (
        admin.db.document(f"tenants/{team.tenant_id}/conversations/{ignored.id}").get().to_dict()
    )
    assert stored["pending_suggestions"] == 0


def test_only_the_owner_switches_an_eligible_intent_to_pilot(admin: AdminStack) -> None:
    team = Team(admin)
    settings = admin.api.get(f"{team.base}/agent", team.owner).json()
    saved = admin.api.put(
        f"{team.base}/agent",
        team.owner,
        {**settings, "mode": "copilot", "copilot_promotion": {"threshold": 0.8, "min_samples": 10}},
    )
    assert saved.status_code == 200, saved.text
    today = datetime.now(UTC).date()
    daily_ref(admin.db, team.tenant_id, today).set(
        {
            "qualify": {
                "offered": 12,
                "accepted": 9,
                "edited": 2,
                "similarity_sum": 1.9,
                "ignored": 1,
            }
        }
    )
    daily_ref(admin.db, team.tenant_id, today - timedelta(days=40)).set(
        {"sell": {"offered": 50, "accepted": 50}}  # outside the period
    )

    figures = _intents(admin, team, team.owner)
    assert figures["qualify"]["eligible"] is True
    assert figures["qualify"]["acceptance_rate"] == pytest.approx((9 + 1.9) / 12, abs=1e-3)
    assert figures["sell"]["offered"] == 0

    path = f"{team.base}/copilot/intents/qualify"
    before = admin.tenant_state(team.tenant_id)
    for user in (team.seller, team.manager):
        assert admin.api.put(path, user, {"mode": "pilot"}).status_code == 403
    for body in ({"mode": "auto"}, {}, {"mode": "pilot", "extra": True}):
        assert admin.api.put(path, team.owner, body).status_code == 422
    assert (
        admin.api.put(
            f"{team.base}/copilot/intents/unknown", team.owner, {"mode": "pilot"}
        ).status_code
        == 404
    )
    assert admin.tenant_state(team.tenant_id) == before

    switched = admin.api.put(path, team.owner, {"mode": "pilot"})
    assert switched.status_code == 200, switched.text
    assert (switched.json()["mode"], switched.json()["eligible"]) == ("pilot", False)
    agent = admin.api.get(f"{team.base}/agent", team.owner).json()
    assert agent["pilot_intents"] == ["qualify"]
    assert agent["copilot_promotion"]["min_samples"] == 10
    audit = admin.audit(team.tenant_id)[-1]
    assert (audit["action"], audit["after"]) == (
        "agent.intent_mode",
        {"pilot_intents": ["qualify"]},
    )

    back = admin.api.put(path, team.owner, {"mode": "copilot"})
    assert back.json()["mode"] == "copilot"
    assert admin.api.get(f"{team.base}/agent", team.owner).json()["pilot_intents"] == []
