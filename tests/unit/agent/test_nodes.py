"""Each node of the turn graph alone: the router, the draft's guards, the specialists, finalize."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langgraph.runtime import Runtime

from shared.agent.context import TurnContext
from shared.agent.graph import (
    close,
    draft_turn,
    finalize,
    handoff,
    invented_amounts,
    model_failure,
    plan_from_draft,
    qualify,
    route_turn,
    schedule,
    sell,
)
from shared.agent.prompts import HANDOFF_REPLY, KNOWLEDGE_GAP_REPLY, ask_for_field
from shared.agent.state import ExtractedField, TurnDraft, TurnState
from shared.models.decision import Action, Reason
from tests.unit.agent import NOW, make_context, make_conversation, make_settings


def state(**values: Any) -> TurnState:
    """Return a turn state after a plain ``speak`` draft, overridden by ``values``."""
    base: TurnState = {
        "conversation": make_conversation(),
        "new_messages": ["oi"],
        "settings": make_settings(),
        "specialist": "qualify",
        "action": "speak",
        "replies": ["Olá!"],
        "reasons": [],
        "extracted_fields": {},
        "stage": "new",
    }
    return TurnState(**{**base, **values})


def runtime(**overrides: Any) -> Runtime[TurnContext]:
    """Return a LangGraph runtime carrying a turn context."""
    return Runtime(context=make_context(**overrides))


@pytest.mark.parametrize("specialist", ["qualify", "sell", "schedule", "close"])
def test_the_router_sends_a_speaking_draft_to_its_specialist(specialist: str) -> None:
    assert route_turn(state(specialist=specialist)) == specialist


def test_the_router_sends_any_handoff_to_the_handoff_specialist() -> None:
    assert route_turn(state(specialist="sell", action="handoff")) == "handoff"


def test_the_router_sends_a_closing_draft_to_the_closer() -> None:
    assert route_turn(state(specialist="qualify", action="close")) == "close"


@pytest.mark.parametrize("action", ["stay_silent", "wait", "schedule_followup"])
def test_the_router_skips_specialists_when_nothing_is_sent_now(action: str) -> None:
    assert route_turn(state(action=action)) == "finalize"


def test_a_draft_that_invents_a_price_becomes_a_knowledge_gap_handoff() -> None:
    draft = TurnDraft(specialist="sell", action="speak", replies=["O implante custa R$ 3.000."])
    plan = plan_from_draft(draft, make_settings(), "new")
    assert plan["action"] == "handoff"
    assert plan["reasons"] == [Reason.KNOWLEDGE_GAP, Reason.HANDOFF_REQUESTED]
    assert plan["replies"] == [KNOWLEDGE_GAP_REPLY]


def test_a_draft_that_quotes_a_stated_price_is_kept() -> None:
    draft = TurnDraft(specialist="sell", action="speak", replies=["A consulta sai R$ 200,00."])
    plan = plan_from_draft(draft, make_settings(), "new")
    assert (plan["action"], plan["replies"]) == ("speak", ["A consulta sai R$ 200,00."])


def test_invented_amounts_compares_numbers_not_formatting() -> None:
    facts = {"plano anual": "R$ 1.500 à vista"}
    assert invented_amounts(["Fica R$ 1.500,00.", "ou R$1500"], facts) == []
    assert invented_amounts(["Fica R$ 1.400."], facts) == ["1.400."]


def test_a_draft_keeps_only_the_tenants_qualification_fields() -> None:
    draft = TurnDraft(
        specialist="qualify",
        action="speak",
        replies=["Obrigado, Ana!"],
        extracted_fields=[
            ExtractedField(name="nome", value=" Ana "),
            ExtractedField(name="cpf", value="123"),
        ],
        followup_in_minutes=60,
    )
    plan = plan_from_draft(draft, make_settings(), "new")
    assert plan["extracted_fields"] == {"nome": "Ana"}
    assert plan["followup_in_minutes"] == 60


def test_qualify_asks_for_the_next_missing_field_when_the_reply_asks_nothing() -> None:
    update = qualify(state(replies=["Obrigado, Ana!"], extracted_fields={"nome": "Ana"}))
    assert update["replies"] == ["Obrigado, Ana!", ask_for_field("cidade")]
    assert update["stage"] == "qualifying"


def test_qualify_adds_no_second_question() -> None:
    update = qualify(state(replies=["Qual é a sua cidade?"]))
    assert update["replies"] == ["Qual é a sua cidade?"]


def test_qualify_marks_the_lead_qualified_when_every_field_is_known() -> None:
    conversation = make_conversation(fields={"nome": "Ana", "cidade": "Campinas"})
    update = qualify(state(conversation=conversation, stage="qualifying"))
    assert update == {"stage": "qualified"}


def test_sell_and_schedule_set_their_stages() -> None:
    assert sell(state(stage="qualifying")) == {"stage": "selling"}
    update = schedule(state(specialist="schedule", replies=[]), runtime())  # no calendar wired
    assert update["stage"] == "scheduling"
    assert update["replies"] and "horário" in update["replies"][0]


def test_close_answers_an_objection_once_and_a_closed_lead_is_lost() -> None:
    assert close(state(replies=["Entendo.", "Posso insistir?"]))["replies"] == ["Entendo."]
    assert close(state(action="close", replies=["Até mais!"]))["stage"] == "lost"


def test_handoff_summarises_the_conversation_for_the_human() -> None:
    conversation = make_conversation(fields={"nome": "Ana"}, summary="Quer avaliação.")
    update = handoff(state(conversation=conversation, new_messages=["quero um atendente"]))
    assert update["action"] == "handoff"
    assert update["reasons"] == [Reason.HANDOFF_REQUESTED]
    assert update["replies"] == ["Olá!"]
    summary = update["handoff_summary"]
    for expected in ("nome=Ana", "Faltando: cidade", "Quer avaliação.", "quero um atendente"):
        assert expected in summary


def test_handoff_after_a_model_error_tells_the_lead_nothing() -> None:
    update = handoff(state(**model_failure("TimeoutError: deadline exceeded")))
    assert update["replies"] == []
    assert update["reasons"] == [Reason.MODEL_ERROR, Reason.HANDOFF_REQUESTED]
    assert "TimeoutError" in update["handoff_summary"]


def test_handoff_without_a_draft_reply_uses_the_fixed_one() -> None:
    assert handoff(state(replies=[]))["replies"] == [HANDOFF_REPLY]


def test_draft_turn_records_a_failing_model_as_a_model_error() -> None:
    class BrokenModel(GenericFakeChatModel):
        def bind_tools(self, *args: Any, **kwargs: Any) -> Any:
            raise TimeoutError("deadline exceeded")

    base = state()
    update = draft_turn(base, runtime(chat_model=BrokenModel(messages=iter([]))))
    assert update["action"] == "handoff"
    assert update["model_error"] == "TimeoutError: deadline exceeded"


def test_finalize_builds_the_decision_from_the_plan_and_the_context() -> None:
    update = finalize(state(followup_in_minutes=90, prompt_tokens=10), runtime())
    decision = update["decision"]
    assert decision.action is Action.SPEAK
    assert [message.text for message in decision.messages] == ["Olá!"]
    assert decision.reasons == [Reason.LEAD_REPLIED]
    assert decision.followup_at == NOW + timedelta(minutes=90)
    assert decision.decided_at == NOW
    assert decision.triggering_events == ["meta:lead_message:wamid.1"]
    assert (decision.model, decision.offline_model, decision.prompt_tokens) == (
        "offline-keywords-v1",
        True,
        10,
    )


def test_finalize_in_copilot_mode_suggests_instead_of_sending() -> None:
    decision = finalize(state(), runtime(mode="copilot"))["decision"]
    assert decision.action is Action.STAY_SILENT
    assert decision.messages == []
    assert decision.suggestions == ["Olá!"]
    assert Reason.COPILOT_MODE in decision.reasons


def test_finalize_schedules_a_followup_at_the_tenants_first_delay() -> None:
    plan = state(action="schedule_followup", settings=make_settings(followups=["2h", "1d"]))
    decision = finalize(plan, runtime())["decision"]
    assert decision.messages == []
    assert decision.followup_at == NOW + timedelta(hours=2)


def test_a_follow_up_turn_gives_followup_due_as_its_reason() -> None:
    decision = finalize(state(new_messages=[]), runtime())["decision"]
    assert decision.reasons == [Reason.FOLLOWUP_DUE]


def test_the_context_refuses_a_naive_clock() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_context(now=NOW.replace(tzinfo=None))
