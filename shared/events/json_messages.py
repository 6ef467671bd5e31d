"""Typed events as Pub/Sub JSON messages: a lazy publisher and a parser that says what is wrong.

Insight events (``insight-events``) and business events (``business-events``) travel the same
way: the model's JSON as data, and ``tenant_id``, ``type`` and ``event_id`` as attributes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from shared.settings import Settings


class TypedEvent(Protocol):
    """What a published event carries besides its JSON."""

    tenant_id: str
    event_id: str

    @property
    def type(self) -> Enum: ...

    def model_dump_json(self) -> str: ...


Model = TypeVar("Model", bound=BaseModel)


def json_publisher(
    settings: Settings, topic_name: str, *, create_on_emulator: bool = False
) -> Callable[[Sequence[TypedEvent]], None]:
    """Return what publishes events to ``topic_name`` and waits until Pub/Sub has them all.

    The client is made on the first publish, so a function that never publishes does not pay
    for it. ``create_on_emulator`` creates a topic a local emulator lacks (a function run
    without the whole local loop); in production Terraform makes every topic.
    """
    client: list[tuple[Any, str]] = []
    lock = threading.Lock()

    def publish(events: Sequence[TypedEvent]) -> None:
        if not events:
            return
        with lock:
            if not client:
                import google.cloud.pubsub_v1 as pubsub_v1

                made = pubsub_v1.PublisherClient()
                topic = made.topic_path(settings.project_id, topic_name)
                if create_on_emulator and settings.pubsub_emulator_host:
                    from google.api_core.exceptions import AlreadyExists

                    with contextlib.suppress(AlreadyExists):
                        made.create_topic(name=topic)
                client.append((made, topic))
        publisher, topic = client[0]
        futures = [
            publisher.publish(
                topic,
                event.model_dump_json().encode("utf-8"),
                tenant_id=event.tenant_id,
                type=str(event.type.value),
                event_id=event.event_id,
            )
            for event in events
        ]
        for future in futures:
            future.result(timeout=settings.publish_timeout_seconds)

    return publish


def model_from_message(data: bytes, model: type[Model], what: str) -> Model:
    """Parse a message's data as ``model``; ValueError naming each problem when it is not one."""
    if not data:
        raise ValueError("empty message")
    try:
        return model.model_validate_json(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValueError(f"not {what}: {problems}") from None
