"""Where a Twilio WhatsApp webhook becomes canonical events.

Twilio POSTs ``application/x-www-form-urlencoded`` forms of two kinds: an incoming message
(``MessageSid``, ``From=whatsapp:+55...``, ``Body``, ``NumMedia``/``MediaUrl0``, ``ProfileName``,
``WaId``, ``Referral*`` for click-to-WhatsApp ads, ``Button*`` for quick replies) and a status
callback (``MessageStatus`` plus ``ErrorCode``). ``X-Twilio-Signature`` signs the public URL
Twilio called plus the sorted form fields with the account's auth token.

``send`` posts to the Messages API (``/2010-04-01/Accounts/{sid}/Messages.json``, basic auth
with the account SID and auth token): text, media by link, and templates by ContentSid. A voice
note as bytes is refused (``audio_unsupported``): Twilio fetches media from a public
``MediaUrl`` and Piloto keeps no files, so a voice reply goes out as its text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from twilio.request_validator import RequestValidator

from shared.channels.base import (
    PayloadRejected,
    SignatureRejected,
    WebhookRequest,
    message_event,
    optional_text,
    rejects_malformed,
    required_number,
    required_secret,
    status_event,
)
from shared.channels.phones import jid_user, to_e164
from shared.channels.sending import (
    DEFAULT_RETRY_POLICY,
    OutboundAudio,
    OutboundList,
    OutboundMedia,
    OutboundRequest,
    OutboundTemplate,
    OutboundText,
    ProviderCall,
    ProviderError,
    RetryPolicy,
    SendResult,
    base_url,
    config_text,
    deliver,
    e164_recipient,
    error_by_status,
    json_body,
    sending_secret,
    unsupported,
)
from shared.models.channel import Channel
from shared.models.events import (
    AdReferral,
    ContactRef,
    ConversationEvent,
    DeliveryStatus,
    InteractiveReply,
    Location,
    Media,
    MessageContent,
    MessageType,
    StatusUpdate,
)

if TYPE_CHECKING:
    import httpx

SECRET_ROLES: tuple[str, ...] = ("auth_token",)

_STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}
_INBOUND_STATUSES = frozenset({"received", "receiving"})
_MEDIA_TYPES = {
    "image": MessageType.IMAGE,
    "audio": MessageType.AUDIO,
    "video": MessageType.VIDEO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
}
_REFERRAL_FIELDS = ("ReferralCtwaClid", "ReferralSourceId", "ReferralSourceUrl")
_FORM = "form"


def verify(request: WebhookRequest, channel: Channel, secrets: Mapping[str, str]) -> None:
    """Check ``X-Twilio-Signature`` over the configured public URL and the form fields."""
    auth_token = required_secret(secrets, "auth_token")
    signature = request.header("x-twilio-signature")
    if not signature:
        raise SignatureRejected("X-Twilio-Signature header is missing", missing=True)
    url = str(channel.config.get("webhook_url") or request.url)
    if not RequestValidator(auth_token).validate(url, request.form(), signature):
        raise SignatureRejected("X-Twilio-Signature does not match the URL and form")


@rejects_malformed
def parse(
    request: WebhookRequest, channel: Channel, received_at: datetime
) -> list[ConversationEvent]:
    """Return the lead message or status update one Twilio request carries."""
    form = request.form()
    message_id = form.get("MessageSid") or form.get("SmsMessageSid")
    if not message_id:
        raise PayloadRejected("MessageSid is missing")
    expected_account = channel.config.get("account_sid")
    if expected_account and form.get("AccountSid", expected_account) != expected_account:
        return []
    status = form.get("MessageStatus", "").strip().lower()
    if status and status not in _INBOUND_STATUSES:
        update = _status_update(form, message_id, status, channel, received_at)
        return [update] if update is not None else []
    contact = _contact(form.get("From", ""), form.get("WaId"), form.get("ProfileName"))
    if contact is None:
        raise PayloadRejected("From is missing")
    content = replace(
        _content(form),
        reply_to=optional_text(form, "OriginalRepliedMessageSid", _FORM),
        referral=_referral(form),
    )
    message = message_event(
        "twilio",
        channel,
        message_id=message_id,
        contact=contact,
        content=content,
        occurred_at=received_at,  # Twilio's form carries no timestamp
        received_at=received_at,
    )
    return [message]


def _contact(address: str, wa_id: str | None, profile_name: str | None) -> ContactRef | None:
    raw_id = wa_id or jid_user(address)
    if not raw_id:
        return None
    return ContactRef(
        phone=to_e164(address) or to_e164(raw_id),
        wa_id=raw_id,
        profile_name=profile_name or None,
    )


def _status_update(
    form: Mapping[str, str],
    message_id: str,
    status: str,
    channel: Channel,
    received_at: datetime,
) -> StatusUpdate | None:
    delivery = _STATUSES.get(status)  # queued, accepted, sending, scheduled, canceled: no news
    if delivery is None:
        return None
    contact = _contact(form.get("To", ""), None, None)
    if contact is None:
        raise PayloadRejected("To is missing")
    return status_event(
        "twilio",
        channel,
        message_id=message_id,
        status=delivery,
        contact=contact,
        occurred_at=received_at,
        received_at=received_at,
        error_code=optional_text(form, "ErrorCode", _FORM),
        error_title=optional_text(form, "ErrorMessage", _FORM),
    )


def _content(form: Mapping[str, str]) -> MessageContent:
    kind = form.get("MessageType", "").strip().lower() or _guess_type(form)
    body = optional_text(form, "Body", _FORM)
    if kind == "text":
        return MessageContent(message_type=MessageType.TEXT, text=body)
    if kind in _MEDIA_TYPES:
        media = Media(
            url=optional_text(form, "MediaUrl0", _FORM),
            mime_type=optional_text(form, "MediaContentType0", _FORM),
            caption=body,
        )
        return MessageContent(message_type=_MEDIA_TYPES[kind], media=media)
    if kind == "location":
        location = Location(
            latitude=required_number(form, "Latitude", _FORM),
            longitude=required_number(form, "Longitude", _FORM),
            name=optional_text(form, "Label", _FORM),
            address=optional_text(form, "Address", _FORM),
        )
        return MessageContent(message_type=MessageType.LOCATION, location=location)
    if kind in ("button", "interactive"):
        reply = InteractiveReply(
            kind="button",
            id=optional_text(form, "ButtonPayload", _FORM),
            title=optional_text(form, "ButtonText", _FORM),
        )
        return MessageContent(message_type=MessageType.INTERACTIVE_REPLY, interactive=reply)
    return MessageContent(message_type=MessageType.UNSUPPORTED, unsupported_type=kind)


def _guess_type(form: Mapping[str, str]) -> str:
    """Infer the message type when Twilio sends no ``MessageType``."""
    if form.get("Latitude"):
        return "location"
    if form.get("ButtonPayload") or form.get("ButtonText"):
        return "button"
    if _num_media(form) > 0:
        mime_type = form.get("MediaContentType0", "").lower()
        family = mime_type.partition("/")[0]
        return family if family in ("image", "audio", "video") else "document"
    return "text" if form.get("Body") else "unknown"


def _num_media(form: Mapping[str, str]) -> int:
    raw = form.get("NumMedia") or "0"
    if not (raw.isascii() and raw.isdigit()):
        raise PayloadRejected(f"NumMedia must be a whole number, got {raw!r}")
    return int(raw)


def _referral(form: Mapping[str, str]) -> AdReferral | None:
    if not any(form.get(name) for name in _REFERRAL_FIELDS):
        return None
    return AdReferral(
        ctwa_clid=optional_text(form, "ReferralCtwaClid", _FORM),
        source_id=optional_text(form, "ReferralSourceId", _FORM),
        source_url=optional_text(form, "ReferralSourceUrl", _FORM),
        source_type=optional_text(form, "ReferralSourceType", _FORM),
        headline=optional_text(form, "ReferralHeadline", _FORM),
        body=optional_text(form, "ReferralBody", _FORM),
        media_type=optional_text(form, "ReferralMediaType", _FORM)
        or optional_text(form, "ReferralMediaContentType", _FORM),
    )


# Sending. Error codes: https://www.twilio.com/docs/api/errors

TWILIO_BASE_URL = "https://api.twilio.com"
_THROUGHPUT_CODES = frozenset({20429})
_PERMANENT_CODES = frozenset({21211, 21408, 21610, 21614, 63016})  # 63016: outside the window


def send(
    client: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    to_phone: str,
    message: OutboundRequest,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> SendResult:
    """Send one message through the Messages API and return its ``SM...`` sid."""
    auth_token = sending_secret(secrets, "auth_token")
    account_sid = config_text(channel, "account_sid")
    form = {"To": f"whatsapp:{e164_recipient(to_phone)}", **_sender(channel)}
    form.update(_message_fields(message))
    call = ProviderCall(
        provider="twilio",
        channel_id=channel.channel_id,
        url=f"{base_url(channel, TWILIO_BASE_URL)}/2010-04-01/Accounts/{account_sid}/Messages.json",
        form=form,
        auth=(account_sid, auth_token),
    )
    return deliver(
        client,
        call,
        message_id_from=lambda body: body["sid"],
        error_from=_send_error,
        policy=policy,
    )


def _sender(channel: Channel) -> dict[str, str]:
    """Send from the channel's Messaging Service when configured, else from its number."""
    service = channel.config.get("messaging_service_sid")
    if service:
        return {"MessagingServiceSid": str(service)}
    business_phone = channel.business_phone or config_text(channel, "business_phone")
    return {"From": f"whatsapp:{e164_recipient(business_phone)}"}


