"""The insights runner with fake chat models on the in-process store: retries, failures, tokens,
trigger matching, throttles, redelivery, and the prompt.

``ScriptedChatModel`` (as in tests/unit/agent) accepts tools, so ``with_structured_output`` goes
the standard way: each scripted answer is an ``InsightPayload`` tool call, exactly what a
function-calling model returns; a message with JSON content stands for Gemini's JSON mode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from shared.agent.prompts import PROMPT_WINDOW
from shared.insights.context import build_prompt
from shared.insights.models import EventType, Insight, InsightAgent, InsightStatus
from shared.insights.runner import InsightRunner, matching_trigger
from shared.insights.schema import validate_payload
from shared.insights.throttle import insight_id_for, insight_ref, throttle_ref
from shared.models.conversation import Role, WindowMessage
from shared.store.conversations import conversation_ref
from shared.store.memory import MemoryFirestore
from tests.unit.insights import (
    NOW,
    TENANT,
    conversation_document,
    make_agent,
    make_conversation,
    make_event,
)


class ScriptedChatModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` that accepts tools and records the prompts it was given."""

    prompts: list[list[BaseMessage]] = []

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        schemas = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=schemas, tool_choice=tool_choice, **kwargs)

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.prompts.append(messages)
        return super()._generate(messages, *args, **kwargs)


class Boom(Exception):
    """A scripted model failure."""


class FlakyChatModel(ScriptedChatModel):
    """Raises for each ``Boom`` in its script, answers the messages otherwise."""

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.prompts.append(messages)
        answer = next(self.messages)
        if isinstance(answer, Exception):
            raise answer
        self.messages = iter([answer, *self.messages])
        return GenericFakeChatModel._generate(self, messages, *args, **kwargs)


def answer(args: dict[str, Any], tokens: tuple[int, int] = (900, 40)) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": "InsightPayload", "args": args, "id": "c1", "type": "tool_call"}],
        usage_metadata={
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "total_tokens": sum(tokens),
        },
    )


def scripted(*answers: AIMessage | Exception) -> ScriptedChatModel:
    return FlakyChatModel(messages=iter(answers), prompts=[])


GOOD = {"tip": "Ofereça a avaliação gratuita.", "score": 8}


@pytest.fixture
def store() -> MemoryFirestore:
    client = MemoryFirestore()
    conversation = make_conversation()
    conversation_ref(client, TENANT, "conv-1").set(conversation_document(conversation))
    client.collection("tenants").document(TENANT).set({"timezone": "America/Sao_Paulo"})
    return client


def runner_for(
    store: MemoryFirestore,
    agents: list[InsightAgent],
    model: ScriptedChatModel | None = None,
    choices: list[str] | None = None,
) -> InsightRunner:
    def chat_model_for(choice: str) -> Any:
        if choices is not None:
            choices.append(choice)
        return model

    for agent in agents:  # macro presses read the agent's own document
        store.collection("tenants").document(TENANT).collection("insight_agents").document(
            agent.agent_id
        ).set(agent.model_dump(mode="python", exclude={"agent_id", "tenant_id"}))
    return InsightRunner(
        firestore=store,
        chat_model_for=chat_model_for if model is not None else None,
        now=lambda: NOW,
        read_agents=lambda client, tenant_id: [a for a in agents if a.tenant_id == tenant_id],
    )


def stored(store: MemoryFirestore, event_id: str, agent_id: str = "agent-1") -> Insight:
    snapshot = insight_ref(store, TENANT, insight_id_for(event_id, agent_id)).get()
    assert snapshot.exists
    return Insight.model_validate(snapshot.to_dict())


def test_the_offline_runner_stores_a_valid_labelled_suggestion(store: MemoryFirestore) -> None:
    agent = make_agent(apply_action="mark_won", message_field="tip", icon="🎯", template="x")
    event = make_event()

    (insight,) = runner_for(store, [agent]).handle(event)

    assert insight == stored(store, event.event_id)
    assert insight.status is InsightStatus.SUGGESTION
    assert (insight.model, insight.offline_model, insight.attempts) == ("offline-insights", True, 1)
    assert validate_payload(agent.fields, insight.payload) == insight.payload
    assert insight.payload["tip"].startswith("[offline]")
    assert insight.fields == agent.fields
    assert (insight.agent_name, insight.agent_icon, insight.template) == ("Coach", "🎯", "x")
    assert (insight.apply_action.value, insight.message_field) == ("mark_won", "tip")
    assert (insight.contact_key, insight.contact_name) == ("5511987654321", "Ana Souza")
    assert insight.attribution is not None and insight.attribution.headline == "Clareamento em 3x"
    assert (insight.event_type, insight.trigger_id) == (EventType.NEW_MESSAGE_RECEIVED, "t1")
    assert insight.created_at == NOW and insight.completed_at == NOW
    assert insight.insight_id == insight_id_for(event.event_id, "agent-1")


