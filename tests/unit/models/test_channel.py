"""Channel documents are validated when read, naming what is wrong."""

from __future__ import annotations

import pytest

from shared.models.channel import Channel, ChannelRecordInvalid


def test_document_round_trip() -> None:
    channel = Channel(
        channel_id="ch-1",
        tenant_id="t",
        provider="zapi",
        config={"instance_id": "3C0"},
        secrets={"client_token": "env:X"},
    )

    assert Channel.from_document("ch-1", channel.to_document()) == channel
    assert "channel_id" not in channel.to_document()


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"provider": "meta"}, "tenant_id must be a non-empty string"),
        ({"tenant_id": "t", "provider": "telegram"}, "provider must be one of"),
        ({"tenant_id": "t", "provider": "meta", "secrets": {"app_secret": 7}}, "secrets must map"),
        ({"tenant_id": "t", "provider": "meta", "config": ["x"]}, "config must be a map"),
        ({"tenant_id": "t", "provider": "meta", "enabled": "yes"}, "enabled must be a boolean"),
    ],
)
def test_invalid_documents_are_refused(document: dict[str, object], problem: str) -> None:
    with pytest.raises(ChannelRecordInvalid, match=problem):
        Channel.from_document("ch-1", document)
