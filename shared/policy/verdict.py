"""What the restraint policy reads (``PolicyContext``) and what it answers (``Verdict``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.models.conversation import Contact, Conversation
from shared.models.decision import Action, OutboundMessage, Reason
from shared.models.tenant import AgentSettings

DEFAULT_TIMEZONE = "America/Sao_Paulo"

Acknowledgement = Literal["opt_out", "rejection", "handoff", "meeting_reminder"]
"""The one message allowed after an opt-out or a rejection, which the stop rules let through,
the one telling the lead a person will take over (sent as the conversation is handed off), or a
booked meeting's reminder (which a conversation closed after the booking lets through)."""


@dataclass(frozen=True, kw_only=True)
class PolicyContext:
    """Everything the guards judge, read by the caller; ``now`` is timezone-aware."""

    conversation: Conversation | None
    contact: Contact
    settings: AgentSettings
    now: datetime
    timezone: str = DEFAULT_TIMEZONE
    proactive: bool = False
    """A follow-up the agent starts, rather than a reply to the lead."""
    has_template: bool = False
    """The channel has an approved template for writing outside the 24-hour window."""
    quota_exceeded: bool = False
    """This month's agent replies reached the plan's ceiling (``shared.billing.usage``)."""
    subscription_inactive: bool = False
    """The subscription lets the agent work no more (trial expired, unpaid past grace, canceled)."""

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None:
            raise ValueError("PolicyContext.now must be timezone-aware")


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The guards' answer: what may be sent, what is forced, and why.

    ``action`` is None when the guards leave the decision to the model (within what
    ``may_send_text`` and ``may_send_template`` allow); otherwise the guards decide alone.
    At send time, ``action`` is None exactly when the message may go out.
    """

    action: Action | None = None
    reasons: tuple[Reason, ...] = ()
    may_send_text: bool = False
    may_send_template: bool = False
    may_suggest: bool = False
    """Copilot mode or a human in charge: the model may still draft suggestions for the seller."""
    acknowledge_opt_out: bool = False
    """The one opt-out acknowledgement (``AgentSettings.opt_out_acknowledgement``) may go out."""
    acknowledge_rejection: bool = False
    """One polite closing message may go out after a rejection."""
    persist_opt_out: bool = False
    """The new messages opt out: the caller sets ``Contact.opted_out``."""
    persist_opt_in: bool = False
    """The new messages opt back in: the caller clears ``Contact.opted_out``."""
    retry_at: datetime | None = None
    """When a follow-up held back by quiet hours may go out."""

    def permits(self, message: OutboundMessage) -> bool:
        """Return whether this kind of message (template or free text) may be sent."""
        return self.may_send_template if message.template is not None else self.may_send_text
