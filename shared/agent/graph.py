"""The turn graph: one model call drafts the turn, a router picks the specialist, a node decides.

    START → match_offer ─(a pick)────────────────→ schedule ─────────────────→ finalize → END
             └→ draft_turn → route_turn → qualify | sell | schedule | close | handoff → finalize
                                       └── (stay_silent, wait, schedule_followup) ──→ finalize

``draft_turn`` is the only model call: a structured ``TurnDraft`` that classifies and drafts
together. Specialists only post-process deterministically, so no second call is needed on any
path. ``match_offer`` runs first: a lead answering the conversation's offer of meeting times
("2", the row title, "terça às 9") goes straight to ``schedule`` without a model call. The
``schedule`` node asks the tenant's calendar (``TurnContext.slots``, looked up only there) and
turns the turn into a ``BookingRequest`` (offer, book, reschedule, cancel) the runner carries
out. The graph has no side effects and reads no clock: ``TurnContext`` brings ``now`` and the
model, and ``decide_turn`` returns a typed ``Decision`` for the caller to act on.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from shared.agent.context import TurnContext
from shared.agent.llm import describe_model
from shared.agent.prompts import (
    ASK_TIME_REPLY,
    CALENDAR_UNAVAILABLE_REPLY,
    HANDOFF_REPLY,
    KNOWLEDGE_GAP_REPLY,
    NO_FREE_SLOTS_REPLY,
    OFFER_REPLY,
    ask_for_field,
    booked_reply,
    build_prompt,
    canceled_reply,
    missing_fields,
)
from shared.agent.sources import asks_about_business_terms, valid_sources
from shared.agent.state import InputState, MeetingRequest, OutputState, TurnDraft, TurnState
from shared.knowledge.models import KnowledgeSnippet
from shared.models.conversation import Conversation
from shared.models.decision import Action, Choice, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.scheduling.matching import email_in, pick_offered, wants_cancel, wants_reschedule
from shared.scheduling.models import BookingRequest, Slot

if TYPE_CHECKING:
    from shared.scheduling.service import SlotLookup

logger = logging.getLogger("piloto.agent")

MAX_REPLIES = 3
Route = Literal["qualify", "sell", "schedule", "close", "handoff", "finalize"]
CHOICES_BUTTON = "Ver horários"
_MEETING_REASONS = {
    Reason.MEETING_OFFERED, Reason.MEETING_BOOKED, Reason.MEETING_RESCHEDULED,
    Reason.MEETING_CANCELED,
}  # fmt: skip
_EMAIL_FIELDS = ("email", "e-mail", "e_mail")
_AMOUNT = re.compile(r"R\$\s*(\d[\d.]*)", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d.]*")
_HANDOFF_REASONS = {
    "lead_requested": [Reason.HANDOFF_REQUESTED],
    "knowledge_gap": [Reason.KNOWLEDGE_GAP, Reason.HANDOFF_REQUESTED],
    "sensitive_topic": [Reason.HANDOFF_REQUESTED],
}
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_SENDS_MESSAGES = {Action.SPEAK, Action.HANDOFF, Action.CLOSE}
_COPILOT_SILENCES = {Action.SPEAK, Action.CLOSE, Action.SCHEDULE_FOLLOWUP}


def invented_amounts(replies: Sequence[str], business_facts: dict[str, str]) -> list[str]:
    """Return the ``R$`` amounts in replies that no business fact states."""
    facts_text = " ".join(business_facts.values())
    known = {number.replace(".", "") for number in _NUMBER.findall(facts_text)}
    return [
        amount
        for reply in replies
        for amount in _AMOUNT.findall(reply)
        if amount.rstrip(".").replace(".", "") not in known
    ]


def model_failure(note: str) -> TurnState:
    """Return the plan for a turn whose model call failed: a silent handoff, recorded."""
    return {
        "model_error": note[:300],
        "specialist": "handoff",
        "action": "handoff",
        "replies": [],
        "reasons": [Reason.MODEL_ERROR, Reason.HANDOFF_REQUESTED],
        "extracted_fields": {},
        "stage": "handoff",
    }


def plan_from_draft(
    draft: TurnDraft,
    settings: AgentSettings,
    stage: str,
    new_messages: Sequence[str] = (),
    knowledge: Sequence[KnowledgeSnippet] = (),
) -> TurnState:
    """Return the working plan from a draft, keeping only known fields, sources and prices.

    Two answers become a knowledge-gap handoff whatever the model says: an ``R$`` amount no
    business fact states, and a reply to a question about prices, payment, deadlines, guarantees
    or policies that cites no source the prompt held.
    """
    facts_used, knowledge_used = valid_sources(draft.sources, settings, knowledge)
    plan: TurnState = {
        "draft": draft,
        "specialist": draft.specialist,
        "action": draft.action,
        "replies": [reply.strip() for reply in draft.replies if reply.strip()][:MAX_REPLIES],
        "reasons": [],
        "extracted_fields": {
            item.name: item.value.strip()[:200]
            for item in draft.extracted_fields
            if item.name in settings.qualification_fields and item.value.strip()
        },
        "facts_used": facts_used,
        "knowledge_used": knowledge_used,
        "stage": draft.stage or stage,
    }
    if draft.followup_in_minutes:
        plan["followup_in_minutes"] = draft.followup_in_minutes
    if draft.meeting_request:
        plan["meeting_request"] = draft.meeting_request
    answers_unsourced = (
        draft.action == "speak"
        and draft.specialist != "schedule"
        and not (facts_used or knowledge_used)
        and asks_about_business_terms(new_messages)
    )
    if invented_amounts(plan["replies"], settings.business_facts) or answers_unsourced:
        plan["specialist"], plan["action"] = "handoff", "handoff"
        plan["replies"] = [KNOWLEDGE_GAP_REPLY]
        plan["reasons"] = list(_HANDOFF_REASONS["knowledge_gap"])
        plan["facts_used"], plan["knowledge_used"] = [], []
    elif draft.handoff_cause or draft.action == "handoff":
        plan["specialist"], plan["action"] = "handoff", "handoff"
    return plan


def match_offer(state: TurnState, runtime: Runtime[TurnContext]) -> TurnState:
    """Book the offered slot the lead's texts pick, deterministically (no model call)."""
    conversation = state["conversation"]
    if not conversation.offered_slots or not state["new_messages"]:
        return {}
    picked = pick_offered(
        state["new_messages"], conversation.offered_slots, runtime.context.timezone
    )
    if picked is None:
        return {}
    return {
        "picked": picked,
        "meeting_request": "book",
        "specialist": "schedule",
        "action": "speak",
        "replies": [],
        "reasons": [],
        "extracted_fields": {},
        "stage": conversation.stage,
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }


