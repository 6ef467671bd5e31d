"""Voice replies: who asks for one, the text-to-speech client, and why a reply stays text."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.gcp.auth import AccessTokenUnavailable, EmulatorTokens
from shared.media.speech import (
    MAX_INPUT_BYTES,
    GoogleSpeech,
    Speech,
    SpeechFailed,
    VoiceFallback,
    build_synthesizer,
    language_of,
    voice_reply,
    wants_voice_reply,
)
from shared.models.conversation import MediaNote, Role, WindowMessage
from shared.models.tenant import AgentSettings
from shared.settings import load_settings

OGG = b"OggS\x00\x02" + bytes(range(40))
ON = AgentSettings(voice_replies=True)


# wants_voice_reply: the turn's question


def lead(text: str, media: Any = None) -> dict[str, Any]:
    return {"role": "lead", "text": text, "media": media}


class Note:
    """A media note as an object (the window's model), not a mapping."""

    def __init__(self, kind: str, voice: bool = False) -> None:
        self.kind = kind
        self.voice = voice


class Message:
    def __init__(self, role: str, media: object | None) -> None:
        self.role = role
        self.media = media


def test_a_voice_note_asks_for_a_voice_reply_when_the_tenant_wants_them() -> None:
    answered = [lead("oi"), lead("", {"kind": "audio", "status": "understood"})]

    assert wants_voice_reply(answered, ON) is True
    assert wants_voice_reply(answered, AgentSettings()) is False  # the setting is off by default


def test_an_audio_not_understood_still_counts_and_objects_work_too() -> None:
    assert wants_voice_reply([lead("", {"kind": "audio", "status": "not_understood"})], ON)
    assert wants_voice_reply([Message("lead", Note("audio"))], ON)
    assert wants_voice_reply([Message("lead", Note("document", voice=True))], ON)


def test_the_conversation_windows_own_messages_are_read() -> None:
    at = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    voice_note = WindowMessage(
        role=Role.LEAD, text="", at=at, media=MediaNote(kind="audio", status="understood")
    )
    photo = WindowMessage(
        role=Role.LEAD, text="", at=at, media=MediaNote(kind="image", status="understood")
    )

    assert wants_voice_reply([photo, voice_note], ON) is True
    assert wants_voice_reply([photo, WindowMessage(role=Role.LEAD, text="oi", at=at)], ON) is False


@pytest.mark.parametrize(
    "answered",
    [
        [],
        [lead("quanto custa?")],
        [lead("", {"kind": "image", "status": "understood"})],
        [{"role": "agent", "text": "", "media": {"kind": "audio"}}],
        [Message("seller", Note("audio"))],
    ],
    ids=["nothing", "text", "image", "agent-audio", "seller-audio"],
)
def test_no_lead_audio_means_a_text_reply(answered: list[object]) -> None:
    assert wants_voice_reply(answered, ON) is False


# GoogleSpeech against a fake Cloud Text-to-Speech


class Tokens:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def authorization(self) -> str:
        if self.fail:
            raise AccessTokenUnavailable("no credentials here")
        return "Bearer ya29.test"


def tts(
    *answers: httpx.Response | Exception, authorizer: Any = None
) -> tuple[GoogleSpeech, list[httpx.Request], list[float]]:
    requests: list[httpx.Request] = []
    sleeps: list[float] = []
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    speech = GoogleSpeech(
        http=httpx.Client(transport=httpx.MockTransport(answer)),
        authorizer=authorizer or Tokens(),
        endpoint="https://tts.test/",
        default_voice="pt-BR-Neural2-A",
        sleep=sleeps.append,
    )
    return speech, requests, sleeps


def audio_answer(audio: bytes = OGG) -> httpx.Response:
    return httpx.Response(200, json={"audioContent": base64.b64encode(audio).decode()})


def google_error(status: int, name: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": status, "message": f"{name} here", "status": name}}
    )


def test_synthesize_posts_the_documented_request_and_decodes_the_audio() -> None:
    speech, requests, _ = tts(audio_answer())

    result = speech.synthesize("Claro! A limpeza custa R$ 180.")

    assert result == Speech(audio=OGG, voice_name="pt-BR-Neural2-A")
    [request] = requests
    assert request.method == "POST"
    assert str(request.url) == "https://tts.test/v1/text:synthesize"
    assert request.headers["authorization"] == "Bearer ya29.test"
    assert json.loads(request.content) == {
        "input": {"text": "Claro! A limpeza custa R$ 180."},
        "voice": {"languageCode": "pt-BR", "name": "pt-BR-Neural2-A"},
        "audioConfig": {"audioEncoding": "OGG_OPUS"},
    }


def test_a_tenant_voice_overrides_the_default_and_sets_its_language() -> None:
    speech, requests, _ = tts(audio_answer())

    assert speech.synthesize("Hello", "en-US-Neural2-F").voice_name == "en-US-Neural2-F"
    voice = json.loads(requests[0].content)["voice"]
    assert voice == {"languageCode": "en-US", "name": "en-US-Neural2-F"}


def test_a_transient_error_is_retried_once() -> None:
    speech, requests, sleeps = tts(google_error(503, "UNAVAILABLE"), audio_answer())

    assert speech.synthesize("oi").audio == OGG
    assert len(requests) == 2
    assert sleeps == [0.5]


@pytest.mark.parametrize(
    ("answers", "code", "calls"),
    [
        ((google_error(400, "INVALID_ARGUMENT"),), "INVALID_ARGUMENT", 1),
        ((google_error(403, "PERMISSION_DENIED"),), "PERMISSION_DENIED", 1),
        ((httpx.Response(404, text="nope"),), "http_404", 1),
        ((google_error(429, "RESOURCE_EXHAUSTED"),), "RESOURCE_EXHAUSTED", 2),
        ((httpx.ReadTimeout("slow"),), "timeout", 2),
        ((httpx.ConnectError("refused"),), "transport_error", 2),
        ((httpx.Response(200, json={"audioContent": "%%%"}),), "unreadable_response", 1),
        ((httpx.Response(200, json={}),), "unreadable_response", 1),
        ((audio_answer(b"ID3\x03mp3 bytes"),), "not_ogg_opus", 1),
    ],
    ids=[
        "invalid",
        "denied",
        "not-found",
        "quota",
        "timeout",
        "unreachable",
        "bad-base64",
        "no-audio",
        "not-ogg",
    ],
)
def test_failures_are_named(answers: tuple[Any, ...], code: str, calls: int) -> None:
    speech, requests, _ = tts(*answers)

    with pytest.raises(SpeechFailed) as raised:
        speech.synthesize("oi")

    assert raised.value.code == code
    assert len(requests) == calls


def test_no_credentials_means_no_call() -> None:
    speech, requests, _ = tts(audio_answer(), authorizer=Tokens(fail=True))

    with pytest.raises(SpeechFailed) as raised:
        speech.synthesize("oi")

    assert raised.value.code == "no_credentials"
    assert requests == []


def test_language_of_a_voice_name() -> None:
    assert language_of("pt-BR-Neural2-A") == "pt-BR"
    assert language_of("cmn-CN-Wavenet-A") == "cmn-CN"
    assert language_of("pt") == "pt"


# voice_reply: what the sender gets


class FakeSynthesizer:
    def __init__(self, result: Speech | Exception | None = None) -> None:
        self.result = result or Speech(audio=OGG, voice_name="pt-BR-Neural2-A")
        self.calls: list[tuple[str, str | None]] = []

    def synthesize(self, text: str, voice_name: str | None = None) -> Speech:
        self.calls.append((text, voice_name))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_a_voice_reply_carries_the_audio_and_records_its_size() -> None:
    synthesizer = FakeSynthesizer()

    reply = voice_reply(synthesizer, "Claro!", provider="meta", voice_name="pt-BR-Neural2-B")

    assert reply.sent_as == "audio"
    assert reply.audio is not None and reply.audio.content == OGG and reply.audio.voice
    assert synthesizer.calls == [("Claro!", "pt-BR-Neural2-B")]
    assert reply.record() == {
        "sent_as": "audio",
        "audio_bytes": len(OGG),
        "voice_name": "pt-BR-Neural2-A",
    }


@pytest.mark.parametrize(
    ("synthesizer", "provider", "text", "reason", "detail"),
    [
        (None, "meta", "oi", VoiceFallback.UNAVAILABLE, None),
        (FakeSynthesizer(), "twilio", "oi", VoiceFallback.UNSUPPORTED, "twilio needs"),
        (FakeSynthesizer(), "zapi", "é" * 2501, VoiceFallback.TOO_LONG, "5002 bytes"),
        (
            FakeSynthesizer(SpeechFailed("INVALID_ARGUMENT", "bad voice")),
            "evolution",
            "oi",
            VoiceFallback.FAILED,
            "INVALID_ARGUMENT",
        ),
        (FakeSynthesizer(RuntimeError("bug")), "meta", "oi", VoiceFallback.FAILED, "RuntimeError"),
    ],
    ids=["no-tts", "twilio", "too-long", "tts-failed", "tts-crashed"],
)
def test_what_keeps_a_reply_in_text_is_recorded(
    synthesizer: FakeSynthesizer | None,
    provider: str,
    text: str,
    reason: VoiceFallback,
    detail: str | None,
) -> None:
    reply = voice_reply(synthesizer, text, provider=provider)

    assert reply.sent_as == "text" and reply.audio is None
    assert reply.reason is reason
    record = reply.record()
    assert record["reason"] == reason.value
    assert (record.get("detail") or "").startswith(detail or "")
    if provider == "twilio" or len(text.encode()) > MAX_INPUT_BYTES:
        assert synthesizer is not None and synthesizer.calls == []  # no paid call for nothing


def test_a_refused_voice_note_becomes_text_with_the_providers_code() -> None:
    reply = voice_reply(FakeSynthesizer(), "oi", provider="meta").refused("131053")

    assert reply.audio is None
    assert reply.record() == {
        "sent_as": "text",
        "voice_name": "pt-BR-Neural2-A",
        "reason": "voice_reply_rejected",
        "detail": "131053",
    }


# build_synthesizer: configured or not


def settings(**environ: str) -> Any:
    return load_settings({"GOOGLE_CLOUD_PROJECT": "demo-p", **environ})


def test_text_to_speech_is_off_unless_configured() -> None:
    http = httpx.Client()
    assert settings().tts == "off"
    assert build_synthesizer(settings(), http) is None


def test_a_configured_service_uses_the_settings_and_real_tokens() -> None:
    configured = settings(
        PILOTO_TTS="google", PILOTO_TTS_VOICE="pt-BR-Wavenet-B", PILOTO_TTS_TIMEOUT_SECONDS="4"
    )

    synthesizer = build_synthesizer(configured, httpx.Client())

    assert isinstance(synthesizer, GoogleSpeech)
    assert synthesizer.endpoint == "https://texttospeech.googleapis.com"
    assert synthesizer.default_voice == "pt-BR-Wavenet-B"
    assert synthesizer.timeout_seconds == 4.0
    assert not isinstance(synthesizer.authorizer, EmulatorTokens)


def test_a_local_stand_in_never_gets_a_real_token() -> None:
    local = settings(PILOTO_TTS="google", PILOTO_TTS_ENDPOINT="http://127.0.0.1:9999")

    synthesizer = build_synthesizer(local, httpx.Client())

    assert isinstance(synthesizer, GoogleSpeech)
    assert isinstance(synthesizer.authorizer, EmulatorTokens)


def test_a_bad_setting_is_named() -> None:
    from shared.settings import SettingsError

    with pytest.raises(SettingsError, match="PILOTO_TTS='azure': must be one of off, google"):
        settings(PILOTO_TTS="azure")
