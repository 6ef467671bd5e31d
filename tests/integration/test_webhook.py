"""The webhook over real HTTP with the Firestore and Pub/Sub emulators.

Channels are seeded with `piloto seed`; every provider's documented payload, signed as the
provider signs it, must land on `conversation-events` as canonical events; every bad request
must be answered with a 4xx and publish nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import httpx
import pytest

from emulators.stack import LocalStack, free_port
from shared.events.topology import CONVERSATION_EVENTS
from tests.support.providers import (
    fixture_form,
    fixture_json,
    form_body,
    json_body,
    meta_signature,
    meta_text_payload,
    twilio_signature,
)

ROOT = Path(__file__).resolve().parents[2]
PHONE_NUMBER_ID = fixture_json("meta", "text")["entry"][0]["changes"][0]["value"]["metadata"][
    "phone_number_id"
]

SECRETS = {
    "PILOTO_IT_META_APP_SECRET": "it-meta-app-secret",
    "PILOTO_IT_META_VERIFY_TOKEN": "it-meta-verify-token",
    "PILOTO_IT_TWILIO_AUTH_TOKEN": "it-twilio-auth-token",
    "PILOTO_IT_EVOLUTION_APIKEY": "it-evolution-apikey",
    "PILOTO_IT_ZAPI_CLIENT_TOKEN": "it-zapi-client-token",
}

SEED = """
tenants:
  - tenant_id: it-clinica
    name: Clínica de Integração
    channels:
      - channel_id: it-meta
        provider: meta
        config: {phone_number_id: "%(meta_phone_number_id)s"}
        secrets:
          app_secret: env:PILOTO_IT_META_APP_SECRET
          verify_token: env:PILOTO_IT_META_VERIFY_TOKEN
      - channel_id: it-twilio
        provider: twilio
        secrets: {auth_token: env:PILOTO_IT_TWILIO_AUTH_TOKEN}
      - channel_id: it-evolution
        provider: evolution
        secrets: {apikey: env:PILOTO_IT_EVOLUTION_APIKEY}
      - channel_id: it-zapi
        provider: zapi
        secrets: {client_token: env:PILOTO_IT_ZAPI_CLIENT_TOKEN}
