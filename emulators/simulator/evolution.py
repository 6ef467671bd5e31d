"""The simulated Evolution API (v2): ``POST /message/{sendText|sendMedia|...}/{instance}``.

The ``apikey`` header must be the instance's key (401 ``{"status", "error", "response"}``
otherwise); an unknown instance is 404. ``sendText`` takes ``number`` and ``text``;
``sendMedia`` ``mediatype`` (image, video, document, audio) and ``media``;
``sendWhatsAppAudio`` ``audio`` (a voice note: a link, or plain base64 bytes; a ``data:`` URI is
refused as Evolution refuses it); ``sendButtons`` ``title`` and one to three
reply ``buttons``; ``sendList`` ``description`` (the text), ``buttonText``, ``footerText`` and
``sections`` of ``rows`` ``{title, description, rowId}`` (up to ten rows). Success is 201
with the sent message, ``status`` ``PENDING``.
"""

from __future__ import annotations

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
    recipient,
    retry_after,
    same_secret,
    text_field,
    without_inline_media,
)
from shared.models.events import Provider
from shared.simulator.payloads import instance_uuid, new_message_id

PROVIDER: Provider = "evolution"
SEND_ROUTE = r"/evolution/message/(?P<endpoint>[^/]+)/(?P<instance>[^/]+)"

_ENDPOINTS = ("sendText", "sendMedia", "sendWhatsAppAudio", "sendButtons", "sendList")
_MAX_LIST_ROWS = 10
_MEDIA_TYPES = ("image", "video", "document", "audio")
_MAX_BUTTONS = 3


def evolution_error(
    status: int, error: str, message: object, headers: Mapping[str, str] | None = None
) -> Response:
    """Return Evolution's error: ``{"status", "error", "response": {"message": ...}}``."""
    return json_response(
        status, {"status": status, "error": error, "response": {"message": message}}, headers
    )


def accept_send(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    now: datetime,
) -> SendAccepted | Response:
    """Authenticate and validate one ``/message/...`` call."""
    apikey = request.header("apikey")
    instance = params["instance"]
    channel = next((c for c in channels if c.config_text("instance") == instance), None)
    known_key = any(same_secret(c.secret("apikey"), apikey) for c in channels)
    if channel is None and known_key:
        return evolution_error(404, "Not Found", [f'The "{instance}" instance does not exist'])
    if channel is None or not same_secret(channel.secret("apikey"), apikey):
        return evolution_error(401, "Unauthorized", "Unauthorized")
    endpoint = params["endpoint"]
    if endpoint not in _ENDPOINTS:
        return evolution_error(404, "Not Found", [f"Cannot POST /message/{endpoint}/{instance}"])
    try:
        document = request.json_object()
    except BadRequest as error:
        return evolution_error(400, "Bad Request", [str(error)])
    number = document.get("number")
    if number in (None, ""):
        return evolution_error(400, "Bad Request", ['instance requires property "number"'])
    to = recipient(str(number))
    if to is None:
        jid = f"{number}@s.whatsapp.net"
        missing = {"jid": jid, "exists": False, "number": str(number)}
        return evolution_error(400, "Bad Request", [missing])
    read = _READERS[endpoint](document)
    if isinstance(read, str):
        return evolution_error(400, "Bad Request", [read])
    content, message, message_type = read
    message_id = new_message_id(PROVIDER, from_api=True)
    body = {
        "key": {"remoteJid": f"{to.lstrip('+')}@s.whatsapp.net", "fromMe": True, "id": message_id},
        "pushName": "",
        "status": "PENDING",
        "message": message,
        "messageType": message_type,
        "messageTimestamp": int(now.timestamp()),
        "instanceId": instance_uuid(instance),
        "source": "unknown",
    }
    return SendAccepted(
        channel=channel,
        to=to,
        content=content,
        message_id=message_id,
        response=json_response(201, body),
        request=without_inline_media(document, "audio", content),
    )


def fault_response(fault: Fault) -> Response:
    """Return Evolution's answer for a fault switch (it has no 24-hour window)."""
    if fault.kind in ("rate_limit", "throughput"):
        headers = retry_after(fault) if fault.kind == "rate_limit" else None
        return evolution_error(
            429, "Too Many Requests", ["Too many requests, please try again later."], headers
        )
    return evolution_error(500, "Internal Server Error", ["Simulated failure"])


_Read = tuple[SentContent, dict[str, Any], str] | str


def _send_text(document: dict[str, Any]) -> _Read:
    text = text_field(document, "text")
    if text is None:
        return 'instance requires property "text"'
    return SentContent(kind="text", text=text), {"conversation": text}, "conversation"


