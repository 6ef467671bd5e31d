"""What flows through the turn graph: its input, the model's draft, the working plan, the output.

``TurnDraft`` is the one structured answer the model gives on the common path: it classifies the
turn (which specialist) and drafts the reply together. Specialist nodes then post-process the
plan deterministically, and ``finalize`` turns it into the typed ``Decision`` (``OutputState``).
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from shared.knowledge.models import KnowledgeSnippet
from shared.models.conversation import Conversation
from shared.models.decision import Decision, KnowledgeRef, Reason
from shared.models.tenant import AgentSettings
from shared.scheduling.models import BookingRequest, Slot

Specialist = Literal["qualify", "sell", "schedule", "close", "handoff"]
DraftAction = Literal["speak", "stay_silent", "wait", "handoff", "close", "schedule_followup"]
Stage = Literal[
    "new", "qualifying", "qualified", "selling", "scheduling", "scheduled", "closing", "won",
    "lost", "handoff",
]  # fmt: skip
HandoffCause = Literal["lead_requested", "knowledge_gap", "sensitive_topic"]
MeetingRequest = Literal["book", "reschedule", "cancel"]


class ExtractedField(BaseModel):
    """One qualification field the lead revealed in this turn."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Exactly one of the tenant's qualification field names.")
    value: str = Field(description="The value as the lead said it, trimmed.")


class TurnDraft(BaseModel):
    """Classify the lead's turn and draft the agent's answer in one structured reply."""

    model_config = ConfigDict(extra="forbid")

    specialist: Specialist = Field(
        description="qualify: collect qualification fields; sell: answer with business facts; "
        "schedule: offer or confirm a time; close: objections and next step; handoff: a human "
        "must take over."
    )
    action: DraftAction = Field(
        description="speak to reply now; stay_silent when no reply is needed (thanks, ok); wait "
        "when the lead is still typing; handoff for a human; close when the lead is done; "
        "schedule_followup to write later instead of now."
    )
    replies: list[str] = Field(
        default_factory=list,
        description="Up to three short WhatsApp messages in the tenant language; none if silent.",
    )
    extracted_fields: list[ExtractedField] = Field(default_factory=list)
    stage: Stage | None = Field(default=None, description="The sales stage after this turn.")
    handoff_cause: HandoffCause | None = Field(
        default=None,
        description="Why a human is needed; knowledge_gap when the facts do not answer the lead.",
    )
    followup_in_minutes: int | None = Field(
        default=None, ge=1, le=20_160, description="When to check in again if the lead is quiet."
    )
    sources: list[str] = Field(
        default_factory=list,
        description="The ids of the <knowledge> entries and the names of the business facts "
        "the replies rely on; empty when the replies state no fact.",
    )
    meeting_request: MeetingRequest | None = Field(
        default=None,
        description="With specialist schedule: book when the lead wants a meeting (the "
        "calendar's free times are listed after your reply), reschedule when the lead wants to "
        "move the <meeting> they have, cancel when they want to cancel it; null otherwise.",
    )


class InputState(TypedDict, total=False):
    """What a turn reads: the conversation, new texts, settings and the knowledge found."""

    conversation: Required[Conversation]
    new_messages: Required[list[str]]
    settings: Required[AgentSettings]
    knowledge: list[KnowledgeSnippet]


class OutputState(TypedDict, total=False):
    """What a turn returns: the decision, and for a handoff the summary for the human."""

    decision: Decision
    handoff_summary: str


class TurnState(TypedDict, total=False):
    """Everything a node may read or write; nodes return only the keys they change."""

    conversation: Conversation
    new_messages: list[str]
    settings: AgentSettings
    knowledge: list[KnowledgeSnippet]
    draft: TurnDraft
    model_error: str
    prompt_tokens: int
    completion_tokens: int
    specialist: Specialist
    action: DraftAction
    replies: list[str]
    reasons: list[Reason]
    extracted_fields: dict[str, str]
    facts_used: list[str]
    knowledge_used: list[KnowledgeRef]
    stage: str
    followup_in_minutes: int
    picked: Slot
    """The offered slot the lead's texts picked (the deterministic step; no model call)."""
    meeting_request: MeetingRequest
    booking: BookingRequest
    """What the turn asks of the calendar (the runner carries it out)."""
    decision: Decision
    handoff_summary: str
