"""The provider simulator against Piloto's real send adapters, verifiers and parsers.

A tiny HTTP receiver stands in for the webhook function; every webhook it receives is checked
with the provider adapter's own ``verify`` and ``parse``. No GCP emulator is needed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.simulator import ProviderSimulator, SimulatedChannel, simulated_channel
from shared.channels import adapter_for, evolution, meta, twilio, zapi
from shared.channels.base import SignatureRejected, WebhookRequest
from shared.channels.sending import (
    Button,
    OutboundButtons,
    OutboundMedia,
    OutboundRequest,
    OutboundTemplate,
    OutboundText,
    RetryPolicy,
    SendFailed,
    SendResult,
)
from shared.media.fetch import FetchPolicy, fetch_media
from shared.models.events import (
    ConversationEvent,
    DeliveryStatus,
    LeadMessage,
    MessageType,
    Provider,
    SellerMessage,
    StatusUpdate,
)

ROOT = Path(__file__).resolve().parents[2]
LEAD = "+5511987654321"
PROVIDERS: tuple[Provider, ...] = ("meta", "twilio", "evolution", "zapi")
FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay=0.0, sleep=lambda seconds: None)
STATUS_DELAYS = (0.02, 0.02, 0.02)
SENDERS = {"meta": meta.send, "twilio": twilio.send, "evolution": evolution.send, "zapi": zapi.send}

CHANNELS: dict[Provider, SimulatedChannel] = {
    "meta": simulated_channel(
        "sim-meta",
        "meta",
        business_phone="+5511990000001",
        config={"phone_number_id": "100000000000001"},
        secrets={"access_token": "meta-token", "app_secret": "meta-app-secret"},
    ),
    "twilio": simulated_channel(
        "sim-twilio",
        "twilio",
        business_phone="+5511990000002",
        config={"account_sid": "AC" + "0" * 32},
        secrets={"auth_token": "twilio-auth-token"},
    ),
    "evolution": simulated_channel(
        "sim-evolution",
        "evolution",
        business_phone="+5511990000003",
        config={"instance": "clinica"},
        secrets={"apikey": "evolution-apikey"},
    ),
    "zapi": simulated_channel(
        "sim-zapi",
        "zapi",
        business_phone="+5511990000004",
        config={"instance_id": "3C0SIM"},
        secrets={"client_token": "zapi-client-token", "instance_token": "zapi-instance-token"},
    ),
}
WRONG_SECRETS: dict[Provider, dict[str, str]] = {
    "meta": {"access_token": "stolen"},
    "twilio": {"auth_token": "stolen"},
    "evolution": {"apikey": "stolen"},
    "zapi": {"client_token": "stolen", "instance_token": "zapi-instance-token"},
}


# --- a stand-in for Piloto's webhook function -----------------------------------------------


@dataclass(frozen=True)
class Received:
    """One webhook as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Collects webhooks; answers ``status`` (200 unless a test changes it)."""

    url: str = ""
    status: int = 200
    received: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, request: Received) -> None:
        with self.changed:
            self.received.append(request)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Return the first ``count`` webhooks, failing if they do not all arrive."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} webhooks arrived")
                self.changed.wait(remaining)
            return list(self.received[:count])

    def settled(self, quiet: float = 0.15) -> list[Received]:
        """Return everything received once nothing has arrived for ``quiet`` seconds."""
        count = -1
        while count != len(self.received):
            count = len(self.received)
            time.sleep(quiet)
        return list(self.received)

    def as_request(self, received: Received) -> WebhookRequest:
        """Return what Piloto's webhook function would hand the adapter."""
        return WebhookRequest(
            method="POST",
            url=self.url + received.path,
            body=received.body,
            headers=received.headers,
        )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            state.add(Received(self.path, headers, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def simulator(receiver: Receiver) -> Iterator[ProviderSimulator]:
    with ProviderSimulator(
        CHANNELS.values(),
        webhook_base_url=receiver.url,
        status_delays=STATUS_DELAYS,
        echo_sends=False,  # statuses only; the gateways' echo has a test of its own
    ) as running:
        yield running


@pytest.mark.parametrize("provider", ["evolution", "zapi"])
def test_the_gateways_echo_what_was_sent_as_from_me(
    receiver: Receiver, client: httpx.Client, provider: Provider
) -> None:
    with ProviderSimulator(
        CHANNELS.values(), webhook_base_url=receiver.url, status_delays=STATUS_DELAYS
    ) as simulator:
        result = send(simulator, client, provider)
        received = receiver.wait_for(4)

    events = [
        event for webhook in received for event in verified_events(receiver, webhook, provider)
    ]
    echoes = [event for event in events if isinstance(event, SellerMessage)]
    assert len(echoes) == 1
    assert echoes[0].message_id == result.provider_message_id
    assert echoes[0].content.text == "oi"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def send(
    simulator: ProviderSimulator,
    client: httpx.Client,
    provider: Provider,
    message: OutboundRequest | None = None,
    secrets: Mapping[str, str] | None = None,
) -> SendResult:
    """Send through the real adapter of ``provider``, with retries that do not sleep."""
    channel = CHANNELS[provider]
    return SENDERS[provider](
        client,
        simulator.piloto_channel(channel.channel_id),
        channel.secrets if secrets is None else secrets,
        LEAD,
        message or OutboundText("oi"),
        policy=FAST_RETRIES,
    )


def verified_events(
    receiver: Receiver, received: Received, provider: Provider
) -> list[ConversationEvent]:
    """Run the provider adapter's own verify and parse over one received webhook."""
    adapter = adapter_for(provider)
    assert adapter is not None
    channel = CHANNELS[provider]
    request = receiver.as_request(received)
    adapter.verify(request, channel.channel, channel.secrets)
    return adapter.parse(request, channel.channel, received_at=_now())


def _now() -> datetime:
    return datetime.now(UTC)


def statuses_of(
    receiver: Receiver, received: list[Received], provider: Provider
) -> list[tuple[str, DeliveryStatus]]:
    found: list[tuple[str, DeliveryStatus]] = []
    for webhook in received:
        events = verified_events(receiver, webhook, provider)
        assert len(events) == 1 and isinstance(events[0], StatusUpdate), events
        found.append((events[0].message_id, events[0].status))
    return found


ORDERED = [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]


# --- sending ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_adapter_sends_and_the_message_is_in_the_outbox(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider
) -> None:
    adapter = adapter_for(provider)
    assert adapter is not None
    channel = CHANNELS[provider]
    result = adapter.send(
        client,
        simulator.piloto_channel(channel.channel_id),
        channel.secrets,
        LEAD,
        OutboundText("oi"),
    )

    assert result.attempts == 1
    [message] = simulator.outbox()
    assert message.provider_message_id == result.provider_message_id
    assert (message.provider, message.channel_id, message.to) == (
        provider,
        channel.channel_id,
        LEAD,
    )
    assert (message.kind, message.text) == ("text", "oi")
    listed = client.get(f"{simulator.url}/outbox").json()
    assert [item["provider_message_id"] for item in listed] == [result.provider_message_id]


def test_provider_message_ids_look_like_the_providers_own(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    ids = {
        provider: send(simulator, client, provider).provider_message_id for provider in PROVIDERS
    }

    assert ids["meta"].startswith("wamid.")
    assert ids["twilio"].startswith("SM") and len(ids["twilio"]) == 34
    assert ids["evolution"].startswith("BAE5")
    assert len(set(ids.values())) == 4


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_credentials_are_unauthorized(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider
) -> None:
    with pytest.raises(SendFailed) as failure:
        send(simulator, client, provider, secrets=WRONG_SECRETS[provider])

    assert failure.value.code == "unauthorized"
    assert failure.value.permanent and failure.value.attempts == 1
    assert simulator.outbox() == []


def test_error_bodies_have_each_providers_shape(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    base = simulator.url
    graph = client.post(
        f"{base}/meta/v21.0/100000000000001/messages",
        headers={"Authorization": "Bearer nope"},
        json={"messaging_product": "whatsapp", "to": "5511987654321", "type": "text"},
    )
    assert graph.status_code == 401
    error = graph.json()["error"]
    assert (error["type"], error["code"]) == ("OAuthException", 190) and error["fbtrace_id"]

    missing_text = client.post(
        f"{base}/meta/v21.0/100000000000001/messages",
        headers={"Authorization": "Bearer meta-token"},
        json={"messaging_product": "whatsapp", "to": "5511987654321", "type": "text", "text": {}},
    )
    assert missing_text.status_code == 400 and missing_text.json()["error"]["code"] == 100

    unknown_number = client.post(
        f"{base}/meta/v21.0/999/messages",
        headers={"Authorization": "Bearer meta-token"},
        json={"messaging_product": "whatsapp", "to": "5511987654321", "text": {"body": "x"}},
    )
    assert unknown_number.json()["error"]["error_subcode"] == 33

    account = CHANNELS["twilio"].channel.config["account_sid"]
    twilio_url = f"{base}/twilio/2010-04-01/Accounts/{account}/Messages.json"
    assert client.post(twilio_url, data={"To": "x"}).json() == {
        "code": 20003,
        "message": "Authentication Error - invalid username",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    auth = (account, "twilio-auth-token")
    no_body = client.post(
        twilio_url, auth=auth, data={"To": f"whatsapp:{LEAD}", "From": "whatsapp:+5511990000002"}
    )
    assert (no_body.status_code, no_body.json()["code"]) == (400, 21602)
    bad_to = client.post(twilio_url, auth=auth, data={"To": "whatsapp:abc", "Body": "x"})
    assert (bad_to.status_code, bad_to.json()["code"]) == (400, 21211)

    evolution_denied = client.post(
        f"{base}/evolution/message/sendText/clinica", headers={"apikey": "x"}, json={}
    )
    assert evolution_denied.status_code == 401
    assert evolution_denied.json() == {
        "status": 401,
        "error": "Unauthorized",
        "response": {"message": "Unauthorized"},
    }
    no_instance = client.post(
        f"{base}/evolution/message/sendText/other", headers={"apikey": "evolution-apikey"}, json={}
    )
    assert no_instance.status_code == 404

    zapi_unknown = client.post(f"{base}/zapi/instances/NOPE/token/t/send-text", json={})
    assert zapi_unknown.status_code == 404 and set(zapi_unknown.json()) == {"error", "message"}
    assert simulator.outbox() == []


@pytest.mark.parametrize(
    ("provider", "message", "kind", "expected"),
    [
        (
            "meta",
            OutboundTemplate("retomada", parameters=("Mariana",)),
            "template",
            {"template": {"name": "retomada", "language": "pt_BR", "parameters": ["Mariana"]}},
        ),
        (
            "twilio",
            OutboundTemplate("HX" + "a" * 32, parameters=("Mariana", "terça")),
            "template",
            {
                "template": {
                    "name": "HX" + "a" * 32,
                    "language": None,
                    "parameters": ["Mariana", "terça"],
                }
            },
        ),
        (
            "meta",
            OutboundMedia("https://cdn.example.com/tabela.pdf", "document", filename="tabela.pdf"),
            "document",
            {
                "media": {
                    "kind": "document",
                    "url": "https://cdn.example.com/tabela.pdf",
                    "filename": "tabela.pdf",
                }
            },
        ),
        (
            "twilio",
            OutboundMedia("https://cdn.example.com/foto.jpg", "image", caption="Antes e depois"),
            "image",
            {"text": "Antes e depois"},
        ),
        (
            "evolution",
            OutboundMedia("https://cdn.example.com/oi.ogg", "audio"),
            "audio",
            {"media": {"kind": "audio", "url": "https://cdn.example.com/oi.ogg", "voice": True}},
        ),
        (
            "zapi",
            OutboundMedia("https://cdn.example.com/tabela.pdf", "document"),
            "document",
            {
                "media": {
                    "kind": "document",
                    "url": "https://cdn.example.com/tabela.pdf",
                    "extension": "pdf",
                }
            },
        ),
        *[
            (
                provider,
                OutboundButtons(
                    "Quer agendar?", (Button("sim", "Sim"), Button("nao", "Agora não"))
                ),
                "buttons",
                {
                    "text": "Quer agendar?",
                    "buttons": [{"id": "sim", "title": "Sim"}, {"id": "nao", "title": "Agora não"}],
                },
            )
            for provider in ("meta", "evolution", "zapi")
        ],
    ],
)
def test_every_kind_the_adapters_send_is_read_back(
    simulator: ProviderSimulator,
    client: httpx.Client,
    provider: Provider,
    message: OutboundRequest,
    kind: str,
    expected: dict[str, Any],
) -> None:
    result = send(simulator, client, provider, message)

    [listed] = client.get(f"{simulator.url}/outbox").json()
    assert listed["provider_message_id"] == result.provider_message_id
    assert listed["kind"] == kind
    for key, value in expected.items():
        assert listed[key] == value, key


def test_the_outbox_filters_and_clears_over_http(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    first = send(simulator, client, "meta")
    second = send(simulator, client, "zapi")
    other_lead = SENDERS["meta"](
        client,
        simulator.piloto_channel("sim-meta"),
        CHANNELS["meta"].secrets,
        "+5521999998888",
        OutboundText("olá"),
    )
    outbox = f"{simulator.url}/outbox"

    def ids(**query: str) -> list[str]:
        return [item["provider_message_id"] for item in client.get(outbox, params=query).json()]

    assert ids() == [
        first.provider_message_id,
        second.provider_message_id,
        other_lead.provider_message_id,
    ]
    assert ids(channel_id="sim-meta") == [first.provider_message_id, other_lead.provider_message_id]
    assert ids(to="+5521999998888") == [other_lead.provider_message_id]
    assert ids(since="1") == [second.provider_message_id, other_lead.provider_message_id]
    assert client.delete(outbox).status_code == 204
    assert ids() == []
    again = send(simulator, client, "meta")
    assert [m.index for m in simulator.outbox()] == [3]
    assert (
        simulator.wait_for(lambda m: m.provider_message_id == again.provider_message_id).to == LEAD
    )
    with pytest.raises(TimeoutError):
        simulator.wait_for(lambda m: m.provider == "twilio", timeout=0.1)


# --- status webhooks -------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_status_webhooks_arrive_signed_in_order_and_parse(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    result = send(simulator, client, provider)

    received = receiver.wait_for(3)
    assert {webhook.path for webhook in received} == {
        f"/webhooks/{provider}/{CHANNELS[provider].channel_id}"
    }
    assert statuses_of(receiver, received, provider) == [
        (result.provider_message_id, status) for status in ORDERED
    ]
    assert receiver.settled() == received  # exactly three
    tampered = replace(
        received[0], body=received[0].body.replace(b"5511987654321", b"5511987654322")
    )
    adapter = adapter_for(provider)
    assert adapter is not None
    if provider in ("meta", "twilio"):  # signed over the body; the gateways send a bare token
        with pytest.raises(SignatureRejected):
            adapter.verify(
                receiver.as_request(tampered),
                CHANNELS[provider].channel,
                CHANNELS[provider].secrets,
            )


def test_twilio_signs_the_public_url_the_channel_configures(
    receiver: Receiver, client: httpx.Client
) -> None:
    public = "https://piloto.example.com/webhooks/twilio/sim-twilio"
    base = CHANNELS["twilio"]
    channel = replace(
        base, channel=replace(base.channel, config={**base.channel.config, "webhook_url": public})
    )
    with ProviderSimulator([channel], receiver.url, status_delays=STATUS_DELAYS) as simulator:
        result = twilio.send(
            client,
            simulator.piloto_channel("sim-twilio"),
            channel.secrets,
            LEAD,
            OutboundText("oi"),
        )
        received = receiver.wait_for(1)[0]

    request = receiver.as_request(received)  # posted to the local URL, signed for the public one
    twilio.verify(request, channel.channel, channel.secrets)
    [event] = twilio.parse(request, channel.channel, _now())
    assert isinstance(event, StatusUpdate) and event.message_id == result.provider_message_id
    with pytest.raises(SignatureRejected):
        twilio.verify(request, base.channel, base.secrets)


def test_twilio_posts_statuses_to_the_status_callback_of_the_send(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver
) -> None:
    account = CHANNELS["twilio"].channel.config["account_sid"]
    answer = client.post(
        f"{simulator.url}/twilio/2010-04-01/Accounts/{account}/Messages.json",
        auth=(account, "twilio-auth-token"),
        data={
            "To": f"whatsapp:{LEAD}",
            "From": "whatsapp:+5511990000002",
            "Body": "oi",
            "StatusCallback": f"{receiver.url}/callbacks/twilio",
        },
    )

    assert answer.status_code == 201
    resource = answer.json()
    assert (resource["status"], resource["direction"]) == ("queued", "outbound-api")
    assert {webhook.path for webhook in receiver.wait_for(3)} == {"/callbacks/twilio"}


# --- acting as a lead ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "audio", "image"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_lead_message_becomes_a_lead_event(
    simulator: ProviderSimulator,
    client: httpx.Client,
    receiver: Receiver,
    provider: Provider,
    kind: str,
) -> None:
    channel_id = CHANNELS[provider].channel_id
    body: dict[str, Any] = {"from": LEAD, "name": "Mariana", "type": kind}
    body["text"] = "Oi, quanto custa?" if kind != "audio" else None
    answer = client.post(f"{simulator.url}/leads/{provider}/{channel_id}/messages", json=body)

    assert answer.status_code == 200, answer.text
    posted = answer.json()
    assert (posted["webhook_status"], posted["webhook_statuses"]) == (200, [200])
    [received] = receiver.wait_for(1)
    [event] = verified_events(receiver, received, provider)
    assert isinstance(event, LeadMessage)
    assert event.message_id == posted["provider_message_id"]
    assert (event.contact.phone, event.contact.profile_name) == (LEAD, "Mariana")
    assert event.channel_id == channel_id
    content = event.content
    if kind == "text":
        assert (content.message_type, content.text) == (MessageType.TEXT, "Oi, quanto custa?")
        return
    assert content.message_type == (MessageType.AUDIO if kind == "audio" else MessageType.IMAGE)
    assert content.media is not None
    if kind == "audio" and provider != "twilio":  # Twilio does not flag voice notes
        assert content.media.voice
    if kind == "image":
        assert content.media.caption == "Oi, quanto custa?"
    # The media is served behind the provider's download API and auth (tests/integration/
    # test_media_fetch.py covers each provider's and the wrong credentials).
    kind = "audio" if kind == "audio" else "image"
    fetched = fetch_media(
        client,
        simulator.piloto_channel(channel_id),
        CHANNELS[provider].secrets,
        kind,
        content.media,
        policy=FetchPolicy(),
    )
    assert fetched.data and fetched.mime_type == ("audio/ogg" if kind == "audio" else "image/png")


@pytest.mark.parametrize("provider", ["evolution", "zapi"])
def test_a_message_from_the_business_phone_becomes_a_seller_event(
    simulator: ProviderSimulator, receiver: Receiver, provider: Provider
) -> None:
    posted = simulator.send_lead_message(
        CHANNELS[provider].channel_id, LEAD, "Oi Mariana, aqui é a Paula", from_business=True
    )

    assert posted.webhook_status == 200
    [event] = verified_events(receiver, receiver.wait_for(1)[0], provider)
    assert isinstance(event, SellerMessage)
    assert (event.message_id, event.contact.phone) == (posted.provider_message_id, LEAD)
    assert event.content.text == "Oi Mariana, aqui é a Paula"


@pytest.mark.parametrize("provider", ["meta", "twilio"])
def test_official_apis_report_no_business_phone_messages(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    answer = client.post(
        f"{simulator.url}/leads/{provider}/{CHANNELS[provider].channel_id}/messages",
        json={"from": LEAD, "text": "oi", "from_business": True},
    )

    assert answer.status_code == 400
    assert receiver.settled(0.05) == []


def test_lead_requests_are_checked(simulator: ProviderSimulator, client: httpx.Client) -> None:
    leads = f"{simulator.url}/leads"
    assert (
        client.post(f"{leads}/meta/sim-zapi/messages", json={"from": LEAD, "text": "x"}).status_code
        == 404
    )
    assert (
        client.post(
            f"{leads}/meta/sim-meta/messages", json={"from": "abc", "text": "x"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"{leads}/meta/sim-meta/messages", json={"from": LEAD, "type": "sticker"}
        ).status_code
        == 400
    )
    assert client.post(f"{leads}/meta/sim-meta/messages", json={"from": LEAD}).status_code == 400


def test_the_webhook_answer_is_reported(simulator: ProviderSimulator, receiver: Receiver) -> None:
    receiver.status = 403

    posted = simulator.send_lead_message("sim-zapi", LEAD, "oi")

    assert posted.webhook_status == 403
    assert [post.status_code for post in simulator.webhook_posts()] == [403]


# --- fault switches --------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limit_then_success_is_retried_into_one_message(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider
) -> None:
    created = client.post(
        f"{simulator.url}/faults",
        json={"provider": provider, "kind": "rate_limit", "count": 2, "delay_seconds": 0},
    )
    assert created.status_code == 201

    result = send(simulator, client, provider)

    assert result.attempts == 3
    assert [m.provider_message_id for m in simulator.outbox()] == [result.provider_message_id]
    assert client.get(f"{simulator.url}/faults").json() == []  # both uses spent


def test_rate_limit_answers_429_with_retry_after(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    simulator.add_fault("rate_limit", provider="meta", count=1)
    answer = client.post(
        f"{simulator.url}/meta/v21.0/100000000000001/messages",
        headers={"Authorization": "Bearer meta-token"},
        json={"messaging_product": "whatsapp", "to": "5511987654321", "text": {"body": "oi"}},
    )

    assert (answer.status_code, answer.headers["retry-after"]) == (429, "1")
    assert answer.json()["error"]["type"] == "OAuthException"


@pytest.mark.parametrize(
    ("provider", "status", "code"), [("meta", 400, 130429), ("twilio", 429, 20429)]
)
def test_throughput_errors_are_the_providers_and_are_retried(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider, status: int, code: int
) -> None:
    simulator.add_fault("throughput", provider=provider, count=1)

    result = send(simulator, client, provider)

    assert result.attempts == 2
    assert len(simulator.outbox()) == 1
    simulator.add_fault("throughput", provider=provider, count=1)
    raw = _raw_send(simulator, client, provider)
    assert raw.status_code == status
    document = raw.json()
    assert (document["error"]["code"] if provider == "meta" else document["code"]) == code


def _raw_send(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider
) -> httpx.Response:
    if provider == "meta":
        return client.post(
            f"{simulator.url}/meta/v21.0/100000000000001/messages",
            headers={"Authorization": "Bearer meta-token"},
            json={"messaging_product": "whatsapp", "to": "5511987654321", "text": {"body": "oi"}},
        )
    account = CHANNELS["twilio"].channel.config["account_sid"]
    return client.post(
        f"{simulator.url}/twilio/2010-04-01/Accounts/{account}/Messages.json",
        auth=(account, "twilio-auth-token"),
        data={"To": f"whatsapp:{LEAD}", "From": "whatsapp:+5511990000002", "Body": "oi"},
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_server_error_is_retried(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider
) -> None:
    simulator.add_fault("server_error", provider=provider, count=1)

    assert send(simulator, client, provider).attempts == 2
    assert len(simulator.outbox()) == 1


@pytest.mark.parametrize(("provider", "code"), [("meta", "131047"), ("twilio", "63016")])
def test_a_closed_window_fails_for_good(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider, code: str
) -> None:
    simulator.add_fault("window_closed", provider=provider)

    with pytest.raises(SendFailed) as failure:
        send(simulator, client, provider)

    assert (failure.value.code, failure.value.permanent, failure.value.attempts) == (code, True, 1)
    assert failure.value.status == 400
    assert simulator.outbox() == []


def test_the_gateways_have_no_window_to_close(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    refused = client.post(
        f"{simulator.url}/faults", json={"provider": "zapi", "kind": "window_closed"}
    )
    assert refused.status_code == 400
    simulator.add_fault("window_closed")  # any provider: only meta and twilio are affected

    assert send(simulator, client, "evolution").attempts == 1
    with pytest.raises(SendFailed):
        send(simulator, client, "meta")


def test_slow_answers_wait_before_answering(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    simulator.add_fault("slow", provider="zapi", count=1, delay_seconds=0.4)

    started = time.monotonic()
    send(simulator, client, "zapi")
    slow = time.monotonic() - started
    started = time.monotonic()
    send(simulator, client, "zapi")
    fast = time.monotonic() - started

    assert slow >= 0.4 > fast


def test_a_fault_limited_to_a_channel_spares_the_others(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    simulator.add_fault("window_closed", channel_id="sim-twilio")

    assert send(simulator, client, "meta").attempts == 1
    with pytest.raises(SendFailed):
        send(simulator, client, "twilio")


def test_faults_are_listed_and_cleared(simulator: ProviderSimulator, client: httpx.Client) -> None:
    faults = f"{simulator.url}/faults"
    client.post(faults, json={"kind": "server_error", "provider": "meta", "count": 2})
    client.post(faults, json={"kind": "slow", "delay_seconds": 0.01})

    listed = client.get(faults).json()
    assert [(f["kind"], f["count"]) for f in listed] == [("server_error", 2), ("slow", None)]
    assert client.post(faults, json={"kind": "meltdown"}).status_code == 400
    assert client.post(faults, json={"kind": "slow", "count": 0}).status_code == 400
    assert client.delete(faults).status_code == 204
    assert client.get(faults).json() == []
    assert send(simulator, client, "meta").attempts == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_duplicate_webhooks_post_every_status_twice(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    simulator.add_fault("duplicate_webhooks", provider=provider)

    result = send(simulator, client, provider)

    received = receiver.wait_for(6)
    assert statuses_of(receiver, received, provider) == [
        (result.provider_message_id, status) for status in ORDERED for _ in range(2)
    ]
    assert received[0].body == received[1].body
    assert len(receiver.settled()) == 6


def test_duplicate_webhooks_post_a_lead_message_twice(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver
) -> None:
    simulator.add_fault("duplicate_webhooks", provider="meta", count=1)

    answer = client.post(
        f"{simulator.url}/leads/meta/sim-meta/messages", json={"from": LEAD, "text": "oi"}
    ).json()

    assert answer["webhook_statuses"] == [200, 200]
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    ids = {verified_events(receiver, webhook, "meta")[0].event_id for webhook in (first, second)}
    assert len(ids) == 1  # the same event: Piloto's dedupe must absorb it


@pytest.mark.parametrize("provider", PROVIDERS)
def test_out_of_order_statuses_post_read_first(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    simulator.add_fault("out_of_order_statuses", provider=provider, count=1)

    first = send(simulator, client, provider)
    in_reverse = statuses_of(receiver, receiver.wait_for(3), provider)
    second = send(simulator, client, provider)
    in_order = statuses_of(receiver, receiver.wait_for(6)[3:], provider)

    assert in_reverse == [(first.provider_message_id, status) for status in reversed(ORDERED)]
    assert in_order == [(second.provider_message_id, status) for status in ORDERED]


# --- the server itself -----------------------------------------------------------------------


def test_health_lists_the_channels(simulator: ProviderSimulator, client: httpx.Client) -> None:
    health = client.get(f"{simulator.url}/health").json()

    assert health["status"] == "ok"
    assert {c["channel_id"] for c in health["channels"]} == {
        c.channel_id for c in CHANNELS.values()
    }
    assert client.get(f"{simulator.url}/nowhere").status_code == 404
    assert client.put(f"{simulator.url}/outbox").status_code == 405


def test_without_a_webhook_url_sends_still_work(client: httpx.Client) -> None:
    with ProviderSimulator(CHANNELS.values()) as simulator:
        result = send(simulator, client, "meta")
        answer = client.post(
            f"{simulator.url}/leads/meta/sim-meta/messages", json={"from": LEAD, "text": "x"}
        )
        assert simulator.outbox()[0].provider_message_id == result.provider_message_id
        assert answer.status_code == 409
        assert simulator.webhook_posts() == []


def test_the_command_serves_the_demo_seed_until_sigterm(receiver: Receiver) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "PILOTO_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulators.simulator",
            "--port",
            str(port),
            "--webhook-base-url",
            receiver.url,
            "--seed",
            str(ROOT / "emulators" / "seed" / "demo.yaml"),
            "--env-file",
            str(ROOT / ".env.example"),
            "--status-delays",
            "0,0,0",
        ],
        cwd=ROOT,
        env=environment,
    )
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}/health", process)
        assert {c["channel_id"] for c in health["channels"]} == {
            "demo-meta",
            "demo-twilio",
            "demo-evolution",
            "demo-zapi",
        }
        answer = httpx.post(
            f"http://127.0.0.1:{port}/leads/evolution/demo-evolution/messages",
            json={"from": LEAD, "text": "oi"},
        )
        assert answer.json()["webhook_status"] == 200
        assert receiver.wait_for(1)[0].path == "/webhooks/evolution/demo-evolution"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    assert code == 0


def _wait_for_health(url: str, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, "the simulator exited"
        try:
            document: dict[str, Any] = httpx.get(url, timeout=1).json()
            return document
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the simulator did not answer /health")
