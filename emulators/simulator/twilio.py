"""The simulated Twilio Messages API: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

HTTP basic auth with the account SID and auth token (401, code 20003, otherwise); a form with
``To`` (``whatsapp:+E164``), ``From`` (the channel's WhatsApp sender) or
``MessagingServiceSid``, and ``Body``, ``MediaUrl`` or ``ContentSid`` (+ ``ContentVariables``).
Errors are ``{"code", "message", "more_info", "status"}``; success is 201 with the Message
resource (``sid`` ``SM…``, ``MM…`` with media; status ``queued``, ``accepted`` through a
Messaging Service). A ``StatusCallback`` field sends the statuses there, as Twilio does.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from emulators.simulator.channels import SimulatedChannel
from emulators.simulator.faults import Fault
from emulators.simulator.outbox import SentContent
from emulators.simulator.routing import Request, Response, json_response
from emulators.simulator.sends import SendAccepted, recipient, retry_after, same_secret
from shared.models.events import Provider
from shared.simulator.payloads import new_message_id

PROVIDER: Provider = "twilio"
SEND_ROUTE = r"/twilio/2010-04-01/Accounts/(?P<account_sid>[^/]+)/Messages\.json"

_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_MAX_BODY = 1600


def twilio_error(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """Return Twilio's REST error: ``{"code", "message", "more_info", "status"}``."""
    document = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return json_response(status, document, headers)


def accept_send(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    now: datetime,
) -> SendAccepted | Response:
    """Authenticate and validate one Messages API call."""
    account_sid = params["account_sid"]
    account = [c for c in channels if c.config_text("account_sid") == account_sid]
    user, password = _basic_auth(request)
    if user != account_sid or not any(
        same_secret(c.secret("auth_token"), password) for c in account
    ):
        return twilio_error(
            401,
            20003,
            "Authentication Error - invalid username",
            {"WWW-Authenticate": 'Basic realm="Twilio API"'},
        )
    form = request.form()
    to_field = form.get("To", "")
    if not to_field:
        return twilio_error(400, 21604, "A 'To' phone number is required.")
    to = recipient(to_field.removeprefix("whatsapp:")) if to_field.startswith("whatsapp:") else None
    if to is None:
        return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to_field}")
    channel_or_error = _sender_channel(form, account)
    if isinstance(channel_or_error, Response):
        return channel_or_error
    channel = channel_or_error
    content = _content(form)
    if isinstance(content, Response):
        return content
    message_id = new_message_id(PROVIDER, media=content.media is not None)
    body = _message_resource(form, account_sid, message_id, content, now)
    return SendAccepted(
        channel=channel,
        to=to,
        content=content,
        message_id=message_id,
        response=json_response(201, body),
        request=form,
        status_callback=form.get("StatusCallback") or None,
    )


def fault_response(fault: Fault) -> Response:
    """Return Twilio's answer for a fault switch."""
    if fault.kind == "rate_limit":
        return twilio_error(429, 20429, "Too Many Requests", retry_after(fault))
    if fault.kind == "throughput":
        return twilio_error(429, 20429, "Too Many Requests: message throughput exceeded")
    if fault.kind == "window_closed":
        return twilio_error(
            400,
            63016,
            "Failed to send freeform message because you are outside the allowed window. "
            "If you are using WhatsApp, please use a Message Template.",
        )
    return twilio_error(503, 20503, "Service Unavailable")


def _basic_auth(request: Request) -> tuple[str | None, str | None]:
    scheme, _, encoded = (request.header("authorization") or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, separator, password = decoded.partition(":")
    return (user, password) if separator else (None, None)


def _sender_channel(
    form: Mapping[str, str], account: Sequence[SimulatedChannel]
) -> SimulatedChannel | Response:
    service = form.get("MessagingServiceSid")
    if service:
        found = next(
            (c for c in account if c.config_text("messaging_service_sid") == service), None
        )
        if found is None:
            return twilio_error(400, 21705, f"The Messaging Service Sid {service} is invalid.")
        return found
    sender = form.get("From", "")
    if not sender:
        return twilio_error(400, 21603, "A 'From' phone number is required.")
    if not sender.startswith("whatsapp:"):
        return twilio_error(
            400, 21910, "Invalid From and To pair. From and To should be of the same channel."
        )
    phone = recipient(sender.removeprefix("whatsapp:"))
    for channel in account:
        business = channel.channel.business_phone or channel.config_text("business_phone")
        if phone is not None and business and recipient(business) == phone:
            return channel
    return twilio_error(
        400, 63007, "Twilio could not find a Channel with the specified From address"
    )


def _content(form: Mapping[str, str]) -> SentContent | Response:
    body = form.get("Body") or None
    if body is not None and len(body) > _MAX_BODY:
        return twilio_error(
            400, 21617, "The concatenated message body exceeds the 1600 character limit."
        )
    content_sid = form.get("ContentSid")
    if content_sid:
        if not _CONTENT_SID.fullmatch(content_sid):
            return twilio_error(400, 21655, "The ContentSid is Invalid.")
        try:
            variables = json.loads(form.get("ContentVariables") or "{}")
        except ValueError:
            variables = None
        if not isinstance(variables, dict) or not all(
            isinstance(value, str) for value in variables.values()
        ):
            return twilio_error(400, 21656, "The ContentVariables Parameter is invalid.")
        ordered = [variables[key] for key in sorted(variables, key=_variable_order)]
        template = {"name": content_sid, "language": None, "parameters": ordered}
        return SentContent(kind="template", template=template)
    media_url = form.get("MediaUrl")
    if media_url:
        if not media_url.startswith(("http://", "https://")):
            return twilio_error(400, 21620, f"Invalid media URL(s): {media_url}")
        kind = _media_kind(media_url)
        return SentContent(
            kind=kind,
            text=body,
            media={"kind": kind, "url": media_url, **({"caption": body} if body else {})},
        )
    if body is None:
        return twilio_error(400, 21602, "Message body is required.")
    return SentContent(kind="text", text=body)


def _variable_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1 << 30, key)


def _media_kind(url: str) -> str:
    """Guess what a media link holds from its extension (Twilio reads the Content-Type)."""
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    family = (guessed or "").partition("/")[0]
    return family if family in ("image", "audio", "video") else "document"


def _message_resource(
    form: Mapping[str, str],
    account_sid: str,
    sid: str,
    content: SentContent,
    now: datetime,
) -> dict[str, Any]:
    stamp = now.strftime("%a, %d %b %Y %H:%M:%S +0000")
    service = form.get("MessagingServiceSid") or None
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": stamp,
        "date_sent": None,
        "date_updated": stamp,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": None if service else form.get("From"),
        "messaging_service_sid": service,
        "num_media": "1" if content.media else "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if service else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form.get("To"),
        "uri": f"{uri}.json",
    }
