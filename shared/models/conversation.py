"""Conversation state: what one turn reads (one document) and the policy judges.

Firestore layout under ``tenants/{tenant_id}/``:

- ``contacts/{contact_key}``: ``Contact`` (opt-out lives here: it outlives conversations).
- ``conversations/{conversation_id}``: ``Conversation`` with a bounded window of recent messages
  and a rolling summary, so a turn needs one read whatever the conversation's length.
- ``conversations/{conversation_id}/messages/{message_id}``: every message, for the console.
- ``conversations/{conversation_id}/decisions/{decision_id}``: every ``Decision`` and why.

A closed conversation is never reopened: a lead writing again starts a new conversation (except
after an opt-out, which stays silent until an explicit opt-in).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.insights.models import Attribution
from shared.scheduling.models import Slot

WINDOW_SIZE = 20
SUMMARY_LIMIT = 2000


class ConversationStatus(StrEnum):
    """Where a conversation stands."""

    OPEN = "open"
    HANDOFF = "handoff"
    CLOSED = "closed"


class Role(StrEnum):
    """Who wrote a message in the conversation."""

    LEAD = "lead"
    AGENT = "agent"
    SELLER = "seller"


class MediaNote(BaseModel):
    """What became of media a lead sent (the media itself is never stored: see shared/media)."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["audio", "image", "video", "document"]
    status: Literal["pending", "understood", "not_understood", "rejected"]
    reason: str | None = None
    captioned: bool = Field(default=False, description="The lead wrote a caption with it.")
    wait_until: AwareDatetime | None = Field(
        default=None, description="While pending: how long a turn waits for the understanding."
    )


class WindowMessage(BaseModel):
    """One recent message as the agent sees it."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    text: str
    at: AwareDatetime
    message_id: str | None = None
    seq: int | None = Field(default=None, description="The inbound sequence of a lead message.")
    proactive: bool = False
    media: MediaNote | None = None


class Contact(BaseModel):
    """A lead of one tenant, across conversations."""

    model_config = ConfigDict(extra="ignore")

    contact_key: str
    phone: str | None = None
    name: str | None = None
    opted_out: bool = False
    opted_out_at: AwareDatetime | None = None
    opt_out_acknowledged_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the one acknowledgement of the current opt-out went out (set by the sender, "
            "cleared by an opt-in): an opt-out is acknowledged once, whichever conversation "
            "carries it."
        ),
    )
    current_conversation_id: str | None = None
    email: str | None = Field(default=None, description="Given through the public API.")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Given through the public API; a conversation it starts begins with them.",
    )


class Conversation(BaseModel):
    """One conversation with one contact on one channel."""

    model_config = ConfigDict(extra="ignore")

    conversation_id: str
    tenant_id: str
    channel_id: str
    contact_key: str
    status: ConversationStatus = ConversationStatus.OPEN
    close_reason: str | None = None
    mode: Literal["pilot", "copilot"] = "pilot"
    stage: str = "new"
    inbound_seq: int = 0
    answered_seq: int = Field(
        default=0, description="The inbound sequence the last decided turn answered."
    )
    inbound_count: int = 0
    outbound_count: int = 0
    unanswered_count: int = Field(
        default=0, description="Agent messages in a row without a lead reply, follow-ups included."
    )
    followups_sent: int = 0
    followup_generation: int = Field(
        default=0,
        description="Bumped whenever follow-ups are (re)scheduled: an older task is a no-op.",
    )
    followup_step: int = Field(default=0, description="Cadence steps already taken.")
    followup_due_at: AwareDatetime | None = None
    needs_human: bool = Field(
        default=False, description="Something the agent cannot fix happened (see attention)."
    )
    attention_reason: str | None = None
    contact_name: str | None = Field(default=None, description="The lead's profile name.")
    assignee_uid: str | None = Field(default=None, description="The seller it is assigned to.")
    assignee_email: str | None = None
    taken_over_by: str | None = Field(
        default=None, description="The member who took over: the agent stays out until release."
    )
    taken_over_email: str | None = None
    first_response_at: AwareDatetime | None = None
    handed_off_at: AwareDatetime | None = None
    meeting_booked_at: AwareDatetime | None = None
    silences: dict[str, int] = Field(
        default_factory=dict, description="Silent decisions by reason code (the dashboard's)."
    )
    followups_answered: int = Field(default=0, description="Lead replies to a follow-up.")
    agent_messages: int = Field(default=0, description="Replies the agent sent (not follow-ups).")
    pending_suggestions: int = Field(
        default=0, description="Copilot suggestions of the latest decision still to be handled."
    )
    suggestions_decision_id: str | None = None
    suggestions_intent: str | None = Field(
        default=None, description="The intent (specialist) of the pending suggestions."
    )
    suggestions_offered: int = 0
    suggestions_accepted: int = 0
    open_question_id: str | None = Field(
        default=None,
        description="The knowledge proposal of the latest knowledge-gap handoff: what a seller "
        "writes next becomes its proposed answer.",
    )
    contact_opted_out: bool = Field(
        default=False, description="Copy of Contact.opted_out, kept in step by intake and turns."
    )
    rejection_acknowledged: bool = False
    opt_out_acknowledged: bool = False
    last_inbound_at: AwareDatetime | None = None
    last_outbound_at: AwareDatetime | None = None
    human_active_until: AwareDatetime | None = None
    window: list[WindowMessage] = Field(default_factory=list)
    summary: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    offered_slots: list[Slot] = Field(
        default_factory=list, description="The slots the agent's latest offer listed."
    )
    booking_id: str | None = Field(default=None, description="The lead's meeting, if any.")
    booking_start: AwareDatetime | None = None
    booking_status: str | None = Field(default=None, description="confirmed or canceled.")
    attribution: Attribution | None = Field(
        default=None,
        description="The click-to-WhatsApp ad that brought the lead (first touch, set by intake).",
    )
    created_at: AwareDatetime
    updated_at: AwareDatetime

    def with_messages(self, *messages: WindowMessage) -> dict[str, object]:
        """Return the window and summary after appending messages: what leaves the window is
        folded into the rolling summary (a bounded digest, newest kept), so a turn reads one
        document whatever the conversation's length."""
        window = [*self.window, *messages]
        dropped, kept = window[:-WINDOW_SIZE], window[-WINDOW_SIZE:]
        summary = self.summary
        for message in dropped:
            summary = f"{summary}\n{message.role.value}: {message.text[:160]}".strip()
        return {"window": kept, "summary": summary[-SUMMARY_LIMIT:]}

    def human_is_active(self, now: datetime) -> bool:
        """Return whether a human is in charge: took over in the console, or wrote recently."""
        if self.taken_over_by is not None:
            return True
        return self.human_active_until is not None and now < self.human_active_until
