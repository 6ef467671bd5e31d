"""Publish canonical events to Pub/Sub, ordered per contact, and wait until Pub/Sub has them.

Cloud Run throttles CPU after the response is sent, so an unawaited publish can be lost: the
webhook answers only after every future has resolved.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from shared.models.events import ConversationEvent


class PublishFailed(RuntimeError):
    """Pub/Sub did not accept every event; the caller must not acknowledge the webhook."""


class EventSink(Protocol):
    """Anything that durably accepts events (Pub/Sub in production, a list in unit tests)."""

    def publish(self, events: Sequence[ConversationEvent]) -> list[str]: ...


def event_attributes(event: ConversationEvent) -> dict[str, str]:
    """Return the Pub/Sub attributes that let subscribers route without decoding the body."""
    return {
        "event_id": event.event_id,
        "kind": event.kind,
        "provider": event.provider,
        "tenant_id": event.tenant_id,
        "channel_id": event.channel_id,
        "contact": event.contact_key,
    }


class PubSubEventPublisher:
    """Publish events to one topic with message ordering by ``tenant_id:contact``."""

    def __init__(self, project_id: str, topic: str, timeout_seconds: float) -> None:
        import google.cloud.pubsub_v1 as pubsub_v1

        self._client: Any = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.002),
            publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
        )
        self._topic_path = self._client.topic_path(project_id, topic)
        self._timeout = timeout_seconds
        self._lock = threading.Lock()

    def publish(self, events: Sequence[ConversationEvent]) -> list[str]:
        """Publish every event and return the Pub/Sub message ids, or raise PublishFailed."""
        pending = [
            (
                event,
                self._client.publish(
                    self._topic_path,
                    event.model_dump_json().encode("utf-8"),
                    ordering_key=event.ordering_key,
                    **event_attributes(event),
                ),
            )
            for event in events
        ]
        message_ids: list[str] = []
        failures: list[str] = []
        for event, future in pending:
            try:
                message_ids.append(str(future.result(timeout=self._timeout)))
            except Exception as error:  # any publish failure must reach the caller
                # A failed publish pauses its ordering key until resumed.
                self._client.resume_publish(self._topic_path, event.ordering_key)
                failures.append(f"{event.event_id}: {type(error).__name__}: {error}")
        if failures:
            raise PublishFailed("; ".join(failures))
        return message_ids
