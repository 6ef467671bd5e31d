"""Voice replies in the sender and the adapters: each provider's audio request, and every way
a reply marked ``voice`` ends up as text, recorded, and still sent once."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from emulators.simulator.sends import multipart_form
from shared.channels import evolution, meta, twilio, zapi
from shared.channels.sending import OutboundAudio, RetryPolicy, SendFailed
from shared.media.speech import Speech, SpeechFailed
from shared.models.channel import Channel
from shared.sender import OutboundJob
from shared.store.conversations import message_ref
from tests.unit.test_sender import LEAD, TENANT, World, job, meta_ok

OGG = b"OggS\x00\x02" + bytes(range(64))
REPLY = "Claro! A limpeza de pele custa R$ 180."
SECRETS = {
    "access_token": "token",
    "apikey": "key",
    "instance_token": "itoken",
    "client_token": "ctoken",
    "auth_token": "twilio-token",
}
NO_RETRIES = RetryPolicy(max_attempts=1, sleep=lambda seconds: None)


# Each provider's request for a voice note (adapters alone)


def recorder(*answers: httpx.Response) -> tuple[httpx.Client, list[httpx.Request]]:
    requests: list[httpx.Request] = []
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return httpx.Client(transport=httpx.MockTransport(answer)), requests


def channel(provider: str, **config: Any) -> Channel:
    return Channel(
        channel_id="ch-1",
        tenant_id=TENANT,
        provider=provider,  # type: ignore[arg-type]
        business_phone="+5511933334444",
        config={"api_base_url": "http://provider.test", **config},
    )


def test_meta_uploads_the_ogg_then_sends_it_by_id_as_a_voice_message() -> None:
    client, requests = recorder(
        httpx.Response(200, json={"id": "1013859600285441"}),
        httpx.Response(200, json={"messages": [{"id": "wamid.V1"}]}),
    )

    result = meta.send(
        client, channel("meta", phone_number_id="100"), SECRETS, LEAD, OutboundAudio(OGG)
    )

    assert result.provider_message_id == "wamid.V1"
    upload, send = requests
    assert str(upload.url) == "http://provider.test/v21.0/100/media"
    assert upload.headers["authorization"] == "Bearer token"
    form = multipart_form(upload.headers["content-type"], upload.read())
    assert form is not None
    assert form["messaging_product"].text == "whatsapp"
    assert form["type"].text == "audio/ogg"
    assert (form["file"].content, form["file"].content_type) == (OGG, "audio/ogg")
    assert str(send.url) == "http://provider.test/v21.0/100/messages"
    assert json.loads(send.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": LEAD.removeprefix("+"),
        "type": "audio",
        "audio": {"id": "1013859600285441", "voice": True},
    }


def test_a_failed_meta_upload_sent_nothing_even_when_transient() -> None:
    client, requests = recorder(httpx.Response(503, json={"error": {"code": 1, "message": "x"}}))

    with pytest.raises(SendFailed) as raised:
        meta.send(
            client,
            channel("meta", phone_number_id="100"),
            SECRETS,
            LEAD,
            OutboundAudio(OGG),
            policy=NO_RETRIES,
        )

    assert raised.value.nothing_sent and not raised.value.permanent
    assert "uploading the voice note" in raised.value.reason
    assert [request.url.path for request in requests] == ["/v21.0/100/media"]


def test_evolution_sends_plain_base64_without_re_encoding() -> None:
    client, requests = recorder(httpx.Response(201, json={"key": {"id": "BAE5V1"}}))

    result = evolution.send(
        client, channel("evolution", instance="clinica"), SECRETS, LEAD, OutboundAudio(OGG)
    )

    assert result.provider_message_id == "BAE5V1"
    [request] = requests
    assert str(request.url) == "http://provider.test/message/sendWhatsAppAudio/clinica"
    assert request.headers["apikey"] == "key"
    body = json.loads(request.content)
    assert body == {"number": LEAD.removeprefix("+"), "audio": body["audio"], "encoding": False}
    assert base64.b64decode(body["audio"], validate=True) == OGG  # no data: prefix


def test_evolution_lets_other_audio_be_encoded_by_the_gateway() -> None:
    client, requests = recorder(httpx.Response(201, json={"key": {"id": "BAE5V2"}}))

    evolution.send(
        client,
        channel("evolution", instance="clinica"),
        SECRETS,
        LEAD,
        OutboundAudio(b"ID3 mp3", mime_type="audio/mpeg"),
    )

    assert "encoding" not in json.loads(requests[0].content)


def test_zapi_sends_a_data_uri_with_a_waveform() -> None:
    client, requests = recorder(httpx.Response(200, json={"messageId": "3EB0V1", "id": "3EB0V1"}))

    result = zapi.send(
        client, channel("zapi", instance_id="3C0SIM"), SECRETS, LEAD, OutboundAudio(OGG)
    )

    assert result.provider_message_id == "3EB0V1"
    [request] = requests
    assert str(request.url) == "http://provider.test/instances/3C0SIM/token/itoken/send-audio"
    assert request.headers["client-token"] == "ctoken"
    body = json.loads(request.content)
    prefix = "data:audio/ogg;base64,"
    assert body["phone"] == LEAD.removeprefix("+") and body["waveform"] is True
    assert body["audio"].startswith(prefix)
    assert base64.b64decode(body["audio"].removeprefix(prefix)) == OGG


def test_twilio_refuses_audio_bytes_before_any_request() -> None:
    client, requests = recorder(httpx.Response(201, json={"sid": "SM1"}))

    with pytest.raises(SendFailed) as raised:
        twilio.send(
            client,
            channel("twilio", account_sid="AC" + "0" * 32),
            SECRETS,
            LEAD,
            OutboundAudio(OGG),
        )

    assert raised.value.code == "audio_unsupported" and raised.value.nothing_sent
    assert requests == []


def test_an_accepted_send_with_an_unreadable_answer_may_have_gone() -> None:
    failure = SendFailed("accepted, but no id", code="unreadable_response", permanent=True)

    assert failure.nothing_sent is False
    assert SendFailed("bad", code="131053", permanent=True).nothing_sent is True
    assert SendFailed("busy", code="http_503", permanent=False).nothing_sent is False


# The sender


class FakeSynthesizer:
    def __init__(self, result: Speech | Exception | None = None) -> None:
        self.result = result or Speech(audio=OGG, voice_name="pt-BR-Neural2-A")
        self.calls: list[tuple[str, str | None]] = []

    def synthesize(self, text: str, voice_name: str | None = None) -> Speech:
        self.calls.append((text, voice_name))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def meta_media_then_ok(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/media"):
        return httpx.Response(200, json={"id": "555"})
    return meta_ok(request)


def voice_world(
    provider: str = "meta", synthesizer: FakeSynthesizer | None = None, **config: Any
) -> tuple[World, FakeSynthesizer]:
    world = World(meta_media_then_ok, provider=provider, **config)
    world.put_contact()
    world.sender.secrets = lambda channel: SECRETS
    world.settings = world.settings.model_copy(update={"voice_replies": True})
    fake = synthesizer or FakeSynthesizer()
    world.sender.speech = fake
    return world, fake


def voice_job(**message: Any) -> OutboundJob:
    return job(text=REPLY, voice=True, **message)


def history(world: World, message_id: str) -> dict[str, Any]:
    return message_ref(world.firestore, TENANT, "conv-1", message_id).get().to_dict() or {}


def test_a_voice_reply_goes_as_audio_once_and_the_record_keeps_the_text() -> None:
    world, synthesizer = voice_world()
    world.settings = world.settings.model_copy(update={"voice_name": "pt-BR-Neural2-B"})

    outcome = world.sender.handle(voice_job())

    assert (outcome.status, outcome.sent_as, outcome.reasons) == ("sent", "audio", ())
    assert synthesizer.calls == [(REPLY, "pt-BR-Neural2-B")]
    assert [request.url.path for request in world.requests] == [
        "/v21.0/100/media",
        "/v21.0/100/messages",
    ]
    assert json.loads(world.requests[1].content)["audio"] == {"id": "555", "voice": True}
    ledger = world.ledger("d1:0")
    assert ledger["status"] == "sent"
    assert ledger["message"]["text"] == REPLY and ledger["message"]["voice"] is True
    assert ledger["voice_reply"] == {
        "sent_as": "audio",
        "audio_bytes": len(OGG),
        "voice_name": "pt-BR-Neural2-A",
    }
    content = history(world, outcome.provider_message_id or "")["content"]
    assert content["text"] == REPLY
    assert (content["message_type"], content["voice"]) == ("audio", True)

    assert world.sender.handle(voice_job()).status == "duplicate"
    assert len(synthesizer.calls) == 1 and len(world.requests) == 2


@pytest.mark.parametrize(
    ("provider", "config", "endpoint"),
    [
        ("evolution", {"instance": "clinica"}, "/message/sendWhatsAppAudio/clinica"),
        ("zapi", {"instance_id": "3C0SIM"}, "/instances/3C0SIM/token/itoken/send-audio"),
    ],
)
def test_the_gateways_take_the_voice_note_in_one_request(
    provider: str, config: dict[str, str], endpoint: str
) -> None:
    ids = {"evolution": {"key": {"id": "BAE5V1"}}, "zapi": {"messageId": "3EB0V1"}}
    world, _ = voice_world(provider, **config)
    world.responders = [lambda request: httpx.Response(200, json=ids[provider])]

    outcome = world.sender.handle(voice_job())

    assert (outcome.status, outcome.sent_as) == ("sent", "audio")
    assert [request.url.path for request in world.requests] == [endpoint]
    assert world.ledger("d1:0")["voice_reply"]["sent_as"] == "audio"


def text_sent(world: World) -> str:
    [request] = [r for r in world.requests if r.url.path.endswith(("/messages", ".json"))]
    if request.url.path.endswith(".json"):
        return dict(httpx.QueryParams(request.content.decode()))["Body"]
    return str(json.loads(request.content)["text"]["body"])


@pytest.mark.parametrize(
    ("provider", "config", "synthesizer", "reason", "tts_calls"),
    [
        ("meta", {}, None, "voice_reply_unavailable", 0),
        (
            "twilio",
            {"account_sid": "AC" + "0" * 32, "business_phone": "+5511933334444"},
            FakeSynthesizer(),
            "voice_reply_unsupported",
            0,
        ),
        ("meta", {}, FakeSynthesizer(SpeechFailed("UNAVAILABLE", "down")), "voice_reply_failed", 1),
    ],
    ids=["no-tts", "twilio", "tts-failed"],
)
def test_a_voice_reply_that_cannot_be_audio_goes_as_its_text(
    provider: str,
    config: dict[str, str],
    synthesizer: FakeSynthesizer | None,
    reason: str,
    tts_calls: int,
) -> None:
    world, fake = voice_world(provider, synthesizer, **config)
    if synthesizer is None:
        world.sender.speech = None
    if provider == "twilio":
        world.responders = [lambda request: httpx.Response(201, json={"sid": "SM1"})]

    outcome = world.sender.handle(voice_job())

    assert (outcome.status, outcome.sent_as, outcome.reasons) == ("sent", "text", (reason,))
    assert text_sent(world) == REPLY
    assert not any(r.url.path.endswith("/media") for r in world.requests)
    assert len(fake.calls) == tts_calls
    assert world.ledger("d1:0")["voice_reply"]["reason"] == reason
    assert world.ledger("d1:0")["status"] == "sent"


def test_a_voice_note_the_provider_refuses_is_followed_by_the_text() -> None:
    world, _ = voice_world()

    def refuse_upload(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/media"):
            return httpx.Response(400, json={"error": {"code": 131053, "message": "bad media"}})
        return meta_ok(request)

    world.responders = [refuse_upload]

    outcome = world.sender.handle(voice_job())

    assert (outcome.status, outcome.sent_as) == ("sent", "text")
    assert text_sent(world) == REPLY
    assert world.ledger("d1:0")["voice_reply"] == {
        "sent_as": "text",
        "voice_name": "pt-BR-Neural2-A",
        "reason": "voice_reply_rejected",
        "detail": "131053",
    }


def test_a_voice_note_that_may_have_gone_is_never_followed_by_the_text() -> None:
    world, _ = voice_world()

    def unreadable_send(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/media"):
            return httpx.Response(200, json={"id": "555"})
        return httpx.Response(200, json={"messages": []})  # accepted, but no id

    world.responders = [unreadable_send]

    outcome = world.sender.handle(voice_job())

    assert (outcome.status, outcome.error_code) == ("failed", "unreadable_response")
    assert [request.url.path for request in world.requests] == [
        "/v21.0/100/media",
        "/v21.0/100/messages",
    ]
    assert world.ledger("d1:0")["status"] == "failed"
    assert world.conversation().needs_human


def test_a_held_message_costs_no_speech() -> None:
    world, synthesizer = voice_world()
    world.put_contact(opted_out=True)

    assert world.sender.handle(voice_job()).status == "held"
    assert synthesizer.calls == [] and world.requests == []


@pytest.mark.parametrize(
    "message",
    [{"voice": False}, {"sent_by": "uid-paula"}],
    ids=["not-marked", "sellers-message"],
)
def test_only_the_agents_replies_marked_voice_are_spoken(message: dict[str, Any]) -> None:
    world, synthesizer = voice_world()

    outcome = world.sender.handle(job(text=REPLY, **{"voice": True, **message}))

    assert (outcome.status, outcome.sent_as) == ("sent", "text")
    assert synthesizer.calls == []
    assert "voice_reply" not in world.ledger("d1:0")


def test_the_published_job_carries_the_voice_flag() -> None:
    body = {
        "key": "d1:0",
        "tenant_id": TENANT,
        "conversation_id": "conv-1",
        "channel_id": "ch-1",
        "contact_key": LEAD,
        "decision_id": "d1",
        "index": 0,
        "message": {"text": REPLY, "voice": True},
    }

    assert OutboundJob.from_json(json.dumps(body).encode()).message.voice is True
    body["message"] = {"text": REPLY, "voice": "sim"}
    with pytest.raises(ValueError, match=r"message\.voice"):
        OutboundJob.from_json(json.dumps(body).encode())
