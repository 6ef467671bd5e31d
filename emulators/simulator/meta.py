"""The simulated WhatsApp Cloud API: ``POST /{version}/{phone_number_id}/messages`` and
``/media`` (uploads).

Checks like Graph does: a Bearer access token (401, code 190, when it is not the number's),
the phone number id (400, code 100 subcode 33, when no such number), then the body:
``messaging_product`` = ``whatsapp``, ``to``, ``type`` (text, template, image, audio, video,
document, interactive button/list) with its object (400, code 100 or 131009); audio takes
``voice: true`` (a voice message). Errors are Graph error objects; success is
``{"messaging_product", "contacts", "messages": [{"id": wamid}]}``. An upload is
``multipart/form-data`` with ``messaging_product`` = ``whatsapp``, ``type`` and the ``file``
(supported type, within the size limit), answered ``{"id": media_id}``; the media can then be
sent by ``id``.
"""

from __future__ import annotations

import re
import secrets as random_tokens
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulators.simulator.channels import SimulatedChannel
from emulators.simulator.faults import Fault
from emulators.simulator.outbox import SentContent
from emulators.simulator.routing import BadRequest, Request, Response, json_response
from emulators.simulator.sends import (
    SendAccepted,
    multipart_form,
    object_field,
    recipient,
    retry_after,
    same_secret,
    text_field,
)
from shared.models.events import Provider
from shared.simulator.payloads import new_message_id

PROVIDER: Provider = "meta"
SEND_ROUTE = r"/meta/(?P<version>[^/]+)/(?P<phone_number_id>[^/]+)/messages"
MEDIA_ROUTE = r"/meta/(?P<version>[^/]+)/(?P<media_id>[0-9]+)"
MEDIA_UPLOAD_ROUTE = r"/meta/(?P<version>[^/]+)/(?P<phone_number_id>[^/]+)/media"

_VERSION = re.compile(r"v\d+\.\d+")
_MEDIA_KINDS = ("image", "audio", "video", "document")
_TYPES = ("text", "template", "interactive", *_MEDIA_KINDS)
_MAX_TEXT = 4096
_MAX_BUTTONS = 3
_MAX_BUTTON_TITLE = 20
_MAX_INTERACTIVE_BODY = 1024
_MAX_LIST_ROWS = 10
_MAX_ROW_TITLE = 24
_MB = 1024 * 1024
_UPLOAD_LIMITS = {  # supported media types and their size limits (Cloud API media reference)
    "audio/aac": 16 * _MB,
    "audio/amr": 16 * _MB,
    "audio/mpeg": 16 * _MB,
    "audio/mp4": 16 * _MB,
    "audio/ogg": 16 * _MB,
    "image/jpeg": 5 * _MB,
    "image/png": 5 * _MB,
    "video/mp4": 16 * _MB,
    "video/3gpp": 16 * _MB,
    "application/pdf": 100 * _MB,
    "text/plain": 100 * _MB,
}


