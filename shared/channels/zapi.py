"""Where a Z-API webhook becomes canonical events.

Z-API, a gateway over the WhatsApp Web protocol, POSTs one JSON object per event, told apart
by ``type``:

- ``ReceivedCallback``: a message. ``fromMe`` marks one the business's own phone sent (a human
  seller, ``SellerMessage``) unless ``fromApi`` says it is the echo of our own API send.
  Notifications (calls, group and payment notices) carry no content and become no event.
- ``MessageStatusCallback``: SENT / RECEIVED / READ / PLAYED for the messages in ``ids``.
- ``DeliveryCallback``: a message the business sent reached WhatsApp.
- ``ConnectedCallback`` / ``DisconnectedCallback``: the instance's connection.

Nothing is signed: the account security token arrives in the ``Client-Token`` header.
``momment`` is in milliseconds. ``phone`` may be WhatsApp's privacy id (``...@lid``), with the
stable ``chatLid`` beside it.

``send`` posts to ``/instances/{id}/token/{instance_token}/send-text`` (and ``send-image``,
``send-audio``, ``send-video``, ``send-document/{extension}``, ``send-button-list``,
``send-option-list`` with ``optionList: {title, buttonLabel, options: [{id, title,
description}]}``) with the ``Client-Token`` header. A voice note goes to ``send-audio``
inline, as a ``data:`` URI with ``waveform: true``. Templates are a Cloud API concept this
gateway does not have.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.channels.base import (
    PayloadRejected,
    SignatureRejected,
    WebhookRequest,
    body_fingerprint,
    connection_event,
    flag,
    json_type,
    message_event,
    optional_code,
    optional_object,
    optional_text,
    rejects_malformed,
    required_number,
    required_secret,
    required_text,
    same_secret,
    status_event,
    timestamp_from,
)
from shared.channels.phones import contact_from_identifiers, phones_from_vcard, to_e164
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
    unsupported,
)
from shared.models.channel import Channel
from shared.models.events import (
    AdReferral,
    ConnectionUpdate,
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

if TYPE_CHECKING:
    import httpx

SECRET_ROLES: tuple[str, ...] = ("client_token",)

_STATUSES = {  # READ_BY_ME is the business reading the lead's message: no news about ours
    "SENT": DeliveryStatus.SENT,
    "RECEIVED": DeliveryStatus.DELIVERED,
    "READ": DeliveryStatus.READ,
    "PLAYED": DeliveryStatus.READ,
}
_MEDIA = {
    "image": (MessageType.IMAGE, "imageUrl"),
    "audio": (MessageType.AUDIO, "audioUrl"),
    "video": (MessageType.VIDEO, "videoUrl"),
    "document": (MessageType.DOCUMENT, "documentUrl"),
    "sticker": (MessageType.STICKER, "stickerUrl"),
}
_UNSUPPORTED_CONTENT = (  # documented ReceivedCallback contents Piloto does not read
    "hydratedTemplate",
    "buttonsMessage",
    "carouselMessage",
    "pixKeyMessage",
    "poll",
    "pollVote",
    "product",
    "order",
    "reviewAndPay",
    "reviewOrder",
    "requestPayment",
    "sendPayment",
    "pinMessage",
    "event",
    "eventResponse",
    "newsletterAdminInvite",
    "statusImage",
)
_SKIPPED_CHAT_SUFFIXES = ("-group", "@g.us", "@broadcast", "@newsletter")
_BODY = "body"


def verify(request: WebhookRequest, channel: Channel, secrets: Mapping[str, str]) -> None:
    """Check the ``Client-Token`` header against the account security token."""
    client_token = required_secret(secrets, "client_token")
    presented = request.header("client-token")
    if not presented:
        raise SignatureRejected("Client-Token header is missing", missing=True)
    if not same_secret(client_token, presented):
        raise SignatureRejected("Client-Token does not match")


@rejects_malformed
def parse(
    request: WebhookRequest, channel: Channel, received_at: datetime
) -> list[ConversationEvent]:
    """Return the events in one Z-API webhook request (unknown callback types: none)."""
    document = request.json_object()
    kind = required_text(document, "type", _BODY).lower()
    instance = optional_text(document, "instanceId", _BODY)
    expected_instance = channel.config.get("instance_id")
    if expected_instance and instance and instance != expected_instance:
        return []
    if kind == "receivedcallback":
        message = _message_event(document, channel, received_at)
        return [message] if message is not None else []
    if kind == "messagestatuscallback":
        return list(_status_updates(document, channel, received_at))
    if kind == "deliverycallback":
        return [_delivery_update(document, channel, received_at)]
    if kind in ("connectedcallback", "disconnectedcallback"):
        connected = kind == "connectedcallback"
        return [_connection_update(document, connected, request.body, channel, received_at)]
    return []


def _message_event(
    document: dict[str, Any], channel: Channel, received_at: datetime
) -> LeadMessage | SellerMessage | None:
    message_id = required_text(document, "messageId", _BODY)
    phone = required_text(document, "phone", _BODY)
    if _is_skipped_chat(document, phone):
        return None
    from_me = flag(document, "fromMe", _BODY)
    if from_me and flag(document, "fromApi", _BODY):
        return None  # the echo of a message Piloto itself sent through the API
    content = _content(document)
    if content is None:
        return None
    profile_name = None
    if not from_me:  # on the business's own messages, senderName is the business
        profile_name = optional_text(document, "senderName", _BODY) or optional_text(
            document, "chatName", _BODY
        )
    return message_event(
        "zapi",
        channel,
        message_id=message_id,
        contact=_contact(document, phone, from_me, profile_name),
        content=replace(
            content,
            reply_to=optional_text(document, "referenceMessageId", _BODY),
            referral=_referral(optional_object(document, "externalAdReply", _BODY)),
        ),
        occurred_at=timestamp_from(document.get("momment"), "body.momment"),
        received_at=received_at,
        from_me=from_me,
    )


def _is_skipped_chat(document: dict[str, Any], phone: str) -> bool:
    """Return True for group chats, broadcasts and channels: never sales conversations."""
    return (
        flag(document, "isGroup", _BODY)
        or flag(document, "isNewsletter", _BODY)
        or phone.lower().endswith(_SKIPPED_CHAT_SUFFIXES)
    )


def _contact(
    document: dict[str, Any], phone: str, from_me: bool, profile_name: str | None
) -> ContactRef:
    # senderLid on the business's own messages is the business's id, not the contact's.
    sender_lid = None if from_me else optional_text(document, "senderLid", _BODY)
    identifiers = [phone, optional_text(document, "chatLid", _BODY), sender_lid]
    contact = contact_from_identifiers(identifiers, profile_name)
    if contact is None:
        raise PayloadRejected("body.phone names no contact")
    return contact


def _content(document: dict[str, Any]) -> MessageContent | None:
    text = optional_object(document, "text", _BODY)
    if text is not None:
        return MessageContent(
            message_type=MessageType.TEXT, text=optional_text(text, "message", "body.text")
        )
    for name, (message_type, url_key) in _MEDIA.items():
        media = optional_object(document, name, _BODY)
        if media is not None:
            return MessageContent(
                message_type=message_type, media=_media(media, f"body.{name}", url_key)
            )
    location = optional_object(document, "location", _BODY)
    if location is not None:
        return MessageContent(
            message_type=MessageType.LOCATION, location=_location(location, "body.location")
        )
    card = optional_object(document, "contact", _BODY)
    if card is not None:
        return MessageContent(
            message_type=MessageType.CONTACTS, contacts=(_shared_contact(card, "body.contact"),)
        )
    reply = _interactive_reply(document)
    if reply is not None:
        return MessageContent(message_type=MessageType.INTERACTIVE_REPLY, interactive=reply)
    reaction = optional_object(document, "reaction", _BODY)
    if reaction is not None:
        reacted = optional_object(reaction, "referencedMessage", "body.reaction") or {}
        return MessageContent(
            message_type=MessageType.REACTION,
            reaction=Reaction(
                emoji=optional_text(reaction, "value", "body.reaction") or "",
                message_id=optional_text(reacted, "messageId", "body.reaction.referencedMessage"),
            ),
        )
    unsupported = next((name for name in _UNSUPPORTED_CONTENT if document.get(name)), None)
    if unsupported is None and document.get("notification"):
        return None
    return MessageContent(
        message_type=MessageType.UNSUPPORTED, unsupported_type=unsupported or "unknown"
    )


def _media(media: dict[str, Any], where: str, url_key: str) -> Media:
    return Media(
        url=optional_text(media, url_key, where),
        mime_type=optional_text(media, "mimeType", where),
        filename=optional_text(media, "fileName", where),
        caption=optional_text(media, "caption", where),
        voice=flag(media, "ptt", where),
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
    listed = card.get("phones") or []
    if not isinstance(listed, list) or not all(isinstance(phone, str) for phone in listed):
        raise PayloadRejected(f"{where}.phones must be a list of strings, got {json_type(listed)}")
    phones = tuple(to_e164(phone) or phone for phone in listed if phone)
    return SharedContact(
        name=optional_text(card, "displayName", where),
        phones=phones or phones_from_vcard(optional_text(card, "vCard", where) or ""),
    )


def _interactive_reply(document: dict[str, Any]) -> InteractiveReply | None:
    button = optional_object(document, "buttonsResponseMessage", _BODY)
    if button is not None:
        where = "body.buttonsResponseMessage"
        return InteractiveReply(
            kind="button",
            id=optional_code(button, "buttonId", where),
            title=optional_text(button, "message", where),
        )
    listed = optional_object(document, "listResponseMessage", _BODY)
    if listed is not None:
        where = "body.listResponseMessage"
        return InteractiveReply(
            kind="list",
            id=optional_code(listed, "selectedRowId", where),
            title=optional_text(listed, "title", where),
            description=optional_text(listed, "message", where),
        )
    return None


def _referral(ad: dict[str, Any] | None) -> AdReferral | None:
    """Read click-to-WhatsApp attribution from ``externalAdReply``."""
    if ad is None or not (ad.get("sourceId") or ad.get("ctwaClid") or ad.get("sourceType")):
        return None
    where = "body.externalAdReply"
    return AdReferral(
        ctwa_clid=optional_text(ad, "ctwaClid", where),
        source_id=optional_code(ad, "sourceId", where),
        source_url=optional_text(ad, "sourceUrl", where),
        source_type=optional_text(ad, "sourceType", where),
        headline=optional_text(ad, "title", where),
        body=optional_text(ad, "body", where),
        media_type=optional_code(ad, "mediaType", where),
    )


def _status_updates(
    document: dict[str, Any], channel: Channel, received_at: datetime
) -> list[StatusUpdate]:
    delivery = _STATUSES.get(required_text(document, "status", _BODY).upper())
    if delivery is None or flag(document, "isGroup", _BODY):
        return []
    contact = _recipient(document)
    occurred_at = _moment(document, received_at)
    return [
        status_event(
            "zapi",
            channel,
            message_id=message_id,
            status=delivery,
            contact=contact,
            occurred_at=occurred_at,
            received_at=received_at,
        )
        for message_id in _status_ids(document)
    ]


def _status_ids(document: dict[str, Any]) -> list[str]:
    """Return the ids a status callback reports on (``ids``, or a single ``id``)."""
    ids = document.get("ids")
    if ids is None:
        return [required_text(document, "id", _BODY)]
    if not isinstance(ids, list) or not all(isinstance(item, str) and item for item in ids):
        raise PayloadRejected(f"body.ids must be a list of message ids, got {json_type(ids)}")
    return list(ids)


def _delivery_update(
    document: dict[str, Any], channel: Channel, received_at: datetime
) -> StatusUpdate:
    message_id = optional_text(document, "messageId", _BODY) or required_text(
        document, "zaapId", _BODY
    )
    return status_event(
        "zapi",
        channel,
        message_id=message_id,
        status=DeliveryStatus.SENT,
        contact=_recipient(document),
        occurred_at=_moment(document, received_at),
        received_at=received_at,
    )


def _recipient(document: dict[str, Any]) -> ContactRef:
    contact = contact_from_identifiers([required_text(document, "phone", _BODY)])
    if contact is None:
        raise PayloadRejected("body.phone names no contact")
    return contact


def _moment(document: dict[str, Any], received_at: datetime) -> datetime:
    """Return ``momment`` (milliseconds) when the callback carries it, else the arrival time."""
    if document.get("momment") is None:
        return received_at
    return timestamp_from(document["momment"], "body.momment")


def _connection_update(
    document: dict[str, Any],
    connected: bool,
    body: bytes,
    channel: Channel,
    received_at: datetime,
) -> ConnectionUpdate:
    return connection_event(
        "zapi",
        channel,
        state="connected" if connected else "disconnected",
        stamp=optional_code(document, "momment", _BODY) or body_fingerprint(body),
        occurred_at=_moment(document, received_at),
        received_at=received_at,
        detail=None if connected else optional_text(document, "error", _BODY),
    )


# Sending.

ZAPI_BASE_URL = "https://api.z-api.io"


def send(
    client: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    to_phone: str,
    message: OutboundRequest,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> SendResult:
    """Send one message through the channel's Z-API instance and return its ``messageId``."""
    if isinstance(message, OutboundTemplate):
        raise unsupported("zapi", "template")
    instance_token = sending_secret(secrets, "instance_token")
    client_token = sending_secret(secrets, "client_token")
    instance_id = config_text(channel, "instance_id")
    endpoint, body = _endpoint_and_body(message)
    instance_url = f"{base_url(channel, ZAPI_BASE_URL)}/instances/{instance_id}"
    call = ProviderCall(
        provider="zapi",
        channel_id=channel.channel_id,
        url=f"{instance_url}/token/{instance_token}/{endpoint}",
        headers={"Client-Token": client_token},
        json={"phone": digits_recipient(to_phone), **body},
    )
    return deliver(
        client,
        call,
        message_id_from=lambda document: document["messageId"],
        error_from=_send_error,
        policy=policy,
    )


