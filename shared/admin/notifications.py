"""The console's bell and each member's notification preferences.

Every member reads and marks only their own notifications (``notifications`` where
``recipient_uid`` is the caller and ``console`` is true). Preferences live on the member record
(``members/{uid}.notifications``); a type turned off on both media is not sent at all.

Firestore composite indexes (production): ``notifications`` on (recipient_uid, console,
created_at desc) for the list and (recipient_uid, console, read_at, created_at desc) for the
unread list; the unread count is a count() aggregation (one read per 1,000).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from google.cloud.firestore_v1.base_query import FieldFilter
from pydantic import BaseModel, Field, model_validator

from shared.admin.access import member_ref
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import not_found
from shared.admin.http import Request
from shared.admin.schemas import Strict
from shared.notifications.models import ChannelPreference, NotificationType
from shared.notifications.store import NOTIFICATIONS_COLLECTION, preferences_of
from shared.store.conversations import tenant_ref

MAX_IDS = 100
MARK_ALL_LIMIT = 500


class NotificationsQuery(Strict):
    unread: bool = False
    limit: int = Field(default=30, ge=1, le=100)


class NotificationOut(BaseModel):
    notification_id: str
    type: NotificationType
    title: str
    body: str
    link: str | None
    conversation_id: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
    unread: int


class MarkRead(Strict):
    """Which notifications the caller has seen: some ids, or all of them."""

    ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_IDS)
    all: bool | None = None

    @model_validator(mode="after")
    def one_of(self) -> Self:
        """Refuse a body naming neither ids nor all, or both."""
        if (self.ids is None) == (self.all is not True):
            raise ValueError('send either "ids" or "all": true')
        return self


class UnreadCount(BaseModel):
    unread: int


class PreferencesIn(Strict):
    """The caller's choices per type; ``email`` and ``mail_enabled`` are read-only (ignored)."""

    types: dict[NotificationType, ChannelPreference]
    email: str | None = None
    mail_enabled: bool | None = None


class PreferencesOut(BaseModel):
    types: dict[NotificationType, ChannelPreference]
    email: str
    mail_enabled: bool = Field(description="The deployment has a mail transport configured.")


def _mine(request: Request, tenant_id: str) -> Any:
    """Return the query of the caller's console notifications."""
    return (
        tenant_ref(request.services.firestore, tenant_id)
        .collection(NOTIFICATIONS_COLLECTION)
        .where(filter=FieldFilter("recipient_uid", "==", request.member.uid))
        .where(filter=FieldFilter("console", "==", True))
    )


def _unread(request: Request, tenant_id: str) -> int:
    query = _mine(request, tenant_id).where(filter=FieldFilter("read_at", "==", None))
    result = query.count().get()
    return int(result[0][0].value)


def list_notifications(request: Request, tenant_id: str) -> NotificationList:
    """Return the caller's notifications, newest first, and how many are unread."""
    query: NotificationsQuery = request.query
    found = _mine(request, tenant_id)
    if query.unread:
        found = found.where(filter=FieldFilter("read_at", "==", None))
    documents = found.order_by("created_at", direction="DESCENDING").limit(query.limit).stream()
    return NotificationList(
        notifications=[NotificationOut.model_validate(d.to_dict()) for d in documents],
        unread=_unread(request, tenant_id),
    )


def mark_read(request: Request, tenant_id: str) -> UnreadCount:
    """Mark some of the caller's notifications, or all, as read (404 for one not theirs)."""
    body: MarkRead = request.body
    client = request.services.firestore
    now = request.services.now()
    collection = tenant_ref(client, tenant_id).collection(NOTIFICATIONS_COLLECTION)
    if body.ids is not None:
        documents = [collection.document(identifier) for identifier in dict.fromkeys(body.ids)]
        snapshots = {snapshot.id: snapshot for snapshot in client.get_all(documents)}
        targets = []
        for document in documents:
            snapshot = snapshots.get(document.id)
            record = (snapshot.to_dict() or {}) if snapshot and snapshot.exists else {}
            if record.get("recipient_uid") != request.member.uid or not record.get("console"):
                raise not_found(f"notification {document.id}")
            if record.get("read_at") is None:
                targets.append(document)
    else:
        unread = _mine(request, tenant_id).where(filter=FieldFilter("read_at", "==", None))
        targets = [snapshot.reference for snapshot in unread.limit(MARK_ALL_LIMIT).stream()]
    if targets:
        batch = client.batch()
        for document in targets:
            batch.update(document, {"read_at": now})
        batch.commit()
    return UnreadCount(unread=_unread(request, tenant_id))


def _preferences_out(request: Request, record: dict[str, Any]) -> PreferencesOut:
    return PreferencesOut(
        types=preferences_of(record).types,
        email=str(record.get("email") or request.member.email or ""),
        mail_enabled=request.services.settings.mail_transport != "off",
    )


def get_preferences(request: Request, tenant_id: str) -> PreferencesOut:
    """Return the caller's notification preferences (every type, defaults filled in)."""
    client = request.services.firestore
    record = member_ref(client, tenant_id, request.member.uid).get().to_dict() or {}
    return _preferences_out(request, record)


def put_preferences(request: Request, tenant_id: str) -> PreferencesOut:
    """Save the caller's choices (types not sent keep theirs)."""
    body: PreferencesIn = request.body
    client = request.services.firestore
    now = request.services.now()
    document = member_ref(client, tenant_id, request.member.uid)
    record = document.get().to_dict() or {}
    before = preferences_of(record)
    after = before.model_copy(update={"types": {**before.types, **body.types}})
    stored = after.model_dump(mode="json")
    batch = client.batch()
    batch.update(document, {"notifications": stored})
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "notifications.preferences",
            f"members/{request.member.uid}/notifications",
            now,
            before=before.model_dump(mode="json"),
            after=stored,
        ),
    )
    batch.commit()
    return _preferences_out(request, {**record, "notifications": stored})
