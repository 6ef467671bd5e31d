"""Download one media attachment from its provider, with the provider's auth, within limits.

- Meta Cloud API: ``GET {graph}/{version}/{media_id}`` with ``Authorization: Bearer <token>``
  answers ``{url, mime_type, sha256, file_size, id}``; the URL is then fetched with the same
  token, and the bytes must hash to ``sha256``.
- Twilio: ``GET MediaUrl0`` with HTTP basic auth (account SID, auth token); Twilio redirects to
  a short-lived URL, followed without the credentials.
- Evolution API: ``POST {base}/chat/getBase64FromMediaMessage/{instance}`` with the ``apikey``
  header and ``{"message": {"key": {"id"}}, "convertToMp4": false}`` answers ``{base64,
  mimetype, fileName, ...}``; when the webhook carried the URL where Evolution stored the file
  (S3/MinIO ``mediaUrl``), that URL is fetched instead. WhatsApp's own CDN URLs
  (``mmg.whatsapp.net``) hold encrypted bytes and are never fetched.
- Z-API: the webhook's URL (``audio.audioUrl``, ``image.imageUrl``, ...), with the channel's
  ``Client-Token`` header when the URL is Z-API's own.

Credentials go only to the provider's origin (or the channel's ``api_base_url``, the simulator
locally), never across a redirect. A declared size or type is checked before any download; the
body is streamed and abandoned as soon as it passes the cap (``Content-Length`` first). Only
transient failures (timeouts, connection errors, 429, 5xx) are retried, with exponential
backoff and jitter (tenacity).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from shared.media.limits import (
    MediaKind,
    MediaLimits,
    MediaRejected,
    check_type,
    is_generic,
    normalize_mime,
)
from shared.models.channel import Channel
from shared.models.events import Media

META_GRAPH_URL = "https://graph.facebook.com"
META_GRAPH_VERSION = "v21.0"
TWILIO_API_URL = "https://api.twilio.com"
META_MEDIA_HOSTS = (".fbsbx.com", ".facebook.com", ".fbcdn.net", ".whatsapp.net")
ZAPI_HOSTS = (".z-api.io",)
WHATSAPP_CDN_HOSTS = (".whatsapp.net",)
MAX_REDIRECTS = 5
MAX_JSON_BYTES = 64 * 1024


@dataclass(frozen=True)
class FetchedMedia:
    """The bytes of one attachment, in memory only (never stored)."""

    data: bytes
    mime_type: str
    size_bytes: int
    filename: str | None = None


@dataclass(frozen=True)
class FetchPolicy:
    """Limits, timeouts and retries of media downloads; ``sleep`` is injectable for tests."""

    limits: MediaLimits = field(default_factory=MediaLimits)
    attempts: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 10.0
    sleep: Callable[[float], None] = time.sleep


class _Transient(Exception):
    """A failure worth another attempt (timeout, connection error, 429, 5xx)."""


def fetch_media(
    http: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    kind: MediaKind,
    media: Media,
    *,
    policy: FetchPolicy,
) -> FetchedMedia:
    """Download ``media`` as ``channel``'s provider serves it, or raise ``MediaRejected``."""
    if media.mime_type:
        check_type(kind, media.mime_type, media.filename)
    policy.limits.check_size(kind, media.size_bytes)
    fetchers = {"meta": _meta, "twilio": _twilio, "evolution": _evolution, "zapi": _zapi}
    fetched = fetchers[channel.provider](http, channel, secrets, kind, media, policy)
    served = fetched.mime_type if not is_generic(fetched.mime_type) else None
    mime_type = check_type(kind, served or media.mime_type, fetched.filename or media.filename)
    policy.limits.check_size(kind, len(fetched.data))
    return FetchedMedia(
        data=fetched.data,
        mime_type=mime_type,
        size_bytes=len(fetched.data),
        filename=fetched.filename or media.filename,
    )


# Providers


def _meta(
    http: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    kind: MediaKind,
    media: Media,
    policy: FetchPolicy,
) -> FetchedMedia:
    token = _secret(secrets, "access_token")
    if not media.provider_media_id:
        raise MediaRejected("fetch_failed", "the webhook carried no media id")
    base = _api_base(channel, META_GRAPH_URL)
    version = str(channel.config.get("graph_version") or META_GRAPH_VERSION)
    auth = {"Authorization": f"Bearer {token}"}
    described = _json_object(
        _request(http, "GET", f"{base}/{version}/{media.provider_media_id}", auth, policy)
    )
    url = described.get("url")
    if not isinstance(url, str) or not url:
        raise MediaRejected("fetch_failed", "Graph described the media without a url")
    policy.limits.check_size(kind, _whole_number(described.get("file_size")))
    mime_type = described.get("mime_type")
    if isinstance(mime_type, str) and mime_type:
        check_type(kind, mime_type, media.filename)
    if not _trusted(url, base, META_MEDIA_HOSTS):
        raise MediaRejected("fetch_failed", f"Graph pointed at an unexpected host {_host(url)}")
    data, content_type = _download(http, url, auth, _origin(url), kind, policy)
    expected = described.get("sha256")
    if isinstance(expected, str) and expected and not _same_digest(data, expected):
        raise MediaRejected("checksum_mismatch", "the bytes do not hash to Graph's sha256")
    return FetchedMedia(
        data=data,
        mime_type=mime_type if isinstance(mime_type, str) and mime_type else content_type,
        size_bytes=len(data),
        filename=media.filename,
    )


