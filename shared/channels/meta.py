"""Where a WhatsApp Cloud API (Meta) webhook becomes canonical events.

Meta signs the raw body with the app secret (``X-Hub-Signature-256: sha256=<hex>``) and POSTs
``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
"value": {...}}]}]}``. One request can batch several contacts, messages and statuses; each
message is matched to its contact by ``wa_id`` (or BSUID ``user_id``), never by position.
Subscribing the URL is the GET handshake answered by ``answer_challenge``.

``send`` posts to the Graph API ``/{version}/{phone_number_id}/messages`` with the channel's
access token: text, approved templates, media by link, reply buttons and interactive lists
(``{"type": "list", "body", "action": {"button", "sections": [{"title"?, "rows": [{"id",
"title", "description"?}]}]}}``). A voice note (bytes)
is first uploaded to ``/{version}/{phone_number_id}/media`` (multipart) and then sent by the
media id it gets, as ``{"type": "audio", "audio": {"id", "voice": true}}``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.channels.base import (
    PayloadRejected,
    SignatureRejected,
    WebhookRequest,
    flag,
    message_event,
    objects_in,
    optional_code,
    optional_object,
    optional_text,
    rejects_malformed,
    required_number,
    required_object,
    required_secret,
    required_text,
    same_secret,
    status_event,
    timestamp_from,
)
from shared.channels.phones import to_e164
from shared.channels.sending import (
    DEFAULT_RETRY_POLICY,
    OutboundAudio,
    OutboundButtons,
    OutboundList,
    OutboundMedia,
    OutboundRequest,
    OutboundTemplate,
    OutboundText,
    ProviderCall,
    ProviderError,
    RetryPolicy,
    SendFailed,
    SendResult,
    base_url,
    config_text,
    deliver,
    digits_recipient,
    error_by_status,
    json_body,
    sending_secret,
)
from shared.models.channel import Channel
from shared.models.events import (
    AdReferral,
    ContactRef,
    ConversationEvent,
    DeliveryStatus,
    InteractiveReply,
    LeadMessage,
    Location,
    Media,
    MessageContent,
    MessageType,
    Reaction,
    SellerMessage,
    SharedContact,
    StatusUpdate,
)
from shared.secrets import SecretUnavailable

if TYPE_CHECKING:
    import httpx

SECRET_ROLES: tuple[str, ...] = ("app_secret",)

_SIGNATURE_HEADER = "x-hub-signature-256"
_MEDIA_TYPES = {
    "image": MessageType.IMAGE,
    "audio": MessageType.AUDIO,
    "video": MessageType.VIDEO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
}
_STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "played": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}


def answer_challenge(query: Mapping[str, str], verify_token: str) -> str:
    """Return ``hub.challenge`` when Meta's subscription handshake carries our verify token."""
    if not verify_token:
        raise SecretUnavailable("verify_token was not resolved for this channel")
    mode = query.get("hub.mode", "")
    token = query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    if not (mode and token and challenge):
        raise SignatureRejected(
            "hub.mode, hub.verify_token and hub.challenge are required", missing=True
        )
    if not same_secret(verify_token, token):
        raise SignatureRejected("hub.verify_token does not match")
    if mode != "subscribe":
        raise PayloadRejected(f"hub.mode must be subscribe, got {mode!r}")
    return challenge


def verify(request: WebhookRequest, channel: Channel, secrets: Mapping[str, str]) -> None:
    """Check ``X-Hub-Signature-256`` against HMAC-SHA256(app secret, raw body)."""
    app_secret = required_secret(secrets, "app_secret")
    header = request.header(_SIGNATURE_HEADER)
    if not header:
        raise SignatureRejected("X-Hub-Signature-256 header is missing", missing=True)
    scheme, _, presented = header.strip().partition("=")
    if scheme.lower() != "sha256" or not presented:
        raise SignatureRejected("X-Hub-Signature-256 must read sha256=<hex digest>")
    expected = hmac.new(app_secret.encode("utf-8"), request.body, hashlib.sha256).hexdigest()
    if not same_secret(expected, presented.lower()):
        raise SignatureRejected("X-Hub-Signature-256 does not match the body")


@rejects_malformed
def parse(
    request: WebhookRequest, channel: Channel, received_at: datetime
) -> list[ConversationEvent]:
    """Return the lead messages and status updates in one Meta webhook request."""
    document = request.json_object()
    if document.get("object") != "whatsapp_business_account":
        raise PayloadRejected("object must be whatsapp_business_account")
    if not isinstance(document.get("entry"), list):
        raise PayloadRejected("entry must be a list")
    events: list[ConversationEvent] = []
    for entry_path, entry in objects_in(document, "entry", "body"):
        for change_path, change in objects_in(entry, "changes", entry_path):
            if required_text(change, "field", change_path) != "messages":
                continue
            value = required_object(change, "value", change_path)
            events.extend(_events_in_value(value, f"{change_path}.value", channel, received_at))
    return events


