"""Serve functions in-process with functions-framework's own app, as Cloud Run would."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.events.publisher import PublishFailed
from shared.models.channel import Channel
from shared.models.events import ConversationEvent
from shared.webhooks import WebhookHandler

ROOT = Path(__file__).resolve().parents[2]

SECRETS = {
    "PILOTO_TEST_META_APP_SECRET": "meta-app-secret",
    "PILOTO_TEST_META_VERIFY_TOKEN": "meta-verify-token",
    "PILOTO_TEST_TWILIO_AUTH_TOKEN": "twilio-auth-token",
    "PILOTO_TEST_EVOLUTION_APIKEY": "evolution-apikey",
    "PILOTO_TEST_ZAPI_CLIENT_TOKEN": "zapi-client-token",
}

CHANNELS = {
    "ch-meta": Channel(
        channel_id="ch-meta",
        tenant_id="tenant-a",
        provider="meta",
        config={"phone_number_id": "100000000000001"},
        secrets={
            "app_secret": "env:PILOTO_TEST_META_APP_SECRET",
            "verify_token": "env:PILOTO_TEST_META_VERIFY_TOKEN",
        },
    ),
    "ch-twilio": Channel(
        channel_id="ch-twilio",
        tenant_id="tenant-a",
        provider="twilio",
        config={"account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
        secrets={"auth_token": "env:PILOTO_TEST_TWILIO_AUTH_TOKEN"},
    ),
    "ch-evolution": Channel(
        channel_id="ch-evolution",
        tenant_id="tenant-a",
        provider="evolution",
        config={"instance": "clinica"},
        secrets={"apikey": "env:PILOTO_TEST_EVOLUTION_APIKEY"},
    ),
    "ch-zapi": Channel(
        channel_id="ch-zapi",
        tenant_id="tenant-a",
        provider="zapi",
        config={"instance_id": "3C0TEST"},
        secrets={"client_token": "env:PILOTO_TEST_ZAPI_CLIENT_TOKEN"},
    ),
    "ch-disabled": Channel(
        channel_id="ch-disabled",
        tenant_id="tenant-a",
        provider="meta",
        enabled=False,
        secrets={"app_secret": "env:PILOTO_TEST_META_APP_SECRET"},
    ),
}


class RecordingSink:
    """An in-process stand-in for Pub/Sub that records what was published."""

    def __init__(self) -> None:
        self.published: list[ConversationEvent] = []
        self.fail = False

    def publish(self, events: Sequence[ConversationEvent]) -> list[str]:
        if self.fail:
            raise PublishFailed("pubsub unavailable")
        self.published.extend(events)
        return [str(index) for index, _ in enumerate(events)]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def webhook_client(monkeypatch: pytest.MonkeyPatch, sink: RecordingSink) -> Iterator[Any]:
    """A test client of the real webhook function with channels and Pub/Sub faked in-process."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    monkeypatch.setenv("PILOTO_PUBLIC_BASE_URL", "https://hooks.example.com")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    from shared.settings import get_settings

    get_settings.cache_clear()
    app = create_app("webhook", str(ROOT / "functions/webhook/main.py"), "http")
    module = sys.modules["main"]
    monkeypatch.setattr(
        module,
        "_handler",
        WebhookHandler(
            project_id="demo-piloto-unit",
            find_channel=CHANNELS.get,
            sink=sink,
            max_body_bytes=1024 * 1024,
            now=lambda: datetime(2026, 3, 10, 16, 0, tzinfo=UTC),
        ),
    )
    yield app.test_client()
    get_settings.cache_clear()