def _twilio(
    http: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    kind: MediaKind,
    media: Media,
    policy: FetchPolicy,
) -> FetchedMedia:
    if not media.url:
        raise MediaRejected("fetch_failed", "the webhook carried no MediaUrl0")
    account_sid = str(channel.config.get("account_sid") or "")
    if not account_sid:
        raise MediaRejected("fetch_failed", f"channel {channel.channel_id} has no account_sid")
    if not _trusted(media.url, _api_base(channel, TWILIO_API_URL), ()):
        raise MediaRejected("fetch_failed", f"MediaUrl0 is not Twilio's ({_host(media.url)})")
    credentials = f"{account_sid}:{_secret(secrets, 'auth_token')}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(credentials).decode()}
    data, content_type = _download(http, media.url, auth, _origin(media.url), kind, policy)
    return FetchedMedia(data=data, mime_type=content_type, size_bytes=len(data))


def _evolution(
    http: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    kind: MediaKind,
    media: Media,
    policy: FetchPolicy,
) -> FetchedMedia:
    if media.url and not _host(media.url).endswith(WHATSAPP_CDN_HOSTS):
        # The file Evolution stored (S3/MinIO): a plain, usually pre-signed, URL.
        data, content_type = _download(http, media.url, {}, None, kind, policy)
        return FetchedMedia(data=data, mime_type=content_type, size_bytes=len(data))
    if not media.provider_media_id:
        raise MediaRejected("fetch_failed", "the webhook carried no message id")
    base = _api_base(channel, None)
    instance = str(channel.config.get("instance") or "")
    if not base or not instance:
        raise MediaRejected(
            "fetch_failed", f"channel {channel.channel_id} has no base URL or instance"
        )
    cap = policy.limits.max_bytes(kind)
    response = _request(
        http,
        "POST",
        f"{base}/chat/getBase64FromMediaMessage/{instance}",
        {"apikey": _secret(secrets, "apikey")},
        policy,
        body={"message": {"key": {"id": media.provider_media_id}}, "convertToMp4": False},
        max_bytes=cap * 4 // 3 + MAX_JSON_BYTES,  # base64 grows by a third
        kind=kind,
    )
    document = _json_object(response)
    encoded = document.get("base64")
    if not isinstance(encoded, str) or not encoded:
        raise MediaRejected("fetch_failed", "Evolution answered without base64")
    size = (
        _whole_number((document.get("size") or {}).get("fileLength"))
        if isinstance(document.get("size"), dict)
        else None
    )
    policy.limits.check_size(kind, size)
    try:
        data = base64.b64decode(encoded.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError) as error:
        raise MediaRejected("fetch_failed", f"Evolution's base64 is invalid: {error}") from error
    mime_type = document.get("mimetype")
    filename = document.get("fileName")
    return FetchedMedia(
        data=data,
        mime_type=mime_type if isinstance(mime_type, str) else "",
        size_bytes=len(data),
        filename=filename if isinstance(filename, str) and filename else None,
    )


def _zapi(
    http: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    kind: MediaKind,
    media: Media,
    policy: FetchPolicy,
) -> FetchedMedia:
    if not media.url:
        raise MediaRejected("fetch_failed", "the webhook carried no media URL")
    headers: dict[str, str] = {}
    client_token = secrets.get("client_token")
    if client_token and _trusted(media.url, _api_base(channel, None), ZAPI_HOSTS):
        headers["Client-Token"] = client_token
    data, content_type = _download(http, media.url, headers, _origin(media.url), kind, policy)
    return FetchedMedia(data=data, mime_type=content_type, size_bytes=len(data))


# HTTP


def _download(
    http: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    credentials_origin: str | None,
    kind: MediaKind,
    policy: FetchPolicy,
) -> tuple[bytes, str]:
    """GET ``url`` within the kind's cap; return the bytes and the response's content type."""
    response = _request(
        http,
        "GET",
        url,
        headers,
        policy,
        credentials_origin=credentials_origin,
        max_bytes=policy.limits.max_bytes(kind),
        kind=kind,
    )
    return response.body, response.content_type


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str


