"""Notifications for the team: what they are, who wants which, and where they are kept.

Firestore layout under ``tenants/{tenant_id}/``:

- ``notifications/{notification_id}``: ``Notification`` for one member (the console's bell).
- ``members/{uid}.notifications``: ``NotificationPreferences`` (each type, each medium, off-able).
- ``digests/{YYYY-MM-DD}``: the owners' daily digest of that tenant-local day, created once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class NotificationType(StrEnum):
    """What a notification is about."""

    HANDOFF = "handoff"
    """A conversation needs a human: to its seller, or to the managers when unassigned."""
    INSIGHT = "insight"
    """An insight about a conversation: to its seller, or to the managers when unassigned."""
    DAILY_DIGEST = "daily_digest"
    """Yesterday in figures, to the owners."""
    ACCOUNT = "account"
    """Billing notices, a disabled webhook endpoint, a calendar or CRM that stopped working."""
    MEETING = "meeting"
    """A meeting booked, moved or canceled in a conversation the seller follows."""


class ChannelPreference(BaseModel):
    """Where one notification type reaches a member."""

    model_config = ConfigDict(extra="forbid")

    email: bool = True
    console: bool = True


def _defaults() -> dict[NotificationType, ChannelPreference]:
    return {kind: ChannelPreference() for kind in NotificationType}


class NotificationPreferences(BaseModel):
    """A member's choices; a type turned off on both media is not sent at all."""

    model_config = ConfigDict(extra="forbid")

    types: dict[NotificationType, ChannelPreference] = Field(default_factory=_defaults)

    def wants(self, kind: NotificationType, medium: Literal["email", "console"]) -> bool:
        """Return whether this member wants ``kind`` through ``medium``."""
        choice = self.types.get(kind, ChannelPreference())
        return choice.email if medium == "email" else choice.console


class Notification(BaseModel):
    """One notification for one member (texts in the tenant's language, pt-BR by default)."""

    model_config = ConfigDict(extra="ignore")

    notification_id: str
    tenant_id: str
    recipient_uid: str
    type: NotificationType
    title: str
    body: str
    link: str | None = Field(default=None, description="Console path, e.g. /inbox/{conversation}.")
    conversation_id: str | None = None
    event_id: str | None = Field(default=None, description="The business event behind it.")
    created_at: AwareDatetime
    read_at: AwareDatetime | None = None
    email_status: Literal["not_wanted", "pending", "sent", "failed", "no_transport"] = "not_wanted"
    console: bool = Field(
        default=True,
        description="Shown in the console (False: the member wants it by e-mail only).",
    )
    notice: str | None = Field(
        default=None, description="For an account notice: its kind (quota_warning, ...)."
    )
    email_sent_at: AwareDatetime | None = None
    email_error: str | None = None
