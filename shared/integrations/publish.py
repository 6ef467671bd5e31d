"""Publish committed business events on ``business-events`` (and read them off a push).

Producers stage their events with the change (``shared.integrations.outbox.stage_events``),
then call the publisher this module returns; it raises when Pub/Sub did not accept an event,
so a turn or task fails and its retry publishes again (consumers drop duplicates by event id);
what no retry brings back, the outbox sweep does (``shared.integrations.outbox.sweep_outbox``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shared.events.json_messages import json_publisher, model_from_message
from shared.integrations.models import BusinessEvent
from shared.integrations.outbox import PublishEvents
from shared.settings import Settings

logger = logging.getLogger("piloto.integrations.publish")


def business_event_publisher(settings: Settings) -> PublishEvents:
    """Return what publishes business events to ``settings.business_events_topic`` and waits.

    The Pub/Sub client is made on the first publish (most turns make no business event).
    """
    send = json_publisher(settings, settings.business_events_topic, create_on_emulator=True)

    def publish(events: Sequence[BusinessEvent]) -> None:
        send(events)
        for event in events:
            logger.info(
                "business event published",
                extra={
                    "tenant_id": event.tenant_id,
                    "event_id": event.event_id,
                    "conversation_id": event.conversation_id,
                },
            )

    return publish


def publish_logged(publish: PublishEvents | None, events: Sequence[BusinessEvent]) -> bool:
    """Publish events whose change committed, logging instead of raising; return success.

    For requests that cannot be retried as a whole (an admin action already answered): the
    failure is logged with the events' ids, and the outbox sweep (``functions/outbox``)
    publishes them a few minutes later.
    """
    if publish is None or not events:
        return True
    try:
        publish(events)
    except Exception:
        logger.exception(
            "business events not published",
            extra={
                "tenant_id": events[0].tenant_id,
                "event_ids": [event.event_id for event in events],
            },
        )
        return False
    return True


def event_to_pubsub(event: BusinessEvent) -> bytes:
    """Return the Pub/Sub message data of one event (its JSON)."""
    return event.model_dump_json().encode("utf-8")


def event_from_pubsub(data: bytes) -> BusinessEvent:
    """Parse a Pub/Sub message's data; ValueError when it is not a business event."""
    return model_from_message(data, BusinessEvent, "a business event")
