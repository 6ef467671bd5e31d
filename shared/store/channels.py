"""Channel records: top-level ``channels/{channel_id}``, cached per instance with a TTL."""

from __future__ import annotations

from typing import Any

from shared.models.channel import Channel
from shared.store.cache import TTLCache

CHANNELS_COLLECTION = "channels"

ChannelDirectory = TTLCache[Channel]
"""Channels by id: one Firestore read per channel per TTL, unknown ids remembered briefly."""


def write_channel(client: Any, channel: Channel) -> None:
    """Create or replace a channel document."""
    client.collection(CHANNELS_COLLECTION).document(channel.channel_id).set(channel.to_document())
