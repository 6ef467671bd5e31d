"""The outbox: every message the simulated providers accepted, in arrival order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.models.events import Provider


@dataclass(frozen=True)
class SentContent:
    """What a send request asked to deliver, read from the provider's own format.

    ``kind`` is ``text``, ``template``, ``image``, ``audio``, ``video``, ``document``,
    ``buttons`` or ``list``; ``text`` is the body, caption or interactive text.
    """

    kind: str
    text: str | None = None
    template: Mapping[str, Any] | None = None
    media: Mapping[str, Any] | None = None
    buttons: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class OutboxMessage:
    """One accepted message. ``index`` only grows, also across ``clear``."""

    index: int
    provider: Provider
    channel_id: str
    to: str
    content: SentContent
    provider_message_id: str
    accepted_at: datetime
    request: Mapping[str, Any] = field(default_factory=dict)
    """The provider request body as received (JSON document or form fields)."""

    @property
    def kind(self) -> str:
        """Return the content kind."""
        return self.content.kind

    @property
    def text(self) -> str | None:
        """Return the text, caption or interactive body."""
        return self.content.text

    def to_json(self) -> dict[str, Any]:
        """Return the record as ``GET /outbox`` lists it."""
        return {
            "index": self.index,
            "provider": self.provider,
            "channel_id": self.channel_id,
            "to": self.to,
            "kind": self.content.kind,
            "text": self.content.text,
            "template": dict(self.content.template) if self.content.template else None,
            "media": dict(self.content.media) if self.content.media else None,
            "buttons": [dict(button) for button in self.content.buttons] or None,
            "provider_message_id": self.provider_message_id,
            "accepted_at": self.accepted_at.isoformat(),
            "request": dict(self.request),
        }


class Outbox:
    """A thread-safe, append-only list of accepted messages that tests can wait on."""

    def __init__(self) -> None:
        self._messages: list[OutboxMessage] = []
        self._next_index = 0
        self._changed = threading.Condition()

    def add(
        self,
        *,
        provider: Provider,
        channel_id: str,
        to: str,
        content: SentContent,
        provider_message_id: str,
        accepted_at: datetime,
        request: Mapping[str, Any],
    ) -> OutboxMessage:
        """Record one accepted message and wake anyone waiting."""
        with self._changed:
            message = OutboxMessage(
                index=self._next_index,
                provider=provider,
                channel_id=channel_id,
                to=to,
                content=content,
                provider_message_id=provider_message_id,
                accepted_at=accepted_at,
                request=request,
            )
            self._next_index += 1
            self._messages.append(message)
            self._changed.notify_all()
        return message

    def messages(
        self, *, channel_id: str | None = None, to: str | None = None, since: int = 0
    ) -> list[OutboxMessage]:
        """Return the messages (oldest first), filtered by channel, recipient and index."""
        with self._changed:
            snapshot = list(self._messages)
        return [
            message
            for message in snapshot
            if message.index >= since
            and (channel_id is None or message.channel_id == channel_id)
            and (to is None or message.to == to)
        ]

    def clear(self) -> None:
        """Forget every message (indexes keep growing)."""
        with self._changed:
            self._messages.clear()

    def wait_for(
        self, predicate: Callable[[OutboxMessage], bool], timeout: float = 5.0
    ) -> OutboxMessage:
        """Return the first message matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((message for message in self._messages if predicate(message)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no outbox message matched within {timeout:.1f}s")
                self._changed.wait(remaining)
