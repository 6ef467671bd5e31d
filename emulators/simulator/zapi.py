"""The simulated Z-API: ``POST /instances/{id}/token/{instance_token}/send-…``.

An unknown instance is 404; a wrong instance token or a missing or wrong ``Client-Token``
header (the account security token) is 401; errors read ``{"error", "message"}``. Endpoints:
``send-text`` (``phone``, ``message``), ``send-image`` / ``send-audio`` / ``send-video`` (the
link, or the bytes as a ``data:`` URI, under the kind's name; ``send-audio`` also takes
``waveform``), ``send-document/{extension}`` (``document``, ``fileName``) and
``send-button-list`` (``message``, ``buttonList.buttons`` of ``{id, label}``) and
``send-option-list`` (``message``, ``optionList`` ``{title, buttonLabel, options: [{id, title,
description}]}``, up to ten options). Success is
``{"zaapId", "messageId", "id"}``.
"""

from __future__ import annotations

import secrets as random_tokens
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from emulators.simulator.channels import SimulatedChannel
from emulators.simulator.faults import Fault
from emulators.simulator.outbox import SentContent
from emulators.simulator.routing import BadRequest, Request, Response, json_response
from emulators.simulator.sends import (
    SendAccepted,
    inline_media,
    is_link,
    object_field,
    recipient,
    retry_after,
    same_secret,
    text_field,
    without_inline_media,
)
from shared.models.events import Provider
from shared.simulator.payloads import new_message_id

PROVIDER: Provider = "zapi"
SEND_ROUTE = r"/zapi/instances/(?P<instance_id>[^/]+)/token/(?P<token>[^/]+)/(?P<endpoint>.+)"

_MEDIA_ENDPOINTS = {"send-image": "image", "send-audio": "audio", "send-video": "video"}
_MAX_BUTTONS = 3
_MAX_OPTIONS = 10


