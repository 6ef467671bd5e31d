"""Find a channel by id: top-level ``channels/{channel_id}``, cached per instance with a TTL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from shared.models.channel import Channel

CHANNELS_COLLECTION = "channels"


def read_channel(client: Any, channel_id: str) -> Channel | None:
    """Read one channel document with the Firestore client; None when it does not exist."""
    snapshot = client.collection(CHANNELS_COLLECTION).document(channel_id).get()
    return Channel.from_document(channel_id, snapshot.to_dict()) if snapshot.exists else None


def write_channel(client: Any, channel: Channel) -> None:
    """Create or replace a channel document."""
    client.collection(CHANNELS_COLLECTION).document(channel.channel_id).set(channel.to_document())


class ChannelDirectory:
    """A TTL cache in front of a channel loader: one Firestore read per channel per TTL.

    Unknown channels are cached too, for a shorter time, so a flood of requests to a made-up
    channel id does not become a flood of Firestore reads.
    """

    def __init__(
        self,
        loader: Callable[[str], Channel | None],
        ttl_seconds: float,
        missing_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl_seconds
        self._missing_ttl = missing_ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Channel | None]] = {}
        self._lock = threading.Lock()

    def get(self, channel_id: str) -> Channel | None:
        """Return the channel, reading Firestore only when the cached entry expired."""
        now = self._clock()
        with self._lock:
            cached = self._entries.get(channel_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        channel = self._loader(channel_id)
        expires = now + (self._ttl if channel is not None else self._missing_ttl)
        with self._lock:
            self._entries[channel_id] = (expires, channel)
        return channel