def route_offer(state: TurnState) -> Literal["schedule", "draft_turn"]:
    """Send a pick straight to ``schedule``; anything else to the model."""
    return "schedule" if "picked" in state else "draft_turn"


def draft_turn(state: TurnState, runtime: Runtime[TurnContext]) -> TurnState:
    """Ask the model once for a ``TurnDraft``: classify the turn and draft the reply together."""
    context = runtime.context
    conversation, settings = state["conversation"], state["settings"]
    knowledge = state.get("knowledge", [])
    prompt = build_prompt(
        conversation, state["new_messages"], settings, context.local_now, knowledge
    )
    try:
        result = context.chat_model.with_structured_output(TurnDraft, include_raw=True).invoke(
            prompt
        )
    except Exception as error:  # a failing model becomes a recorded handoff, never a crash
        return model_failure(f"{type(error).__name__}: {error}")
    outcome: dict[str, Any] = result if isinstance(result, dict) else {"parsed": result}
    parsed = outcome.get("parsed")
    if isinstance(parsed, TurnDraft):
        plan = plan_from_draft(
            parsed, settings, conversation.stage, state["new_messages"], knowledge
        )
    else:
        plan = model_failure(f"unparseable draft: {outcome.get('parsing_error')}")
    usage: dict[str, Any] = getattr(outcome.get("raw"), "usage_metadata", None) or {}
    plan["prompt_tokens"] = int(usage.get("input_tokens", 0))
    plan["completion_tokens"] = int(usage.get("output_tokens", 0))
    return plan


def route_turn(state: TurnState) -> Route:
    """Pick the specialist for the draft; turns that send nothing now need none."""
    action = state["action"]
    if action in ("handoff", "close"):
        return action
    if action in ("stay_silent", "wait", "schedule_followup"):
        return "finalize"
    return state["specialist"]


