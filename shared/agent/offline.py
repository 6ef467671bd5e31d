"""A deterministic offline chat model with the same structured-output contract as Gemini.

Used when no Vertex AI model is configured (local stack, tests, demos) and always labelled in the
decision log (model ``offline-keywords-v1``, ``Decision.offline_model``). It reads only what a real
model reads, the prompt from ``prompts.build_prompt``, and answers ``with_structured_output``
through LangChain's standard path: ``bind_tools`` then one tool call named after the schema, which
``PydanticToolsParser`` validates into a ``TurnDraft``. Intents are Brazilian Portuguese keywords;
replies come from the tenant's business facts and fixed templates, never from invention: a
question the facts do not answer becomes a handoff with ``knowledge_gap``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from shared.agent.prompts import (
    HANDOFF_REPLY,
    KNOWLEDGE_GAP_REPLY,
    ask_for_field,
    read_section,
)
from shared.agent.state import ExtractedField, HandoffCause, TurnDraft
from shared.scheduling.matching import wants_cancel, wants_reschedule

OFFLINE_MODEL_NAME = "offline-keywords-v1"

_HANDOFF = ("atendente", "humano", "humana", "falar com alguem", "falar com uma pessoa", "gerente")
_OBJECTION = ("caro", "cara demais", "vou pensar", "vou ver", "depois eu vejo", "sem dinheiro")
_SCHEDULE = (
    "agendar", "agendamento", "agenda", "horario", "horarios", "marcar", "amanha", "reuniao",
    "remarcar", "reagendar",
)  # fmt: skip
_PRICE = ("quanto custa", "quanto e", "quanto fica", "preco", "precos", "valor", "valores", "custa")
_GREETING = ("oi", "ola", "bom dia", "boa tarde", "boa noite", "tudo bem", "e ai", "opa")
_ACK = {"ok", "okay", "obrigado", "obrigada", "valeu", "blz", "beleza", "certo", "entendi", "show"}
_WAIT = ("um minuto", "um momento", "so um minuto", "ja volto", "perai", "aguarda", "espera ai")
_PRICE_FACT = {"preco", "valor", "custa", "r$", "investimento", "mensalidade", "taxa"}
_SLOT_FACT = {"horario", "horarios", "agenda", "disponibilidade", "funcionamento"}
_TIME = re.compile(r"\b\d{1,2}(h|:\d{2})|\b(segunda|terca|quarta|quinta|sexta|sabado|domingo)\b")
_STOPWORD_TEXT = (
    "a o as os um uma de da do das dos e em no na nos nas para pra pro por com sem que qual quais "
    "quanto quanta quando onde como eu voce voces vc vcs me mim meu minha seu sua isso esse essa "
    "este esta aqui ai la tem ter ser sao estou gostaria queria quero saber sobre favor fica sai "
    "oi ola bom boa dia tarde noite tudo bem ate mais"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def normalize(text: str) -> str:
    """Return text lower-cased, without accents or punctuation (``R$`` kept), single-spaced."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^a-z0-9$]+", " ", plain).split())


def _has(text: str, phrases: Sequence[str]) -> bool:
    padded = f" {normalize(text)} "
    return any(f" {phrase} " in padded for phrase in phrases)


def _words(text: str) -> set[str]:
    """Return the content words of text, crudely singular (``consultas`` matches ``consulta``)."""
    found = set()
    for word in normalize(text).split():
        if len(word) >= 3 and word not in _STOPWORDS:
            found.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return found


def _best_fact(facts: dict[str, str], text: str, *, price: bool) -> tuple[str, str] | None:
    """Return the fact sharing most words with text (price facts only if asked), or None."""
    subject = _words(text) - _words(" ".join(_PRICE))
    scored = []
    for order, (key, value) in enumerate(facts.items()):
        fact_words = _words(f"{key} {value}")
        if price and not (fact_words & _PRICE_FACT or "r$" in normalize(value)):
            continue
        scored.append((len(subject & fact_words), -order, key, value))
    if not scored:
        return None
    score, _, key, value = max(scored)
    if score > 0 or (price and not subject):
        return key, value
    return None


