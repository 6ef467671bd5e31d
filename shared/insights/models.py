"""Insight agents: the owner's own AI agents that watch the operation and produce insights.

An insight agent has a directive (system prompt), a model choice, triggers (which events run it,
on what conditions, how often at most) and output fields (the structured payload it must return).
Its runs produce insights: a validated payload for one conversation that a seller or the owner
applies or dismisses.

Firestore layout under ``tenants/{tenant_id}/``:

- ``insight_agents/{agent_id}``: an ``InsightAgent`` (triggers and output fields inside it).
- ``insights/{insight_id}``: an ``Insight`` (one agent run on one event; the id is derived from
  the event id and the agent id, so a redelivered event finds its run).
- ``insight_throttles/{key}``: the throttle counters, changed only in the transaction that admits
  a run (see ``shared.insights.throttle``).
- ``settings/insights``: an ``InsightIndex``: which event types some active agent listens to,
  so the hot paths (a lead's message) publish nothing for a tenant that has no agent for it.
- ``settings/conversions``: ``ConversionsSettings``: the tenant's Meta dataset for the Conversions
  API (the access token is a secret reference, never the token).

Events travel on the Pub/Sub topic ``insight-events`` as ``InsightEvent`` JSON.
"""

from __future__ import annotations

import keyword
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

INSIGHT_EVENTS_TOPIC = "insight-events"
MAX_FIELDS = 20
MAX_TRIGGERS = 5
MAX_AGENTS = 30
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class EventType(StrEnum):
    """What can run an insight agent."""

    NEW_MESSAGE_RECEIVED = "NEW_MESSAGE_RECEIVED"
    """A lead's message was taken in (after dedupe; media understanding included)."""
    TICKET_WON = "TICKET_WON"
    """A seller closed the conversation as won, or an applied insight did."""
    TICKET_LOST = "TICKET_LOST"
    """A seller closed the conversation as lost, or an applied insight did."""
    INACTIVITY_2H = "INACTIVITY_2H"
    """An open conversation where neither the business nor the lead wrote for two hours."""
    MACRO_BUTTON_CLICKED = "MACRO_BUTTON_CLICKED"
    """A seller pressed the agent's button in the inbox (the event names the agent)."""


class FieldType(StrEnum):
    """The type of one output field."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ARRAY = "array"
    ENUM = "enum"


class OutputField(BaseModel):
    """One field of the structured output an agent must return.

    Bad definitions are refused with a message naming the field and the problem.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="snake_case identifier, e.g. ``empathy_score``")
    type: FieldType
    description: str = Field(default="", max_length=500)
    required: bool = True
    options: list[str] = Field(
        default_factory=list, description="enum only: the allowed values (2 to 20)."
    )
    items: Literal["string", "number", "boolean"] = Field(
        default="string", description="array only: the type of each item."
    )
    minimum: float | None = Field(default=None, description="number only")
    maximum: float | None = Field(default=None, description="number only")

    @model_validator(mode="after")
    def _coherent(self) -> OutputField:
        name = self.name
        if not FIELD_NAME.match(name):
            raise ValueError(
                f"field name {name!r} must start with a lowercase letter and use only lowercase "
                "letters, digits and '_' (at most 40 characters)"
            )
        if keyword.iskeyword(name) or name.startswith("model_"):
            raise ValueError(f"field name {name!r} is reserved")
        if self.type is FieldType.ENUM:
            options = [option.strip() for option in self.options]
            if len(options) < 2 or len(options) > 20:
                raise ValueError(f"enum field {name!r} needs between 2 and 20 options")
            if any(not option or len(option) > 80 for option in options):
                raise ValueError(f"enum field {name!r} has an empty or too long option")
            if len(set(options)) != len(options):
                raise ValueError(f"enum field {name!r} repeats an option")
            self.options = options
        elif self.options:
            raise ValueError(f"field {name!r} is not an enum: it takes no options")
        if self.type is not FieldType.NUMBER and (
            self.minimum is not None or self.maximum is not None
        ):
            raise ValueError(f"field {name!r} is not a number: it takes no minimum or maximum")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"field {name!r} has a minimum above its maximum")
        return self


class Trigger(BaseModel):
    """When an agent runs: an event type, optional conditions, and throttles."""

    model_config = ConfigDict(extra="forbid")

    trigger_id: str = Field(
        default="", max_length=40, description="Stable id (set on save when empty)."
    )
    event: EventType
    keywords: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="NEW_MESSAGE_RECEIVED only: run when the lead's message contains one of "
        "these (case and accents ignored); empty: every message.",
    )
    mode: Literal["any", "pilot", "copilot"] = Field(
        default="any", description="Run only on conversations in this mode."
    )
    min_lead_messages: int = Field(
        default=0, ge=0, le=1000, description="Run only when the lead wrote at least this often."
    )
    max_per_conversation: int | None = Field(
        default=None, ge=1, le=1000, description="At most this many runs per conversation ..."
    )
    conversation_window_minutes: int = Field(
        default=60, ge=1, le=60 * 24 * 30, description="... within this many minutes."
    )
    max_per_day: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="At most this many runs per day for the tenant (tenant's time zone).",
    )

    @model_validator(mode="after")
    def _coherent(self) -> Trigger:
        if self.keywords and self.event is not EventType.NEW_MESSAGE_RECEIVED:
            raise ValueError("keywords apply only to NEW_MESSAGE_RECEIVED triggers")
        self.keywords = [word.strip() for word in self.keywords if word.strip()]
        return self


class ApplyAction(StrEnum):
    """What applying one of the agent's insights does besides marking it applied."""

    NONE = "none"
    MARK_WON = "mark_won"
    MARK_LOST = "mark_lost"