def _send_media(document: dict[str, Any]) -> _Read:
    kind = document.get("mediatype")
    if kind not in _MEDIA_TYPES:
        return f"mediatype must be one of {', '.join(_MEDIA_TYPES)}"
    media = text_field(document, "media")
    if media is None:
        return 'instance requires property "media"'
    caption = text_field(document, "caption")
    filename = text_field(document, "fileName")
    mime_type = text_field(document, "mimetype")
    described = {
        "kind": kind,
        "url": media,
        "caption": caption,
        "filename": filename,
        "mime_type": mime_type,
    }
    inner: dict[str, Any] = {"url": media, "mimetype": mime_type or _default_mime(kind)}
    if caption:
        inner["caption"] = caption
    if filename:
        inner["fileName"] = filename
    message_type = f"{kind}Message"
    return (
        SentContent(
            kind=str(kind),
            text=caption,
            media={key: value for key, value in described.items() if value is not None},
        ),
        {message_type: inner},
        message_type,
    )


def _send_audio(document: dict[str, Any]) -> _Read:
    audio = text_field(document, "audio")
    if audio is None:
        return 'instance requires property "audio"'
    encoding = document.get("encoding", True)
    if not isinstance(encoding, bool):
        return "encoding must be a boolean"
    if is_link(audio):
        media: dict[str, Any] = {"kind": "audio", "url": audio}
        inner: dict[str, Any] = {"url": audio}
    else:
        inline = inline_media(audio, data_uri=False)
        if inline is None:
            return "Owned media must be a url, base64, or valid file with buffer"
        media = inline.describe("audio")
        inner = {"fileLength": str(len(inline.content))}
    media["voice"] = True
    if "encoding" in document:
        media["encoding"] = encoding
    inner.update({"mimetype": "audio/ogg; codecs=opus", "ptt": True})
    content = SentContent(kind="audio", media=media)
    return content, {"audioMessage": inner}, "audioMessage"


def _send_buttons(document: dict[str, Any]) -> _Read:
    title = text_field(document, "title")
    if title is None:
        return 'instance requires property "title"'
    buttons = document.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= _MAX_BUTTONS:
        return f"buttons must hold 1 to {_MAX_BUTTONS} buttons"
    found: list[dict[str, str]] = []
    for button in buttons:
        item = button if isinstance(button, dict) else {}
        button_id, label = text_field(item, "id"), text_field(item, "displayText")
        if item.get("type") != "reply" or button_id is None or label is None:
            return "each button needs type reply, displayText and id"
        found.append({"id": button_id, "title": label})
    message = {
        "buttonsMessage": {
            "contentText": title,
            "footerText": document.get("footer") or document.get("description") or "",
            "buttons": [
                {"buttonId": b["id"], "buttonText": {"displayText": b["title"]}, "type": 1}
                for b in found
            ],
        }
    }
    return SentContent(kind="buttons", text=title, buttons=tuple(found)), message, "buttonsMessage"


def _send_list(document: dict[str, Any]) -> _Read:
    text = text_field(document, "description")
    button = text_field(document, "buttonText")
    sections = document.get("sections")
    if text is None:
        return 'instance requires property "description"'
    if button is None:
        return 'instance requires property "buttonText"'
    if not isinstance(sections, list) or not sections:
        return 'instance requires property "sections"'
    rows: list[dict[str, str]] = []
    for section in sections:
        section_rows = section.get("rows") if isinstance(section, dict) else None
        if not isinstance(section_rows, list) or not section_rows:
            return "each section needs rows"
        for row in section_rows:
            item = row if isinstance(row, dict) else {}
            row_id, title = text_field(item, "rowId"), text_field(item, "title")
            if row_id is None or title is None:
                return "each row needs title and rowId"
            found = {"id": row_id, "title": title}
            if text_field(item, "description"):
                found["description"] = item["description"]
            rows.append(found)
    if len(rows) > _MAX_LIST_ROWS:
        return f"a list holds at most {_MAX_LIST_ROWS} rows"
    message = {
        "listMessage": {
            "title": document.get("title") or "",
            "description": text,
            "buttonText": button,
            "footerText": document.get("footerText") or "",
            "listType": 1,
            "sections": sections,
        }
    }
    return SentContent(kind="list", text=text, buttons=tuple(rows)), message, "listMessage"


_READERS = {
    "sendText": _send_text,
    "sendMedia": _send_media,
    "sendWhatsAppAudio": _send_audio,
    "sendButtons": _send_buttons,
    "sendList": _send_list,
}


def _default_mime(kind: object) -> str:
    return {
        "image": "image/jpeg",
        "video": "video/mp4",
        "audio": "audio/ogg; codecs=opus",
    }.get(str(kind), "application/octet-stream")
