"""Build provider requests the way the providers do, independently of the adapters' code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from shared.channels.base import WebhookRequest
from shared.models.channel import Channel
from shared.models.events import Provider

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
RECEIVED_AT = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)
WEBHOOK_URL = "https://hooks.example.com/webhooks/{provider}/ch-1"


def fixture_text(provider: str, name: str) -> str:
    """Return a fixture file's text, without the trailing newline editors add."""
    return (FIXTURES / provider / name).read_text(encoding="utf-8").strip()


def fixture_json(provider: str, name: str) -> dict[str, Any]:
    """Return a JSON fixture as a dict."""
    document: dict[str, Any] = json.loads(fixture_text(provider, f"{name}.json"))
    return document


def fixture_form(name: str) -> dict[str, str]:
    """Return a Twilio form fixture as a dict."""
    return dict(parse_qsl(fixture_text("twilio", f"{name}.txt"), keep_blank_values=True))


def channel_for(provider: Provider, **config: Any) -> Channel:
    """Return a channel of tenant ``t-1`` on ``provider``."""
    return Channel(channel_id="ch-1", tenant_id="t-1", provider=provider, config=config)


def json_body(document: Any) -> bytes:
    """Serialise a payload compactly, as providers do."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


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


def meta_signature(body: bytes, app_secret: str) -> str:
    """Return the ``X-Hub-Signature-256`` Meta sends: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed_meta_request(document: dict[str, Any] | bytes, app_secret: str) -> WebhookRequest:
    """Return a Meta POST signed with ``app_secret``."""
    body = document if isinstance(document, bytes) else json_body(document)
    return json_request(body, {"X-Hub-Signature-256": meta_signature(body, app_secret)})


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Return the ``X-Twilio-Signature``: base64 HMAC-SHA1 of URL + sorted key/value pairs."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


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