def qualify(state: TurnState) -> TurnState:
    """Make sure a qualifying reply asks for a missing field, one question at a time."""
    collected = {**state["conversation"].fields, **state["extracted_fields"]}
    missing = missing_fields(state["settings"], collected)
    if not missing:
        return {"stage": "qualified" if state["stage"] in ("new", "qualifying") else state["stage"]}
    replies = list(state["replies"])
    if not any("?" in reply for reply in replies):
        replies.append(ask_for_field(missing[0]))
    return {
        "replies": replies,
        "stage": "qualifying" if state["stage"] == "new" else state["stage"],
    }


def sell(state: TurnState) -> TurnState:
    """Keep a consultative answer in the selling stage (prices were checked in the draft)."""
    return {"stage": "selling" if state["stage"] in ("new", "qualifying") else state["stage"]}


def schedule(state: TurnState, runtime: Runtime[TurnContext]) -> TurnState:
    """Offer the calendar's free slots, book a pick, move or cancel the lead's meeting.

    Without a calendar (none wired, or the tenant's is off) the reply asks for a time, as a
    conversation only. An offer is one message whose choices are the slots; no free slot, or a
    calendar that cannot be read, hands off to a human with the reason.
    """
    context = runtime.context
    conversation = state["conversation"]
    request = meeting_request(state)
    booked = conversation.booking_status == "confirmed" and conversation.booking_id is not None
    if request == "cancel" and booked:
        return {
            "replies": [canceled_reply(conversation.booking_start, context.timezone)],
            "reasons": [Reason.MEETING_CANCELED],
            "stage": "qualified",
            "booking": BookingRequest(kind="cancel", booking_id=conversation.booking_id),
        }
    try:
        lookup = context.slots() if context.slots is not None else None
    except Exception:  # a calendar that cannot be read becomes a handoff, never a crash
        logger.exception("slot lookup failed", extra={"decision_id": context.decision_id})
        return _calendar_handoff(state, Reason.CALENDAR_UNAVAILABLE, CALENDAR_UNAVAILABLE_REPLY)
    if lookup is None or lookup.calendar is None:
        return _ask_for_time(state)
    picked = state.get("picked")
    if picked is not None and picked.start > context.now:
        moved = booked
        return {
            "replies": [
                booked_reply(
                    picked.start,
                    round((picked.end - picked.start).total_seconds() / 60),
                    context.timezone,
                    lookup.calendar.location,
                    moved=moved,
                )
            ],
            "reasons": [Reason.MEETING_RESCHEDULED if moved else Reason.MEETING_BOOKED],
            "stage": "scheduled",
            "booking": BookingRequest(
                kind="reschedule" if moved else "book",
                slot=picked,
                booking_id=conversation.booking_id if moved else None,
                email=lead_email(state),
            ),
        }
    if lookup.error is not None:
        return _calendar_handoff(state, Reason.CALENDAR_UNAVAILABLE, CALENDAR_UNAVAILABLE_REPLY)
    slots = lookup.slots[: lookup.calendar.slots_offered]
    if not slots:
        return _calendar_handoff(state, Reason.NO_FREE_SLOTS, NO_FREE_SLOTS_REPLY)
    return {
        "replies": [_offer_intro(state["replies"])],
        "reasons": [Reason.MEETING_OFFERED],
        "stage": "scheduled" if booked else "scheduling",
        "booking": BookingRequest(kind="offer", slots=slots),
    }


def meeting_request(state: TurnState) -> MeetingRequest:
    """Return what the lead wants of a meeting: the draft's word, else their own words."""
    if request := state.get("meeting_request"):
        return request
    texts = state["new_messages"]
    if wants_cancel(texts):
        return "cancel"
    return "reschedule" if wants_reschedule(texts) else "book"


def lead_email(state: TurnState) -> str | None:
    """Return the lead's e-mail for the invitation: written now, else a collected field."""
    fields = {**state["conversation"].fields, **state.get("extracted_fields", {})}
    return email_in(state["new_messages"]) or email_in(
        [fields[name] for name in _EMAIL_FIELDS if fields.get(name)]
    )