def _message_fields(message: OutboundRequest) -> dict[str, str]:
    if isinstance(message, OutboundText):
        return {"Body": message.body}
    if isinstance(message, OutboundTemplate):
        # Twilio's WhatsApp templates are Content API items; their variables are numbered.
        variables = {str(index): value for index, value in enumerate(message.parameters, 1)}
        return {"ContentSid": message.name, "ContentVariables": json.dumps(variables)}
    if isinstance(message, OutboundMedia):
        return {"MediaUrl": message.url, **({"Body": message.caption} if message.caption else {})}
    if isinstance(message, OutboundAudio):
        raise unsupported("twilio", "audio")  # media only from a public MediaUrl; we keep no files
    if isinstance(message, OutboundList):
        raise unsupported("twilio", "list")  # list pickers need a Content API template
    raise unsupported("twilio", "buttons")  # quick replies need a Content API template


def _send_error(response: httpx.Response) -> ProviderError:
    """Read ``{"code", "message", "more_info", "status"}``."""
    document = json_body(response)
    code = document.get("code")
    reason = str(document.get("message") or response.reason_phrase)
    if isinstance(code, int) and code in _THROUGHPUT_CODES:
        return ProviderError(str(code), True, reason)
    if isinstance(code, int) and code in _PERMANENT_CODES:
        return ProviderError(str(code), False, reason)
    return error_by_status(response, str(code) if isinstance(code, int) else None, reason)