def test_an_invalid_answer_is_retried_with_the_problem_then_stored(store: MemoryFirestore) -> None:
    model = scripted(answer({"tip": "Ofereça", "score": 14}, (1000, 50)), answer(GOOD, (1100, 60)))

    (insight,) = runner_for(store, [make_agent()], model).handle(make_event())

    assert insight.status is InsightStatus.SUGGESTION
    assert insight.payload == {"tip": "Ofereça a avaliação gratuita.", "score": 8.0}
    assert insight.attempts == 2 and insight.error is None
    assert (insight.prompt_tokens, insight.completion_tokens) == (2100, 110)
    assert (insight.model, insight.offline_model) == ("generic-fake-chat-model", False)
    first, second = model.prompts
    assert "score: must be between 0 and 10 (got 14)" in str(second[-1].content)
    assert "must be between" not in str(first[-1].content)


def test_an_answer_invalid_twice_fails_with_the_error(store: MemoryFirestore) -> None:
    model = scripted(answer({"tip": 3, "score": 5}), answer({"tip": "ok", "nota": 5}))

    (insight,) = runner_for(store, [make_agent()], model).handle(make_event())

    assert insight.status is InsightStatus.FAILED and insight.payload == {}
    assert insight.attempts == 2
    assert insight.error is not None
    assert (
        "score: required" in insight.error and "nota: not one of the output fields" in insight.error
    )
    assert (insight.prompt_tokens, insight.completion_tokens) == (1800, 80)
    assert stored(store, make_event().event_id).status is InsightStatus.FAILED


def test_a_model_error_counts_as_an_attempt(store: MemoryFirestore) -> None:
    model = scripted(Boom("deadline exceeded"), answer(GOOD))

    (insight,) = runner_for(store, [make_agent()], model).handle(make_event())

    assert insight.status is InsightStatus.SUGGESTION and insight.attempts == 2
    assert (insight.prompt_tokens, insight.completion_tokens) == (900, 40)


def test_two_model_errors_fail_the_insight_saying_why(store: MemoryFirestore) -> None:
    model = scripted(Boom("deadline exceeded"), Boom("quota exhausted"))

    (insight,) = runner_for(store, [make_agent()], model).handle(make_event())

    assert insight.status is InsightStatus.FAILED and insight.attempts == 2
    assert insight.error == "model error: Boom: quota exhausted"


def test_a_json_mode_answer_is_read_from_the_content(store: MemoryFirestore) -> None:
    reply = AIMessage(
        content=f"```json\n{json.dumps(GOOD)}\n```",
        usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
    )

    (insight,) = runner_for(store, [make_agent()], scripted(reply)).handle(make_event())

    assert insight.status is InsightStatus.SUGGESTION and insight.payload["score"] == 8.0


def test_a_text_answer_is_invalid_and_retried(store: MemoryFirestore) -> None:
    model = scripted(AIMessage(content="Não sei responder."), answer(GOOD))

    (insight,) = runner_for(store, [make_agent()], model).handle(make_event())

    assert insight.attempts == 2 and insight.status is InsightStatus.SUGGESTION
    assert "the answer was not a JSON object" in str(model.prompts[1][-1].content)


def test_the_agents_model_choice_picks_the_chat_model(store: MemoryFirestore) -> None:
    choices: list[str] = []
    agents = [make_agent("a1", model="precise"), make_agent("a2")]

    runner_for(store, agents, scripted(answer(GOOD), answer(GOOD)), choices).handle(make_event())

    assert choices == ["precise", "fast"]


def test_a_missing_chat_model_fails_the_insight(store: MemoryFirestore) -> None:
    def unavailable(choice: str) -> Any:
        raise RuntimeError("no Vertex AI credentials")

    runner = runner_for(store, [make_agent()])
    runner.chat_model_for = unavailable

    (insight,) = runner.handle(make_event())

    assert insight.status is InsightStatus.FAILED
    assert insight.error == "model error: RuntimeError: no Vertex AI credentials"


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("Achei CARO", True),
        ("Não sei se consigo", True),
        ("nao sei se consigo", True),
        ("NÃO SEI", True),
        ("quero um desconto!", True),
        ("tem algo mais barato?", True),
        ("carol aqui, tudo bem?", False),  # whole words only
        ("Perfeito, vamos agendar", False),
        ("", False),
    ],
)
def test_keywords_ignore_case_and_accents_and_match_whole_words(text: str, matches: bool) -> None:
    agent = make_agent(
        triggers=[
            {
                "event": "NEW_MESSAGE_RECEIVED",
                "keywords": ["caro", "não sei", "desconto", "mais barato"],
            }
        ]
    )
    found = matching_trigger(agent, make_event(text=text), make_conversation())
    assert (found is not None) is matches