class _Invalid(Exception):
    def __init__(self, code: int, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    details: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return a Graph API error: ``{"error": {message, type, code, error_subcode?, ...}}``."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "A" + random_tokens.token_urlsafe(16)
    return json_response(status, {"error": error}, headers)


def bearer_token(request: Request) -> str | None:
    """Return the access token from ``Authorization: Bearer`` or the ``access_token`` query."""
    scheme, _, token = (request.header("authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query.get("access_token") or None


def token_rejected(token: str | None) -> Response:
    """Return Graph's answer to a missing or invalid access token."""
    if token is None:
        return graph_error(401, 104, "An access token is required to request this resource.")
    return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")


def accept_send(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    now: datetime,
) -> SendAccepted | Response:
    """Authenticate and validate one Graph ``/messages`` call."""
    channel = _number_channel(request, params, channels)
    if isinstance(channel, Response):
        return channel
    try:
        document = request.json_object()
        to, content = _validate(document)
    except BadRequest as error:
        return graph_error(400, 100, "(#100) Invalid parameter", details=str(error))
    except _Invalid as invalid:
        return graph_error(400, invalid.code, invalid.message, details=invalid.details)
    message_id = new_message_id(PROVIDER)
    sent: dict[str, Any] = {"id": message_id}
    if content.kind == "template":
        sent["message_status"] = "accepted"
    body = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": str(document["to"]), "wa_id": to.lstrip("+")}],
        "messages": [sent],
    }
    return SendAccepted(
        channel=channel,
        to=to,
        content=content,
        message_id=message_id,
        response=json_response(200, body),
        request=document,
    )


@dataclass(frozen=True)
class UploadAccepted:
    """A media upload Graph would accept: the bytes and their type, for the simulator to keep."""

    channel: SimulatedChannel
    mime_type: str
    content: bytes


def accept_upload(
    request: Request, params: Mapping[str, str], channels: Sequence[SimulatedChannel]
) -> UploadAccepted | Response:
    """Authenticate and validate one Graph ``/{phone_number_id}/media`` upload."""
    channel = _number_channel(request, params, channels)
    if isinstance(channel, Response):
        return channel
    form = multipart_form(request.header("content-type") or "", request.body)
    if form is None:
        return graph_error(400, 100, "(#100) The request must be multipart/form-data.")
    product = form.get("messaging_product")
    if product is None or product.text != "whatsapp":
        return graph_error(400, 100, "(#100) The parameter messaging_product is required.")
    upload = form.get("file")
    if upload is None or not upload.content:
        return graph_error(400, 100, "(#100) The parameter file is required.")
    declared = form.get("type")
    mime_type = (declared.text if declared else upload.content_type or "").split(";")[0].strip()
    limit = _UPLOAD_LIMITS.get(mime_type.lower())
    if limit is None:
        return graph_error(
            400, 131053, "(#131053) Media upload error", details=f"unsupported type {mime_type!r}"
        )
    if len(upload.content) > limit:
        return graph_error(
            400, 131053, "(#131053) Media upload error", details=f"larger than {limit} bytes"
        )
    return UploadAccepted(channel=channel, mime_type=mime_type.lower(), content=upload.content)


def _number_channel(
    request: Request, params: Mapping[str, str], channels: Sequence[SimulatedChannel]
) -> SimulatedChannel | Response:
    """Return the channel of ``phone_number_id`` if the Bearer token is its own, else Graph's no."""
    token = bearer_token(request)
    number_id = params["phone_number_id"]
    channel = next((c for c in channels if c.config_text("phone_number_id") == number_id), None)
    if channel is None:
        if any(same_secret(c.secret("access_token"), token) for c in channels):
            return graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{number_id}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
            )
        return token_rejected(token)
    if not same_secret(channel.secret("access_token"), token):
        return token_rejected(token)
    if not _VERSION.fullmatch(params["version"]):
        return graph_error(400, 2500, f"Unknown path components: /{params['version']}")
    return channel


def fault_response(fault: Fault) -> Response:
    """Return Graph's answer for a fault switch."""
    if fault.kind == "rate_limit":
        return graph_error(
            429,
            80007,
            "(#80007) Rate limit issues",
            details="The WhatsApp Business Account has reached its rate limit.",
            headers=retry_after(fault),
        )
    if fault.kind == "throughput":
        return graph_error(
            400,
            130429,
            "(#130429) Rate limit hit",
            details="Cloud API message throughput has been reached.",
        )
    if fault.kind == "window_closed":
        return graph_error(
            400,
            131047,
            "(#131047) Re-engagement message",
            details="Message failed to send because more than 24 hours have passed since the "
            "customer last replied to this number.",
        )
    return graph_error(500, 131000, "(#131000) Something went wrong", details="Simulated failure.")


def _validate(document: dict[str, Any]) -> tuple[str, SentContent]:
    product = document.get("messaging_product")
    if product is None:
        raise _Invalid(100, "(#100) The parameter messaging_product is required.")
    if product != "whatsapp":
        raise _Invalid(
            100, f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{product}".'
        )
    if document.get("recipient_type", "individual") not in ("individual", "group"):
        raise _Invalid(100, "(#100) Param recipient_type must be one of {INDIVIDUAL, GROUP}.")
    if document.get("to") in (None, ""):
        raise _Invalid(100, "(#100) The parameter to is required.")
    to = recipient(str(document["to"]))
    if to is None:
        raise _Invalid(
            100, "(#100) Invalid parameter", f"to is not a phone number: {document['to']!r}"
        )
    kind = document.get("type", "text")
    if kind not in _TYPES:
        names = ", ".join(name.upper() for name in sorted(_TYPES))
        raise _Invalid(100, f'(#100) Param type must be one of {{{names}}} - got "{kind}".')
    payload = object_field(document, kind)
    if payload is None:
        raise _Invalid(100, f"(#100) The parameter {kind} is required.")
    if kind == "text":
        return to, _text(payload)
    if kind == "template":
        return to, _template(payload)
    if kind == "interactive":
        return to, _interactive(payload)
    return to, _media(kind, payload)


def _text(text: dict[str, Any]) -> SentContent:
    body = text_field(text, "body")
    if body is None:
        raise _Invalid(100, "(#100) The parameter text['body'] is required.")
    if len(body) > _MAX_TEXT:
        raise _Invalid(
            100, f"(#100) Param text['body'] must be at most {_MAX_TEXT} characters long."
        )
    return SentContent(kind="text", text=body)


def _template(template: dict[str, Any]) -> SentContent:
    name = text_field(template, "name")
    if name is None:
        raise _Invalid(100, "(#100) The parameter template['name'] is required.")
    language = object_field(template, "language") or {}
    code = text_field(language, "code")
    if code is None:
        raise _Invalid(100, "(#100) The parameter template['language']['code'] is required.")
    parameters: list[str] = []
    components = template.get("components", [])
    if not isinstance(components, list):
        raise _Invalid(100, "(#100) Param template['components'] must be an array.")
    for component in components:
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            raise _Invalid(
                131009, "(#131009) Parameter value is not valid", "component needs a type"
            )
        for parameter in component.get("parameters") or []:
            if not isinstance(parameter, dict) or "type" not in parameter:
                raise _Invalid(
                    131009, "(#131009) Parameter value is not valid", "parameter needs a type"
                )
            if component["type"] == "body" and parameter["type"] == "text":
                if not isinstance(parameter.get("text"), str):
                    raise _Invalid(
                        131008, "(#131008) Required parameter is missing", "text parameter"
                    )
                parameters.append(parameter["text"])
    return SentContent(
        kind="template",
        template={"name": name, "language": code, "parameters": parameters},
    )


def _media(kind: str, media: dict[str, Any]) -> SentContent:
    link, media_id = text_field(media, "link"), text_field(media, "id")
    if link is None and media_id is None:
        raise _Invalid(100, f"(#100) Param {kind} must have either 'id' or 'link'.")
    if link is not None and not link.startswith(("http://", "https://")):
        raise _Invalid(100, "(#100) Invalid parameter", f"{kind}['link'] is not an http(s) URL")
    caption = text_field(media, "caption")
    if caption is not None and kind == "audio":
        raise _Invalid(100, "(#100) Param audio['caption'] is not a valid parameter.")
    filename = text_field(media, "filename")
    if filename is not None and kind != "document":
        raise _Invalid(100, f"(#100) Param {kind}['filename'] is not a valid parameter.")
    voice = media.get("voice")
    if voice is not None and (kind != "audio" or not isinstance(voice, bool)):
        raise _Invalid(100, f"(#100) Param {kind}['voice'] is not a valid parameter.")
    described = {
        "kind": kind,
        "url": link,
        "id": media_id,
        "caption": caption,
        "filename": filename,
        "voice": voice,
    }
    return SentContent(
        kind=kind,
        text=caption,
        media={key: value for key, value in described.items() if value is not None},
    )


def _interactive(interactive: dict[str, Any]) -> SentContent:
    kind = interactive.get("type")
    body = text_field(object_field(interactive, "body") or {}, "text")
    if kind not in ("button", "list"):
        raise _Invalid(100, '(#100) Param interactive["type"] must be one of {BUTTON, LIST}.')
    if body is None:
        raise _Invalid(131009, "(#131009) Parameter value is not valid", "body.text is required")
    action = object_field(interactive, "action") or {}
    if kind == "button":
        return SentContent(kind="buttons", text=body, buttons=_reply_buttons(action))
    if len(body) > _MAX_INTERACTIVE_BODY:
        raise _Invalid(
            131009,
            "(#131009) Parameter value is not valid",
            f"body.text is longer than {_MAX_INTERACTIVE_BODY} characters",
        )
    return SentContent(kind="list", text=body, buttons=_list_rows(action))


def _list_rows(action: dict[str, Any]) -> tuple[dict[str, str], ...]:
    """Check a list's button and sections as the Cloud API does; return its rows."""
    sections = action.get("sections")
    button = text_field(action, "button")
    if button is None or not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise _Invalid(
            131009,
            "(#131009) Parameter value is not valid",
            "a list needs action.button and 1 to 10 sections",
        )
    if len(button) > _MAX_BUTTON_TITLE:
        raise _Invalid(
            131009,
            "(#131009) Parameter value is not valid",
            f"action.button is longer than {_MAX_BUTTON_TITLE} characters",
        )
    rows: list[dict[str, str]] = []
    for section in sections:
        section_rows = section.get("rows") if isinstance(section, dict) else None
        if not isinstance(section_rows, list) or not section_rows:
            raise _Invalid(131009, "(#131009) Parameter value is not valid", "empty section")
        if len(sections) > 1 and not text_field(section, "title"):
            raise _Invalid(
                131009,
                "(#131009) Parameter value is not valid",
                "sections need a title when there are several",
            )
        for row in section_rows:
            if (
                not isinstance(row, dict)
                or not text_field(row, "id")
                or not text_field(row, "title")
            ):
                raise _Invalid(
                    131009, "(#131009) Parameter value is not valid", "rows need id and title"
                )
            if len(row["title"]) > _MAX_ROW_TITLE or len(row.get("description") or "") > 72:
                raise _Invalid(
                    131009,
                    "(#131009) Parameter value is not valid",
                    f"row title over {_MAX_ROW_TITLE} or description over 72 characters",
                )
            found = {"id": row["id"], "title": row["title"]}
            if text_field(row, "description"):
                found["description"] = row["description"]
            rows.append(found)
    if len(rows) > _MAX_LIST_ROWS:
        raise _Invalid(
            131009,
            "(#131009) Parameter value is not valid",
            f"a list holds at most {_MAX_LIST_ROWS} rows",
        )
    if len({row["id"] for row in rows}) != len(rows):
        raise _Invalid(131009, "(#131009) Parameter value is not valid", "row ids repeat")
    return tuple(rows)


def _reply_buttons(action: dict[str, Any]) -> tuple[dict[str, str], ...]:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= _MAX_BUTTONS:
        raise _Invalid(
            131009,
            "(#131009) Parameter value is not valid",
            f"action.buttons must hold 1 to {_MAX_BUTTONS} buttons",
        )
    found: list[dict[str, str]] = []
    for button in buttons:
        item = button if isinstance(button, dict) else {}
        reply = object_field(item, "reply") or {}
        button_id, title = text_field(reply, "id"), text_field(reply, "title")
        if item.get("type") != "reply" or button_id is None or title is None:
            raise _Invalid(
                131009,
                "(#131009) Parameter value is not valid",
                "buttons need type reply, id, title",
            )
        if len(title) > _MAX_BUTTON_TITLE:
            raise _Invalid(
                131009,
                "(#131009) Parameter value is not valid",
                f"button title is longer than {_MAX_BUTTON_TITLE} characters",
            )
        found.append({"id": button_id, "title": title})
    if len({button["title"] for button in found}) != len(found):
        raise _Invalid(131009, "(#131009) Parameter value is not valid", "button titles repeat")
    return tuple(found)
