"""A lead's media fetched from the provider simulator over HTTP, with each provider's own auth.

The simulator posts the provider's signed webhook to a small receiver; the provider adapter
parses it; ``fetch_media`` downloads the media as Piloto does, with the channel's credentials
(and is refused, with the provider's status, with wrong ones). No GCP emulator is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from emulators.simulator import ProviderSimulator, SimulatedChannel, simulated_channel
from emulators.simulator.media import DOCX, SAMPLE_OGG, SAMPLE_PNG
from shared.channels import adapter_for
from shared.channels.base import WebhookRequest
from shared.knowledge.extract import extract_text
from shared.media.fetch import FetchPolicy, fetch_media
from shared.media.limits import MediaKind, MediaLimits, MediaRejected
from shared.models.events import LeadMessage, Provider

LEAD = "+5511987654321"
PROVIDERS: tuple[Provider, ...] = ("meta", "twilio", "evolution", "zapi")
CHANNELS: dict[Provider, SimulatedChannel] = {
    "meta": simulated_channel(
        "media-meta",
        "meta",
        business_phone="+5511990000011",
        config={"phone_number_id": "100000000000011"},
        secrets={"access_token": "meta-token", "app_secret": "meta-app-secret"},
    ),
    "twilio": simulated_channel(
        "media-twilio",
        "twilio",
        business_phone="+5511990000012",
        config={"account_sid": "AC" + "1" * 32},
        secrets={"auth_token": "twilio-auth-token"},
    ),
    "evolution": simulated_channel(
        "media-evolution",
        "evolution",
        business_phone="+5511990000013",
        config={"instance": "clinica-media"},
        secrets={"apikey": "evolution-apikey"},
    ),
    "zapi": simulated_channel(
        "media-zapi",
        "zapi",
        business_phone="+5511990000014",
        config={"instance_id": "3C0MEDIA"},
        secrets={"client_token": "zapi-client-token", "instance_token": "zapi-instance"},
    ),
}
WRONG_SECRETS: dict[Provider, dict[str, str]] = {
    "meta": {"access_token": "stolen"},
    "twilio": {"auth_token": "stolen"},
    "evolution": {"apikey": "stolen"},
    "zapi": {"client_token": "stolen"},
}
POLICY = FetchPolicy(attempts=1, sleep=lambda seconds: None)


class Receiver:
    """Stands in for the webhook function: keeps the last request per path."""

    def __init__(self) -> None:
        self.requests: list[WebhookRequest] = []
        self.arrived = threading.Condition()
        self.url = ""

    def add(self, request: WebhookRequest) -> None:
        with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            state.add(WebhookRequest("POST", state.url + self.path, body, headers))
            self.send_response(200)
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


@pytest.fixture(scope="module")
def simulator(receiver: Receiver) -> Iterator[ProviderSimulator]:
    with ProviderSimulator(CHANNELS.values(), webhook_base_url=receiver.url) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def lead_media(
    simulator: ProviderSimulator, receiver: Receiver, provider: Provider, kind: str, **options: Any
) -> LeadMessage:
    """Have the lead send media; return the event Piloto's adapter parses from the webhook."""
    channel = CHANNELS[provider]
    posted = simulator.send_lead_message(channel.channel_id, LEAD, kind=kind, **options)
    assert posted.webhook_status == 200, posted.posts
    request = next(r for r in receiver.requests if posted.provider_message_id.encode() in r.body)
    adapter = adapter_for(provider)
    assert adapter is not None
    [event] = adapter.parse(
        request, simulator.piloto_channel(channel.channel_id), datetime.now(UTC)
    )
    assert isinstance(event, LeadMessage)
    return event


def fetch(
    http: httpx.Client,
    simulator: ProviderSimulator,
    provider: Provider,
    kind: MediaKind,
    event: LeadMessage,
    secrets: dict[str, str] | None = None,
    policy: FetchPolicy = POLICY,
) -> Any:
    assert event.content.media is not None
    return fetch_media(
        http,
        simulator.piloto_channel(CHANNELS[provider].channel_id),
        CHANNELS[provider].secrets if secrets is None else secrets,
        kind,
        event.content.media,
        policy=policy,
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_voice_note_is_fetched_with_the_providers_auth(
    simulator: ProviderSimulator, receiver: Receiver, http: httpx.Client, provider: Provider
) -> None:
    event = lead_media(simulator, receiver, provider, "audio")

    fetched = fetch(http, simulator, provider, "audio", event)

    assert fetched.data == SAMPLE_OGG and fetched.mime_type == "audio/ogg"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_document_is_fetched_with_its_name_and_text(
    simulator: ProviderSimulator, receiver: Receiver, http: httpx.Client, provider: Provider
) -> None:
    event = lead_media(
        simulator,
        receiver,
        provider,
        "document",
        mime_type=DOCX,
        filename="orcamento.docx",
        document_text="Orçamento: limpeza de pele",
    )

    fetched = fetch(http, simulator, provider, "document", event)

    assert fetched.mime_type == DOCX
    # Twilio's webhook names no file; the others carry the lead's file name.
    assert fetched.filename == (None if provider == "twilio" else "orcamento.docx")
    assert extract_text(fetched.data, mime_type=DOCX, filename=None) == (
        "Orçamento: limpeza de pele"
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_credentials_get_the_providers_refusal(
    simulator: ProviderSimulator, receiver: Receiver, http: httpx.Client, provider: Provider
) -> None:
    event = lead_media(simulator, receiver, provider, "image", text="olha isso")

    with pytest.raises(MediaRejected) as rejected:
        fetch(http, simulator, provider, "image", event, secrets=WRONG_SECRETS[provider])

    assert rejected.value.reason == "fetch_failed"
    assert "HTTP 401" in rejected.value.detail
    assert fetch(http, simulator, provider, "image", event).data == SAMPLE_PNG


@pytest.mark.parametrize("provider", PROVIDERS)
def test_media_over_the_cap_is_rejected_as_too_large(
    simulator: ProviderSimulator, receiver: Receiver, http: httpx.Client, provider: Provider
) -> None:
    event = lead_media(simulator, receiver, provider, "image", size_bytes=50_000)
    small = FetchPolicy(limits=MediaLimits(image=20_000), attempts=1)

    with pytest.raises(MediaRejected) as rejected:
        fetch(http, simulator, provider, "image", event, policy=small)

    assert rejected.value.reason == "too_large"


def test_the_lead_api_refuses_a_bad_size(simulator: ProviderSimulator, http: httpx.Client) -> None:
    answer = http.post(
        f"{simulator.url}/leads/meta/media-meta/messages",
        json={"from": LEAD, "type": "image", "size_bytes": -1},
    )

    assert answer.status_code == 400 and "size_bytes" in answer.json()["error"]
