"""The follow-up specialist: one nudge for a lead who went quiet, built from the conversation.

It picks up where the conversation stopped (what the lead asked last, the missing qualification
fields, the stage) and never sends a generic "oi?". With Gemini (``PILOTO_LLM=vertex``) it is one
structured call (``FollowupDraft``) on the follow-up prompt (``prompts.build_followup_prompt``);
a failed call, an empty or invented-price draft falls back to the deterministic draft and says
so (``model_error``). With the offline model the draft is deterministic Portuguese, labelled
``offline-followup-v1``. No side effects: ``shared.followups`` decides whether a nudge may go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from shared.agent.graph import invented_amounts
from shared.agent.llm import describe_model
from shared.agent.offline import OfflineChatModel, normalize
from shared.agent.prompts import ask_for_field, build_followup_prompt, missing_fields
from shared.models.conversation import Conversation, Role
from shared.models.tenant import AgentSettings

logger = logging.getLogger("piloto.agent.followup")

OFFLINE_FOLLOWUP_MODEL = "offline-followup-v1"
MAX_NUDGE_CHARS = 600
_STAGE_QUESTIONS = {
    "scheduling": "Quer que eu veja um horário para você?",
    "scheduled": "Posso te ajudar com mais alguma coisa antes do seu horário?",
    "selling": "Quer que eu te ajude com o próximo passo?",
    "closing": "Quer que eu te ajude com o próximo passo?",
}
_DEFAULT_QUESTION = "Ficou alguma dúvida que eu possa esclarecer?"


class FollowupDraft(BaseModel):
    """Write one follow-up message for a lead who stopped answering."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        description="One short WhatsApp message in the tenant language that picks up where the "
        "conversation stopped; never a generic check-in."
    )


@dataclass(frozen=True)
class Nudge:
    """A drafted follow-up and who drafted it (for the decision log)."""

    text: str
    model: str
    offline_model: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_error: str | None = None


FollowupDrafter = Callable[[Conversation, AgentSettings, int, int, datetime], Nudge]
"""(conversation, settings, step, steps, local now) → the nudge for cadence step ``step``."""


def followup_drafter(chat_model: BaseChatModel) -> FollowupDrafter:
    """Return the drafter a follow-up runner calls: deterministic offline, else one model call."""

    def draft(
        conversation: Conversation, settings: AgentSettings, step: int, steps: int, now: datetime
    ) -> Nudge:
        if isinstance(chat_model, OfflineChatModel):
            text = offline_followup(conversation, settings, step=step, steps=steps)
            return Nudge(text=text, model=OFFLINE_FOLLOWUP_MODEL, offline_model=True)
        return model_followup(chat_model, conversation, settings, step=step, steps=steps, now=now)

    return draft


def model_followup(
    chat_model: BaseChatModel,
    conversation: Conversation,
    settings: AgentSettings,
    *,
    step: int,
    steps: int,
    now: datetime,
) -> Nudge:
    """Ask the model for the nudge once; fall back to the deterministic draft, saying why."""
    prompt = build_followup_prompt(conversation, settings, now, step=step, steps=steps)
    model, offline = describe_model(chat_model)
    try:
        result: Any = chat_model.with_structured_output(FollowupDraft, include_raw=True).invoke(
            prompt
        )
    except Exception as error:  # a failing model must not stop the cadence
        return _fallback(conversation, settings, step, steps, f"{type(error).__name__}: {error}")
    outcome: dict[str, Any] = result if isinstance(result, dict) else {"parsed": result}
    parsed = outcome.get("parsed")
    usage: dict[str, Any] = getattr(outcome.get("raw"), "usage_metadata", None) or {}
    text = " ".join(parsed.message.split()) if isinstance(parsed, FollowupDraft) else ""
    problem = None
    if not text:
        problem = f"unusable follow-up draft: {outcome.get('parsing_error') or 'empty'}"
    elif invented_amounts([text], settings.business_facts):
        problem = "the follow-up draft states a price the business facts do not"
    if problem:
        return _fallback(conversation, settings, step, steps, problem)
    return Nudge(
        text=text[:MAX_NUDGE_CHARS],
        model=model,
        offline_model=offline,
        prompt_tokens=int(usage.get("input_tokens", 0)),
        completion_tokens=int(usage.get("output_tokens", 0)),
    )


def offline_followup(
    conversation: Conversation, settings: AgentSettings, *, step: int, steps: int
) -> str:
    """Return a deterministic Portuguese nudge built from the conversation (never a bare "oi?")."""
    name = conversation.fields.get("nome", "").split()
    greeting = f"Oi, {name[0].title()}!" if name else "Oi!"
    subject = lead_subject(conversation, settings)
    if step + 1 >= steps:
        return (
            f"{greeting} Não quero te incomodar, então esta é minha última mensagem sobre "
            f"{subject}. Se quiser retomar, é só responder por aqui."
        )
    missing = missing_fields(settings, conversation.fields)
    question = (
        ask_for_field(missing[0])
        if missing
        else _STAGE_QUESTIONS.get(conversation.stage, _DEFAULT_QUESTION)
    )
    if step == 0:
        return f"{greeting} Retomando o que conversamos sobre {subject}. {question}"
    return f"{greeting} Sigo à disposição para falar sobre {subject}. {question}"


def lead_subject(conversation: Conversation, settings: AgentSettings) -> str:
    """Return what the lead was asking about: a business fact's topic, else their own words."""
    lead_texts = [m.text for m in conversation.window if m.role is Role.LEAD][-3:]
    asked = _content_words(" ".join(lead_texts))
    best: tuple[int, int, str] | None = None
    for order, key in enumerate(settings.business_facts):
        score = len(asked & _content_words(key))
        if score and (best is None or (score, -order) > best[:2]):
            best = (score, -order, key)
    if best is not None:
        return best[2].replace("_", " ").strip()
    if lead_texts:
        words = " ".join(lead_texts[-1].split())
        quoted = words if len(words) <= 80 else f"{words[:77].rstrip()}..."
        return f"a sua mensagem (“{quoted}”)"
    return "o seu atendimento"


def _content_words(text: str) -> set[str]:
    """Return the words of four letters or more, without accents, crudely singular."""
    return {
        word[:-1] if word.endswith("s") and len(word) > 4 else word
        for word in normalize(text).split()
        if len(word) >= 4
    }


def _fallback(
    conversation: Conversation, settings: AgentSettings, step: int, steps: int, note: str
) -> Nudge:
    logger.warning(
        "follow-up draft fell back to the deterministic draft: %s",
        note[:300],
        extra={"conversation_id": conversation.conversation_id},
    )
    return Nudge(
        text=offline_followup(conversation, settings, step=step, steps=steps),
        model=OFFLINE_FOLLOWUP_MODEL,
        offline_model=True,
        model_error=note[:300],
    )