def _request(
    http: httpx.Client,
    method: str,
    url: str,
    headers: Mapping[str, str],
    policy: FetchPolicy,
    *,
    body: Mapping[str, Any] | None = None,
    credentials_origin: str | None = None,
    max_bytes: int = MAX_JSON_BYTES,
    kind: MediaKind | None = None,
) -> _Answer:
    """Send one request (retrying transient failures) and return a successful answer."""
    origin = credentials_origin or _origin(url)
    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential_jitter(
            initial=policy.backoff_seconds,
            max=policy.backoff_seconds * 8,
            jitter=policy.backoff_seconds,
        ),
        retry=retry_if_exception_type(_Transient),
        sleep=policy.sleep,
        reraise=True,
    )
    try:
        return retrying(
            _send_once, http, method, url, headers, origin, body, max_bytes, kind, policy
        )
    except _Transient as error:
        raise MediaRejected(
            "fetch_failed", f"{error} (gave up after {policy.attempts} attempts)"
        ) from error


def _send_once(
    http: httpx.Client,
    method: str,
    url: str,
    headers: Mapping[str, str],
    origin: str,
    body: Mapping[str, Any] | None,
    max_bytes: int,
    kind: MediaKind | None,
    policy: FetchPolicy,
) -> _Answer:
    timeout = httpx.Timeout(policy.timeout_seconds, connect=min(policy.timeout_seconds, 5.0))
    for _hop in range(MAX_REDIRECTS + 1):
        # Credentials only to the provider's origin: a redirect elsewhere goes without them.
        sent_headers = dict(headers) if _origin(url) == origin else {}
        try:
            with http.stream(
                method,
                url,
                headers=sent_headers,
                json=dict(body) if body is not None else None,
                follow_redirects=False,
                timeout=timeout,
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    method, body = ("GET", None) if response.status_code == 303 else (method, body)
                    continue
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Transient(f"HTTP {response.status_code} from {_host(url)}")
                if not response.is_success:
                    raise MediaRejected(
                        "fetch_failed",
                        f"HTTP {response.status_code} from {_host(url)}: {_error_text(response)}",
                    )
                data = _read_capped(response, max_bytes, kind)
                return _Answer(response.status_code, data, response.headers.get("content-type", ""))
        except httpx.TimeoutException as error:
            raise _Transient(f"timeout ({type(error).__name__}) from {_host(url)}") from error
        except httpx.TransportError as error:
            raise _Transient(f"{type(error).__name__} from {_host(url)}") from error
    raise MediaRejected("fetch_failed", f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: httpx.Response, max_bytes: int, kind: MediaKind | None) -> bytes:
    """Read the body, refusing it at once when it is (or becomes) larger than ``max_bytes``."""
    what = kind or "answer"
    declared = _whole_number(response.headers.get("content-length"))
    if declared is not None and declared > max_bytes:
        raise MediaRejected(
            "too_large", f"{what} of {declared} bytes is over the {max_bytes}-byte cap"
        )
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise MediaRejected("too_large", f"{what} is over the {max_bytes}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


def _error_text(response: httpx.Response) -> str:
    try:
        response.read()
    except httpx.HTTPError:
        return response.reason_phrase
    return response.text[:200] or response.reason_phrase


def _json_object(answer: _Answer) -> dict[str, Any]:
    try:
        document = json.loads(answer.body)
    except ValueError as error:
        raise MediaRejected("fetch_failed", f"the answer is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise MediaRejected("fetch_failed", "the answer is not a JSON object")
    return document


# Helpers


def _secret(secrets: Mapping[str, str], role: str) -> str:
    value = secrets.get(role, "")
    if not value:
        raise MediaRejected("fetch_failed", f"secret role {role} was not resolved for the channel")
    return value


def _api_base(channel: Channel, default: str | None) -> str:
    return str(channel.config.get("api_base_url") or default or "").rstrip("/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _trusted(url: str, api_base: str, host_suffixes: tuple[str, ...]) -> bool:
    """Return whether ``url`` is the provider's: its API origin, or an https host it owns."""
    if api_base and _origin(url) == _origin(api_base):
        return True
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(
        host.endswith(suffix) or host == suffix.lstrip(".") for suffix in host_suffixes
    )


def _same_digest(data: bytes, expected: str) -> bool:
    """Compare ``data``'s SHA-256 with a hex (Graph) or base64 (webhook) digest."""
    digest = hashlib.sha256(data).digest()
    candidate = expected.strip()
    if len(candidate) == 64:
        return hmac.compare_digest(digest.hex(), candidate.lower())
    try:
        decoded = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(digest, decoded)


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


__all__ = ["FetchPolicy", "FetchedMedia", "MediaRejected", "fetch_media", "normalize_mime"]
