"""What the four simulated send APIs share: the accepted request, the module shape, helpers.

A provider module (``meta``, ``twilio``, ``evolution``, ``zapi`` in this package) reads one
send request in its provider's format: it finds the channel, checks the credentials, validates
the body and returns either a ``SendAccepted`` (with the success answer ready) or the error
``Response`` the provider would give. ``fault_response`` is its answer to a fault switch.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from emulators.simulator.channels import SimulatedChannel
from emulators.simulator.faults import Fault
from emulators.simulator.outbox import SentContent
from emulators.simulator.routing import Request, Response
from shared.channels.phones import to_e164
from shared.models.events import Provider


@dataclass(frozen=True)
class SendAccepted:
    """A send request the provider would accept, with its message id and success answer."""

    channel: SimulatedChannel
    to: str
    """The recipient in E.164."""
    content: SentContent
    message_id: str
    response: Response
    request: Mapping[str, Any]
    status_callback: str | None = None
    """Where the provider posts this message's statuses when not the channel's webhook."""


class SendApi(Protocol):
    """The shape of a simulated provider's send module."""

    PROVIDER: Provider
    SEND_ROUTE: str

    def accept_send(
        self,
        request: Request,
        params: Mapping[str, str],
        channels: Sequence[SimulatedChannel],
        now: datetime,
    ) -> SendAccepted | Response: ...

    def fault_response(self, fault: Fault) -> Response: ...


def same_secret(expected: str | None, presented: str | None) -> bool:
    """Compare a presented credential with the expected one in constant time."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def retry_after(fault: Fault) -> dict[str, str]:
    """Return the ``Retry-After`` header of a rate-limit fault (whole seconds)."""
    return {"Retry-After": str(math.ceil(fault.delay_seconds))}


def recipient(raw: object) -> str | None:
    """Return a recipient (digits, ``+digits`` or a JID) as E.164, or None."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    local = text.partition("@")[0]
    if not local.lstrip("+").isdigit():
        return None
    return to_e164(text)


def text_field(document: Mapping[str, Any], key: str) -> str | None:
    """Return a non-empty string field, or None."""
    value = document.get(key)
    return value if isinstance(value, str) and value.strip() else None


def object_field(document: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """Return an object field, or None."""
    value = document.get(key)
    return value if isinstance(value, dict) else None


_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)", re.S)


@dataclass(frozen=True)
class InlineMedia:
    """Media sent as bytes in the request (base64 or a ``data:`` URI), not as a link."""

    content: bytes
    mime_type: str | None

    def describe(self, kind: str) -> dict[str, Any]:
        """Return the outbox's ``media`` record: what reached the phone, never the bytes."""
        described: dict[str, Any] = {"kind": kind, "bytes": len(self.content)}
        if self.mime_type:
            described["mime_type"] = self.mime_type
        if self.content.startswith(b"OggS"):
            described["container"] = "ogg"
        return described


def inline_media(value: str, *, data_uri: bool = True, plain: bool = True) -> InlineMedia | None:
    """Return the bytes of a ``data:<mime>;base64,...`` URI or of plain base64, else None."""
    match = _DATA_URI.fullmatch(value.strip())
    if match is not None:
        encoded, mime_type = match["data"], match["mime"].lower()
        if not data_uri:
            return None
    elif plain:
        encoded, mime_type = value, None
    else:
        return None
    try:
        content = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return InlineMedia(content, mime_type) if content else None


def is_link(value: str) -> bool:
    """Return whether ``value`` is an http(s) URL."""
    return value.startswith(("http://", "https://"))


@dataclass(frozen=True)
class FormPart:
    """One part of a ``multipart/form-data`` body."""

    name: str
    content: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        """Return the part as UTF-8 text (a plain form field)."""
        return self.content.decode("utf-8", "replace")


def multipart_form(content_type_header: str, body: bytes) -> dict[str, FormPart] | None:
    """Return the parts of a ``multipart/form-data`` body by field name, or None if it is not one.

    Byte-exact (no line-ending rewriting): the parts are cut at the boundary as RFC 7578 says.
    """
    media_type, _, parameters = content_type_header.partition(";")
    if media_type.strip().lower() != "multipart/form-data":
        return None
    boundary = _parameter(parameters, "boundary")
    if not boundary:
        return None
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        return None  # no closing delimiter
    parts: dict[str, FormPart] = {}
    for chunk in chunks[1:-1]:
        head, separator, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            return None
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        field_name = _parameter(disposition.partition(";")[2], "name")
        if not disposition.lower().startswith("form-data") or not field_name:
            return None
        parts.setdefault(
            field_name,
            FormPart(
                name=field_name,
                content=content.removesuffix(b"\r\n"),
                filename=_parameter(disposition.partition(";")[2], "filename"),
                content_type=headers.get("content-type"),
            ),
        )
    return parts


def _parameter(parameters: str, wanted: str) -> str | None:
    for item in parameters.split(";"):
        name, equals, value = item.partition("=")
        if equals and name.strip().lower() == wanted:
            return value.strip().strip('"')
    return None


def without_inline_media(
    document: Mapping[str, Any], key: str, content: SentContent
) -> Mapping[str, Any]:
    """Return the request body as the outbox keeps it: inline audio replaced by its size."""
    size = (content.media or {}).get("bytes")
    if size is None or key not in document:
        return document
    return {**document, key: f"<{size} bytes inline>"}
