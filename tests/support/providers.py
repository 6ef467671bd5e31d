"""Sign and build provider webhook requests as the providers do, independently of the adapters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

META_PHONE_NUMBER_ID = "100000000000001"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


def fixture_text(provider: str, name: str) -> str:
    """Return a documented payload's text, without the trailing newline editors add."""
    return (FIXTURES / provider / name).read_text(encoding="utf-8").strip()


def fixture_json(provider: str, name: str) -> dict[str, Any]:
    """Return a JSON payload fixture as a dict."""
    document: dict[str, Any] = json.loads(fixture_text(provider, f"{name}.json"))
    return document


def fixture_form(name: str) -> dict[str, str]:
    """Return a Twilio form payload fixture as a dict."""
    return dict(parse_qsl(fixture_text("twilio", f"{name}.txt"), keep_blank_values=True))


def meta_signature(body: bytes, app_secret: str) -> str:
    """Return the X-Hub-Signature-256 header Meta sends for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Return the X-Twilio-Signature header: HMAC-SHA1 over the URL plus sorted params."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def meta_text_payload(
    *,
    wa_id: str = "5511987654321",
    name: str = "Mariana Souza",
    message_id: str = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDNBQjQ1Q0Q2RTdGODkwMTIzNDU2AA==",
    text: str = "Oi, quanto custa a limpeza de pele?",
    timestamp: str = "1773158400",
    phone_number_id: str = META_PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """Return a WhatsApp Cloud API webhook with one inbound text message."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "5511990000001",
                                "phone_number_id": phone_number_id,
                            },
                            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": message_id,
                                    "timestamp": timestamp,
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def json_body(payload: Any) -> bytes:
    """Serialise a payload compactly, as providers do."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def form_body(params: dict[str, str]) -> bytes:
    """Encode Twilio-style form parameters."""
    return urlencode(params).encode()
