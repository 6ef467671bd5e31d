"""The deterministic offline model: keyword intents, no invented facts, the structured contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from shared.agent.graph import decide_turn
from shared.agent.llm import chat_model_from_settings, describe_model
from shared.agent.offline import OFFLINE_MODEL_NAME, OfflineChatModel, normalize
from shared.agent.prompts import ask_for_field, build_prompt
from shared.agent.state import TurnDraft
from shared.models.conversation import Conversation, Role
from shared.models.decision import Action, Decision, Reason
from shared.models.tenant import AgentSettings
from shared.settings import SettingsError, load_settings
from tests.unit.agent import NOW, make_context, make_conversation, make_settings


def decide(
    texts: Sequence[str],
    settings: AgentSettings | None = None,
    conversation: Conversation | None = None,
    **context: Any,
) -> Decision:
    """Return the offline decision for the lead's new texts."""
    return decide_turn(
        conversation or make_conversation(),
        texts,
        settings or make_settings(),
        make_context(**context),
    )


def texts_of(decision: Decision) -> str:
    return " ".join(message.text or "" for message in decision.messages)


def test_a_price_question_is_answered_from_the_matching_fact() -> None:
    decision = decide(["Oi! Quanto custa a consulta?"])
    assert decision.action is Action.SPEAK
    assert decision.specialist == "sell"
    assert "R$ 200 a consulta de avaliação" in texts_of(decision)
    assert (decision.model, decision.offline_model) == (OFFLINE_MODEL_NAME, True)
    assert decision.prompt_tokens > 0 and decision.completion_tokens > 0


def test_price_words_match_without_accents_or_case() -> None:
    assert "R$ 200" in texts_of(decide(["QUAL O PRECO DA CONSULTA"]))


def test_a_price_question_without_a_matching_fact_hands_off_and_invents_nothing() -> None:
    decision = decide(["Quanto custa o clareamento?"])
    assert decision.action is Action.HANDOFF
    assert Reason.KNOWLEDGE_GAP in decision.reasons
    assert "R$" not in texts_of(decision)


def test_a_tenant_without_prices_never_quotes_one() -> None:
    settings = make_settings(business_facts={"endereço": "Rua das Flores, 10"})
    decision = decide(["quanto custa?"], settings)
    assert decision.action is Action.HANDOFF
    assert Reason.KNOWLEDGE_GAP in decision.reasons
    assert "R$" not in texts_of(decision)


def test_a_question_the_facts_answer_is_answered() -> None:
    assert "Rua das Flores" in texts_of(decide(["Qual o endereço de vocês?"]))


def test_a_greeting_asks_for_the_first_qualification_field() -> None:
    decision = decide(["Oi, tudo bem?"])
    assert decision.action is Action.SPEAK
    assert decision.specialist == "qualify"
    assert ask_for_field("nome") in texts_of(decision)


def test_a_tenant_greeting_fact_is_used() -> None:
    facts = {"saudação": "Olá! Aqui é a Clínica Sorriso."}
    decision = decide(["bom dia"], make_settings(business_facts=facts))
    assert texts_of(decision).startswith("Olá! Aqui é a Clínica Sorriso.")


def test_an_answer_to_the_asked_field_is_extracted_and_the_next_is_asked() -> None:
    conversation = make_conversation([(Role.LEAD, "oi"), (Role.AGENT, ask_for_field("nome"))])
    decision = decide(["Ana Souza"], conversation=conversation)
    assert decision.extracted_fields == {"nome": "Ana Souza"}
    assert ask_for_field("cidade") in texts_of(decision)


def test_asking_for_a_person_hands_off() -> None:
    decision = decide(["Quero falar com um atendente humano"])
    assert decision.action is Action.HANDOFF
    assert decision.reasons[0] is Reason.HANDOFF_REQUESTED
    assert decision.specialist == "handoff"


def test_scheduling_words_ask_for_a_preferred_time() -> None:
    decision = decide(["Queria marcar uma avaliação"])
    assert decision.specialist == "schedule"
    assert "horário" in texts_of(decision)


def test_scheduling_offers_the_tenants_slots() -> None:
    facts = {"horários disponíveis": "terça e quinta, 9h às 17h"}
    assert "terça e quinta" in texts_of(
        decide(["dá pra agendar?"], make_settings(business_facts=facts))
    )


def test_an_objection_gets_one_gentle_next_step_and_a_followup() -> None:
    decision = decide(["Achei caro, vou pensar"])
    assert decision.specialist == "close"
    assert len(decision.messages) == 1
    assert decision.followup_at is not None and decision.followup_at > NOW


def test_a_thank_you_needs_no_reply() -> None:
    decision = decide(["ok, obrigada!"])
    assert decision.action is Action.STAY_SILENT
    assert decision.messages == []


def test_a_lead_still_typing_is_waited_for() -> None:
    assert decide(["só um minuto"]).action is Action.WAIT


def test_the_offline_model_is_deterministic() -> None:
    first = decide(["Oi! Quanto custa a consulta?"], decision_id="dec-1")
    second = decide(["Oi! Quanto custa a consulta?"], decision_id="dec-2")
    ignored = {"decision_id", "latency_ms"}
    assert first.model_dump(exclude=ignored) == second.model_dump(exclude=ignored)


def test_structured_output_goes_through_the_standard_tool_call_path() -> None:
    prompt = build_prompt(make_conversation(), ["oi"], make_settings(), NOW)
    structured = OfflineChatModel().with_structured_output(TurnDraft, include_raw=True)
    result = structured.invoke(prompt)
    assert isinstance(result, dict)
    assert isinstance(result["parsed"], TurnDraft)
    raw = result["raw"]
    assert raw.tool_calls[0]["name"] == "TurnDraft"
    assert raw.usage_metadata["input_tokens"] > 0
    assert raw.response_metadata["estimated_usage"] is True


def test_without_tools_the_offline_model_answers_in_text() -> None:
    prompt = build_prompt(make_conversation(), ["oi"], make_settings(), NOW)
    assert ask_for_field("nome") in OfflineChatModel().invoke(prompt).text


def test_normalize_drops_accents_case_and_punctuation() -> None:
    assert normalize("  Preço?! Olá, AMANHÃ às 10h — R$ 200 ") == "preco ola amanha as 10h r$ 200"


def test_the_model_factory_is_offline_unless_vertex_is_asked_for() -> None:
    model = chat_model_from_settings(load_settings({"GOOGLE_CLOUD_PROJECT": "demo-p"}))
    assert isinstance(model, OfflineChatModel)
    assert describe_model(model) == (OFFLINE_MODEL_NAME, True)


def test_the_model_factory_builds_gemini_on_vertex_ai() -> None:
    model = chat_model_from_settings(
        load_settings(
            {
                "PILOTO_LLM": "vertex",
                "GOOGLE_CLOUD_PROJECT": "piloto-demo",
                "PILOTO_GEMINI_MODEL": "x",
            }
        )
    )
    assert type(model).__name__ == "ChatGoogleGenerativeAI"
    assert describe_model(model) == ("x", False)
    assert getattr(model, "vertexai", None) is True
    assert getattr(model, "location", None) == "us-central1"


def test_an_unknown_model_choice_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="PILOTO_LLM='gpt': must be one of offline, vertex"):
        load_settings({"PILOTO_LLM": "gpt", "GOOGLE_CLOUD_PROJECT": "demo-p"})
