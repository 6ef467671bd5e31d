"""Where an Evolution API (v2) webhook becomes canonical events.

Evolution, a gateway over the WhatsApp Web protocol (Baileys), POSTs JSON envelopes
``{"event", "instance", "data", "date_time", "sender", "server_url", "apikey"}``:

- ``messages.upsert``: one message. ``data.key.fromMe`` marks what the business's own phone
  sent, which is a human seller (``SellerMessage``), never a lead.
- ``messages.update``: a receipt for a message the business sent (``SERVER_ACK`` and so on).
- ``connection.update``: the instance's connection state.

Event names arrive as ``messages.upsert`` or ``MESSAGES_UPSERT`` depending on configuration.
Nothing is signed: the instance ``apikey``, sent in the body and (by version and
configuration) in an ``apikey`` header, is the credential. A chat addressed by WhatsApp's
privacy id (``...@lid``) takes its phone from ``remoteJidAlt`` or ``senderPn`` when present.

``send`` posts to ``/message/sendText/{instance}``, ``/message/sendMedia/{instance}`` (voice
notes to ``/message/sendWhatsAppAudio/{instance}``, by link or as plain base64 bytes with
``encoding: false`` when they are OGG/Opus already), ``/message/sendButtons/{instance}`` and
``/message/sendList/{instance}`` (``title``, ``description``, ``buttonText``, ``footerText``,
``sections[].rows[]`` of ``{title, description, rowId}``) with the ``apikey`` header.
Templates are a Cloud API concept this gateway does not have.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.channels.base import (
    PayloadRejected,
    SignatureRejected,
    WebhookRequest,
    body_fingerprint,
    connection_event,
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
from shared.channels.phones import contact_from_identifiers, phones_from_vcard
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

SECRET_ROLES: tuple[str, ...] = ("apikey",)

_STATUSES = {  # Evolution's names for Baileys' receipt codes 0..5 (1 = PENDING: no news)
    "ERROR": DeliveryStatus.FAILED,
    "SERVER_ACK": DeliveryStatus.SENT,
    "DELIVERY_ACK": DeliveryStatus.DELIVERED,
    "READ": DeliveryStatus.READ,
    "PLAYED": DeliveryStatus.READ,
    "0": DeliveryStatus.FAILED,
    "2": DeliveryStatus.SENT,
    "3": DeliveryStatus.DELIVERED,
    "4": DeliveryStatus.READ,
    "5": DeliveryStatus.READ,
}
_SKIPPED_CHAT_SUFFIXES = ("@g.us", "@broadcast", "@newsletter")
_WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
)

if TYPE_CHECKING:
    import httpx
_MEDIA_TYPES = {
    "imageMessage": MessageType.IMAGE,
    "audioMessage": MessageType.AUDIO,
    "videoMessage": MessageType.VIDEO,
    "ptvMessage": MessageType.VIDEO,
    "documentMessage": MessageType.DOCUMENT,
    "stickerMessage": MessageType.STICKER,
}
_BODY = "body"


def verify(request: WebhookRequest, channel: Channel, secrets: Mapping[str, str]) -> None:
    """Check the instance ``apikey`` from the ``apikey`` header or the body's ``apikey``."""
    apikey = required_secret(secrets, "apikey")
    presented = [value for value in (request.header("apikey"), _body_apikey(request)) if value]
    if not presented:
        raise SignatureRejected("apikey is missing from the header and the body", missing=True)
    if not any(same_secret(apikey, value) for value in presented):
        raise SignatureRejected("apikey does not match")


def _body_apikey(request: WebhookRequest) -> str | None:
    try:
        value = request.json_object().get("apikey")
    except PayloadRejected:
        return None
    return value if isinstance(value, str) else None


@rejects_malformed
def parse(
    request: WebhookRequest, channel: Channel, received_at: datetime
) -> list[ConversationEvent]:
    """Return the events in one Evolution webhook request (unknown event types: none)."""
    document = request.json_object()
    event = required_text(document, "event", _BODY).lower().replace("_", ".")
    instance = optional_text(document, "instance", _BODY)
    expected_instance = channel.config.get("instance")
    if expected_instance and instance and instance != expected_instance:
        return []
    found: ConversationEvent | None = None
    if event == "messages.upsert":
        found = _message_event(required_object(document, "data", _BODY), channel, received_at)
    elif event == "messages.update":
        found = _status_update(document, channel, received_at)
    elif event == "connection.update":
        found = _connection_update(document, request.body, channel, received_at)
    return [found] if found is not None else []


