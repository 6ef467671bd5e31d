"""The typed decision a turn produces: what to do, and why (the decision log's record)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.scheduling.models import BookingRequest


class Action(StrEnum):
    """What the agent decided to do."""

    SPEAK = "speak"
    STAY_SILENT = "stay_silent"
    WAIT = "wait"
    HANDOFF = "handoff"
    CLOSE = "close"
    SCHEDULE_FOLLOWUP = "schedule_followup"


class Reason(StrEnum):
    """Reason codes: the fixed restraint vocabulary first, then the agent's own."""

    DUPLICATE = "duplicate"
    STALE_EVENT = "stale_event"
    DEBOUNCED = "debounced"
    CLOSED = "closed"
    OPTED_OUT = "opted_out"
    REJECTION = "rejection"
    HUMAN_ACTIVE = "human_active"
    QUIET_HOURS = "quiet_hours"
    OUTSIDE_24H_WINDOW = "outside_24h_window"
    UNANSWERED_LIMIT = "unanswered_limit"
    HANDOFF_REQUESTED = "handoff_requested"
    QUOTA_EXCEEDED = "quota_exceeded"
    SUBSCRIPTION_INACTIVE = "subscription_inactive"
    COPILOT_MODE = "copilot_mode"
    OPT_IN = "opt_in"
    LEAD_REPLIED = "lead_replied"
    FOLLOWUP_DUE = "followup_due"
    MODEL_ERROR = "model_error"
    KNOWLEDGE_GAP = "knowledge_gap"
    NO_RESPONSE = "no_response"
    SEND_FAILED = "send_failed"
    MEDIA_NOT_UNDERSTOOD = "media_not_understood"
    MEDIA_REJECTED = "media_rejected"
    PILOT_INTENT = "pilot_intent"
    MEETING_OFFERED = "meeting_offered"
    MEETING_BOOKED = "meeting_booked"
    MEETING_RESCHEDULED = "meeting_rescheduled"
    MEETING_CANCELED = "meeting_canceled"
    SLOT_TAKEN = "slot_taken"
    """The slot the lead picked was taken meanwhile (another lead, or the owner's calendar)."""
    NO_FREE_SLOTS = "no_free_slots"
    CALENDAR_UNAVAILABLE = "calendar_unavailable"
    MEETING_REMINDER = "meeting_reminder"
    API_STARTED = "api_started"
    """The tenant's own tool started the conversation with a template (the public API)."""


class Choice(BaseModel):
    """One option the lead can tap (an interactive list row or button) or answer by number."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Comes back in the lead's reply.")
    title: str = Field(min_length=1, max_length=24, description="WhatsApp's row/button limit.")
    description: str | None = Field(default=None, max_length=72)


class OutboundMessage(BaseModel):
    """A message the decision wants sent: free text, or an approved template."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    template: str | None = None
    template_language: str | None = None
    template_parameters: list[str] = Field(default_factory=list)
    proactive: bool = Field(
        default=False, description="A follow-up the agent starts, not a reply to the lead."
    )
    acknowledgement: Literal["opt_out", "rejection", "handoff", "meeting_reminder"] | None = Field(
        default=None,
        description="The one message an opt-out or a rejection allows (the sender sets the "
        "conversation's *_acknowledged flag when it goes out); meeting_reminder: a booked "
        "meeting's reminder, which may reach a conversation closed after the booking.",
    )
    sent_by: str | None = Field(
        default=None,
        description="The seller (uid) who wrote it in the console; None for the agent's messages.",
    )
    voice: bool = Field(
        default=False,
        description="Send the text as a voice note when possible (the tenant answers voice with "
        "voice: shared.media.speech.wants_voice_reply); the sender falls back to the text and "
        "records why when it cannot.",
    )
    pilot_intent: str | None = Field(
        default=None,
        description="Sent in a copilot tenant because the owner let the agent answer this intent "
        "alone (re-checked against the tenant's pilot intents at send time).",
    )
    choices: list[Choice] = Field(
        default_factory=list,
        max_length=10,
        description="Options for the lead: an interactive list (or buttons, up to three) where "
        "the provider has them, numbered lines in the text otherwise (shared.sender).",
    )
    choices_button: str | None = Field(
        default=None, max_length=20, description="The list's button label ('Ver horários')."
    )


class KnowledgeRef(BaseModel):
    """A knowledge entry a decision's answer used (its title as it was when the turn ran)."""

    model_config = ConfigDict(extra="forbid")

    entry_id: str
    title: str


class Decision(BaseModel):
    """What one turn decided and why; stored under the conversation's ``decisions``."""

    model_config = ConfigDict(extra="forbid")

    decision_id: str
    action: Action
    reasons: list[Reason] = Field(default_factory=list)
    messages: list[OutboundMessage] = Field(default_factory=list)
    suggestions: list[str] = Field(
        default_factory=list, description="Copilot replies for the seller; never sent to the lead."
    )
    suggestions_intent: str | None = Field(
        default=None,
        description="The intent (specialist) that drafted the suggestions, when a guard decided "
        "the turn itself (``specialist`` is then ``restraint``).",
    )
    suggestion_states: dict[str, str] = Field(
        default_factory=dict,
        description="What the seller did with each suggestion, by index: accepted, edited or "
        "dismissed (absent: pending).",
    )
    followup_at: AwareDatetime | None = None
    extracted_fields: dict[str, str] = Field(default_factory=dict)
    knowledge_used: list[KnowledgeRef] = Field(
        default_factory=list, description="The knowledge entries the answer came from."
    )
    facts_used: list[str] = Field(
        default_factory=list, description="The business facts (by name) the answer came from."
    )
    open_question: str | None = Field(
        default=None,
        description="For a knowledge-gap handoff: the lead's question no source answered.",
    )
    stage: str | None = None
    handoff_summary: str | None = Field(
        default=None, description="For the human who takes over (and the model error, if any)."
    )
    specialist: str | None = None
    model: str | None = None
    offline_model: bool = False
    latency_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    triggering_events: list[str] = Field(default_factory=list)
    booking: BookingRequest | None = Field(
        default=None, description="What the turn asks of the calendar (shared.scheduling)."
    )
    decided_at: AwareDatetime