def test_mode_min_lead_messages_event_type_and_active_are_checked() -> None:
    conversation = make_conversation(inbound_count=3, mode="copilot")
    event = make_event()

    def matches(**spec: Any) -> bool:
        return matching_trigger(make_agent(**spec), event, conversation) is not None

    assert matches(triggers=[{"event": "NEW_MESSAGE_RECEIVED", "mode": "copilot"}])
    assert not matches(triggers=[{"event": "NEW_MESSAGE_RECEIVED", "mode": "pilot"}])
    assert matches(triggers=[{"event": "NEW_MESSAGE_RECEIVED", "min_lead_messages": 3}])
    assert not matches(triggers=[{"event": "NEW_MESSAGE_RECEIVED", "min_lead_messages": 4}])
    assert not matches(triggers=[{"event": "TICKET_WON"}])
    assert not matches(active=False)


def test_the_first_matching_trigger_is_used_and_gets_an_id() -> None:
    agent = make_agent(
        triggers=[
            {"event": "NEW_MESSAGE_RECEIVED", "keywords": ["paguei"]},
            {"event": "NEW_MESSAGE_RECEIVED", "mode": "copilot"},
            {"trigger_id": "later", "event": "NEW_MESSAGE_RECEIVED"},
        ]
    )

    trigger = matching_trigger(agent, make_event(), make_conversation())

    assert trigger is not None and trigger.trigger_id == "t1" and trigger.mode == "copilot"


def test_a_macro_press_runs_only_the_named_agent(store: MemoryFirestore) -> None:
    macro = [{"trigger_id": "m", "event": "MACRO_BUTTON_CLICKED"}]
    agents = [make_agent("a1", triggers=macro), make_agent("a2", triggers=macro)]
    event = make_event(
        EventType.MACRO_BUTTON_CLICKED, event_id="macro:1", agent_id="a2", actor_uid="u1"
    )

    insights = runner_for(store, agents).handle(event)

    assert [insight.agent_id for insight in insights] == ["a2"]
    assert not matching_trigger(agents[0], event, make_conversation())
    inactive = make_agent("a3", triggers=macro, active=False)
    pressed = make_event(EventType.MACRO_BUTTON_CLICKED, event_id="macro:2", agent_id="a3")
    assert runner_for(store, [inactive]).handle(pressed) == []


def test_only_matching_agents_run(store: MemoryFirestore) -> None:
    agents = [
        make_agent("a1"),
        make_agent("a2", triggers=[{"event": "TICKET_WON"}]),
        make_agent("a3", triggers=[{"event": "NEW_MESSAGE_RECEIVED", "keywords": ["paguei"]}]),
    ]

    insights = runner_for(store, agents).handle(make_event())

    assert [insight.agent_id for insight in insights] == ["a1"]


def test_an_unknown_conversation_runs_nothing(store: MemoryFirestore) -> None:
    assert runner_for(store, [make_agent()]).handle(make_event(conversation_id="nope")) == []


def test_a_redelivered_event_neither_runs_nor_counts_again(store: MemoryFirestore) -> None:
    agent = make_agent(
        triggers=[{"trigger_id": "t1", "event": "NEW_MESSAGE_RECEIVED", "max_per_day": 5}]
    )
    model = scripted(answer(GOOD))
    runner = runner_for(store, [agent], model)

    first = runner.handle(make_event())
    again = runner.handle(make_event())

    assert again == first and len(model.prompts) == 1
    daily = throttle_ref(store, TENANT, "agent-1~t1~d~2026-03-10").get().to_dict()
    assert daily is not None and daily["count"] == 1


def test_a_running_insight_is_resumed_without_counting_again(store: MemoryFirestore) -> None:
    agent = make_agent(
        triggers=[{"trigger_id": "t1", "event": "NEW_MESSAGE_RECEIVED", "max_per_conversation": 1}]
    )
    failing = scripted(Boom("first"), Boom("second"))
    runner = runner_for(store, [agent], failing)
    event = make_event()
    document = insight_ref(store, TENANT, insight_id_for(event.event_id, "agent-1"))
    runner.handle(event)  # admitted, then failed: set it back to RUNNING as a crash would leave it
    document.set({**document.get().to_dict(), "status": "RUNNING"})

    runner.chat_model_for = lambda choice: scripted(answer(GOOD))
    (insight,) = runner.handle(event)

    assert insight.status is InsightStatus.SUGGESTION
    window = throttle_ref(store, TENANT, "agent-1~t1~c~conv-1").get().to_dict()
    assert window is not None and len(window["runs"]) == 1
    assert runner.handle(make_event(event_id="msg:conv-1:2")) == []  # the window is full