def _events_in_value(
    value: dict[str, Any], where: str, channel: Channel, received_at: datetime
) -> list[ConversationEvent]:
    metadata = optional_object(value, "metadata", where) or {}
    expected_number = channel.config.get("phone_number_id")
    number = optional_code(metadata, "phone_number_id", f"{where}.metadata")
    if expected_number and number != str(expected_number):
        return []
    contacts = _contacts_by_id(value, where)
    events: list[ConversationEvent] = []
    for path, message in objects_in(value, "messages", where):
        events.append(_message(message, path, contacts, channel, received_at))
    for path, status in objects_in(value, "statuses", where):
        update = _status_update(status, path, channel, received_at)
        if update is not None:
            events.append(update)
    return events


def _contacts_by_id(value: dict[str, Any], where: str) -> dict[str, ContactRef]:
    """Index the batch's contacts by ``wa_id`` and by BSUID ``user_id``."""
    contacts: dict[str, ContactRef] = {}
    for path, contact in objects_in(value, "contacts", where):
        wa_id = optional_code(contact, "wa_id", path)
        user_id = optional_text(contact, "user_id", path)
        profile = optional_object(contact, "profile", path) or {}
        reference = _contact(wa_id, user_id, optional_text(profile, "name", f"{path}.profile"))
        for key in (wa_id, user_id):
            if key:
                contacts[key] = reference
    return contacts


def _contact(wa_id: str | None, user_id: str | None, profile_name: str | None) -> ContactRef:
    # A username-only user has no phone: the BSUID then stands in as the raw id.
    return ContactRef(
        phone=to_e164(wa_id) if wa_id else None,
        wa_id=wa_id or user_id,
        profile_name=profile_name,
    )


def _message(
    message: dict[str, Any],
    where: str,
    contacts: Mapping[str, ContactRef],
    channel: Channel,
    received_at: datetime,
) -> LeadMessage | SellerMessage:
    message_id = required_text(message, "id", where)
    sender = optional_code(message, "from", where)
    sender_user_id = optional_text(message, "from_user_id", where)
    if not (sender or sender_user_id):
        raise PayloadRejected(f"{where}.from is missing")
    contact = contacts.get(sender or "") or contacts.get(sender_user_id or "")
    if contact is None:
        contact = _contact(sender, sender_user_id, None)
    context = optional_object(message, "context", where) or {}
    content = replace(
        _content(message, where),
        reply_to=optional_text(context, "id", f"{where}.context"),
        referral=_referral(optional_object(message, "referral", where), where),
    )
    return message_event(
        "meta",
        channel,
        message_id=message_id,
        contact=contact,
        content=content,
        occurred_at=timestamp_from(message.get("timestamp"), f"{where}.timestamp"),
        received_at=received_at,
    )


def _content(message: dict[str, Any], where: str) -> MessageContent:
    kind = required_text(message, "type", where)
    if kind == "text":
        text = required_object(message, "text", where)
        return MessageContent(
            message_type=MessageType.TEXT, text=optional_text(text, "body", f"{where}.text")
        )
    if kind in _MEDIA_TYPES:
        return MessageContent(
            message_type=_MEDIA_TYPES[kind],
            media=_media(required_object(message, kind, where), f"{where}.{kind}"),
        )
    if kind == "location":
        return MessageContent(
            message_type=MessageType.LOCATION,
            location=_location(required_object(message, "location", where), f"{where}.location"),
        )
    if kind == "contacts":
        cards = tuple(
            _shared_contact(card, path) for path, card in objects_in(message, kind, where)
        )
        return MessageContent(message_type=MessageType.CONTACTS, contacts=cards)
    if kind == "interactive":
        return _interactive(required_object(message, "interactive", where), f"{where}.interactive")
    if kind == "button":
        button = required_object(message, "button", where)
        reply = InteractiveReply(
            kind="button",
            id=optional_text(button, "payload", f"{where}.button"),
            title=optional_text(button, "text", f"{where}.button"),
        )
        return MessageContent(message_type=MessageType.INTERACTIVE_REPLY, interactive=reply)
    if kind == "reaction":
        reaction = required_object(message, "reaction", where)
        return MessageContent(
            message_type=MessageType.REACTION,
            reaction=Reaction(
                emoji=optional_text(reaction, "emoji", f"{where}.reaction") or "",
                message_id=optional_text(reaction, "message_id", f"{where}.reaction"),
            ),
        )
    unsupported = optional_object(message, "unsupported", where) or {}
    name = optional_text(unsupported, "type", f"{where}.unsupported")
    return MessageContent(
        message_type=MessageType.UNSUPPORTED,
        unsupported_type=f"{kind}:{name}" if name else kind,
    )