def _endpoint_and_body(
    message: OutboundText | OutboundMedia | OutboundButtons | OutboundList | OutboundAudio,
) -> tuple[str, dict[str, Any]]:
    if isinstance(message, OutboundText):
        return "send-text", {"message": message.body}
    if isinstance(message, OutboundList):
        options: list[dict[str, str]] = []
        for row in message.rows:
            option = {"id": row.id, "title": row.title}
            if row.description:
                option["description"] = row.description
            options.append(option)
        option_list = {
            "title": message.section_title or message.button,
            "buttonLabel": message.button,
            "options": options,
        }
        return "send-option-list", {"message": message.body, "optionList": option_list}
    if isinstance(message, OutboundAudio):
        encoded = base64.b64encode(message.content).decode("ascii")
        audio = f"data:{message.base_mime_type};base64,{encoded}"
        return "send-audio", {"audio": audio, "waveform": message.voice}
    if isinstance(message, OutboundButtons):
        buttons = [{"id": button.id, "label": button.title} for button in message.buttons]
        return "send-button-list", {"message": message.body, "buttonList": {"buttons": buttons}}
    body: dict[str, Any] = {message.kind: message.url}
    if message.caption and message.kind != "audio":
        body["caption"] = message.caption
    if message.kind != "document":
        return f"send-{message.kind}", body
    if message.filename:
        body["fileName"] = message.filename
    return f"send-document/{_document_extension(message)}", body


def _document_extension(media: OutboundMedia) -> str:
    """Return the extension Z-API wants in the URL, from the file name, link or MIME type."""
    for name in (media.filename, urlsplit(media.url).path):
        suffix = PurePosixPath(name or "").suffix.lstrip(".").lower()
        if suffix.isalnum():
            return suffix
    guessed = mimetypes.guess_extension(media.mime_type or "") or ""
    if guessed:
        return guessed.lstrip(".")
    raise SendFailed(
        "a document needs a file name, link or MIME type with an extension",
        code="unknown_extension",
        permanent=True,
    )


def _send_error(response: httpx.Response) -> ProviderError:
    """Read ``{"error": ..., "message": ...}``."""
    document = json_body(response)
    reason = str(document.get("message") or document.get("error") or response.reason_phrase)
    return error_by_status(response, None, reason)
