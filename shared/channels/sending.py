"""What every provider's ``send`` shares: the outbound message, the result, the retry loop.

A provider module builds one HTTP call (URL, auth, body) from an ``OutboundRequest`` and hands it
to ``deliver`` with two small functions: one that reads the provider's message id from a
success body, one that turns an error response into a ``ProviderError``. ``deliver`` retries
what is transient (timeouts, connection errors, 429, 5xx and the provider's throughput codes)
with capped exponential backoff and jitter, honouring ``Retry-After``; anything else fails at
once as ``SendFailed(permanent=True)``. Every failure is logged with its code, never with the
recipient's phone number or a secret.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.channels.phones import to_e164
from shared.models.channel import Channel

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("piloto.channels.sending")

MediaKind = Literal["image", "audio", "video", "document"]
MEDIA_KINDS: tuple[MediaKind, ...] = ("image", "audio", "video", "document")
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_LIST_BUTTON = 20
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_INTERACTIVE_BODY = 1024
"""WhatsApp's limits on an interactive list (Cloud API; the gateways show the same list)."""


# The six things Piloto sends. ``OutboundRequest`` is any one of them.


@dataclass(frozen=True, slots=True)
class OutboundText:
    """A plain text message."""

    body: str


@dataclass(frozen=True, slots=True)
class OutboundTemplate:
    """An approved template (Meta template name, or Twilio ContentSid) with body parameters."""

    name: str
    language: str = "pt_BR"
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboundMedia:
    """A media message the provider fetches from a public link."""

    url: str
    kind: MediaKind
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise ValueError(f"media kind must be one of {', '.join(MEDIA_KINDS)}")


VOICE_NOTE_MIME_TYPE = "audio/ogg; codecs=opus"
VOICE_NOTE_PROVIDERS = frozenset({"meta", "evolution", "zapi"})
"""Providers that take a voice note as bytes: Meta by upload (``/media``), Evolution API and
Z-API inline as base64. Twilio only sends media from a public ``MediaUrl``, and Piloto keeps no
files to link to, so a Twilio channel answers in text."""


@dataclass(frozen=True, slots=True)
class OutboundAudio:
    """A voice note sent as bytes (OGG/Opus, as WhatsApp records them), never as a link."""

    content: bytes
    mime_type: str = VOICE_NOTE_MIME_TYPE
    voice: bool = True
    """Shown as a voice message (waveform, auto-download), not as an audio file."""

    def __post_init__(self) -> None:
        if not self.content:
            raise ValueError("a voice note needs audio bytes")

    @property
    def base_mime_type(self) -> str:
        """Return the MIME type without parameters (``audio/ogg``)."""
        return self.mime_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Button:
    """One quick-reply button: the id comes back in the lead's reply, the title is shown."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class OutboundButtons:
    """A text with one to three quick-reply buttons."""

    body: str
    buttons: tuple[Button, ...]
    footer: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.buttons) <= MAX_BUTTONS:
            raise ValueError(f"a buttons message needs 1 to {MAX_BUTTONS} buttons")


@dataclass(frozen=True, slots=True)
class ListRow:
    """One row of an interactive list: the id comes back when the lead taps it."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundList:
    """A text with a button that opens one section of up to ten rows to pick from."""

    body: str
    button: str
    rows: tuple[ListRow, ...]
    section_title: str | None = None
    footer: str | None = None

    def __post_init__(self) -> None:
        if not self.body.strip() or len(self.body) > MAX_INTERACTIVE_BODY:
            raise ValueError(f"a list needs a body of 1 to {MAX_INTERACTIVE_BODY} characters")
        if not self.button.strip() or len(self.button) > MAX_LIST_BUTTON:
            raise ValueError(f"a list needs a button label of 1 to {MAX_LIST_BUTTON} characters")
        if not 1 <= len(self.rows) <= MAX_LIST_ROWS:
            raise ValueError(f"a list needs 1 to {MAX_LIST_ROWS} rows")
        if len({row.id for row in self.rows}) != len(self.rows):
            raise ValueError("list row ids must be unique")
        for row in self.rows:
            if not row.id or not row.title.strip() or len(row.title) > MAX_ROW_TITLE:
                raise ValueError(f"a list row needs an id and a title of 1 to {MAX_ROW_TITLE}")
            if row.description is not None and len(row.description) > MAX_ROW_DESCRIPTION:
                raise ValueError(f"a row description holds at most {MAX_ROW_DESCRIPTION}")


