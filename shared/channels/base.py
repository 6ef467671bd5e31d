"""What every provider adapter shares: the request it reads, the errors it raises, its shape.

An adapter module exposes:

- ``verify(request, channel, secrets)``: raise ``SignatureRejected`` unless the request really
  comes from the provider for this channel (checked over the raw body bytes).
- ``parse(request, channel, received_at)``: return the canonical events in the request, or
  raise ``PayloadRejected`` when the body is not the provider's format. A well-formed payload
  that carries nothing Piloto uses returns an empty list.
- ``SECRET_ROLES``: the secret roles ``verify`` needs (resolved before calling it).
- ``send(client, channel, secrets, to_phone, message)``: send one ``OutboundRequest`` through
  the provider's API (base URL from the channel's config, so the simulator can stand in) and
  return the provider's message id; retries and error classes live in ``sending.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar
from urllib.parse import parse_qsl

from shared.models.channel import Channel
from shared.models.events import (
    ConnectionUpdate,
    ContactRef,
    ConversationEvent,
    DeliveryStatus,
    LeadMessage,
    MessageContent,
    Provider,
    SellerMessage,
    StatusUpdate,
    event_id_for,
    timestamp_to_datetime,
)
from shared.secrets import SecretUnavailable

if TYPE_CHECKING:
    import httpx

    from shared.channels.sending import OutboundRequest, RetryPolicy, SendResult


class WebhookRejected(Exception):
    """A webhook request that must be answered with a 4xx and change nothing."""

    status: int = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureRejected(WebhookRejected):
    """Missing signature or credential (401) or one that does not match (403)."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.status = 401 if missing else 403


class PayloadRejected(WebhookRejected):
    """A body that is not the provider's documented format."""

    status = 400


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's HTTP request as the adapters see it: raw bytes plus lower-cased headers."""

    method: str
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    oversized: bool = False

    def header(self, name: str) -> str | None:
        """Return a header value by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        """Return the media type without parameters, lower-cased."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    def json_object(self) -> dict[str, Any]:
        """Parse the body as a JSON object or raise ``PayloadRejected``."""
        if self.content_type != "application/json":
            raise PayloadRejected(f"expected application/json, got {self.content_type or 'none'}")
        try:
            document = json.loads(self.body)
        except (ValueError, RecursionError) as error:  # bad JSON, bad UTF-8, huge int, deep nesting
            raise PayloadRejected(f"body is not valid JSON: {error}") from error
        if not isinstance(document, dict):
            raise PayloadRejected("body must be a JSON object")
        return document

    def form(self) -> dict[str, str]:
        """Parse the body as application/x-www-form-urlencoded or raise ``PayloadRejected``."""
        if self.content_type != "application/x-www-form-urlencoded":
            raise PayloadRejected(
                f"expected application/x-www-form-urlencoded, got {self.content_type or 'none'}"
            )
        try:
            text = self.body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError) as error:
            raise PayloadRejected(f"body is not a valid form: {error}") from error
        return dict(pairs)


class ProviderAdapter(Protocol):
    """The shape of a provider module (see the module docstring)."""

    SECRET_ROLES: tuple[str, ...]

    def verify(
        self, request: WebhookRequest, channel: Channel, secrets: Mapping[str, str]
    ) -> None: ...

    def parse(
        self, request: WebhookRequest, channel: Channel, received_at: datetime
    ) -> list[ConversationEvent]: ...

    def send(
        self,
        client: httpx.Client,
        channel: Channel,
        secrets: Mapping[str, str],
        to_phone: str,
        message: OutboundRequest,
        *,
        policy: RetryPolicy = ...,
    ) -> SendResult: ...


# Helpers the adapters share: constant-time credentials and JSON access that names the path
# of whatever is wrong ("entry[0].changes[1].value.messages must be a list, got object").

_P = ParamSpec("_P")
_R = TypeVar("_R")


def rejects_malformed(parse: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn a lookup or conversion error escaping ``parse`` into ``PayloadRejected``."""

    @wraps(parse)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return parse(*args, **kwargs)
        except (KeyError, IndexError, TypeError, ValueError, OverflowError) as error:
            raise PayloadRejected(f"malformed payload ({type(error).__name__}: {error})") from error

    return guarded


def required_secret(secrets: Mapping[str, str], role: str) -> str:
    """Return the resolved secret for ``role``; its absence is a deployment error, not a 4xx."""
    value = secrets.get(role, "")
    if not value:
        raise SecretUnavailable(f"secret role {role} was not resolved for this channel")
    return value


def same_secret(expected: str, presented: str) -> bool:
    """Compare a presented credential with the expected one in constant time."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), presented.encode("utf-8", "surrogatepass")
    )


def body_fingerprint(body: bytes) -> str:
    """Return a short digest of a body: a stable id for events whose payload carries none."""
    return hashlib.sha256(body).hexdigest()[:16]