def test_a_finished_run_never_overwrites_what_the_team_did(store: MemoryFirestore) -> None:
    runner = runner_for(store, [make_agent()])
    event = make_event()
    document = insight_ref(store, TENANT, insight_id_for(event.event_id, "agent-1"))

    class ApplyMidway(ScriptedChatModel):
        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
            document.set({**document.get().to_dict(), "status": "APPLIED"})
            return super()._generate(messages, *args, **kwargs)

    runner.chat_model_for = lambda choice: ApplyMidway(messages=iter([answer(GOOD)]), prompts=[])
    (insight,) = runner.handle(event)

    assert insight.status is InsightStatus.APPLIED
    assert stored(store, event.event_id).status is InsightStatus.APPLIED


def test_throttles_refuse_runs_and_write_nothing(store: MemoryFirestore) -> None:
    agent = make_agent(
        triggers=[
            {
                "trigger_id": "t1",
                "event": "NEW_MESSAGE_RECEIVED",
                "max_per_conversation": 2,
                "conversation_window_minutes": 60,
            }
        ]
    )
    runner = runner_for(store, [agent])

    results = [runner.handle(make_event(event_id=f"msg:conv-1:{n}")) for n in range(4)]

    assert [len(result) for result in results] == [1, 1, 0, 0]
    assert not insight_ref(store, TENANT, insight_id_for("msg:conv-1:2", "agent-1")).get().exists


def test_the_sliding_window_frees_up_as_runs_age(store: MemoryFirestore) -> None:
    agent = make_agent(
        triggers=[
            {
                "trigger_id": "t1",
                "event": "NEW_MESSAGE_RECEIVED",
                "max_per_conversation": 1,
                "conversation_window_minutes": 10,
            }
        ]
    )
    runner = runner_for(store, [agent])
    clock = iter([NOW, NOW, NOW + timedelta(minutes=9)] + [NOW + timedelta(minutes=11)] * 3)
    runner.now = lambda: next(clock)

    first = runner.handle(make_event(event_id="e1"))
    refused = runner.handle(make_event(event_id="e2"))
    later = runner.handle(make_event(event_id="e3"))

    assert (len(first), len(refused), len(later)) == (1, 0, 1)


def test_the_daily_count_uses_the_tenants_day(store: MemoryFirestore) -> None:
    store.collection("tenants").document(TENANT).set({"timezone": "Asia/Tokyo"})
    agent = make_agent(
        triggers=[{"trigger_id": "t1", "event": "NEW_MESSAGE_RECEIVED", "max_per_day": 1}]
    )
    runner = runner_for(store, [agent])
    runner.now = lambda: datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # already the 11th in Tokyo

    runner.handle(make_event(event_id="e1"))

    assert throttle_ref(store, TENANT, "agent-1~t1~d~2026-03-11").get().exists
    assert runner.handle(make_event(event_id="e2")) == []


def test_a_message_that_is_not_an_event_is_dropped_and_logged(
    store: MemoryFirestore, caplog: pytest.LogCaptureFixture
) -> None:
    runner = runner_for(store, [make_agent()])

    with caplog.at_level(logging.ERROR, logger="piloto.insights"):
        assert runner.on_message(b"{not json") is None
        assert runner.on_message(b"") is None
    assert "not an insight event" in caplog.text

    (insight,) = runner.on_message(make_event().model_dump_json().encode()) or []
    assert insight.status is InsightStatus.SUGGESTION


def test_the_prompt_holds_the_directive_fields_bounded_window_and_event() -> None:
    many = [
        WindowMessage(role=Role.LEAD, text=f"mensagem {n}", at=NOW)
        for n in range(PROMPT_WINDOW + 5)
    ]
    conversation = make_conversation(window=many)
    agent = make_agent(prompt="Seja um coach <gentil>.")
    event = make_event(text="Achei caro")

    system, human = build_prompt(
        agent, conversation, event, attribution=None, now=NOW, zone=ZoneInfo("America/Sao_Paulo")
    )

    assert "Seja um coach &lt;gentil&gt;." in str(system.content)
    assert '"nome": "score"' in str(system.content) and '"maximo": 10.0' in str(system.content)
    text = str(human.content)
    assert "mensagem 4" not in text.split("<janela>")[1]  # only the last PROMPT_WINDOW messages
    assert f"mensagem {PROMPT_WINDOW + 4}" in text
    assert "Ana chegou por um anúncio" in text and '"lead_text": "Achei caro"' in text
    assert "2026-03-10 13:00 (America/Sao_Paulo)" in text
