"""The webhook function served in-process: routing, signatures, bad input, publish-before-200."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.functions.conftest import ROOT, RecordingSink
from tests.support.providers import (
    form_body,
    json_body,
    meta_signature,
    meta_text_payload,
    twilio_signature,
)

META_SECRET = "meta-app-secret"


def post_meta(client: Any, payload: Any, *, secret: str = META_SECRET, **kwargs: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json_body(payload)
    headers = {"X-Hub-Signature-256": meta_signature(body, secret)}
    headers.update(kwargs.pop("headers", {}))
    return client.post(
        "/webhooks/meta/ch-meta",
        data=body,
        headers=headers,
        content_type=kwargs.pop("content_type", "application/json"),
    )


def test_signed_meta_message_is_published_before_200(
    webhook_client: Any, sink: RecordingSink
) -> None:
    response = post_meta(webhook_client, meta_text_payload())

    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted", "events": 1}
    [event] = sink.published
    assert event.kind == "lead_message"
    assert event.tenant_id == "tenant-a"
    assert event.ordering_key == "tenant-a:+5511987654321"
    assert event.content.text == "Oi, quanto custa a limpeza de pele?"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 403),
        ({"X-Hub-Signature-256": "not-a-signature"}, 403),
    ],
)
def test_meta_bad_signature_is_rejected_and_nothing_published(
    webhook_client: Any, sink: RecordingSink, headers: dict[str, str], status: int
) -> None:
    response = webhook_client.post(
        "/webhooks/meta/ch-meta",
        data=json_body(meta_text_payload()),
        headers=headers,
        content_type="application/json",
    )

    assert response.status_code == status
    assert response.get_json()["error"]
    assert sink.published == []


def test_meta_signature_with_another_secret_is_forbidden(
    webhook_client: Any, sink: RecordingSink
) -> None:
    response = post_meta(webhook_client, meta_text_payload(), secret="someone-elses-secret")

    assert response.status_code == 403
    assert sink.published == []


def test_tampered_body_is_forbidden(webhook_client: Any, sink: RecordingSink) -> None:
    signed = json_body(meta_text_payload())
    tampered = signed.replace(b"limpeza", b"LIMPEZA")
    response = webhook_client.post(
        "/webhooks/meta/ch-meta",
        data=tampered,
        headers={"X-Hub-Signature-256": meta_signature(signed, META_SECRET)},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert sink.published == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (b"{not json", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'{"object": "page", "entry": []}', "application/json"),
        (b'{"object": "whatsapp_business_account", "entry": "x"}', "application/json"),
        (json_body(meta_text_payload()), "text/plain"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
def test_malformed_signed_bodies_are_400(
    webhook_client: Any, sink: RecordingSink, body: bytes, content_type: str
) -> None:
    response = post_meta(webhook_client, body, content_type=content_type)

    assert response.status_code == 400
    assert response.get_json()["error"]
    assert sink.published == []


def test_payload_without_events_is_200_and_publishes_nothing(
    webhook_client: Any, sink: RecordingSink
) -> None:
    response = post_meta(webhook_client, {"object": "whatsapp_business_account", "entry": []})

    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted", "events": 0}
    assert sink.published == []


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/meta/no-such-channel",
        "/webhooks/twilio/ch-meta",
        "/webhooks/telegram/ch-meta",
        "/webhooks/meta/ch-disabled",
        "/webhooks/meta",
        "/somewhere/else",
    ],
)
def test_unknown_channel_or_route_is_404(
    webhook_client: Any, sink: RecordingSink, path: str
) -> None:
    body = json_body(meta_text_payload())
    response = webhook_client.post(
        path,
        data=body,
        headers={"X-Hub-Signature-256": meta_signature(body, META_SECRET)},
        content_type="application/json",
    )

    assert response.status_code == 404
    assert sink.published == []


def test_oversized_body_is_413_without_reading_it(webhook_client: Any, sink: RecordingSink) -> None:
    body = (
        b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * (1024 * 1024) + b'"}'
    )
    response = post_meta(webhook_client, body)

    assert response.status_code == 413
    assert sink.published == []


def test_wrong_method_is_405(webhook_client: Any) -> None:
    assert webhook_client.put("/webhooks/evolution/ch-evolution", data=b"{}").status_code == 405
    assert webhook_client.get("/webhooks/zapi/ch-zapi").status_code == 405


def test_publish_failure_is_503_so_the_provider_retries(
    webhook_client: Any, sink: RecordingSink
) -> None:
    sink.fail = True
    response = post_meta(webhook_client, meta_text_payload())

    assert response.status_code == 503
    assert "retry" in response.get_json()["error"]


def test_meta_verification_handshake_echoes_the_challenge(webhook_client: Any) -> None:
    response = webhook_client.get(
        "/webhooks/meta/ch-meta",
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": "meta-verify-token",
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1158201444"


def test_meta_handshake_with_wrong_token_is_forbidden(webhook_client: Any) -> None:
    response = webhook_client.get(
        "/webhooks/meta/ch-meta",
        query_string={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )

    assert response.status_code == 403
    assert "1" not in response.get_data(as_text=True).split('"')[-1]


def test_twilio_signature_is_checked_against_the_public_url(
    webhook_client: Any, sink: RecordingSink
) -> None:
    params = {
        "SmsMessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "NumMedia": "0",
        "ProfileName": "Mariana Souza",
        "MessageType": "text",
        "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "WaId": "5511987654321",
        "SmsStatus": "received",
        "Body": "Oi! Vocês atendem sábado?",
        "To": "whatsapp:+5511990000002",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "AccountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "From": "whatsapp:+5511987654321",
        "ApiVersion": "2010-04-01",
    }
    public_url = "https://hooks.example.com/webhooks/twilio/ch-twilio"
    good = twilio_signature(public_url, params, "twilio-auth-token")
    signed_for_internal_url = twilio_signature(
        "http://localhost/webhooks/twilio/ch-twilio", params, "twilio-auth-token"
    )

    rejected = webhook_client.post(
        "/webhooks/twilio/ch-twilio",
        data=form_body(params),
        headers={"X-Twilio-Signature": signed_for_internal_url},
        content_type="application/x-www-form-urlencoded",
    )
    accepted = webhook_client.post(
        "/webhooks/twilio/ch-twilio",
        data=form_body(params),
        headers={"X-Twilio-Signature": good},
        content_type="application/x-www-form-urlencoded",
    )

    assert rejected.status_code == 403
    assert accepted.status_code == 200
    [event] = sink.published
    assert event.kind == "lead_message"
    assert event.contact.phone == "+5511987654321"


EVOLUTION_UPSERT = {
    "event": "messages.upsert",
    "instance": "clinica",
    "data": {
        "key": {
            "remoteJid": "5511987654321@s.whatsapp.net",
            "fromMe": False,
            "id": "3EB0C767D26A1B2C3D4E",
        },
        "pushName": "Mariana Souza",
        "message": {"conversation": "Oi, tem horário amanhã?"},
        "messageType": "conversation",
        "messageTimestamp": 1773158400,
        "instanceId": "b5b2c1d0-0000-4000-8000-000000000001",
        "source": "android",
    },
    "destination": "https://hooks.example.com/webhooks/evolution/ch-evolution",
    "date_time": "2026-03-10T13:00:00.000Z",
    "sender": "5511990000003@s.whatsapp.net",
    "server_url": "http://evolution.local:8080",
}


@pytest.mark.parametrize(
    ("apikey", "status"), [(None, 401), ("wrong", 403), ("evolution-apikey", 200)]
)
def test_evolution_requires_the_channel_apikey(
    webhook_client: Any, sink: RecordingSink, apikey: str | None, status: int
) -> None:
    payload = dict(EVOLUTION_UPSERT)
    if apikey is not None:
        payload["apikey"] = apikey
    response = webhook_client.post(
        "/webhooks/evolution/ch-evolution", data=json_body(payload), content_type="application/json"
    )

    assert response.status_code == status
    assert len(sink.published) == (1 if status == 200 else 0)


ZAPI_RECEIVED = {
    "isStatusReply": False,
    "chatLid": None,
    "connectedPhone": "5511990000004",
    "waitingMessage": False,
    "isEdit": False,
    "isGroup": False,
    "isNewsletter": False,
    "instanceId": "3C0TEST",
    "messageId": "3EB0A1B2C3D4E5F60718",
    "phone": "5511987654321",
    "fromMe": False,
    "momment": 1773158400000,
    "status": "RECEIVED",
    "chatName": "Mariana Souza",
    "senderPhoto": None,
    "senderName": "Mariana Souza",
    "photo": None,
    "broadcast": False,
    "type": "ReceivedCallback",
    "text": {"message": "Bom dia! Qual o valor?"},
}


@pytest.mark.parametrize(
    ("token", "status"), [(None, 401), ("wrong", 403), ("zapi-client-token", 200)]
)
def test_zapi_requires_the_client_token_header(
    webhook_client: Any, sink: RecordingSink, token: str | None, status: int
) -> None:
    headers = {"Client-Token": token} if token is not None else {}
    response = webhook_client.post(
        "/webhooks/zapi/ch-zapi",
        data=json_body(ZAPI_RECEIVED),
        headers=headers,
        content_type="application/json",
    )

    assert response.status_code == status
    assert len(sink.published) == (1 if status == 200 else 0)


def test_rejections_are_logged_as_structured_json(
    webhook_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook_client.post("/webhooks/meta/ch-meta", data=b"{}", content_type="application/json")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    [rejection] = [line for line in lines if line.get("message", "").startswith("webhook rejected")]
    assert rejection["severity"] == "WARNING"
    assert rejection["status"] == 401
    assert rejection["channel_id"] == "ch-meta"
    assert rejection["reason"]


def test_webhook_module_stays_light_for_cold_starts() -> None:
    """No LLM code, no pydantic and no gRPC client libraries on the webhook's path."""
    code = (
        "import sys, runpy; sys.path.insert(0, '.');"
        "runpy.run_path('functions/webhook/main.py');"
        "import shared.channels.meta, shared.channels.twilio, shared.channels.evolution,"
        " shared.channels.zapi;"  # what the first requests import
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('langgraph', 'langchain', 'langchain_core', 'langchain_google_genai', 'pydantic',"
        " 'grpc', 'httpx') or m.startswith(('google.cloud.firestore', 'google.cloud.pubsub')));"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"GOOGLE_CLOUD_PROJECT": "demo-x", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip().splitlines()[-1:] in ([], [""])
