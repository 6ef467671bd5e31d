"""Voice replies: a tenant that answers voice with voice sends the agent's text as a voice note.

Three steps, each with one owner:

1. The turn calls ``wants_voice_reply`` on the lead messages it answers and sets
   ``OutboundMessage.voice`` on its reply.
2. The sender, once it has claimed the message, calls ``voice_reply``: the text becomes OGG/Opus
   audio (what WhatsApp voice notes are, so nothing is converted) through text-to-speech, or the
   reason it cannot (``VoiceFallback``) is recorded on the ledger and the text goes out instead.
3. The provider adapter sends the bytes (``shared.channels.sending.OutboundAudio``).

The text stays the record of what was said: the conversation window, the history and the ledger
keep it whatever form reached the lead. Text-to-speech is Google Cloud Text-to-Speech
(``POST {endpoint}/v1/text:synthesize``) with its stock synthetic voices. Voice cloning is out
of scope (consent and impersonation risk).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.channels.sending import VOICE_NOTE_MIME_TYPE, VOICE_NOTE_PROVIDERS, OutboundAudio
from shared.gcp.auth import AccessTokenUnavailable, Authorizer

if TYPE_CHECKING:
    import httpx

    from shared.models.tenant import AgentSettings
    from shared.settings import Settings

logger = logging.getLogger("piloto.media.speech")

GOOGLE_TTS_ENDPOINT = "https://texttospeech.googleapis.com"
MAX_INPUT_BYTES = 5000
"""Cloud Text-to-Speech refuses longer input; such a reply stays text."""
_OGG_MAGIC = b"OggS"
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class VoiceFallback(StrEnum):
    """Why a reply meant as a voice note went out as text (recorded on the ledger)."""

    UNAVAILABLE = "voice_reply_unavailable"
    """No text-to-speech is configured for this deployment (``PILOTO_TTS=off``)."""
    UNSUPPORTED = "voice_reply_unsupported"
    """The channel's provider cannot take audio bytes (Twilio needs a public media URL)."""
    TOO_LONG = "voice_reply_too_long"
    """The text is longer than text-to-speech accepts."""
    FAILED = "voice_reply_failed"
    """Text-to-speech failed (the detail names how)."""
    REJECTED = "voice_reply_rejected"
    """The provider refused the voice note without delivering anything."""


def wants_voice_reply(answered_messages: Iterable[object], settings: AgentSettings) -> bool:
    """Return whether the reply to these lead messages should go out as a voice note.

    Contract (the turn calls it and copies the answer to ``OutboundMessage.voice``):

    - ``answered_messages``: the lead messages the turn answers, as the conversation window
      holds them (``WindowMessage`` objects or their dict form).
    - True when ``settings.voice_replies`` is on and at least one of them has ``role`` lead and
      a ``media`` note (object or mapping) whose ``kind`` is ``"audio"`` or whose ``voice`` is
      true, whether or not the audio was understood: the lead chose to speak.
    - Whether this deployment has text-to-speech, or the channel can send audio, is not asked
      here: the sender decides that and records why a voice reply went out as text.
    """
    if not settings.voice_replies:
        return False
    return any(_is_lead_audio(message) for message in answered_messages)


def _is_lead_audio(message: object) -> bool:
    role = _field(message, "role")
    if str(getattr(role, "value", role)) != "lead":
        return False
    media = _field(message, "media")
    if media is None:
        return False
    kind = _field(media, "kind")
    return str(getattr(kind, "value", kind)) == "audio" or _field(media, "voice") is True