def _say_fact(key: str, value: str) -> str:
    """Say a fact; its value alone when it already names what it is about."""
    topic = key.replace("_", " ").strip()
    if normalize(topic) in normalize(value):
        return value.rstrip(".")
    return f"{topic[:1].upper()}{topic[1:]}: {value.rstrip('.')}"


def _best_source(
    facts: dict[str, str], knowledge: list[dict[str, str]], text: str, *, price: bool
) -> tuple[str, str] | None:
    """Return the source id and the answer for a question: a business fact or a knowledge entry.

    Retrieval already ranked and filtered the knowledge; an entry still needs a content word in
    common with the question, and wins over a fact only by sharing more words with it.
    """
    subject = _words(text) - _words(" ".join(_PRICE))
    fact = _best_fact(facts, text, price=price)
    fact_score = len(subject & _words(" ".join(fact))) if fact else 0
    scored = [
        (len(subject & _words(f"{entry['title']} {entry['text']}")), -order, entry)
        for order, entry in enumerate(knowledge)
    ]
    best = max(scored, default=None, key=lambda item: item[:2])
    if best is not None and best[0] > 0 and best[0] > fact_score:
        return best[2]["id"], _say_entry(best[2]["text"])
    if fact is not None:
        return fact[0], _say_fact(*fact)
    return None


def _say_entry(text: str) -> str:
    """Say a knowledge entry: a Q&A's answer, else its first sentences (about 300 characters)."""
    answer = text.split("Resposta:", 1)[1].split("Pergunta:", 1)[0] if "Resposta:" in text else text
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(answer.split()))
    said = ""
    for sentence in sentences:
        if said and len(said) + len(sentence) > 300:
            break
        said = f"{said} {sentence}".strip()
    return said[:300].rstrip(".")


def offline_draft(system: str, human: str) -> TurnDraft:
    """Return the turn draft for a prompt, by Brazilian Portuguese keyword intents."""
    facts: dict[str, str] = json.loads(read_section(system, "business_facts") or "{}")
    qualification = json.loads(read_section(system, "qualification") or "{}")
    missing: list[str] = qualification.get("missing", [])
    texts: list[str] = json.loads(read_section(human, "new_messages") or "[]")
    text = " ".join(texts)
    ask_next = ask_for_field(missing[0]) if missing else "Como posso te ajudar?"

    def handoff(cause: HandoffCause, reply: str) -> TurnDraft:
        return TurnDraft(
            specialist="handoff", action="handoff", replies=[reply], stage="handoff",
            handoff_cause=cause,
        )  # fmt: skip

    if not texts:
        nudge = "Oi! Passando para saber se posso ajudar."
        nudge += f" {ask_for_field(missing[0])}" if missing else " Ficou alguma dúvida?"
        return TurnDraft(specialist="qualify", action="speak", replies=[nudge])
    if _has(text, _HANDOFF):
        return handoff("lead_requested", HANDOFF_REPLY)
    has_meeting = (read_section(human, "meeting") or "").startswith("confirmed")
    if has_meeting and wants_cancel(texts):
        return TurnDraft(
            specialist="schedule", action="speak", meeting_request="cancel",
            replies=["Tudo bem, vou cancelar a sua reunião."],
        )  # fmt: skip
    if has_meeting and wants_reschedule(texts):
        return TurnDraft(
            specialist="schedule", action="speak", meeting_request="reschedule",
            replies=["Claro, vamos remarcar! Qual destes horários fica melhor para você?"],
        )  # fmt: skip
    if _has(text, _OBJECTION):
        reply = "Entendo, sem pressa! Se ajudar, posso te mandar mais detalhes ou reservar um "
        reply += "horário sem compromisso."
        return TurnDraft(
            specialist="close", action="speak", replies=[reply], stage="closing",
            followup_in_minutes=24 * 60,
        )  # fmt: skip
    if _has(text, _SCHEDULE):
        if _TIME.search(normalize(text)):
            reply = "Anotado! A equipe confirma esse horário com você em seguida."
            return TurnDraft(
                specialist="schedule", action="speak", replies=[reply], stage="scheduled",
                meeting_request="book",
            )  # fmt: skip
        slots = next((v for k, v in facts.items() if _words(k) & _SLOT_FACT), None)
        reply = f"Temos estes horários: {slots}. Qual fica melhor para você?" if slots else (
            "Claro! Qual dia e horário ficam melhores para você?"
        )  # fmt: skip
        return TurnDraft(
            specialist="schedule", action="speak", replies=[reply], stage="scheduling",
            meeting_request="book",
        )  # fmt: skip
    asks_price = _has(text, _PRICE)
    asks = "?" in text and bool(_words(text))
    if asks_price or asks:
        knowledge = json.loads(read_section(system, "knowledge") or "[]")
        source = _best_source(facts, knowledge, text, price=asks_price)
        if source is None:
            return handoff("knowledge_gap", KNOWLEDGE_GAP_REPLY)
        source_id, answer = source
        return TurnDraft(
            specialist="sell", action="speak", replies=[f"Claro! {answer}."], stage="selling",
            sources=[source_id],
        )  # fmt: skip
    if _has(text, _GREETING):
        greeting = next((v for k, v in facts.items() if normalize(k) == "saudacao"), None)
        reply = f"{greeting or 'Olá! Que bom falar com você.'} {ask_next}"
        return TurnDraft(specialist="qualify", action="speak", replies=[reply], stage="qualifying")
    if not normalize(text) or set(normalize(text).split()) <= _ACK:
        return TurnDraft(specialist="qualify", action="stay_silent")
    if _has(text, _WAIT):
        return TurnDraft(specialist="qualify", action="wait")
    return _qualify(missing, text, read_section(human, "recent_messages") or "")