def _ask_for_time(state: TurnState) -> TurnState:
    """Ask for a time in the conversation when no calendar books it."""
    replies = state["replies"] or [ASK_TIME_REPLY]
    stage = state["stage"] if state["stage"] in ("scheduling", "scheduled") else "scheduling"
    return {"replies": replies, "stage": stage}


def _offer_intro(replies: Sequence[str]) -> str:
    """Return the offer's text: the draft's first reply unless it names a time itself."""
    intro = replies[0] if replies else ""
    return intro if intro and not any(char.isdigit() for char in intro) else OFFER_REPLY


def _calendar_handoff(state: TurnState, reason: Reason, reply: str) -> TurnState:
    """Hand a scheduling turn to a human (no free slots, calendar unavailable), telling the lead."""
    plan: TurnState = {
        "action": "handoff",
        "reasons": [reason, Reason.HANDOFF_REQUESTED],
        "replies": [reply],
    }
    return {**plan, **handoff({**state, **plan})}


def close(state: TurnState) -> TurnState:
    """Answer an objection with one message and no insisting; a closed lead is lost."""
    stage = state["stage"] if state["stage"] in ("won", "lost") else "closing"
    if state["action"] == "close" and stage == "closing":
        stage = "lost"
    return {"replies": state["replies"][:1], "stage": stage}


def handoff(state: TurnState) -> TurnState:
    """Hand the conversation to a human with a summary; tell the lead unless the model failed."""
    draft = state.get("draft")
    cause = draft.handoff_cause if draft and draft.handoff_cause else "lead_requested"
    reasons = state["reasons"] or list(_HANDOFF_REASONS[cause])
    replies = state["replies"][:1]
    if not replies and "model_error" not in state:
        replies = [KNOWLEDGE_GAP_REPLY if Reason.KNOWLEDGE_GAP in reasons else HANDOFF_REPLY]
    conversation = state["conversation"]
    collected = {**conversation.fields, **state["extracted_fields"]}
    lines = [
        f"Motivo: {', '.join(reason.value for reason in reasons)}",
        f"Etapa: {state['stage']}",
        "Dados: " + ("; ".join(f"{k}={v}" for k, v in collected.items()) or "nenhum"),
        "Faltando: " + (", ".join(missing_fields(state["settings"], collected)) or "nada"),
        f"Resumo: {conversation.summary[:500] or '-'}",
        "Lead disse: " + (" | ".join(state["new_messages"][-3:])[:500] or "-"),
    ]
    if "model_error" in state:
        lines.append(f"Erro do modelo: {state['model_error']}")
    return {
        "action": "handoff",
        "reasons": reasons,
        "replies": replies,
        "stage": "handoff",
        "handoff_summary": "\n".join(lines),
    }


def finalize(state: TurnState, runtime: Runtime[TurnContext]) -> TurnState:
    """Turn the plan into the typed ``Decision``; in copilot mode replies become suggestions.

    An intent the owner promoted to pilot (``TurnContext.pilot_intents``) keeps its messages in
    copilot mode, each marked with the intent so the sender re-checks the promotion.
    """
    context = runtime.context
    action = Action(state["action"])
    trigger = Reason.LEAD_REPLIED if state["new_messages"] else Reason.FOLLOWUP_DUE
    reasons = [*state.get("reasons", []), trigger]
    replies = state.get("replies", []) if action in _SENDS_MESSAGES else []
    followup_at = None
    if minutes := state.get("followup_in_minutes"):
        followup_at = context.now + timedelta(minutes=minutes)
    elif action is Action.SCHEDULE_FOLLOWUP:
        followup_at = context.now + _first_followup(state["settings"])
    specialist = state.get("specialist")
    promoted = context.mode == "copilot" and specialist in context.pilot_intents
    booking = state.get("booking") if action in _SENDS_MESSAGES else None
    booking = booking or _email_for_meeting(state)
    messages = [
        OutboundMessage(text=reply, pilot_intent=specialist if promoted else None)
        for reply in replies
    ]
    if booking is not None and booking.kind == "offer" and messages:
        messages = [_with_choices(messages[0], booking.slots)]
    suggestions: list[str] = []
    stage = state.get("stage")
    if promoted:
        reasons.append(Reason.PILOT_INTENT)
    elif context.mode == "copilot":
        # Nothing is held or booked for a seller's suggestion: the offer becomes numbered text.
        suggestions = [_as_suggestion(message) for message in messages]
        messages, replies = [], []
        reasons = [reason for reason in reasons if reason not in _MEETING_REASONS]
        reasons.append(Reason.COPILOT_MODE)
        if booking is not None and booking.kind != "offer":
            stage = state["conversation"].stage
        booking = None
        if action in _COPILOT_SILENCES:
            action, followup_at = Action.STAY_SILENT, None
    model: str | None
    model, offline = describe_model(context.chat_model)
    if "draft" not in state and "picked" in state:
        model, offline = None, False  # the pick was read without a model call
    open_question = None
    if Reason.KNOWLEDGE_GAP in reasons and state["new_messages"]:
        open_question = " ".join(" ".join(state["new_messages"]).split())[:1_000]
    decision = Decision(
        decision_id=context.decision_id,
        action=action,
        reasons=list(dict.fromkeys(reasons)),
        messages=messages,
        suggestions=suggestions,
        followup_at=followup_at,
        extracted_fields=state.get("extracted_fields", {}),
        knowledge_used=state.get("knowledge_used", []),
        facts_used=state.get("facts_used", []),
        open_question=open_question,
        stage=stage,
        specialist=specialist,
        model=model,
        offline_model=offline,
        prompt_tokens=state.get("prompt_tokens", 0),
        completion_tokens=state.get("completion_tokens", 0),
        triggering_events=list(context.triggering_events),
        booking=booking,
        decided_at=context.now,
    )
    return {"decision": decision}


