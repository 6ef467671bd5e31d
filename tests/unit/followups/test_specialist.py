"""The follow-up specialist: built from the conversation, one model call, a safe fallback."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from shared.agent.followup import followup_drafter, offline_followup
from shared.agent.offline import OfflineChatModel
from shared.agent.prompts import build_followup_prompt
from shared.models.conversation import Role
from tests.unit.agent import NOW, make_conversation, make_settings

ASKED = [(Role.LEAD, "Oi, qual o preço da consulta?"), (Role.AGENT, "R$ 200 a consulta.")]


class ScriptedChatModel(GenericFakeChatModel):
    """A fake chat model that accepts tools, so structured output goes the standard way."""

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        schemas = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=schemas, tool_choice=tool_choice, **kwargs)


def scripted(message: str) -> ScriptedChatModel:
    call = {"name": "FollowupDraft", "args": {"message": message}, "id": "c1", "type": "tool_call"}
    reply = AIMessage(
        content="",
        tool_calls=[call],
        usage_metadata={"input_tokens": 500, "output_tokens": 30, "total_tokens": 530},
    )
    return ScriptedChatModel(messages=iter([reply]))


def test_the_offline_nudge_picks_up_the_question_and_the_missing_field() -> None:
    text = offline_followup(make_conversation(ASKED), make_settings(), step=0, steps=3)

    assert "preço da consulta" in text
    assert "nome" in text  # the first missing qualification field
    assert len(text.split()) > 6


def test_each_step_reads_differently_and_the_last_says_it_is_the_last() -> None:
    conversation = make_conversation(ASKED, fields={"nome": "ana clara"})
    settings = make_settings()

    texts = [offline_followup(conversation, settings, step=s, steps=3) for s in range(3)]

    assert len(set(texts)) == 3
    assert all(text.startswith("Oi, Ana!") for text in texts)
    assert "cidade" in texts[0]
    assert "última mensagem" in texts[2] and "?" not in texts[2]


def test_without_a_matching_fact_the_nudge_quotes_the_lead() -> None:
    conversation = make_conversation([(Role.LEAD, "Vocês fazem drenagem linfática?")])

    text = offline_followup(conversation, make_settings(), step=0, steps=3)

    assert "Vocês fazem drenagem linfática?" in text


def test_the_offline_drafter_is_labelled() -> None:
    nudge = followup_drafter(OfflineChatModel())(
        make_conversation(ASKED), make_settings(), 0, 3, NOW
    )

    assert (nudge.model, nudge.offline_model, nudge.model_error) == (
        "offline-followup-v1",
        True,
        None,
    )


def test_a_model_draft_is_used_with_its_label_and_tokens() -> None:
    model = scripted("Oi! Ficou com alguma dúvida sobre a consulta de avaliação?")

    nudge = followup_drafter(model)(make_conversation(ASKED), make_settings(), 1, 3, NOW)

    assert nudge.text == "Oi! Ficou com alguma dúvida sobre a consulta de avaliação?"
    assert (nudge.model, nudge.offline_model) == ("generic-fake-chat-model", False)
    assert (nudge.prompt_tokens, nudge.completion_tokens) == (500, 30)


def test_an_invented_price_or_a_failing_model_falls_back_and_says_why() -> None:
    invented = followup_drafter(scripted("Só hoje a consulta sai por R$ 99!"))
    failing = followup_drafter(ScriptedChatModel(messages=iter([])))

    for drafter in (invented, failing):
        nudge = drafter(make_conversation(ASKED), make_settings(), 0, 3, NOW)
        assert nudge.offline_model is True
        assert nudge.model_error
        assert "preço da consulta" in nudge.text


def test_the_prompt_carries_the_last_question_the_pending_fields_and_the_step() -> None:
    system, human = build_followup_prompt(
        make_conversation(ASKED), make_settings(), NOW, step=2, steps=3
    )

    assert "follow-up message number 3 of at most 3" in system.text
    assert '"missing": ["nome", "cidade"]' in system.text
    assert "<last_lead_message>Oi, qual o preço da consulta?</last_lead_message>" in human.text