def json_type(value: object) -> str:
    """Return the JSON name of a value's type, for rejection reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def as_object(value: object, where: str) -> dict[str, Any]:
    """Return ``value`` as a JSON object or reject the payload naming ``where``."""
    if not isinstance(value, dict):
        raise PayloadRejected(f"{where} must be an object, got {json_type(value)}")
    return value


def required_object(document: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """Return the object at ``document[key]``, which must be present."""
    if document.get(key) is None:
        raise PayloadRejected(f"{where}.{key} is missing")
    return as_object(document[key], f"{where}.{key}")


def optional_object(document: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """Return the object at ``document[key]``, or None when it is absent or null."""
    if document.get(key) is None:
        return None
    return as_object(document[key], f"{where}.{key}")


def objects_in(
    document: Mapping[str, Any], key: str, where: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(path, object)`` for each item of the optional list ``document[key]``."""
    items = document.get(key)
    if items is None:
        return
    if not isinstance(items, list):
        raise PayloadRejected(f"{where}.{key} must be a list, got {json_type(items)}")
    for index, item in enumerate(items):
        path = f"{where}.{key}[{index}]"
        yield path, as_object(item, path)


def required_text(document: Mapping[str, Any], key: str, where: str) -> str:
    """Return the non-empty string at ``document[key]``."""
    value = optional_text(document, key, where)
    if value is None:
        raise PayloadRejected(f"{where}.{key} is missing")
    return value


def optional_text(document: Mapping[str, Any], key: str, where: str) -> str | None:
    """Return the string at ``document[key]``, or None when it is absent, null or empty."""
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadRejected(f"{where}.{key} must be a string, got {json_type(value)}")
    return value or None


def optional_code(document: Mapping[str, Any], key: str, where: str) -> str | None:
    """Return the string or integer at ``document[key]`` as text (ids, codes, enum numbers)."""
    value = document.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return optional_text(document, key, where)


def flag(document: Mapping[str, Any], key: str, where: str) -> bool:
    """Return the boolean at ``document[key]``; absent or null means False."""
    value = document.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise PayloadRejected(f"{where}.{key} must be a boolean, got {json_type(value)}")
    return value


def required_number(document: Mapping[str, Any], key: str, where: str) -> float:
    """Return the finite number at ``document[key]`` (a numeric string counts)."""
    value = document.get(key)
    if value is None:
        raise PayloadRejected(f"{where}.{key} is missing")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadRejected(f"{where}.{key} must be a number, got {json_type(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError) as error:
        raise PayloadRejected(f"{where}.{key} is not a number: {value!r}") from error
    if not math.isfinite(number):
        raise PayloadRejected(f"{where}.{key} must be finite, got {value!r}")
    return number


def timestamp_from(value: object, where: str) -> datetime:
    """Return a provider Unix timestamp (seconds or milliseconds) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadRejected(f"{where} must be a Unix timestamp, got {json_type(value)}")
    try:
        return timestamp_to_datetime(value)
    except (ValueError, OverflowError, OSError) as error:
        raise PayloadRejected(f"{where} is not a valid Unix timestamp: {value!r}") from error


def message_event(
    provider: Provider,
    channel: Channel,
    *,
    message_id: str,
    contact: ContactRef,
    content: MessageContent,
    occurred_at: datetime,
    received_at: datetime,
    from_me: bool = False,
) -> LeadMessage | SellerMessage:
    """Build the lead's message, or the seller's when the business's own phone sent it."""
    model = SellerMessage if from_me else LeadMessage
    kind = "seller_message" if from_me else "lead_message"
    return model(
        event_id=event_id_for(provider, kind, message_id),
        provider=provider,
        tenant_id=channel.tenant_id,
        channel_id=channel.channel_id,
        occurred_at=occurred_at,
        received_at=received_at,
        message_id=message_id,
        contact=contact,
        content=content,
    )


def status_event(
    provider: Provider,
    channel: Channel,
    *,
    message_id: str,
    status: DeliveryStatus,
    contact: ContactRef,
    occurred_at: datetime,
    received_at: datetime,
    error_code: str | None = None,
    error_title: str | None = None,
) -> StatusUpdate:
    """Build the provider's report on a message the business sent."""
    return StatusUpdate(
        event_id=event_id_for(provider, "status_update", message_id, status.value),
        provider=provider,
        tenant_id=channel.tenant_id,
        channel_id=channel.channel_id,
        occurred_at=occurred_at,
        received_at=received_at,
        message_id=message_id,
        status=status,
        contact=contact,
        error_code=error_code,
        error_title=error_title,
    )


def connection_event(
    provider: Provider,
    channel: Channel,
    *,
    state: str,
    stamp: str,
    occurred_at: datetime,
    received_at: datetime,
    detail: str | None = None,
) -> ConnectionUpdate:
    """Build a channel connection event; ``stamp`` (provider time or body digest) keys retries."""
    event_id = event_id_for(provider, "connection_update", f"{channel.channel_id}:{stamp}", state)
    return ConnectionUpdate(
        event_id=event_id,
        provider=provider,
        tenant_id=channel.tenant_id,
        channel_id=channel.channel_id,
        occurred_at=occurred_at,
        received_at=received_at,
        state=state,
        detail=detail,
    )
