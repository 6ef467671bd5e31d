"""How fast a channel may send: one Firestore document per channel, shared by every instance.

The limiter is GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp):
``channels/{channel_id}/limits/send`` holds the theoretical arrival time ``tat`` of the next
message. A send reserves the earliest slot that keeps the channel within ``rate`` messages per
second with bursts of up to ``burst``, and is told how long to wait for it; a slot further away
than the caller will wait is not reserved (the caller hands the message back to Pub/Sub).

The unofficial gateways (Evolution API, Z-API) drive a phone's WhatsApp session, where bursts
risk a ban, so their defaults are far stricter than the official APIs'. A channel may set its
own ``config.send_rate_per_second`` and ``config.send_burst``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from shared.models.channel import Channel
from shared.store.channels import CHANNELS_COLLECTION


@dataclass(frozen=True)
class SendRate:
    """Messages per second and how many may go at once after a quiet spell."""

    per_second: float
    burst: int

    @property
    def interval(self) -> timedelta:
        """Return the spacing between messages at the sustained rate."""
        return timedelta(seconds=1 / self.per_second)


DEFAULT_RATES: dict[str, SendRate] = {
    "meta": SendRate(per_second=20.0, burst=20),
    "twilio": SendRate(per_second=10.0, burst=10),
    "evolution": SendRate(per_second=0.5, burst=2),
    "zapi": SendRate(per_second=0.5, burst=2),
}


def send_rate(channel: Channel) -> SendRate:
    """Return the channel's send rate: its own settings, else its provider's default."""
    default = DEFAULT_RATES[channel.provider]
    try:
        per_second = float(channel.config.get("send_rate_per_second") or default.per_second)
        burst = int(channel.config.get("send_burst") or default.burst)
    except (TypeError, ValueError):
        return default
    if per_second <= 0 or burst < 1:
        return default
    return SendRate(per_second=per_second, burst=burst)


def limit_ref(client: Any, channel_id: str) -> Any:
    """Return the channel's rate-limit document."""
    return (
        client.collection(CHANNELS_COLLECTION)
        .document(channel_id)
        .collection("limits")
        .document("send")
    )


def reserve_slot(
    client: Any, channel: Channel, now: datetime, max_wait: timedelta
) -> timedelta | None:
    """Reserve the channel's next send slot; return how long to wait, or None if too long."""
    transaction = client.transaction(max_attempts=10)
    result: timedelta | None = _reserve(
        transaction, limit_ref(client, channel.channel_id), send_rate(channel), now, max_wait
    )
    return result


@firestore.transactional
def _reserve(
    transaction: Any, document: Any, rate: SendRate, now: datetime, max_wait: timedelta
) -> timedelta | None:
    snapshot = document.get(transaction=transaction)
    stored = snapshot.get("tat") if snapshot.exists else None
    tat = max(stored, now) if isinstance(stored, datetime) else now
    allowed_at = tat - rate.interval * (rate.burst - 1)
    wait = max(allowed_at - now, timedelta(0))
    if wait > max_wait:
        return None
    transaction.set(document, {"tat": tat + rate.interval, "updated_at": now})
    return wait