def _message_event(
    data: dict[str, Any], channel: Channel, received_at: datetime
) -> LeadMessage | SellerMessage | None:
    where = "body.data"
    key = required_object(data, "key", where)
    key_path = f"{where}.key"
    message_id = required_text(key, "id", key_path)
    remote_jid = required_text(key, "remoteJid", key_path)
    if _is_skipped_chat(remote_jid):
        return None
    from_me = flag(key, "fromMe", key_path)
    # The business's own pushName names the seller, not the contact.
    profile_name = None if from_me else optional_text(data, "pushName", where)
    contact = _contact(key, key_path, profile_name)
    message = _unwrap(optional_object(data, "message", where) or {}, f"{where}.message")
    context = optional_object(data, "contextInfo", where) or _inner_context(message)
    content = replace(
        _content(message, data, where, message_id),
        reply_to=optional_text(context, "stanzaId", f"{where}.contextInfo"),
        referral=_referral(context, f"{where}.contextInfo"),
    )
    return message_event(
        "evolution",
        channel,
        message_id=message_id,
        contact=contact,
        content=content,
        occurred_at=_message_timestamp(data.get("messageTimestamp"), where),
        received_at=received_at,
        from_me=from_me,
    )


def _is_skipped_chat(jid: str) -> bool:
    """Return True for group chats, status broadcasts and channels: never sales conversations."""
    return jid.lower().endswith(_SKIPPED_CHAT_SUFFIXES)


def _contact(key: dict[str, Any], where: str, profile_name: str | None) -> ContactRef:
    identifiers = [
        optional_text(key, "remoteJid", where),
        optional_text(key, "remoteJidAlt", where),
        optional_text(key, "senderPn", where),
    ]
    contact = contact_from_identifiers(identifiers, profile_name)
    if contact is None:
        raise PayloadRejected(f"{where}.remoteJid names no contact")
    return contact


def _unwrap(message: dict[str, Any], where: str) -> dict[str, Any]:
    """Open the envelopes WhatsApp puts around content (disappearing, view-once, captioned)."""
    for _ in range(len(_WRAPPERS)):
        wrapper = next((name for name in _WRAPPERS if name in message), None)
        if wrapper is None:
            break
        inner = required_object(message, wrapper, where)
        where = f"{where}.{wrapper}"
        message = required_object(inner, "message", where)
        where = f"{where}.message"
    return message


def _inner_context(message: dict[str, Any]) -> dict[str, Any]:
    """Return the ``contextInfo`` inside the content when Evolution did not lift it up."""
    for value in message.values():
        if isinstance(value, dict) and isinstance(value.get("contextInfo"), dict):
            return dict(value["contextInfo"])
    return {}


def _content(
    message: dict[str, Any], data: dict[str, Any], where: str, message_id: str
) -> MessageContent:
    path = f"{where}.message"
    if "conversation" in message:
        return MessageContent(
            message_type=MessageType.TEXT, text=optional_text(message, "conversation", path)
        )
    extended = optional_object(message, "extendedTextMessage", path)
    if extended is not None:
        text = optional_text(extended, "text", f"{path}.extendedTextMessage")
        return MessageContent(message_type=MessageType.TEXT, text=text)
    for name, message_type in _MEDIA_TYPES.items():
        media = optional_object(message, name, path)
        if media is not None:
            stored_url = optional_text(message, "mediaUrl", path)
            return MessageContent(
                message_type=message_type,
                media=_media(media, f"{path}.{name}", message_id, stored_url),
            )
    for name in ("locationMessage", "liveLocationMessage"):
        location = optional_object(message, name, path)
        if location is not None:
            return MessageContent(
                message_type=MessageType.LOCATION,
                location=_location(location, f"{path}.{name}"),
            )
    contacts = _shared_contacts(message, path)
    if contacts:
        return MessageContent(message_type=MessageType.CONTACTS, contacts=contacts)
    reply = _interactive_reply(message, path)
    if reply is not None:
        return MessageContent(message_type=MessageType.INTERACTIVE_REPLY, interactive=reply)
    reaction = optional_object(message, "reactionMessage", path)
    if reaction is not None:
        reacted = optional_object(reaction, "key", f"{path}.reactionMessage") or {}
        return MessageContent(
            message_type=MessageType.REACTION,
            reaction=Reaction(
                emoji=optional_text(reaction, "text", f"{path}.reactionMessage") or "",
                message_id=optional_text(reacted, "id", f"{path}.reactionMessage.key"),
            ),
        )
    return MessageContent(
        message_type=MessageType.UNSUPPORTED,
        unsupported_type=optional_text(data, "messageType", where) or _content_name(message),
    )


