"""The channel directory reads Firestore once per TTL, and remembers unknown ids briefly."""

from __future__ import annotations

from shared.models.channel import Channel
from shared.store.channels import ChannelDirectory

CHANNEL = Channel(channel_id="ch-1", tenant_id="t", provider="meta")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_known_and_unknown_channels_are_cached_for_their_ttls() -> None:
    reads: list[str] = []
    clock = Clock()

    def load(channel_id: str) -> Channel | None:
        reads.append(channel_id)
        return CHANNEL if channel_id == "ch-1" else None

    directory = ChannelDirectory(load, ttl_seconds=60, missing_ttl_seconds=10, clock=clock)

    assert directory.get("ch-1") == CHANNEL
    assert directory.get("nope") is None
    clock.now += 9
    assert directory.get("ch-1") == CHANNEL
    assert directory.get("nope") is None
    assert reads == ["ch-1", "nope"]
    clock.now += 2  # the unknown id expired, the channel did not
    directory.get("ch-1")
    directory.get("nope")
    assert reads == ["ch-1", "nope", "nope"]
    clock.now += 50
    directory.get("ch-1")
    assert reads == ["ch-1", "nope", "nope", "ch-1"]
