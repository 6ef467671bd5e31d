"""Publish committed business events on ``business-events`` (and read them off a push).

Producers stage their events with the change (``shared.integrations.outbox.stage_events``),
then call the publisher this module returns; it raises when Pub/Sub did not accept an event,
so a turn or task fails and its retry publishes again (consumers drop duplicates by event id).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from shared.integrations.models import BusinessEvent
from shared.integrations.outbox import PublishEvents
from shared.settings import Settings

logger = logging.getLogger("piloto.integrations.publish")


def business_event_publisher(settings: Settings) -> PublishEvents:
    """Return what publishes business events to ``settings.business_events_topic`` and waits.

    The Pub/Sub client is made on the first publish (most turns make no business event).
    """
    client: list[Any] = []
    lock = threading.Lock()

    def publish(events: Sequence[BusinessEvent]) -> None:
        if not events:
            return
        topic = ""
        with lock:
            if not client:
                import google.cloud.pubsub_v1 as pubsub_v1

                made = pubsub_v1.PublisherClient()
                topic = made.topic_path(settings.project_id, settings.business_events_topic)
                if settings.pubsub_emulator_host:
                    _ensure_emulator_topic(made, topic)
                client.append(made)
        publisher = client[0]
        topic = topic or publisher.topic_path(settings.project_id, settings.business_events_topic)
        futures = [
            publisher.publish(
                topic,
                event_to_pubsub(event),
                tenant_id=event.tenant_id,
                type=event.type.value,
                event_id=event.event_id,
            )
            for event in events
        ]
        for future in futures:
            future.result(timeout=settings.publish_timeout_seconds)
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


def _ensure_emulator_topic(publisher: Any, topic: str) -> None:
    """Create the topic on a local emulator that lacks it (production: Terraform makes it).

    Processes started without the whole local loop (a single function under test) would
    otherwise fail every turn that makes a business event.
    """
    from google.api_core.exceptions import AlreadyExists

    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(name=topic)


def publish_logged(publish: PublishEvents | None, events: Sequence[BusinessEvent]) -> bool:
    """Publish events whose change committed, logging instead of raising; return success.

    For requests that cannot be retried as a whole (an admin action already answered): the
    events stay in the outbox and the failure is logged with their ids.
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
    if not data:
        raise ValueError("empty message")
    try:
        return BusinessEvent.model_validate_json(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValueError(f"not a business event: {problems}") from None
