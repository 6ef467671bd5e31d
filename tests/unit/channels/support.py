"""Build provider requests the way the providers do, independently of the adapters' code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.channels.base import WebhookRequest
from shared.models.channel import Channel
from shared.models.events import Provider
from tests.support.providers import (
    FIXTURES,
    fixture_form,
    fixture_json,
    fixture_text,
    json_body,
    meta_signature,
    twilio_signature,
)

__all__ = [
    "FIXTURES",
    "RECEIVED_AT",
    "channel_for",
    "fixture_form",
    "fixture_json",
    "fixture_text",
    "form_request",
    "json_body",
    "json_request",
    "meta_signature",
    "signed_meta_request",
    "twilio_signature",
]

RECEIVED_AT = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)
WEBHOOK_URL = "https://hooks.example.com/webhooks/{provider}/ch-1"


def channel_for(provider: Provider, **config: Any) -> Channel:
    """Return a channel of tenant ``t-1`` on ``provider``."""
    return Channel(channel_id="ch-1", tenant_id="t-1", provider=provider, config=config)


def json_request(
    body: bytes | dict[str, Any], headers: dict[str, str] | None = None, provider: str = "meta"
) -> WebhookRequest:
    """Return a JSON POST, body given as bytes or as a document to serialise."""
    raw = body if isinstance(body, bytes) else json_body(body)
    all_headers = {"content-type": "application/json", **(headers or {})}
    return WebhookRequest(
        method="POST",
        url=WEBHOOK_URL.format(provider=provider),
        body=raw,
        headers={key.lower(): value for key, value in all_headers.items()},
    )


def signed_meta_request(document: dict[str, Any] | bytes, app_secret: str) -> WebhookRequest:
    """Return a Meta POST signed with ``app_secret``."""
    body = document if isinstance(document, bytes) else json_body(document)
    return json_request(body, {"X-Hub-Signature-256": meta_signature(body, app_secret)})


def form_request(
    body: bytes, headers: dict[str, str] | None = None, url: str | None = None
) -> WebhookRequest:
    """Return a Twilio-style form POST."""
    all_headers = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    return WebhookRequest(
        method="POST",
        url=url or WEBHOOK_URL.format(provider="twilio"),
        body=body,
        headers={key.lower(): value for key, value in all_headers.items()},
    )