OutboundRequest = (
    OutboundText | OutboundTemplate | OutboundMedia | OutboundButtons | OutboundList | OutboundAudio
)


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider accepted the message: its id (matches later status webhooks)."""

    provider_message_id: str
    attempts: int


class SendFailed(Exception):
    """The message was not accepted. ``permanent`` means retrying later cannot help.

    ``nothing_sent`` means the lead certainly got nothing, so another form of the message (the
    text instead of a voice note) may go without risking a duplicate: by default a permanent
    refusal, but not an accepted send whose answer was unreadable.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str,
        permanent: bool,
        attempts: int = 0,
        status: int | None = None,
        nothing_sent: bool | None = None,
    ) -> None:
        super().__init__(f"{code}: {reason}")
        self.reason = reason
        self.code = code
        self.permanent = permanent
        self.attempts = attempts
        self.status = status
        self.nothing_sent = (
            nothing_sent
            if nothing_sent is not None
            else permanent and code != "unreadable_response"
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts; ``sleep`` is injectable for tests."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay_before(self, next_attempt: int, retry_after: float | None) -> float:
        """Return the seconds to wait before ``next_attempt`` (2, 3, ...)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        backoff = min(self.base_delay * 2.0 ** (next_attempt - 2), self.max_delay)
        return backoff * (0.5 + self.jitter() / 2)  # "equal jitter": between half and all of it


DEFAULT_RETRY_POLICY = RetryPolicy()
DEFAULT_TIMEOUT_SECONDS = (10.0, 5.0)  # read/write/pool, connect


@dataclass(frozen=True)
class ProviderError:
    """An error response as one provider means it."""

    code: str
    retryable: bool
    reason: str


@dataclass(frozen=True)
class ProviderCall:
    """One HTTP request to a provider, ready to send (and to send again)."""

    provider: str
    channel_id: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    form: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    """Multipart file parts as ``{field: (file name, bytes, content type)}`` (with ``form``)."""
    auth: tuple[str, str] | None = None
    """Basic auth as (user, password)."""


def deliver(
    client: httpx.Client,
    call: ProviderCall,
    *,
    message_id_from: Callable[[Any], str],
    error_from: Callable[[httpx.Response], ProviderError],
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> SendResult:
    """POST ``call``, retrying transient failures, and return the provider's message id."""
    import httpx  # here, not at import: the webhook loads these modules and must stay light

    default_timeout = httpx.Timeout(DEFAULT_TIMEOUT_SECONDS[0], connect=DEFAULT_TIMEOUT_SECONDS[1])
    for attempt in range(1, policy.max_attempts + 1):
        response: httpx.Response | None = None
        try:
            response = client.post(
                call.url,
                headers=dict(call.headers),
                json=call.json,
                data=call.form,
                files=call.files,
                auth=call.auth or httpx.USE_CLIENT_DEFAULT,
                timeout=client.timeout if _has_timeout(client) else default_timeout,
            )
        except httpx.TimeoutException as error:
            failure = ProviderError("timeout", True, f"{type(error).__name__}")
        except httpx.TransportError as error:
            failure = ProviderError("transport_error", True, f"{type(error).__name__}: {error}")
        else:
            if response.is_success:
                return SendResult(_message_id(response, call, message_id_from, attempt), attempt)
            failure = error_from(response)
        status = response.status_code if response is not None else None
        if not failure.retryable:
            _log_failure(call, failure, attempt, status, permanent=True)
            raise SendFailed(
                failure.reason, code=failure.code, permanent=True, attempts=attempt, status=status
            )
        if attempt == policy.max_attempts:
            _log_failure(call, failure, attempt, status, permanent=False)
            raise SendFailed(
                f"{failure.reason} (gave up after {attempt} attempts)",
                code=failure.code,
                permanent=False,
                attempts=attempt,
                status=status,
            )
        delay = policy.delay_before(attempt + 1, _retry_after(response))
        logger.warning(
            "provider send failed, retrying",
            extra={
                "provider": call.provider,
                "channel_id": call.channel_id,
                "code": failure.code,
                "attempt": attempt,
                "delay_seconds": round(delay, 3),
            },
        )
        policy.sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def error_by_status(response: httpx.Response, code: str | None, reason: str) -> ProviderError:
    """Classify by status: 429 and 5xx are transient, 401/403 bad credentials, else permanent."""
    status = response.status_code
    if status in (401, 403):
        return ProviderError("unauthorized", False, f"HTTP {status}: {reason}")
    retryable = status == 429 or status >= 500
    return ProviderError(code or f"http_{status}", retryable, f"HTTP {status}: {reason}")


def json_body(response: httpx.Response) -> dict[str, Any]:
    """Return the response body as a JSON object, or an empty one when it is not."""
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def sending_secret(secrets: Mapping[str, str], role: str) -> str:
    """Return a resolved secret, or fail before any request when it is missing."""
    value = secrets.get(role, "")
    if not value:
        raise SendFailed(
            f"secret role {role} was not resolved for this channel",
            code="missing_secret",
            permanent=True,
        )
    return value


def config_text(channel: Channel, key: str, default: str | None = None) -> str:
    """Return a non-empty channel setting, or fail before any request when it is missing."""
    value = channel.config.get(key) or default
    if not value:
        raise SendFailed(
            f"channel {channel.channel_id} has no config.{key}",
            code="missing_config",
            permanent=True,
        )
    return str(value)


def base_url(channel: Channel, default: str | None = None) -> str:
    """Return ``config.api_base_url`` (the simulator locally) without a trailing slash."""
    return config_text(channel, "api_base_url", default).rstrip("/")


def e164_recipient(to_phone: str) -> str:
    """Return ``to_phone`` as E.164 (``+5511...``), or fail when it is not a phone number."""
    phone = to_e164(to_phone)
    if phone is None:
        raise SendFailed("recipient is not a phone number", code="invalid_phone", permanent=True)
    return phone


def digits_recipient(to_phone: str) -> str:
    """Return ``to_phone`` as the digits-only form Meta, Evolution and Z-API expect."""
    return e164_recipient(to_phone).removeprefix("+")


def unsupported(provider: str, what: str) -> SendFailed:
    """Return the permanent failure for a message kind ``provider`` cannot send."""
    return SendFailed(
        f"{provider} cannot send {what} messages", code=f"{what}_unsupported", permanent=True
    )


def _has_timeout(client: httpx.Client) -> bool:
    timeout = client.timeout
    return any(
        value is not None for value in (timeout.connect, timeout.read, timeout.write, timeout.pool)
    )


def _message_id(
    response: httpx.Response,
    call: ProviderCall,
    message_id_from: Callable[[Any], str],
    attempt: int,
) -> str:
    # Accepted but unreadable: the message may be on its way, so never retry (no duplicates).
    try:
        message_id = message_id_from(response.json())
    except (ValueError, KeyError, IndexError, TypeError) as error:
        message_id = ""
        reason = f"{type(error).__name__}: {error}"
    else:
        reason = "no message id"
    if isinstance(message_id, str) and message_id:
        return message_id
    failure = ProviderError("unreadable_response", False, f"accepted, but {reason}")
    _log_failure(call, failure, attempt, response.status_code, permanent=True)
    raise SendFailed(
        failure.reason,
        code=failure.code,
        permanent=True,
        attempts=attempt,
        status=response.status_code,
    )


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()


def _log_failure(
    call: ProviderCall,
    failure: ProviderError,
    attempts: int,
    status: int | None,
    *,
    permanent: bool,
) -> None:
    logger.warning(
        "provider send failed",
        extra={
            "provider": call.provider,
            "channel_id": call.channel_id,
            "code": failure.code,
            "reason": failure.reason,
            "http_status": status,
            "attempts": attempts,
            "permanent": permanent,
        },
    )