def _field(item: object, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


class SpeechFailed(Exception):
    """Text-to-speech gave no audio; ``code`` says how (HTTP status name, ``timeout``, ...)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Speech:
    """Synthesised audio: OGG/Opus bytes and the voice that spoke them."""

    audio: bytes
    voice_name: str
    mime_type: str = VOICE_NOTE_MIME_TYPE


class Synthesizer(Protocol):
    """Turns text into a voice note."""

    def synthesize(self, text: str, voice_name: str | None = None) -> Speech: ...


@dataclass(frozen=True)
class GoogleSpeech:
    """Cloud Text-to-Speech over REST (``text:synthesize``) with the project's Google auth."""

    http: httpx.Client
    authorizer: Authorizer
    endpoint: str = GOOGLE_TTS_ENDPOINT
    default_voice: str = "pt-BR-Neural2-A"
    timeout_seconds: float = 10.0
    max_attempts: int = 2
    sleep: Callable[[float], None] = field(default=time.sleep)

    def synthesize(self, text: str, voice_name: str | None = None) -> Speech:
        """Return ``text`` spoken by ``voice_name`` (default voice when None) as OGG/Opus."""
        voice = voice_name or self.default_voice
        body = {
            "input": {"text": text},
            "voice": {"languageCode": language_of(voice), "name": voice},
            "audioConfig": {"audioEncoding": "OGG_OPUS"},
        }
        url = f"{self.endpoint.rstrip('/')}/v1/text:synthesize"
        for attempt in range(1, self.max_attempts + 1):
            try:
                return Speech(audio=self._call(url, body), voice_name=voice)
            except _Transient as transient:
                if attempt == self.max_attempts:
                    raise SpeechFailed(transient.code, transient.reason) from None
                self.sleep(0.5 * attempt)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _call(self, url: str, body: dict[str, Any]) -> bytes:
        import httpx

        try:
            headers = {"Authorization": self.authorizer.authorization()}
        except AccessTokenUnavailable as error:
            raise SpeechFailed("no_credentials", str(error)) from error
        try:
            response = self.http.post(url, json=body, headers=headers, timeout=self.timeout_seconds)
        except httpx.TimeoutException as error:
            raise _Transient("timeout", type(error).__name__) from error
        except httpx.TransportError as error:
            raise _Transient("transport_error", f"{type(error).__name__}: {error}") from error
        if response.status_code != 200:
            code, reason = _google_error(response)
            if response.status_code in _TRANSIENT_STATUSES:
                raise _Transient(code, reason)
            raise SpeechFailed(code, reason)
        return _audio_from(response)


class _Transient(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _google_error(response: httpx.Response) -> tuple[str, str]:
    """Read ``{"error": {"code", "message", "status"}}``."""
    try:
        document = response.json()
    except ValueError:
        document = {}
    error = document.get("error") if isinstance(document, dict) else None
    error = error if isinstance(error, dict) else {}
    status = error.get("status")
    code = status if isinstance(status, str) and status else f"http_{response.status_code}"
    return code, str(error.get("message") or response.reason_phrase)


def _audio_from(response: httpx.Response) -> bytes:
    try:
        document = response.json()
        audio = base64.b64decode(document["audioContent"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise SpeechFailed("unreadable_response", f"{type(error).__name__}: {error}") from error
    if not audio.startswith(_OGG_MAGIC):
        raise SpeechFailed("not_ogg_opus", "the audio is not an OGG stream")
    return audio


def language_of(voice_name: str) -> str:
    """Return the language code a Google voice name starts with (``pt-BR-Neural2-A`` → pt-BR)."""
    parts = voice_name.split("-")
    return "-".join(parts[:2]) if len(parts) >= 2 else voice_name


@dataclass(frozen=True)
class VoiceReply:
    """What the sender does with a reply meant as a voice note: audio, or text and why."""

    sent_as: Literal["audio", "text"]
    audio: OutboundAudio | None = None
    reason: VoiceFallback | None = None
    detail: str | None = None
    voice_name: str | None = None

    @classmethod
    def as_text(cls, reason: VoiceFallback, detail: str | None = None) -> VoiceReply:
        """Return the fallback to text for ``reason``."""
        return cls(sent_as="text", reason=reason, detail=detail)

    def refused(self, code: str) -> VoiceReply:
        """Return this reply after the provider refused the audio: the text goes instead."""
        return VoiceReply(
            sent_as="text",
            reason=VoiceFallback.REJECTED,
            detail=code,
            voice_name=self.voice_name,
        )

    def record(self) -> dict[str, Any]:
        """Return the ledger's ``voice_reply`` field (never the audio itself)."""
        record: dict[str, Any] = {"sent_as": self.sent_as}
        if self.audio is not None:
            record["audio_bytes"] = len(self.audio.content)
        if self.voice_name is not None:
            record["voice_name"] = self.voice_name
        if self.reason is not None:
            record["reason"] = self.reason.value
        if self.detail is not None:
            record["detail"] = self.detail
        return record


def voice_reply(
    synthesizer: Synthesizer | None, text: str, *, provider: str, voice_name: str | None = None
) -> VoiceReply:
    """Return ``text`` as a voice note for ``provider``, or the text and why; never raises."""
    if synthesizer is None:
        return VoiceReply.as_text(VoiceFallback.UNAVAILABLE)
    if provider not in VOICE_NOTE_PROVIDERS:
        return VoiceReply.as_text(VoiceFallback.UNSUPPORTED, f"{provider} needs a public media URL")
    size = len(text.encode("utf-8"))
    if size > MAX_INPUT_BYTES:
        return VoiceReply.as_text(VoiceFallback.TOO_LONG, f"{size} bytes")
    try:
        speech = synthesizer.synthesize(text, voice_name)
    except SpeechFailed as failure:
        logger.warning("text-to-speech failed", extra={"code": failure.code})
        return VoiceReply.as_text(VoiceFallback.FAILED, failure.code)
    except Exception as error:  # a voice note is a nicety: any failure leaves the text
        logger.exception("text-to-speech failed unexpectedly")
        return VoiceReply.as_text(VoiceFallback.FAILED, type(error).__name__)
    return VoiceReply(
        sent_as="audio",
        audio=OutboundAudio(content=speech.audio, mime_type=speech.mime_type),
        voice_name=speech.voice_name,
    )


def build_synthesizer(
    settings: Settings, http: httpx.Client, authorizer: Authorizer | None = None
) -> Synthesizer | None:
    """Return the deployment's text-to-speech, or None when ``PILOTO_TTS`` is off.

    An ``http://`` endpoint is a local stand-in (tests, development): it never gets a real
    access token.
    """
    if settings.tts == "off":
        return None
    if authorizer is None:
        from shared.gcp.auth import AccessTokens, EmulatorTokens
        from shared.gcp.http import HttpClient

        local = settings.tts_endpoint.startswith("http://")
        authorizer = (
            EmulatorTokens() if local else AccessTokens(HttpClient(settings.tts_timeout_seconds))
        )
    return GoogleSpeech(
        http=http,
        authorizer=authorizer,
        endpoint=settings.tts_endpoint,
        default_voice=settings.tts_voice,
        timeout_seconds=settings.tts_timeout_seconds,
    )