def _media(media: dict[str, Any], where: str) -> Media:
    return Media(
        provider_media_id=optional_code(media, "id", where),
        url=optional_text(media, "url", where),
        mime_type=optional_text(media, "mime_type", where),
        sha256=optional_text(media, "sha256", where),
        filename=optional_text(media, "filename", where),
        caption=optional_text(media, "caption", where),
        voice=flag(media, "voice", where),
    )


def _location(location: dict[str, Any], where: str) -> Location:
    return Location(
        latitude=required_number(location, "latitude", where),
        longitude=required_number(location, "longitude", where),
        name=optional_text(location, "name", where),
        address=optional_text(location, "address", where),
        url=optional_text(location, "url", where),
    )


def _shared_contact(card: dict[str, Any], where: str) -> SharedContact:
    name = optional_object(card, "name", where) or {}
    phones: list[str] = []
    for path, phone in objects_in(card, "phones", where):
        raw = optional_code(phone, "wa_id", path) or optional_text(phone, "phone", path)
        if raw:
            phones.append(to_e164(raw) or raw)
    return SharedContact(
        name=optional_text(name, "formatted_name", f"{where}.name"), phones=tuple(phones)
    )


def _interactive(interactive: dict[str, Any], where: str) -> MessageContent:
    kind = required_text(interactive, "type", where)
    if kind not in ("button_reply", "list_reply"):
        return MessageContent(
            message_type=MessageType.UNSUPPORTED, unsupported_type=f"interactive:{kind}"
        )
    reply = required_object(interactive, kind, where)
    path = f"{where}.{kind}"
    return MessageContent(
        message_type=MessageType.INTERACTIVE_REPLY,
        interactive=InteractiveReply(
            kind="button" if kind == "button_reply" else "list",
            id=optional_text(reply, "id", path),
            title=optional_text(reply, "title", path),
            description=optional_text(reply, "description", path),
        ),
    )


def _referral(referral: dict[str, Any] | None, where: str) -> AdReferral | None:
    if referral is None:
        return None
    path = f"{where}.referral"
    return AdReferral(
        ctwa_clid=optional_text(referral, "ctwa_clid", path),
        source_id=optional_code(referral, "source_id", path),
        source_url=optional_text(referral, "source_url", path),
        source_type=optional_text(referral, "source_type", path),
        headline=optional_text(referral, "headline", path),
        body=optional_text(referral, "body", path),
        media_type=optional_text(referral, "media_type", path),
    )


def _status_update(
    status: dict[str, Any], where: str, channel: Channel, received_at: datetime
) -> StatusUpdate | None:
    message_id = required_text(status, "id", where)
    delivery = _STATUSES.get(required_text(status, "status", where))
    if delivery is None or optional_text(status, "recipient_type", where) == "group":
        return None
    recipient = optional_code(status, "recipient_id", where)
    recipient_user_id = optional_text(status, "recipient_user_id", where)
    if not (recipient or recipient_user_id):
        raise PayloadRejected(f"{where}.recipient_id is missing")
    error = next((item for _, item in objects_in(status, "errors", where)), {})
    return status_event(
        "meta",
        channel,
        message_id=message_id,
        status=delivery,
        contact=_contact(recipient, recipient_user_id, None),
        occurred_at=timestamp_from(status.get("timestamp"), f"{where}.timestamp"),
        received_at=received_at,
        error_code=optional_code(error, "code", f"{where}.errors[0]"),
        error_title=optional_text(error, "title", f"{where}.errors[0]"),
    )


# Sending: Graph API /messages

META_BASE_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v21.0"
_THROUGHPUT_CODES = frozenset({4, 80007, 130429, 131056})  # app, account, number, pair limits
_PERMANENT_CODES = frozenset({100, 131009, 131026, 131047, 131051, 132000, 132001})