def _qualify(missing: list[str], text: str, history: str) -> TurnDraft:
    """Take the lead's text as the field the agent last asked for, then ask for the next one."""
    agent_lines = [line for line in history.splitlines() if line.startswith("agent: ")]
    last_agent = agent_lines[-1] if agent_lines else ""
    asked = next((name for name in missing if ask_for_field(name) in last_agent), None)
    if asked is None:
        follow = ask_for_field(missing[0]) if missing else "Como posso te ajudar?"
        return TurnDraft(specialist="qualify", action="speak", replies=[f"Entendi! {follow}"])
    rest = [name for name in missing if name != asked]
    follow = ask_for_field(rest[0]) if rest else "Como posso te ajudar agora?"
    return TurnDraft(
        specialist="qualify",
        action="speak",
        replies=[f"Obrigado! {follow}"],
        extracted_fields=[ExtractedField(name=asked, value=" ".join(text.split())[:200])],
        stage="qualifying" if rest else "qualified",
    )


class OfflineChatModel(BaseChatModel):
    """Answer turn prompts by keyword rules: deterministic, free, and labelled as offline."""

    model_name: str = OFFLINE_MODEL_NAME

    @property
    def _llm_type(self) -> str:
        return "piloto-offline"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tool schemas; the only tool the offline model can call is ``TurnDraft``."""
        schemas = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=schemas, tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        system = "\n".join(m.text for m in messages if isinstance(m, SystemMessage))
        human = "\n".join(m.text for m in messages if not isinstance(m, SystemMessage))
        draft = offline_draft(system, human)
        arguments = draft.model_dump(mode="json")
        tool_names = [tool["function"]["name"] for tool in kwargs.get("tools") or []]
        if tool_names and tool_names != [TurnDraft.__name__]:
            raise ValueError(f"the offline model only drafts turns, not {tool_names}")
        # Token counts are estimates (about four characters a token), not a tokenizer's count.
        prompt_tokens = (len(system) + len(human)) // 4
        completion_tokens = len(json.dumps(arguments, ensure_ascii=False)) // 4
        usage = UsageMetadata(
            input_tokens=prompt_tokens,
            output_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        calls = [tool_call(name=TurnDraft.__name__, args=arguments, id="offline-turn-draft")]
        message = AIMessage(
            content="" if tool_names else "\n".join(draft.replies),
            tool_calls=calls if tool_names else [],
            usage_metadata=usage,
            response_metadata={"model_name": self.model_name, "estimated_usage": True},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
