"""Insight events: who publishes them, how they travel, and which tenants want them.

Producers (a lead's message taken in, a conversation closed won or lost, two idle hours, a
seller's macro button) build an ``InsightEvent`` with the helpers here and publish it to the
``insight-events`` topic after their own state change committed. Event ids are deterministic
for everything that can be redone (a redelivered message, a retried close, a re-fired
inactivity check), so the insights runner finds the run it already made.

The hot paths publish only for tenants whose ``settings/insights`` index lists the event type;
``IndexCache`` keeps that answer per instance for ``PILOTO_INSIGHT_INDEX_CACHE_SECONDS``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from shared.events.json_messages import json_publisher, model_from_message
from shared.insights.models import EventType, InsightEvent, InsightIndex
from shared.settings import Settings
from shared.store.cache import TTLCache
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.insights.events")

MAX_EVENT_TEXT = 8000

InsightPublisher = Callable[[Sequence[InsightEvent]], None]
"""Publishes events and returns once Pub/Sub has them all; raises when one was not accepted."""


def insight_publisher(settings: Settings) -> InsightPublisher:
    """Return what publishes insight events to ``settings.insight_topic`` and waits for it.

    The Pub/Sub client is made on the first publish: a function that never publishes (a tenant
    without insight agents) does not pay for it.
    """
    return json_publisher(settings, settings.insight_topic)


def event_to_pubsub(event: InsightEvent) -> bytes:
    """Return the Pub/Sub message data of one event (its JSON)."""
    return event.model_dump_json().encode("utf-8")


def event_from_pubsub(data: bytes) -> InsightEvent:
    """Parse a Pub/Sub message's data; ValueError when it is not an insight event."""
    return model_from_message(data, InsightEvent, "an insight event")


def read_index(firestore: Any, tenant_id: str) -> InsightIndex:
    """Read ``tenants/{t}/settings/insights``; an empty index when missing or unreadable."""
    snapshot = tenant_ref(firestore, tenant_id).collection("settings").document("insights").get()
    if not snapshot.exists:
        return InsightIndex()
    try:
        return InsightIndex.model_validate(snapshot.to_dict() or {})
    except ValidationError as error:
        logger.error(
            "unreadable insight index: %s", error.errors()[0]["msg"], extra={"tenant_id": tenant_id}
        )
        return InsightIndex()


class IndexCache:
    """Which event types each tenant's active insight agents listen to, read once per TTL."""

    def __init__(self, firestore: Any, ttl_seconds: float) -> None:
        self._firestore = firestore
        self._cache = TTLCache(self._load, ttl_seconds=ttl_seconds, missing_ttl_seconds=ttl_seconds)

    def listens(self, tenant_id: str, event_type: EventType) -> bool:
        """Return whether some active agent of the tenant listens to ``event_type``."""
        index = self._cache.get(tenant_id)
        return index is not None and event_type in index.events

    def _load(self, tenant_id: str) -> InsightIndex:
        return read_index(self._firestore, tenant_id)


def publish_listened(
    index: IndexCache, publish: InsightPublisher, events: Sequence[InsightEvent]
) -> list[InsightEvent]:
    """Publish the events some agent of their tenant listens to; return those published."""
    wanted = [event for event in events if index.listens(event.tenant_id, event.type)]
    if wanted:
        publish(wanted)
        for event in wanted:
            logger.info(
                "insight event published",
                extra={
                    "tenant_id": event.tenant_id,
                    "event_id": event.event_id,
                    "conversation_id": event.conversation_id,
                },
            )
    return wanted


def message_event(
    *,
    tenant_id: str,
    conversation_id: str,
    inbound_seq: int,
    message_id: str | None,
    text: str | None,
    occurred_at: datetime,
) -> InsightEvent:
    """Return NEW_MESSAGE_RECEIVED for the lead's message number ``inbound_seq``."""
    return InsightEvent(
        event_id=f"msg:{conversation_id}:{inbound_seq}",
        type=EventType.NEW_MESSAGE_RECEIVED,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        occurred_at=occurred_at,
        message_id=message_id,
        text=text[:MAX_EVENT_TEXT] if text is not None else None,
    )


def ticket_event(
    *,
    tenant_id: str,
    conversation_id: str,
    won: bool,
    occurred_at: datetime,
    actor_uid: str | None = None,
    reason: str | None = None,
) -> InsightEvent:
    """Return TICKET_WON or TICKET_LOST for a conversation closed won or lost."""
    outcome = "won" if won else "lost"
    return InsightEvent(
        event_id=f"ticket:{conversation_id}:{outcome}",
        type=EventType.TICKET_WON if won else EventType.TICKET_LOST,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        occurred_at=occurred_at,
        actor_uid=actor_uid,
        reason=reason,
    )


def inactivity_event(
    *, tenant_id: str, conversation_id: str, last_activity: datetime, occurred_at: datetime
) -> InsightEvent:
    """Return INACTIVITY_2H for a conversation idle since ``last_activity``."""
    return InsightEvent(
        event_id=f"idle:{conversation_id}:{activity_key(last_activity)}",
        type=EventType.INACTIVITY_2H,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        occurred_at=occurred_at,
    )


def macro_event(
    *,
    tenant_id: str,
    conversation_id: str,
    agent_id: str,
    actor_uid: str | None,
    occurred_at: datetime,
) -> InsightEvent:
    """Return MACRO_BUTTON_CLICKED for a seller pressing an agent's button (every press runs)."""
    return InsightEvent(
        event_id=f"macro:{uuid.uuid4()}",
        type=EventType.MACRO_BUTTON_CLICKED,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        occurred_at=occurred_at,
        agent_id=agent_id,
        actor_uid=actor_uid,
    )


def activity_key(instant: datetime) -> str:
    """Return the ISO form (UTC, microseconds) that names an instant of last activity."""
    if instant.tzinfo is None:
        raise ValueError("activity instants must be timezone-aware")
    return instant.astimezone(UTC).isoformat(timespec="microseconds")