def _email_for_meeting(state: TurnState) -> BookingRequest | None:
    """Return the invitation request when the lead writes an e-mail with a confirmed meeting."""
    conversation = state["conversation"]
    email = email_in(state["new_messages"])
    if email is None or conversation.booking_status != "confirmed" or not conversation.booking_id:
        return None
    return BookingRequest(kind="add_email", booking_id=conversation.booking_id, email=email)


def _with_choices(message: OutboundMessage, slots: Sequence[Slot]) -> OutboundMessage:
    """Return the offer's message with one choice per slot (a list row or a numbered line)."""
    choices = [Choice(id=slot.slot_id, title=slot.label[:24]) for slot in slots]
    return message.model_copy(update={"choices": choices, "choices_button": CHOICES_BUTTON})


def _as_suggestion(message: OutboundMessage) -> str:
    """Return a message as the seller's suggestion: its choices as numbered lines."""
    lines = [f"{number}. {choice.title}" for number, choice in enumerate(message.choices, 1)]
    return "\n".join([message.text or "", *lines]).strip()


def _first_followup(settings: AgentSettings) -> timedelta:
    """Return the tenant's first follow-up delay (``30m``, ``1h``, ``3d``), one day by default."""
    if not settings.followups:
        return timedelta(days=1)
    first = settings.followups[0]
    return timedelta(**{_UNITS[first[-1]]: int(first[:-1])})


def build_graph() -> CompiledStateGraph[TurnState, TurnContext, InputState, OutputState]:
    """Return the compiled turn graph (named ``piloto-turn``)."""
    builder = StateGraph(
        TurnState, context_schema=TurnContext, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("match_offer", match_offer)
    builder.add_node("draft_turn", draft_turn)
    for name, node in (("qualify", qualify), ("sell", sell), ("schedule", schedule),
                       ("close", close), ("handoff", handoff)):  # fmt: skip
        builder.add_node(name, node)
        builder.add_edge(name, "finalize")
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "match_offer")
    builder.add_conditional_edges("match_offer", route_offer)
    builder.add_conditional_edges("draft_turn", route_turn)
    builder.add_edge("finalize", END)
    return builder.compile(name="piloto-turn")


@cache
def turn_graph() -> CompiledStateGraph[TurnState, TurnContext, InputState, OutputState]:
    """Return the process-wide compiled turn graph."""
    return build_graph()


@dataclass(frozen=True)
class TurnOutcome:
    """A turn's decision and, for a handoff, the summary for the human who takes over."""

    decision: Decision
    handoff_summary: str | None = None