"""


@dataclass
class Webhook:
    """The running webhook function and a subscription that sees everything it publishes."""

    url: str
    subscriber: Any
    subscription: str

    def pull(self, expected: int, timeout: float = 10.0) -> list[Any]:
        """Pull until ``expected`` messages arrived (or the timeout), acknowledging them."""
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(messages) < max(expected, 1):
            response = self.subscriber.pull(
                request={"subscription": self.subscription, "max_messages": 100}, timeout=5
            )
            if response.received_messages:
                self.subscriber.acknowledge(
                    request={
                        "subscription": self.subscription,
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
                messages.extend(m.message for m in response.received_messages)
            elif expected == 0:
                break
        return messages

    def drain_and_expect_nothing(self) -> None:
        """Wait a moment and assert nothing at all was published."""
        time.sleep(0.5)
        assert self.pull(expected=0, timeout=2) == []


@pytest.fixture(scope="module")
def webhook(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    """Seed the channels, create the topic, and serve the webhook function over HTTP."""
    project = local_stack.project_id
    env = {**os.environ, **local_stack.env(), **SECRETS, "GOOGLE_CLOUD_PROJECT": project}
    seed_file = tmp_path_factory.mktemp("seed") / "seed.yaml"
    seed_file.write_text(
        SEED % {"meta_phone_number_id": PHONE_NUMBER_ID},
        encoding="utf-8",
    )
    seeded = subprocess.run(
        [str(ROOT / ".venv/bin/piloto"), "seed", str(seed_file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded 1 tenant(s), 4 channel(s)" in seeded.stdout
    assert " and 0 insight agent(s) into " in seeded.stdout

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project, CONVERSATION_EVENTS)
    try:
        publisher.create_topic(name=topic)
    except Exception as error:  # already created by another module
        assert "AlreadyExists" in type(error).__name__ or "409" in str(error)
    subscription = subscriber.subscription_path(project, f"it-webhook-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(
        request={"name": subscription, "topic": topic, "enable_message_ordering": True}
    )

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("webhook") / "webhook.log").open("wb")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/functions-framework"),
            "--target=webhook",
            f"--source={ROOT / 'functions/webhook/main.py'}",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        env={**env, "PILOTO_PUBLIC_BASE_URL": base_url},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the webhook function exited; see webhook.log"
            try:
                httpx.get(base_url + "/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the webhook function did not start"
                time.sleep(0.1)
        yield Webhook(url=base_url, subscriber=subscriber, subscription=subscription)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)
        log.close()
        subscriber.delete_subscription(request={"subscription": subscription})
        subscriber.close()


def post_meta(
    webhook: Webhook, payload: Any, *, secret: str = "it-meta-app-secret"
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json_body(payload)
    return httpx.post(
        f"{webhook.url}/webhooks/meta/it-meta",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(body, secret),
        },
    )


def decode(message: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(message.data)
    return event


def test_signed_meta_message_lands_on_the_topic(webhook: Webhook) -> None:
    response = post_meta(webhook, fixture_json("meta", "text"))

    assert response.status_code == 200, response.text
    [message] = webhook.pull(expected=1)
    event = decode(message)
    assert event["kind"] == "lead_message"
    assert event["tenant_id"] == "it-clinica"
    assert event["channel_id"] == "it-meta"
    assert event["content"]["message_type"] == "text"
    assert message.ordering_key == f"it-clinica:{event['contact']['phone']}"
    assert dict(message.attributes) == {
        "event_id": event["event_id"],
        "kind": "lead_message",
        "provider": "meta",
        "tenant_id": "it-clinica",
        "channel_id": "it-meta",
        "contact": event["contact"]["phone"],
    }


def test_meta_batch_publishes_every_event_with_its_own_contact(webhook: Webhook) -> None:
    payload = fixture_json("meta", "batch_two_contacts")
    value = payload["entry"][0]["changes"][0]["value"]
    names = {contact["wa_id"]: contact["profile"]["name"] for contact in value["contacts"]}

    response = post_meta(webhook, payload)

    assert response.status_code == 200
    messages = webhook.pull(expected=len(value["messages"]))
    assert len(messages) == len(value["messages"])
    for message in messages:
        event = decode(message)
        assert event["contact"]["profile_name"] == names[event["contact"]["wa_id"]]


def test_twilio_form_signed_for_the_public_url_lands_on_the_topic(webhook: Webhook) -> None:
    params = fixture_form("text")
    url = f"{webhook.url}/webhooks/twilio/it-twilio"
    response = httpx.post(
        url,
        content=form_body(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params, "it-twilio-auth-token"),
        },
    )

    assert response.status_code == 200, response.text
    [message] = webhook.pull(expected=1)
    event = decode(message)
    assert event["provider"] == "twilio"
    assert event["message_id"] == params["MessageSid"]
    assert event["content"]["text"] == params["Body"]


def test_evolution_seller_message_is_published_as_seller_message(webhook: Webhook) -> None:
    payload = fixture_json("evolution", "messages_upsert_from_me")
    payload["apikey"] = "it-evolution-apikey"
    payload.pop("instance", None)
    response = httpx.post(
        f"{webhook.url}/webhooks/evolution/it-evolution",
        content=json_body(payload),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    [message] = webhook.pull(expected=1)
    assert decode(message)["kind"] == "seller_message"
    assert message.attributes["kind"] == "seller_message"


def test_zapi_message_with_client_token_lands_on_the_topic(webhook: Webhook) -> None:
    payload = fixture_json("zapi", "received_text")
    payload.pop("instanceId", None)
    response = httpx.post(
        f"{webhook.url}/webhooks/zapi/it-zapi",
        content=json_body(payload),
        headers={"Content-Type": "application/json", "Client-Token": "it-zapi-client-token"},
    )

    assert response.status_code == 200, response.text
    [message] = webhook.pull(expected=1)
    event = decode(message)
    assert event["provider"] == "zapi"
    assert event["message_id"] == payload["messageId"]


def test_meta_handshake_over_http(webhook: Webhook) -> None:
    response = httpx.get(
        f"{webhook.url}/webhooks/meta/it-meta",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "it-meta-verify-token",
            "hub.challenge": "987654321",
        },
    )

    assert response.status_code == 200
    assert response.text == "987654321"


def test_bad_requests_are_4xx_and_publish_nothing(webhook: Webhook) -> None:
    body = json_body(meta_text_payload())
    meta = f"{webhook.url}/webhooks/meta/it-meta"
    json_headers = {"Content-Type": "application/json"}
    cases = [
        (httpx.post(meta, content=body, headers=json_headers), 401),
        (
            httpx.post(
                meta,
                content=body,
                headers={**json_headers, "X-Hub-Signature-256": meta_signature(body, "wrong")},
            ),
            403,
        ),
        (post_meta(webhook, b"{not json"), 400),
        (post_meta(webhook, b""), 400),
        (
            post_meta(webhook, b'{"object":"whatsapp_business_account","entry":[{"changes":7}]}'),
            400,
        ),
        (
            httpx.post(
                meta,
                content=body,
                headers={
                    "Content-Type": "text/plain",
                    "X-Hub-Signature-256": meta_signature(body, "it-meta-app-secret"),
                },
            ),
            400,
        ),
        (httpx.post(f"{webhook.url}/webhooks/meta/nope", content=body, headers=json_headers), 404),
        (httpx.post(f"{webhook.url}/webhooks/whatsapp/it-meta", content=body), 404),
        (post_meta(webhook, b"x" * (1024 * 1024 + 1)), 413),
        (httpx.delete(meta), 405),
        (
            httpx.post(
                f"{webhook.url}/webhooks/zapi/it-zapi",
                content=json_body(fixture_json("zapi", "received_text")),
                headers={**json_headers, "Client-Token": "stolen"},
            ),
            403,
        ),
    ]

    for response, expected in cases:
        assert response.status_code == expected, (response.request.url, response.text)
        assert response.json()["error"]
    empty = post_meta(webhook, {"object": "whatsapp_business_account", "entry": []})
    assert empty.status_code == 200
    assert empty.json() == {"status": "accepted", "events": 0}
    webhook.drain_and_expect_nothing()


def test_seed_refuses_secret_values_and_writes_nothing(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    seed_file = tmp_path / "bad.yaml"
    seed_file.write_text(
        "tenants:\n  - tenant_id: it-leaky\n    name: Leaky\n    channels:\n"
        "      - channel_id: it-leaky-meta\n        provider: meta\n"
        "        secrets: {app_secret: 'plain-text-secret'}\n",
        encoding="utf-8",
    )
    env = {**os.environ, **local_stack.env()}
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "seed", str(seed_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "secrets.app_secret: must be a reference" in result.stderr
    from google.cloud import firestore

    client = firestore.Client(project=local_stack.project_id)
    assert not client.collection("tenants").document("it-leaky").get().exists
    assert not client.collection("channels").document("it-leaky-meta").get().exists


def test_piloto_events_pull_prints_what_the_webhook_published(
    webhook: Webhook, local_stack: LocalStack
) -> None:
    project = local_stack.project_id
    subscriber = pubsub_v1.SubscriberClient()
    tap = subscriber.subscription_path(project, f"it-tap-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(
        request={
            "name": tap,
            "topic": f"projects/{project}/topics/{CONVERSATION_EVENTS}",
            "enable_message_ordering": True,
        }
    )
    try:
        payload = meta_text_payload(
            message_id="wamid.PULL1", text="Vocês abrem sábado?", phone_number_id=PHONE_NUMBER_ID
        )
        assert post_meta(webhook, payload).status_code == 200
        drained = webhook.pull(expected=1)  # keep the module's own subscription empty
        assert [json.loads(m.data)["message_id"] for m in drained] == ["wamid.PULL1"]
        result = subprocess.run(
            [
                str(ROOT / ".venv/bin/piloto"),
                "events",
                "pull",
                "--subscription",
                tap.split("/")[-1],
            ],
            env={**os.environ, **local_stack.env()},
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        subscriber.delete_subscription(request={"subscription": tap})
        subscriber.close()

    assert result.stdout, result.stderr
    [line] = result.stdout.splitlines()
    printed = json.loads(line)
    assert printed["event"]["message_id"] == "wamid.PULL1"
    assert printed["event"]["content"]["text"] == "Vocês abrem sábado?"
    assert printed["attributes"]["kind"] == "lead_message"
    assert printed["ordering_key"] == "it-clinica:+5511987654321"