def _content_name(message: dict[str, Any]) -> str:
    names = [name for name in message if name not in ("messageContextInfo", "base64")]
    return names[0] if names else "unknown"


def _media(media: dict[str, Any], where: str, message_id: str, stored_url: str | None) -> Media:
    return Media(
        # Evolution fetches media by the message's key id (getBase64FromMediaMessage).
        provider_media_id=message_id,
        url=stored_url or optional_text(media, "url", where),
        mime_type=optional_text(media, "mimetype", where),
        filename=optional_text(media, "fileName", where),
        caption=optional_text(media, "caption", where),
        voice=flag(media, "ptt", where),
        size_bytes=_whole_number(media.get("fileLength")),
    )


def _location(location: dict[str, Any], where: str) -> Location:
    return Location(
        latitude=required_number(location, "degreesLatitude", where),
        longitude=required_number(location, "degreesLongitude", where),
        name=optional_text(location, "name", where),
        address=optional_text(location, "address", where),
        url=optional_text(location, "url", where),
    )


def _shared_contacts(message: dict[str, Any], where: str) -> tuple[SharedContact, ...]:
    cards: list[tuple[str, dict[str, Any]]] = []
    single = optional_object(message, "contactMessage", where)
    if single is not None:
        cards.append((f"{where}.contactMessage", single))
    array = optional_object(message, "contactsArrayMessage", where)
    if array is not None:
        cards.extend(objects_in(array, "contacts", f"{where}.contactsArrayMessage"))
    return tuple(
        SharedContact(
            name=optional_text(card, "displayName", path),
            phones=phones_from_vcard(optional_text(card, "vcard", path) or ""),
        )
        for path, card in cards
    )


def _interactive_reply(message: dict[str, Any], where: str) -> InteractiveReply | None:
    buttons = optional_object(message, "buttonsResponseMessage", where)
    if buttons is not None:
        path = f"{where}.buttonsResponseMessage"
        return InteractiveReply(
            kind="button",
            id=optional_text(buttons, "selectedButtonId", path),
            title=optional_text(buttons, "selectedDisplayText", path),
        )
    template = optional_object(message, "templateButtonReplyMessage", where)
    if template is not None:
        path = f"{where}.templateButtonReplyMessage"
        return InteractiveReply(
            kind="button",
            id=optional_text(template, "selectedId", path),
            title=optional_text(template, "selectedDisplayText", path),
        )
    listed = optional_object(message, "listResponseMessage", where)
    if listed is not None:
        path = f"{where}.listResponseMessage"
        selected = optional_object(listed, "singleSelectReply", path) or {}
        return InteractiveReply(
            kind="list",
            id=optional_text(selected, "selectedRowId", f"{path}.singleSelectReply"),
            title=optional_text(listed, "title", path),
            description=optional_text(listed, "description", path),
        )
    return None


def _referral(context: dict[str, Any], where: str) -> AdReferral | None:
    """Read click-to-WhatsApp attribution from ``contextInfo.externalAdReply``."""
    ad = optional_object(context, "externalAdReply", where)
    path = f"{where}.externalAdReply"
    if ad is None or not (ad.get("sourceId") or ad.get("ctwaClid") or ad.get("sourceType")):
        return None
    return AdReferral(
        ctwa_clid=optional_text(ad, "ctwaClid", path),
        source_id=optional_code(ad, "sourceId", path),
        source_url=optional_text(ad, "sourceUrl", path),
        source_type=optional_code(ad, "sourceType", path),
        headline=optional_text(ad, "title", path),
        body=optional_text(ad, "body", path),
        media_type=optional_code(ad, "mediaType", path),
    )


def _status_update(
    document: dict[str, Any], channel: Channel, received_at: datetime
) -> StatusUpdate | None:
    where = "body.data"
    data = required_object(document, "data", _BODY)
    key = optional_object(data, "key", where) or {}  # older versions nest the message key
    key_path = f"{where}.key"
    message_id = optional_text(data, "keyId", where) or required_text(key, "id", key_path)
    remote_jid = optional_text(data, "remoteJid", where) or required_text(
        key, "remoteJid", key_path
    )
    from_me = flag(data, "fromMe", where) or flag(key, "fromMe", key_path)
    delivery = _STATUSES.get((optional_code(data, "status", where) or "").upper())
    # Receipts for the lead's own messages (fromMe false) say nothing about ours.
    if not from_me or delivery is None or _is_skipped_chat(remote_jid):
        return None
    contact = contact_from_identifiers([remote_jid])
    if contact is None:
        raise PayloadRejected(f"{where}.remoteJid names no contact")
    return status_event(
        "evolution",
        channel,
        message_id=message_id,
        status=delivery,
        contact=contact,
        occurred_at=_date_time(document) or received_at,
        received_at=received_at,
    )