def fallback_decision(context: TurnContext, note: str) -> Decision:
    """Return the safe decision when the turn itself failed: hand off, with the model's label."""
    model, offline = describe_model(context.chat_model)
    return Decision(
        decision_id=context.decision_id,
        action=Action.HANDOFF,
        reasons=[Reason.MODEL_ERROR, Reason.HANDOFF_REQUESTED],
        specialist="handoff",
        stage="handoff",
        model=model,
        offline_model=offline,
        triggering_events=list(context.triggering_events),
        decided_at=context.now,
    )


def run_turn(
    conversation: Conversation,
    new_messages: Sequence[str],
    settings: AgentSettings,
    context: TurnContext,
    knowledge: Sequence[KnowledgeSnippet] = (),
) -> TurnOutcome:
    """Decide one turn and time it; any failure becomes a handoff decision, never an exception."""
    started = time.perf_counter()
    state: InputState = {
        "conversation": conversation,
        "new_messages": list(new_messages),
        "settings": settings,
        "knowledge": list(knowledge),
    }
    try:
        output = turn_graph().invoke(state, context=context)
        outcome = TurnOutcome(output["decision"], output.get("handoff_summary"))
    except Exception as error:  # the turn must always leave a decision record
        note = f"{type(error).__name__}: {error}"[:300]
        outcome = TurnOutcome(fallback_decision(context, note), f"Erro do turno: {note}")
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    decision = outcome.decision.model_copy(
        update={"latency_ms": latency_ms, "handoff_summary": outcome.handoff_summary}
    )
    if Reason.MODEL_ERROR in decision.reasons:
        logger.warning(
            "turn fell back to a handoff",
            extra={
                "tenant_id": context.tenant_id,
                "conversation_id": context.conversation_id,
                "decision_id": context.decision_id,
                "handoff_summary": outcome.handoff_summary,
            },
        )
    return TurnOutcome(decision, outcome.handoff_summary)


def decide_turn(
    conversation: Conversation,
    new_messages: Sequence[str],
    settings: AgentSettings,
    context: TurnContext,
    knowledge: Sequence[KnowledgeSnippet] = (),
) -> Decision:
    """Return the typed decision for one turn (see ``run_turn`` for the handoff summary too)."""
    return run_turn(conversation, new_messages, settings, context, knowledge).decision


Retrieve = Callable[[str, Sequence[str]], Sequence[KnowledgeSnippet]]
"""Return the tenant's knowledge relevant to the lead's texts (``shared.knowledge.retrieve``)."""

SlotsFor = Callable[[str, str, datetime], "SlotLookup"]
"""Return a tenant's calendar and free slots for its zone and now (``Scheduler.slots_for``)."""


def graph_decider(
    chat_model: BaseChatModel,
    timezone_of: Callable[[str], str],
    retrieve: Retrieve | None = None,
    slots_for: SlotsFor | None = None,
) -> Callable[[Conversation, Sequence[str], AgentSettings, str, datetime], Decision]:
    """Return the ``decide`` a turn runner calls: this graph, its model, zones, knowledge and
    calendar.

    A failed retrieval finds nothing, so a question about prices or policies then hands off
    rather than guess. The calendar is asked only by a turn that schedules, at most once.
    """

    def decide(
        conversation: Conversation,
        texts: Sequence[str],
        settings: AgentSettings,
        decision_id: str,
        now: datetime,
    ) -> Decision:
        timezone = timezone_of(conversation.tenant_id)
        slots = None
        if slots_for is not None:
            tenant_id = conversation.tenant_id
            slots = cache(lambda: slots_for(tenant_id, timezone, now))
        context = TurnContext(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.conversation_id,
            decision_id=decision_id,
            now=now,
            chat_model=chat_model,
            mode=conversation.mode if settings.mode == "pilot" else "copilot",
            timezone=timezone,
            slots=slots,
            pilot_intents=frozenset(settings.pilot_intents)
            if settings.mode == "copilot"
            else (frozenset()),
        )
        knowledge: Sequence[KnowledgeSnippet] = ()
        if retrieve is not None and texts:
            try:
                knowledge = retrieve(conversation.tenant_id, texts)
            except Exception:  # the turn goes on without knowledge; the gap guard hands off
                logger.exception(
                    "knowledge retrieval failed",
                    extra={"tenant_id": conversation.tenant_id, "decision_id": decision_id},
                )
        return decide_turn(conversation, texts, settings, context, knowledge)

    return decide