def send(
    client: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    to_phone: str,
    message: OutboundRequest,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> SendResult:
    """Send one message from the channel's number and return Meta's ``wamid``."""
    access_token = sending_secret(secrets, "access_token")
    phone_number_id = config_text(channel, "phone_number_id")
    version = config_text(channel, "graph_version", DEFAULT_GRAPH_VERSION)
    number_url = f"{base_url(channel, META_BASE_URL)}/{version}/{phone_number_id}"
    headers = {"Authorization": f"Bearer {access_token}"}
    recipient = digits_recipient(to_phone)
    if isinstance(message, OutboundAudio):
        media_id = _upload(client, channel, number_url, headers, message, policy)
        body = _audio_body(media_id, message)
    else:
        body = _message_body(message)
    call = ProviderCall(
        provider="meta",
        channel_id=channel.channel_id,
        url=f"{number_url}/messages",
        headers=headers,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient,
            **body,
        },
    )
    return deliver(
        client,
        call,
        message_id_from=lambda document: document["messages"][0]["id"],
        error_from=_send_error,
        policy=policy,
    )


def _upload(
    client: httpx.Client,
    channel: Channel,
    number_url: str,
    headers: Mapping[str, str],
    audio: OutboundAudio,
    policy: RetryPolicy,
) -> str:
    """Upload a voice note to ``/media`` and return its media id (nothing reaches the lead)."""
    call = ProviderCall(
        provider="meta",
        channel_id=channel.channel_id,
        url=f"{number_url}/media",
        headers=headers,
        form={"messaging_product": "whatsapp", "type": audio.base_mime_type},
        files={"file": ("voice.ogg", audio.content, audio.base_mime_type)},
    )
    try:
        return deliver(
            client,
            call,
            message_id_from=lambda document: document["id"],
            error_from=_send_error,
            policy=policy,
        ).provider_message_id
    except SendFailed as failure:
        raise SendFailed(
            f"uploading the voice note: {failure.reason}",
            code=failure.code,
            permanent=failure.permanent,
            attempts=failure.attempts,
            status=failure.status,
            nothing_sent=True,
        ) from failure


def _audio_body(media_id: str, audio: OutboundAudio) -> dict[str, Any]:
    audio_object: dict[str, Any] = {"id": media_id}
    if audio.voice:
        audio_object["voice"] = True
    return {"type": "audio", "audio": audio_object}


def _message_body(
    message: OutboundText | OutboundTemplate | OutboundMedia | OutboundButtons | OutboundList,
) -> dict[str, Any]:
    if isinstance(message, OutboundText):
        return {"type": "text", "text": {"preview_url": False, "body": message.body}}
    if isinstance(message, OutboundTemplate):
        template: dict[str, Any] = {"name": message.name, "language": {"code": message.language}}
        if message.parameters:
            parameters = [{"type": "text", "text": value} for value in message.parameters]
            template["components"] = [{"type": "body", "parameters": parameters}]
        return {"type": "template", "template": template}
    if isinstance(message, OutboundMedia):
        return {"type": message.kind, message.kind: _media_object(message)}
    if isinstance(message, OutboundList):
        return {"type": "interactive", "interactive": _list_object(message)}
    return {"type": "interactive", "interactive": _buttons_object(message)}


def _media_object(media: OutboundMedia) -> dict[str, str]:
    media_object = {"link": media.url}
    if media.caption and media.kind != "audio":
        media_object["caption"] = media.caption
    if media.filename and media.kind == "document":
        media_object["filename"] = media.filename
    return media_object


def _buttons_object(message: OutboundButtons) -> dict[str, Any]:
    interactive: dict[str, Any] = {
        "type": "button",
        "body": {"text": message.body},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": button.id, "title": button.title}}
                for button in message.buttons
            ]
        },
    }
    if message.footer:
        interactive["footer"] = {"text": message.footer}
    return interactive


def _list_object(message: OutboundList) -> dict[str, Any]:
    rows: list[dict[str, str]] = []
    for row in message.rows:
        item = {"id": row.id, "title": row.title}
        if row.description:
            item["description"] = row.description
        rows.append(item)
    section: dict[str, Any] = {"rows": rows}
    if message.section_title:
        section["title"] = message.section_title
    interactive: dict[str, Any] = {
        "type": "list",
        "body": {"text": message.body},
        "action": {"button": message.button, "sections": [section]},
    }
    if message.footer:
        interactive["footer"] = {"text": message.footer}
    return interactive


def _send_error(response: httpx.Response) -> ProviderError:
    """Read ``{"error": {"code", "message", "error_data", "fbtrace_id"}}``."""
    error = json_body(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    reason = str(error.get("message") or response.reason_phrase)
    if isinstance(code, int) and code in _THROUGHPUT_CODES:
        return ProviderError(str(code), True, reason)
    if isinstance(code, int) and code in _PERMANENT_CODES:
        return ProviderError(str(code), False, reason)
    return error_by_status(response, str(code) if isinstance(code, int) else None, reason)