def _connection_update(
    document: dict[str, Any], body: bytes, channel: Channel, received_at: datetime
) -> ConnectionUpdate:
    data = required_object(document, "data", _BODY)
    return connection_event(
        "evolution",
        channel,
        state=required_text(data, "state", "body.data"),
        stamp=optional_text(document, "date_time", _BODY) or body_fingerprint(body),
        occurred_at=_date_time(document) or received_at,
        received_at=received_at,
        detail=optional_code(data, "statusReason", "body.data"),
    )


def _message_timestamp(value: object, where: str) -> datetime:
    """Read ``messageTimestamp``: seconds, as a number, a string or a protobuf Long object."""
    seconds = _whole_number(value) if isinstance(value, dict) else value
    return timestamp_from(seconds, f"{where}.messageTimestamp")


def _whole_number(value: object) -> int | None:
    """Return an integer sent as a number, a digit string or a Long ``{low, high}``."""
    if isinstance(value, dict):
        low, high = value.get("low"), value.get("high", 0)
        if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
            return high * 2**32 + low % 2**32
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _date_time(document: dict[str, Any]) -> datetime | None:
    """Return the envelope's ``date_time`` (ISO 8601) as an aware datetime, if present."""
    raw = optional_text(document, "date_time", _BODY)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as error:
        raise PayloadRejected(f"body.date_time is not an ISO 8601 time: {raw!r}") from error
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Sending.


def send(
    client: httpx.Client,
    channel: Channel,
    secrets: Mapping[str, str],
    to_phone: str,
    message: OutboundRequest,
    *,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> SendResult:
    """Send one message through the channel's Evolution instance and return ``key.id``."""
    if isinstance(message, OutboundTemplate):
        raise unsupported("evolution", "template")
    apikey = sending_secret(secrets, "apikey")
    instance = config_text(channel, "instance")
    endpoint, body = _endpoint_and_body(message)
    call = ProviderCall(
        provider="evolution",
        channel_id=channel.channel_id,
        url=f"{base_url(channel)}/message/{endpoint}/{instance}",
        headers={"apikey": apikey},
        json={"number": digits_recipient(to_phone), **body},
    )
    return deliver(
        client,
        call,
        message_id_from=lambda document: document["key"]["id"],
        error_from=_send_error,
        policy=policy,
    )


def _endpoint_and_body(
    message: OutboundText | OutboundMedia | OutboundButtons | OutboundList | OutboundAudio,
) -> tuple[str, dict[str, Any]]:
    if isinstance(message, OutboundText):
        return "sendText", {"text": message.body}
    if isinstance(message, OutboundList):
        rows = [
            {"title": row.title, "description": row.description or "", "rowId": row.id}
            for row in message.rows
        ]
        return "sendList", {
            "title": message.section_title or "",
            "description": message.body,
            "buttonText": message.button,
            "footerText": message.footer or "",
            "sections": [{"title": message.section_title or message.button, "rows": rows}],
        }
    if isinstance(message, OutboundAudio):
        audio: dict[str, Any] = {"audio": base64.b64encode(message.content).decode("ascii")}
        if "opus" in message.mime_type.lower():
            audio["encoding"] = False  # already what WhatsApp plays: no ffmpeg round trip
        return "sendWhatsAppAudio", audio
    if isinstance(message, OutboundMedia):
        if message.kind == "audio":
            return "sendWhatsAppAudio", {"audio": message.url}
        media: dict[str, Any] = {"mediatype": message.kind, "media": message.url}
        optional = {
            "mimetype": message.mime_type,
            "caption": message.caption,
            "fileName": message.filename,
        }
        media.update({key: value for key, value in optional.items() if value})
        return "sendMedia", media
    buttons = [
        {"type": "reply", "displayText": button.title, "id": button.id}
        for button in message.buttons
    ]
    return "sendButtons", {
        "title": message.body,
        "description": message.footer or "",
        "buttons": buttons,
    }


def _send_error(response: httpx.Response) -> ProviderError:
    """Read ``{"status", "error", "response": {"message": [...]}}``."""
    document = json_body(response)
    detail = document.get("response")
    messages = detail.get("message") if isinstance(detail, dict) else None
    reason = str(messages or document.get("error") or response.reason_phrase)
    return error_by_status(response, None, reason)
