"""Voice replies end to end on the sending side: the sender on the Firestore emulator, a local
server that answers like Cloud Text-to-Speech, and the provider simulator as the lead's phone.

Meta, Evolution API and Z-API receive a voice note (what reached the "phone" is audio of the
synthesised size); Twilio, a text-to-speech failure and a deployment without text-to-speech
send the text, and the ledger says why.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from emulators.simulator import OutboxMessage, ProviderSimulator, simulated_channel
from emulators.stack import Emulator
from shared.channels.sending import RetryPolicy
from shared.media.speech import build_synthesizer
from shared.models.conversation import Contact, Conversation
from shared.models.decision import OutboundMessage
from shared.models.events import Provider
from shared.models.tenant import AgentSettings
from shared.sender import OutboundJob, Sender, SendOutcome
from shared.settings import load_settings
from shared.store.conversations import (
    contact_ref,
    conversation_ref,
    message_ref,
    outbound_ledger_ref,
)
from tests.integration.conftest import PROJECT_ID

LEAD = "+5511987654321"
REPLY = "Oi, Mariana! A limpeza de pele profunda custa R$ 180 e leva 60 minutos."
RUN = uuid.uuid4().hex[:6]
TENANT = f"voice-{RUN}"
CONFIGS: dict[Provider, tuple[dict[str, str], dict[str, str]]] = {
    "meta": ({"phone_number_id": f"77{RUN.encode().hex()[:10]}"}, {"access_token": "meta-t"}),
    "twilio": ({"account_sid": "AC" + RUN.ljust(32, "0")}, {"auth_token": "twilio-t"}),
    "evolution": ({"instance": f"clinica-{RUN}"}, {"apikey": "evolution-k"}),
    "zapi": (
        {"instance_id": f"3C0{RUN.upper()}"},
        {"instance_token": "zapi-i", "client_token": "zapi-c"},
    ),
}


# --- a stand-in for Cloud Text-to-Speech ----------------------------------------------------


@dataclass
class FakeTextToSpeech:
    """Answers ``POST /v1/text:synthesize`` like the API: OGG/Opus bytes, base64 in JSON."""

    url: str = ""
    failure: tuple[int, str] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def audio_for(text: str) -> bytes:
        """Return the "speech" for ``text``: an OGG page header and bytes that grow with it."""
        return b"OggS\x00\x02" + bytes(22) + b"OpusHead" + text.encode("utf-8") * 3

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        if path != "/v1/text:synthesize":
            return 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
        if not headers.get("authorization", "").startswith("Bearer "):
            return 401, {"error": {"code": 401, "message": "no token", "status": "UNAUTHENTICATED"}}
        document = json.loads(body)
        self.requests.append(document)
        if self.failure is not None:
            status, name = self.failure
            return status, {"error": {"code": status, "message": "simulated", "status": name}}
        if document.get("audioConfig", {}).get("audioEncoding") != "OGG_OPUS":
            return 400, {
                "error": {"code": 400, "message": "encoding", "status": "INVALID_ARGUMENT"}
            }
        audio = self.audio_for(document["input"]["text"])
        return 200, {"audioContent": base64.b64encode(audio).decode()}


@pytest.fixture(scope="module")
def text_to_speech() -> Iterator[FakeTextToSpeech]:
    fake = FakeTextToSpeech()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, document = fake.answer(self.path, headers, body)
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    channels = [
        simulated_channel(
            f"{provider}-{RUN}",
            provider,
            config=config,
            secrets=secrets,
            business_phone="+5511990000009",
            tenant_id=TENANT,
        )
        for provider, (config, secrets) in CONFIGS.items()
    ]
    with ProviderSimulator(channels, webhook_base_url=None) as running:
        yield running


@dataclass
class Phone:
    """The sender as deployed (Firestore emulator, real HTTP) and what reached the lead."""

    client: Any
    simulator: ProviderSimulator
    sender: Sender
    text_to_speech: FakeTextToSpeech

    def send(self, provider: Provider, *, voice: bool = True) -> tuple[SendOutcome, OutboundJob]:
        """Publish one reply on a fresh conversation and hand it to the sender."""
        conversation_id = f"conv-{uuid.uuid4().hex[:10]}"
        now = datetime.now(UTC)
        conversation = Conversation(
            conversation_id=conversation_id,
            tenant_id=TENANT,
            channel_id=f"{provider}-{RUN}",
            contact_key=LEAD,
            last_inbound_at=now - timedelta(minutes=1),
            unanswered_count=1,
            created_at=now - timedelta(minutes=5),
            updated_at=now,
        )
        conversation_ref(self.client, TENANT, conversation_id).set(conversation.model_dump())
        contact = Contact(contact_key=LEAD, phone=LEAD, name="Mariana")
        contact_ref(self.client, TENANT, LEAD).set(contact.model_dump())
        decision_id = uuid.uuid4().hex
        job = OutboundJob(
            key=f"{decision_id}:0",
            tenant_id=TENANT,
            conversation_id=conversation_id,
            channel_id=conversation.channel_id,
            contact_key=LEAD,
            decision_id=decision_id,
            index=0,
            message=OutboundMessage(text=REPLY, voice=voice),
        )
        return self.sender.handle(job), job

    def ledger(self, job: OutboundJob) -> dict[str, Any]:
        record: dict[str, Any] = (
            outbound_ledger_ref(self.client, TENANT, job.key).get().to_dict() or {}
        )
        return record

    def history(self, job: OutboundJob, message_id: str) -> dict[str, Any]:
        record: dict[str, Any] = (
            message_ref(self.client, TENANT, job.conversation_id, message_id).get().to_dict() or {}
        )
        return record

    def received(self, outcome: SendOutcome) -> OutboxMessage:
        [message] = [
            message
            for message in self.simulator.outbox(to=LEAD)
            if message.provider_message_id == outcome.provider_message_id
        ]
        return message


def make_phone(
    firestore_emulator: Emulator,
    simulator: ProviderSimulator,
    text_to_speech: FakeTextToSpeech,
    environ: dict[str, str],
) -> Phone:
    client = firestore.Client(project=PROJECT_ID)
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": PROJECT_ID, **environ})
    http = httpx.Client(timeout=5.0)
    tenant_settings = AgentSettings(voice_replies=True)
    sender = Sender(
        firestore=client,
        http=http,
        channel=simulator.piloto_channel,
        tenant=lambda tenant_id: (tenant_settings, "America/Sao_Paulo"),
        secrets=lambda channel: dict(simulator.channels[channel.channel_id].secrets),
        retry=RetryPolicy(max_attempts=2, base_delay=0.0, sleep=lambda seconds: None),
        speech=build_synthesizer(settings, http),
    )
    return Phone(client, simulator, sender, text_to_speech)


@pytest.fixture
def phone(
    firestore_emulator: Emulator,
    simulator: ProviderSimulator,
    text_to_speech: FakeTextToSpeech,
) -> Iterator[Phone]:
    text_to_speech.failure = None
    environ = {"PILOTO_TTS": "google", "PILOTO_TTS_ENDPOINT": text_to_speech.url}
    yield make_phone(firestore_emulator, simulator, text_to_speech, environ)
    text_to_speech.failure = None


@pytest.mark.parametrize("provider", ["meta", "evolution", "zapi"])
def test_a_voice_reply_reaches_the_phone_as_a_voice_note(phone: Phone, provider: Provider) -> None:
    asked = len(phone.text_to_speech.requests)

    outcome, job = phone.send(provider)

    assert (outcome.status, outcome.sent_as, outcome.reasons) == ("sent", "audio", ())
    assert phone.text_to_speech.requests[asked:] == [
        {
            "input": {"text": REPLY},
            "voice": {"languageCode": "pt-BR", "name": "pt-BR-Neural2-A"},
            "audioConfig": {"audioEncoding": "OGG_OPUS"},
        }
    ]
    received = phone.received(outcome)
    assert received.kind == "audio" and received.text is None
    media = received.content.media or {}
    expected_size = len(FakeTextToSpeech.audio_for(REPLY))
    assert (media["bytes"], media["container"]) == (expected_size, "ogg")
    if provider == "evolution":  # sendWhatsAppAudio is a voice note (ptt); OGG needs no ffmpeg
        assert media["encoding"] is False
    else:
        assert media.get("voice", media.get("waveform")) is True
    if provider != "meta":  # the outbox keeps the size of inline audio, not the audio
        assert received.request["audio"] == f"<{expected_size} bytes inline>"
    ledger = phone.ledger(job)
    assert ledger["status"] == "sent"
    assert ledger["message"]["text"] == REPLY
    assert ledger["voice_reply"] == {
        "sent_as": "audio",
        "audio_bytes": expected_size,
        "voice_name": "pt-BR-Neural2-A",
    }
    history = phone.history(job, outcome.provider_message_id or "")
    assert history["content"]["text"] == REPLY and history["content"]["voice"] is True

    assert phone.sender.handle(job).status == "duplicate"
    assert len(phone.text_to_speech.requests) == asked + 1
    assert phone.simulator.outbox(channel_id=job.channel_id, since=received.index) == [received]


def test_twilio_sends_the_text_and_says_why(phone: Phone) -> None:
    asked = len(phone.text_to_speech.requests)

    outcome, job = phone.send("twilio")

    assert (outcome.status, outcome.sent_as) == ("sent", "text")
    received = phone.received(outcome)
    assert (received.kind, received.text) == ("text", REPLY)
    assert phone.ledger(job)["voice_reply"]["reason"] == "voice_reply_unsupported"
    assert len(phone.text_to_speech.requests) == asked  # nothing synthesised for nothing


def test_a_text_to_speech_failure_sends_the_text(phone: Phone) -> None:
    phone.text_to_speech.failure = (400, "INVALID_ARGUMENT")

    outcome, job = phone.send("meta")

    assert (outcome.status, outcome.sent_as) == ("sent", "text")
    assert (phone.received(outcome).kind, phone.received(outcome).text) == ("text", REPLY)
    assert phone.ledger(job)["voice_reply"] == {
        "sent_as": "text",
        "reason": "voice_reply_failed",
        "detail": "INVALID_ARGUMENT",
    }


def test_without_text_to_speech_the_reply_stays_text(
    firestore_emulator: Emulator, simulator: ProviderSimulator, text_to_speech: FakeTextToSpeech
) -> None:
    phone = make_phone(firestore_emulator, simulator, text_to_speech, {})
    asked = len(text_to_speech.requests)

    outcome, job = phone.send("zapi")

    assert (phone.received(outcome).kind, phone.received(outcome).text) == ("text", REPLY)
    assert phone.ledger(job)["voice_reply"]["reason"] == "voice_reply_unavailable"
    assert len(text_to_speech.requests) == asked


# --- what the simulated providers refuse, as the real ones do --------------------------------


def meta_upload(
    simulator: ProviderSimulator,
    *,
    token: str = "meta-t",
    fields: dict[str, str] | None = None,
    file: tuple[str, bytes, str] | None = ("voice.ogg", b"OggS voice", "audio/ogg"),
) -> httpx.Response:
    number = CONFIGS["meta"][0]["phone_number_id"]
    return httpx.post(
        f"{simulator.api_base_url('meta')}/v21.0/{number}/media",
        headers={"Authorization": f"Bearer {token}"},
        data={"messaging_product": "whatsapp", "type": "audio/ogg"} if fields is None else fields,
        files={"file": file} if file else None,
    )


def test_a_meta_upload_returns_an_id_the_media_can_be_fetched_by(
    simulator: ProviderSimulator,
) -> None:
    answer = meta_upload(simulator)

    assert answer.status_code == 200
    media_id = answer.json()["id"]
    described = httpx.get(
        f"{simulator.api_base_url('meta')}/v21.0/{media_id}",
        headers={"Authorization": "Bearer meta-t"},
    ).json()
    assert (described["mime_type"], described["file_size"]) == ("audio/ogg", len(b"OggS voice"))


@pytest.mark.parametrize(
    ("options", "status", "code"),
    [
        ({"token": "stolen"}, 401, 190),
        ({"fields": {"type": "audio/ogg"}}, 400, 100),
        ({"file": None}, 400, 100),
        (
            {
                "file": ("voice.wav", b"RIFF", "audio/wav"),
                "fields": {"messaging_product": "whatsapp"},
            },
            400,
            131053,
        ),
    ],
    ids=["wrong-token", "no-messaging-product", "no-file", "unsupported-type"],
)
def test_a_bad_meta_upload_is_refused_with_graphs_error(
    simulator: ProviderSimulator, options: dict[str, Any], status: int, code: int
) -> None:
    answer = meta_upload(simulator, **options)

    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


def test_voice_is_only_an_audio_parameter_on_meta(simulator: ProviderSimulator) -> None:
    number = CONFIGS["meta"][0]["phone_number_id"]
    answer = httpx.post(
        f"{simulator.api_base_url('meta')}/v21.0/{number}/messages",
        headers={"Authorization": "Bearer meta-t"},
        json={
            "messaging_product": "whatsapp",
            "to": LEAD.removeprefix("+"),
            "type": "image",
            "image": {"link": "https://example.com/a.png", "voice": True},
        },
    )

    assert answer.status_code == 400
    assert "voice" in answer.json()["error"]["message"]


def test_the_gateways_refuse_audio_that_is_neither_a_link_nor_base64(
    simulator: ProviderSimulator,
) -> None:
    evolution_instance = CONFIGS["evolution"][0]["instance"]
    data_uri = "data:audio/ogg;base64," + base64.b64encode(b"OggS").decode()
    evolution = httpx.post(
        f"{simulator.api_base_url('evolution')}/message/sendWhatsAppAudio/{evolution_instance}",
        headers={"apikey": "evolution-k"},
        json={"number": LEAD.removeprefix("+"), "audio": data_uri},
    )
    zapi_instance = CONFIGS["zapi"][0]["instance_id"]
    zapi = httpx.post(
        f"{simulator.api_base_url('zapi')}/instances/{zapi_instance}/token/zapi-i/send-audio",
        headers={"Client-Token": "zapi-c"},
        json={"phone": LEAD.removeprefix("+"), "audio": "not audio!", "waveform": True},
    )

    assert evolution.status_code == 400
    assert "must be a url, base64" in json.dumps(evolution.json())
    assert (zapi.status_code, zapi.json()["message"]) == (400, "audio must be a link or base64")
