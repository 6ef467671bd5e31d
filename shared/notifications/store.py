"""Where notifications and the team's preferences live, and how they are read.

A notification document exists for every member a notification reaches by any medium: the
console lists only those with ``console`` true, the e-mail delivery reads the same document
(``email_status``). Ids are ``{event_id}~{uid}`` (an account notice's event id is
``notice.{kind}-{key}``), created with ``create()`` so a redelivered event adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared.notifications.models import NotificationPreferences
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.notifications")

NOTIFICATIONS_COLLECTION = "notifications"
DIGESTS_COLLECTION = "digests"


@dataclass(frozen=True)
class Recipient:
    """A member of the tenant and what they want to hear about."""

    uid: str
    email: str | None
    role: str
    preferences: NotificationPreferences = field(default_factory=NotificationPreferences)


def notification_ref(client: Any, tenant_id: str, notification_id: str) -> Any:
    """Return ``tenants/{t}/notifications/{notification_id}``."""
    return (
        tenant_ref(client, tenant_id).collection(NOTIFICATIONS_COLLECTION).document(notification_id)
    )


def digest_ref(client: Any, tenant_id: str, day: str) -> Any:
    """Return ``tenants/{t}/digests/{YYYY-MM-DD}``."""
    return tenant_ref(client, tenant_id).collection(DIGESTS_COLLECTION).document(day)


def notification_id(event_id: str, uid: str) -> str:
    """Return the id of the notification of one event for one member."""
    return f"{event_id}~{uid}"


def preferences_of(record: dict[str, Any]) -> NotificationPreferences:
    """Return a member record's preferences (defaults when absent or unreadable)."""
    raw = record.get("notifications")
    if not raw:
        return NotificationPreferences()
    try:
        stored = NotificationPreferences.model_validate(raw)
    except ValidationError:
        logger.warning(
            "unreadable notification preferences; defaults apply", extra={"uid": record.get("uid")}
        )
        return NotificationPreferences()
    return NotificationPreferences(types={**NotificationPreferences().types, **stored.types})


def recipient_of(uid: str, record: dict[str, Any]) -> Recipient:
    """Return a member record as a recipient."""
    return Recipient(
        uid=uid,
        email=record.get("email") or None,
        role=str(record.get("role") or ""),
        preferences=preferences_of(record),
    )


def team_of(client: Any, tenant_id: str) -> list[Recipient]:
    """Return the tenant's members (one read each; teams are small)."""
    members = tenant_ref(client, tenant_id).collection("members").stream()
    return sorted(
        (recipient_of(snapshot.id, snapshot.to_dict() or {}) for snapshot in members),
        key=lambda recipient: recipient.uid,
    )
