"""Canonical events: JSON round trip through the consumers' validator, and its refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.models.events import (
    AdReferral,
    ConnectionUpdate,
    ContactRef,
    DeliveryStatus,
    LeadMessage,
    Location,
    Media,
    MessageContent,
    MessageType,
    StatusUpdate,
    event_from_json,
    event_to_json,
    timestamp_to_datetime,
)

MOMENT = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def test_a_rich_lead_message_survives_the_round_trip() -> None:
    event = LeadMessage(
        event_id="meta:lead_message:wamid.1",
        provider="meta",
        tenant_id="t",
        channel_id="c",
        occurred_at=MOMENT,
        received_at=MOMENT,
        message_id="wamid.1",
        contact=ContactRef(phone="+5511987654321", wa_id="5511987654321", profile_name="Ana"),
        content=MessageContent(
            message_type=MessageType.AUDIO,
            media=Media(provider_media_id="m1", mime_type="audio/ogg", voice=True),
            location=Location(latitude=-23.5, longitude=-46.6),
            reply_to="wamid.0",
            referral=AdReferral(ctwa_clid="clid-1", source_type="ad", headline="Promo"),
        ),
    )

    decoded = event_from_json(event_to_json(event))

    assert decoded == event
    assert decoded.ordering_key == "t:+5511987654321"


def test_status_and_connection_events_round_trip() -> None:
    status = StatusUpdate(
        event_id="meta:status_update:wamid.9:failed",
        provider="meta",
        tenant_id="t",
        channel_id="c",
        occurred_at=MOMENT,
        received_at=MOMENT,
        message_id="wamid.9",
        status=DeliveryStatus.FAILED,
        contact=ContactRef(phone="+5511987654321"),
        error_code="131047",
    )
    connection = ConnectionUpdate(
        event_id="evolution:connection_update:x",
        provider="evolution",
        tenant_id="t",
        channel_id="c",
        occurred_at=MOMENT,
        received_at=MOMENT,
        state="close",
    )

    assert event_from_json(event_to_json(status)) == status
    assert event_from_json(event_to_json(connection)) == connection
    assert connection.ordering_key == "t:channel:c"
    assert DeliveryStatus.READ.rank > DeliveryStatus.DELIVERED.rank > DeliveryStatus.SENT.rank


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(kind="gossip"),
        lambda d: d.update(occurred_at="2026-03-10T16:00:00"),
        lambda d: d.pop("tenant_id"),
        lambda d: d["content"].update(message_type="hologram"),
    ],
)
def test_consumers_refuse_what_is_not_an_event(mutate: object) -> None:
    document = json.loads(
        event_to_json(
            LeadMessage(
                event_id="e",
                provider="meta",
                tenant_id="t",
                channel_id="c",
                occurred_at=MOMENT,
                received_at=MOMENT,
                message_id="m",
                contact=ContactRef(phone="+5511987654321"),
                content=MessageContent(message_type=MessageType.TEXT, text="oi"),
            )
        )
    )
    mutate(document)  # type: ignore[operator]

    with pytest.raises(ValueError):
        event_from_json(json.dumps(document))


def test_provider_timestamps_in_seconds_or_milliseconds() -> None:
    assert timestamp_to_datetime("1773158400") == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    assert timestamp_to_datetime(1773158400000) == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