def zapi_error(
    status: int, error: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """Return Z-API's error: ``{"error", "message"}``."""
    return json_response(status, {"error": error, "message": message}, headers)


def accept_send(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    now: datetime,
) -> SendAccepted | Response:
    """Authenticate and validate one ``send-…`` call."""
    instance_id = params["instance_id"]
    channel = next((c for c in channels if c.config_text("instance_id") == instance_id), None)
    if channel is None:
        return zapi_error(404, "Instance not found", f"instance {instance_id} does not exist")
    if not same_secret(channel.secret("instance_token"), params["token"]):
        return zapi_error(401, "Unauthorized", "the instance token does not match the instance")
    presented = request.header("client-token")
    if not presented:
        return zapi_error(401, "Unauthorized", "your client-token is not configured")
    if not same_secret(channel.secret("client_token"), presented):
        return zapi_error(401, "Unauthorized", "client-token is not valid")
    try:
        document = request.json_object()
    except BadRequest as error:
        return zapi_error(400, "Bad Request", str(error))
    phone = document.get("phone")
    to = recipient(str(phone)) if phone not in (None, "") else None
    if to is None:
        return zapi_error(400, "Bad Request", "phone is required and must be a phone number")
    content = _content(params["endpoint"], document)
    if isinstance(content, Response):
        return content
    message_id = new_message_id(PROVIDER, from_api=True)
    body = {
        "zaapId": random_tokens.token_hex(16).upper(),
        "messageId": message_id,
        "id": message_id,
    }
    return SendAccepted(
        channel=channel,
        to=to,
        content=content,
        message_id=message_id,
        response=json_response(200, body),
        request=without_inline_media(document, content.kind, content),
    )


def fault_response(fault: Fault) -> Response:
    """Return Z-API's answer for a fault switch (it has no 24-hour window)."""
    if fault.kind in ("rate_limit", "throughput"):
        headers = retry_after(fault) if fault.kind == "rate_limit" else None
        return zapi_error(429, "Too Many Requests", "rate limit exceeded, try again", headers)
    return zapi_error(503, "Service Unavailable", "simulated failure")


def _content(endpoint: str, document: dict[str, Any]) -> SentContent | Response:
    if endpoint == "send-text":
        text = text_field(document, "message")
        if text is None:
            return zapi_error(400, "Bad Request", "message is required")
        return SentContent(kind="text", text=text)
    if endpoint in _MEDIA_ENDPOINTS:
        return _media(_MEDIA_ENDPOINTS[endpoint], document)
    if endpoint.startswith("send-document/"):
        extension = endpoint.removeprefix("send-document/")
        if not extension.isalnum():
            return zapi_error(400, "Bad Request", "send-document needs the file extension")
        return _media("document", document, extension)
    if endpoint == "send-button-list":
        return _buttons(document)
    if endpoint == "send-option-list":
        return _option_list(document)
    return zapi_error(404, "Not Found", f"no endpoint {endpoint}")


def _media(
    kind: str, document: dict[str, Any], extension: str | None = None
) -> SentContent | Response:
    link = text_field(document, kind)
    if link is None:
        return zapi_error(400, "Bad Request", f"{kind} is required")
    caption = text_field(document, "caption")
    if caption is not None and kind == "audio":
        return zapi_error(400, "Bad Request", "audio takes no caption")
    waveform = document.get("waveform")
    if kind == "audio" and waveform is not None and not isinstance(waveform, bool):
        return zapi_error(400, "Bad Request", "waveform must be a boolean")
    described: dict[str, Any] = {"kind": kind, "url": link}
    if not is_link(link):
        inline = inline_media(link)
        if inline is None:
            return zapi_error(400, "Bad Request", f"{kind} must be a link or base64")
        described = inline.describe(kind)
    described.update(
        {
            "caption": caption,
            "filename": text_field(document, "fileName"),
            "extension": extension,
            "waveform": waveform if kind == "audio" else None,
        }
    )
    return SentContent(
        kind=kind,
        text=caption,
        media={key: value for key, value in described.items() if value is not None},
    )


def _buttons(document: dict[str, Any]) -> SentContent | Response:
    text = text_field(document, "message")
    buttons = (object_field(document, "buttonList") or {}).get("buttons")
    if text is None:
        return zapi_error(400, "Bad Request", "message is required")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= _MAX_BUTTONS:
        return zapi_error(400, "Bad Request", f"buttonList.buttons must hold 1 to {_MAX_BUTTONS}")
    found: list[dict[str, str]] = []
    for button in buttons:
        item = button if isinstance(button, dict) else {}
        button_id, label = text_field(item, "id"), text_field(item, "label")
        if button_id is None or label is None:
            return zapi_error(400, "Bad Request", "each button needs id and label")
        found.append({"id": button_id, "title": label})
    return SentContent(kind="buttons", text=text, buttons=tuple(found))


def _option_list(document: dict[str, Any]) -> SentContent | Response:
    text = text_field(document, "message")
    option_list = object_field(document, "optionList") or {}
    options = option_list.get("options")
    if text is None:
        return zapi_error(400, "Bad Request", "message is required")
    if text_field(option_list, "title") is None or text_field(option_list, "buttonLabel") is None:
        return zapi_error(400, "Bad Request", "optionList needs title and buttonLabel")
    if not isinstance(options, list) or not 1 <= len(options) <= _MAX_OPTIONS:
        return zapi_error(400, "Bad Request", f"optionList.options must hold 1 to {_MAX_OPTIONS}")
    found: list[dict[str, str]] = []
    for option in options:
        item = option if isinstance(option, dict) else {}
        title = text_field(item, "title")
        if title is None:
            return zapi_error(400, "Bad Request", "each option needs a title")
        row = {"id": text_field(item, "id") or str(len(found) + 1), "title": title}
        if text_field(item, "description"):
            row["description"] = item["description"]
        found.append(row)
    return SentContent(kind="list", text=text, buttons=tuple(found))