class InsightAgentSpec(BaseModel):
    """What an owner writes in the builder (the API's create/replace body)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    icon: str = Field(default="✨", min_length=1, max_length=16)
    description: str = Field(default="", max_length=300)
    prompt: str = Field(min_length=1, max_length=6000, description="Persona, task and limits.")
    model: Literal["fast", "precise"] = "fast"
    active: bool = True
    triggers: list[Trigger] = Field(min_length=1, max_length=MAX_TRIGGERS)
    fields: list[OutputField] = Field(min_length=1, max_length=MAX_FIELDS)
    apply_action: ApplyAction = ApplyAction.NONE
    message_field: str | None = Field(
        default=None,
        description="A string field holding a message for the lead the seller may use "
        "(the inbox offers to put it in the composer).",
    )
    send_conversion: bool = Field(
        default=False,
        description="When an insight that marks the conversation won is applied, send a Purchase "
        "to the Meta Conversions API (if the tenant configured its dataset and the lead came "
        "from a click-to-WhatsApp ad).",
    )
    template: str | None = Field(default=None, description="The template it was added from.")

    @model_validator(mode="after")
    def _coherent(self) -> InsightAgentSpec:
        names = [field.name for field in self.fields]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"output field names repeat: {', '.join(repeated)}")
        if self.message_field is not None:
            field = next((f for f in self.fields if f.name == self.message_field), None)
            if field is None or field.type is not FieldType.STRING:
                raise ValueError(
                    f"message_field {self.message_field!r} must name one of the string fields"
                )
        if self.send_conversion and self.apply_action is not ApplyAction.MARK_WON:
            raise ValueError("send_conversion needs apply_action mark_won")
        return self


class InsightAgent(InsightAgentSpec):
    """A stored insight agent."""

    model_config = ConfigDict(extra="ignore")

    agent_id: str
    tenant_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    created_by: str | None = None


class InsightStatus(StrEnum):
    """Where an insight stands."""

    RUNNING = "RUNNING"
    """Admitted by the throttles; the model is working (a redelivered event resumes it)."""
    SUGGESTION = "SUGGESTION"
    APPLIED = "APPLIED"
    DISMISSED = "DISMISSED"
    FAILED = "FAILED"
    """The model's output stayed invalid after one retry, or the model failed: see ``error``."""


class Attribution(BaseModel):
    """The click-to-WhatsApp ad that brought the lead (first touch; from ``AdReferral``)."""

    model_config = ConfigDict(extra="ignore")

    ctwa_clid: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    source_type: str | None = None
    headline: str | None = None


class ConversionResult(BaseModel):
    """What became of the Purchase sent to the Meta Conversions API for an applied insight."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["sent", "failed", "skipped"]
    reason: str | None = None
    """skipped: not_configured, no_ctwa_clid, no_value, no_waba_id; failed: the API's error."""
    events_received: int | None = None
    fbtrace_id: str | None = None
    at: AwareDatetime


class Insight(BaseModel):
    """One agent run on one event for one conversation, and what the team did with it."""

    model_config = ConfigDict(extra="ignore")

    insight_id: str
    tenant_id: str
    conversation_id: str
    contact_key: str | None = None
    contact_name: str | None = None
    agent_id: str
    agent_name: str
    agent_icon: str = "✨"
    template: str | None = None
    event_id: str
    event_type: EventType
    trigger_id: str
    status: InsightStatus
    payload: dict[str, Any] = Field(default_factory=dict)
    fields: list[OutputField] = Field(
        default_factory=list, description="The agent's output fields when it ran (for display)."
    )
    error: str | None = None
    attempts: int = 0
    model: str | None = None
    offline_model: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    apply_action: ApplyAction = ApplyAction.NONE
    message_field: str | None = None
    attribution: Attribution | None = None
    conversion: ConversionResult | None = None
    created_at: AwareDatetime
    completed_at: AwareDatetime | None = None
    reviewed_by: str | None = None
    reviewed_email: str | None = None
    reviewed_at: AwareDatetime | None = None


class InsightEvent(BaseModel):
    """One event on the ``insight-events`` topic."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=500)
    type: EventType
    tenant_id: str
    conversation_id: str
    occurred_at: AwareDatetime
    message_id: str | None = Field(default=None, description="NEW_MESSAGE_RECEIVED")
    text: str | None = Field(
        default=None, max_length=8000, description="NEW_MESSAGE_RECEIVED: what the lead wrote."
    )
    agent_id: str | None = Field(
        default=None, description="MACRO_BUTTON_CLICKED: whose button was pressed."
    )
    actor_uid: str | None = Field(default=None, description="The member who caused it, if any.")
    reason: str | None = Field(default=None, description="TICKET_*: the close note, if any.")


class InsightIndex(BaseModel):
    """``settings/insights``: the event types some active agent of the tenant listens to."""

    model_config = ConfigDict(extra="ignore")

    events: list[EventType] = Field(default_factory=list)


class ConversionsSettings(BaseModel):
    """``settings/conversions``: the tenant's Meta dataset for the Conversions API."""

    model_config = ConfigDict(extra="ignore")

    dataset_id: str
    access_token_ref: str
    """A secret reference (Secret Manager in the cloud, the local secret store in development)."""
    currency: str = "BRL"
    updated_at: AwareDatetime | None = None


def index_for(agents: list[InsightAgent]) -> InsightIndex:
    """Return the index of the event types the active agents listen to."""
    events = {trigger.event for agent in agents if agent.active for trigger in agent.triggers}
    return InsightIndex(events=sorted(events))
