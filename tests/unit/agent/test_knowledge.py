"""The turn answers from retrieved knowledge and cites it, and never answers a business question
without a source: prices, payment, deadlines, guarantees and policies then hand off."""

from __future__ import annotations

from typing import Any

import pytest

from shared.agent.graph import decide_turn, graph_decider
from shared.agent.prompts import build_prompt, read_section
from shared.agent.sources import asks_about_business_terms
from shared.knowledge.models import KnowledgeSnippet
from shared.models.decision import Action, KnowledgeRef, Reason
from tests.unit.agent import NOW, make_context, make_conversation, make_settings
from tests.unit.agent.test_graph import scripted

CONVENIO = KnowledgeSnippet(
    entry_id="convenios",
    chunk_id="convenios-0",
    kind="qa",
    title="Convênios aceitos",
    text="Pergunta: Vocês aceitam convênio?\nResposta: Aceitamos Unimed e Bradesco Saúde. "
    "Outros planos com reembolso.",
    score=0.71,
)
GARANTIA = KnowledgeSnippet(
    entry_id="garantia",
    chunk_id="garantia-0",
    kind="policy",
    title="Garantia do clareamento",
    text="O clareamento tem garantia de 6 meses com retorno gratuito.",
    score=0.64,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Quanto custa o clareamento?", True),
        ("Vocês aceitam convênio Unimed", True),
        ("qual o prazo de entrega?", True),
        ("posso parcelar no cartão?", True),
        ("Tem garantia?", True),
        ("achei o preço caro", False),  # an objection, not a question
        ("oi, tudo bem?", False),
        ("meu nome é Ana", False),
    ],
)
def test_business_questions_are_told_apart_from_other_messages(text: str, expected: bool) -> None:
    assert asks_about_business_terms([text]) is expected


def test_the_prompt_holds_the_retrieved_knowledge_by_entry_id() -> None:
    system = build_prompt(make_conversation(), ["aceita convênio?"], make_settings(), NOW, [
        CONVENIO, GARANTIA,
    ])[0].text  # fmt: skip
    section = read_section(system, "knowledge") or ""
    assert '"id": "convenios"' in section
    assert "Bradesco Saúde" in section
    assert '"id": "garantia"' in section


def test_the_offline_model_answers_from_knowledge_and_cites_the_entry() -> None:
    decision = decide_turn(
        make_conversation(),
        ["Vcs atendem pelo plano Unimed?"],
        make_settings(),
        make_context(),
        [CONVENIO],
    )
    assert decision.action is Action.SPEAK
    assert "Aceitamos Unimed e Bradesco Saúde" in (decision.messages[0].text or "")
    expected = KnowledgeRef(entry_id="convenios", title="Convênios aceitos")
    assert decision.knowledge_used == [expected]
    assert Reason.KNOWLEDGE_GAP not in decision.reasons


def test_a_business_question_no_source_answers_hands_off_with_the_open_question() -> None:
    decision = decide_turn(
        make_conversation(), ["Vocês aceitam convênio Amil?"], make_settings(), make_context()
    )
    assert decision.action is Action.HANDOFF
    assert Reason.KNOWLEDGE_GAP in decision.reasons
    assert decision.open_question == "Vocês aceitam convênio Amil?"
    assert decision.knowledge_used == []


def test_a_model_answer_without_sources_to_a_policy_question_becomes_a_handoff() -> None:
    model = scripted(
        specialist="sell", action="speak", replies=["Sim, damos garantia de 1 ano em tudo!"]
    )
    decision = decide_turn(
        make_conversation(), ["Tem garantia?"], make_settings(), make_context(model), [GARANTIA]
    )
    assert decision.action is Action.HANDOFF
    assert Reason.KNOWLEDGE_GAP in decision.reasons
    assert all("1 ano" not in (message.text or "") for message in decision.messages)


def test_cited_sources_the_prompt_did_not_hold_do_not_count() -> None:
    model = scripted(
        specialist="sell",
        action="speak",
        replies=["A garantia é de 6 meses."],
        sources=["garantia", "entrada-inventada"],
    )
    decision = decide_turn(
        make_conversation(), ["Tem garantia?"], make_settings(), make_context(model), [GARANTIA]
    )
    assert decision.action is Action.SPEAK
    assert [ref.entry_id for ref in decision.knowledge_used] == ["garantia"]

    invented = scripted(
        specialist="sell", action="speak", replies=["Garantia de 6 meses."], sources=["outra"]
    )
    decision = decide_turn(
        make_conversation(), ["Tem garantia?"], make_settings(), make_context(invented), []
    )
    assert decision.action is Action.HANDOFF


def test_an_answer_without_a_business_question_needs_no_source() -> None:
    model = scripted(specialist="qualify", action="speak", replies=["Olá! Qual seu nome?"])
    decision = decide_turn(make_conversation(), ["Oi!"], make_settings(), make_context(model))
    assert decision.action is Action.SPEAK


def test_the_decider_retrieves_for_the_lead_texts_and_survives_a_failing_retrieval() -> None:
    asked: list[tuple[str, list[str]]] = []

    def retrieve(tenant_id: str, texts: Any) -> list[KnowledgeSnippet]:
        asked.append((tenant_id, list(texts)))
        return [CONVENIO]

    decide = graph_decider(make_context().chat_model, lambda tenant: "UTC", retrieve)
    conversation = make_conversation()
    decision = decide(conversation, ["aceitam Unimed?"], make_settings(), "d-1", NOW)
    assert asked == [(conversation.tenant_id, ["aceitam Unimed?"])]
    assert decision.knowledge_used[0].entry_id == "convenios"

    def broken(tenant_id: str, texts: Any) -> list[KnowledgeSnippet]:
        raise TimeoutError("embedding service down")

    decide = graph_decider(make_context().chat_model, lambda tenant: "UTC", broken)
    decision = decide(conversation, ["aceitam Unimed?"], make_settings(), "d-2", NOW)
    assert decision.action is Action.HANDOFF
    assert Reason.KNOWLEDGE_GAP in decision.reasons


def test_a_promoted_intent_answers_in_copilot_mode_and_marks_its_messages() -> None:
    settings = make_settings(mode="copilot", pilot_intents=["sell"])
    decide = graph_decider(make_context().chat_model, lambda tenant: "UTC")
    conversation = make_conversation(mode="copilot")
    decision = decide(conversation, ["Quanto custa a consulta?"], settings, "d-3", NOW)
    assert decision.action is Action.SPEAK
    assert Reason.PILOT_INTENT in decision.reasons
    assert Reason.COPILOT_MODE not in decision.reasons
    assert [m.pilot_intent for m in decision.messages] == ["sell"]
    assert decision.suggestions == []

    greeting = decide(conversation, ["Oi"], settings, "d-4", NOW)
    assert greeting.messages == []
    assert greeting.suggestions
    assert Reason.COPILOT_MODE in greeting.reasons
