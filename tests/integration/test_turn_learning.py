"""Turns on the Firestore emulator: a knowledge gap opens a proposal, retrieved knowledge answers
with its source, copilot suggestions are counted per intent, and a promoted intent is answered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.copilot import daily_ref, intent_stats
from shared.events.tasks import TurnRequest
from shared.intake import IntakeRules, take_in
from shared.knowledge.embeddings import OfflineEmbedder
from shared.knowledge.models import KnowledgeEntry, qa_content
from shared.knowledge.proposals import proposal_ref
from shared.knowledge.store import retrieve, save_entry
from shared.models.conversation import Contact, Conversation
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.models.events import ContactRef, MessageContent, MessageType, SellerMessage
from shared.models.tenant import AgentSettings
from shared.policy import PolicyContext, at_send
from shared.store.conversations import conversation_ref
from shared.turns import TurnRunner
from tests.support.events import lead_message

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 13:00 in São Paulo
RULES = IntakeRules(max_event_age=timedelta(hours=6), human_takeover=timedelta(minutes=30))
FACTS = {"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"}


class World:
    """A tenant on the emulator with knowledge retrieval, a clock, and what was delivered."""

    def __init__(self, client: Any, settings: AgentSettings) -> None:
        self.client = client
        self.tenant = f"t-{uuid.uuid4().hex[:8]}"
        self.settings = settings
        self.now = NOW
        self.delivered: list[Decision] = []
        self.embedder = OfflineEmbedder()
        self.runner = TurnRunner(
            firestore=client,
            decide=graph_decider(
                OfflineChatModel(),
                lambda tenant: "America/Sao_Paulo",
                lambda tenant, texts: retrieve(client, tenant, texts, self.embedder),
            ),
            load_settings=lambda tenant: (self.settings, "America/Sao_Paulo"),
            deliver=lambda conversation, decision: self.delivered.append(decision),
            now=lambda: self.now,
        )
        self.sequence = 0
        self.phone = f"+55119{uuid.uuid4().int % 10**8:08d}"

    def turn(self, text: str) -> Decision:
        """Take in a lead message and run its turn five seconds later."""
        self.sequence += 1
        event = lead_message(
            self.tenant, f"wamid.{self.tenant}.{self.sequence}", text, self.now, phone=self.phone
        )
        outcome = take_in(
            self.client, event, now=self.now, rules=RULES.__class__(**{
                **RULES.__dict__, "mode": self.settings.mode,
            })
        )  # fmt: skip
        assert outcome.conversation_id and outcome.inbound_seq
        self.conversation_id = outcome.conversation_id
        self.now += timedelta(seconds=5)
        result = self.runner.run(
            TurnRequest(self.tenant, outcome.conversation_id, outcome.inbound_seq)
        )
        assert result.decision is not None
        return result.decision

    def conversation(self) -> Conversation:
        snapshot = conversation_ref(self.client, self.tenant, self.conversation_id).get()
        return Conversation.model_validate(snapshot.to_dict())

    def learn(self, entry_id: str, question: str, answer: str) -> None:
        save_entry(
            self.client,
            self.tenant,
            KnowledgeEntry(
                entry_id=entry_id,
                kind="qa",
                title=question,
                question=question,
                answer=answer,
                content=qa_content(question, answer),
                created_at=self.now,
                updated_at=self.now,
            ),
            self.embedder,
        )


@pytest.fixture
def client(local_stack: LocalStack) -> Any:
    return firestore.Client(project=local_stack.project_id)


def test_a_question_no_source_answers_hands_off_and_opens_a_proposal(client: Any) -> None:
    world = World(client, AgentSettings(business_facts=FACTS))

    decision = world.turn("Vocês aceitam convênio Amil?")

    assert decision.action is Action.HANDOFF
    assert Reason.KNOWLEDGE_GAP in decision.reasons
    assert decision.open_question == "Vocês aceitam convênio Amil?"
    proposal = proposal_ref(client, world.tenant, decision.decision_id).get().to_dict()
    assert proposal["status"] == "open"
    assert proposal["question"] == "Vocês aceitam convênio Amil?"
    assert proposal["conversation_id"] == world.conversation_id
    assert world.conversation().open_question_id == decision.decision_id


def test_retrieved_knowledge_answers_a_paraphrase_and_the_decision_cites_it(client: Any) -> None:
    world = World(client, AgentSettings(business_facts=FACTS))
    world.learn(
        "convenios", "Vocês aceitam convênio Amil?", "Sim, aceitamos Amil e Bradesco Saúde."
    )

    decision = world.turn("o convênio da amil é aceito?")

    assert decision.action is Action.SPEAK, decision.reasons
    assert "aceitamos Amil e Bradesco Saúde" in (decision.messages[0].text or "")
    assert [ref.entry_id for ref in decision.knowledge_used] == ["convenios"]
    assert decision.open_question is None
    stored = (
        conversation_ref(client, world.tenant, world.conversation_id)
        .collection("decisions")
        .document(decision.decision_id)
        .get()
        .to_dict()
    )
    assert stored["knowledge_used"] == [
        {"entry_id": "convenios", "title": "Vocês aceitam convênio Amil?"}
    ]
    assert list(client.collection("tenants").document(world.tenant)
                .collection("knowledge_proposals").stream()) == []  # fmt: skip


def test_copilot_suggestions_are_counted_offered_then_ignored_when_replaced(client: Any) -> None:
    world = World(client, AgentSettings(business_facts=FACTS, mode="copilot"))

    first = world.turn("Quanto custa a limpeza de pele?")
    second = world.turn("Oi, boa tarde")

    assert first.suggestions and first.messages == []
    assert (first.specialist, first.suggestions_intent) == ("restraint", "sell")
    assert second.suggestions
    day = daily_ref(client, world.tenant, world.now.date()).get().to_dict()
    assert day["sell"] == {"offered": len(first.suggestions), "ignored": len(first.suggestions)}
    assert day["qualify"] == {"offered": len(second.suggestions)}
    conversation = world.conversation()
    assert conversation.suggestions_intent == "qualify"
    assert conversation.pending_suggestions == len(second.suggestions)
    stats = {s.intent: s for s in intent_stats(
        client, world.tenant, world.settings, today=world.now.date(), days=7
    )}  # fmt: skip
    assert (stats["sell"].ignored, stats["sell"].acceptance_rate) == (1, 0.0)
    assert stats["qualify"].acceptance_rate is None  # nothing resolved yet


def test_a_promoted_intent_is_answered_in_a_copilot_tenant_and_passes_the_send_check(
    client: Any,
) -> None:
    world = World(
        client, AgentSettings(business_facts=FACTS, mode="copilot", pilot_intents=["sell"])
    )

    answered = world.turn("Quanto custa a limpeza de pele?")
    greeted = world.turn("Oi, boa tarde")

    assert answered.action is Action.SPEAK
    assert Reason.PILOT_INTENT in answered.reasons
    assert [m.pilot_intent for m in answered.messages] == ["sell"]
    assert "180" in (answered.messages[0].text or "")
    assert greeted.messages == [] and greeted.suggestions
    assert [d.decision_id for d in world.delivered] == [answered.decision_id]

    message = answered.messages[0]
    context = PolicyContext(
        conversation=world.conversation(),
        contact=Contact(contact_key=world.phone),
        settings=world.settings,
        now=world.now,
    )
    assert at_send(context, message).action is None
    demoted = world.settings.model_copy(update={"pilot_intents": []})
    held = at_send(PolicyContext(**{**context.__dict__, "settings": demoted}), message)
    assert held.action is Action.STAY_SILENT
    assert Reason.COPILOT_MODE in held.reasons
    agent_message = OutboundMessage(text="Oi!")
    assert at_send(context, agent_message).action is Action.STAY_SILENT


def test_a_promoted_intent_still_obeys_a_seller_in_charge(client: Any) -> None:
    world = World(
        client, AgentSettings(business_facts=FACTS, mode="copilot", pilot_intents=["sell"])
    )
    world.turn("Oi")
    conversation_ref(client, world.tenant, world.conversation_id).update(
        {"human_active_until": world.now + timedelta(hours=1)}
    )

    decision = world.turn("Quanto custa a limpeza de pele?")

    assert decision.messages == []
    assert Reason.HUMAN_ACTIVE in decision.reasons
    assert decision.suggestions


def test_a_seller_answering_from_the_business_phone_proposes_the_answer(client: Any) -> None:
    world = World(client, AgentSettings(business_facts=FACTS))
    gap = world.turn("Vocês aceitam convênio Amil?")
    world.now += timedelta(minutes=3)
    seller = SellerMessage(
        event_id=f"evolution:seller_message:{world.tenant}-s1",
        provider="evolution",
        tenant_id=world.tenant,
        channel_id="ch-meta",
        occurred_at=world.now,
        received_at=world.now,
        message_id=f"{world.tenant}-s1",
        contact=ContactRef(phone=world.phone),
        content=MessageContent(message_type=MessageType.TEXT, text="Aceitamos Amil, sim!"),
    )

    outcome = take_in(client, seller, now=world.now, rules=RULES)

    assert outcome.status == "recorded"
    proposal = proposal_ref(client, world.tenant, gap.decision_id).get().to_dict()
    assert (proposal["status"], proposal["answer"]) == ("proposed", "Aceitamos Amil, sim!")
    assert proposal["answered_by_email"] is None  # from the phone, not the console
    assert proposal["answered_at"] == world.now


@pytest.mark.parametrize("voice_replies", [True, False])
def test_a_reply_to_a_voice_note_is_marked_voice_when_the_tenant_wants_it(
    client: Any, voice_replies: bool
) -> None:
    world = World(client, AgentSettings(business_facts=FACTS, voice_replies=voice_replies))
    event = lead_message(
        world.tenant, f"wamid.{world.tenant}.v", "Quanto custa a limpeza de pele?", world.now,
        phone=world.phone,
    )  # fmt: skip
    outcome = take_in(client, event, now=world.now, rules=RULES)
    assert outcome.conversation_id and outcome.inbound_seq
    document = conversation_ref(client, world.tenant, outcome.conversation_id)
    window = document.get().to_dict()["window"]
    window[-1]["media"] = {"kind": "audio", "status": "understood"}  # as media intake leaves it
    document.update({"window": window})
    world.now += timedelta(seconds=5)

    result = world.runner.run(
        TurnRequest(world.tenant, outcome.conversation_id, outcome.inbound_seq)
    )

    assert result.decision is not None and result.decision.messages
    assert [m.voice for m in result.decision.messages] == [voice_replies]
