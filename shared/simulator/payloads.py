"""Provider webhook requests for simulated messages, parsed by the real provider adapters.

Each builder returns the ``WebhookRequest`` a provider would POST: a lead's message (text,
voice note, image, video or document, or for the WhatsApp Web gateways a message the
business's own phone sent) and the delivery statuses (sent, delivered, read) of a message the
business sent. Given the channel's resolved secrets they are signed as the provider signs
them, computed here independently of the adapters' ``verify``:

- Meta: ``X-Hub-Signature-256: sha256=HMAC-SHA256(app_secret, raw body)``.
- Twilio: ``X-Twilio-Signature: base64(HMAC-SHA1(auth_token, URL + sorted form fields))``
  over the URL Twilio calls (the channel's ``config.webhook_url`` when it has one).
- Evolution API: the instance ``apikey`` in the body, as its webhook controller sends it.
- Z-API: the account security token in the ``Client-Token`` header.

A lead's message may come from a click-to-WhatsApp ad (``AdClick``): each provider reports
the ad its own way, as its adapter's ``_referral`` reads it: Meta ``messages[].referral``,
Twilio's ``Referral*`` form fields, Evolution API ``data.contextInfo.externalAdReply`` and Z-API
``externalAdReply``.

``webhook_request`` is the unsigned text-message shortcut ``piloto simulate`` uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random_tokens
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from shared.channels.base import WebhookRequest
from shared.models.channel import Channel
from shared.models.events import Provider

BUSINESS_PHONE = "5511990000001"
PHONE_NUMBER_ID = "100000000000001"
SIMULATED_URL = "https://simulator.local/webhooks/sim"
SIMULATED_TWILIO_URL = "https://simulator.local/webhooks/twilio/sim"

InboundKind = Literal["text", "audio", "image", "video", "document"]
AdMediaType = Literal["image", "video"]
StatusName = Literal["sent", "delivered", "read"]
STATUS_ORDER: tuple[StatusName, ...] = ("sent", "delivered", "read")
DEFAULT_MIME_TYPES: Mapping[str, str] = {
    "audio": "audio/ogg; codecs=opus",
    "image": "image/jpeg",
    "video": "video/mp4",
    "document": "application/pdf",
}

_EVOLUTION_STATUSES: Mapping[StatusName, str] = {
    "sent": "SERVER_ACK",
    "delivered": "DELIVERY_ACK",
    "read": "READ",
}
_ZAPI_STATUSES: Mapping[StatusName, str] = {
    "sent": "SENT",
    "delivered": "RECEIVED",
    "read": "READ",
}


@dataclass(frozen=True)
class BusinessAccount:
    """The business side of a webhook: the channel's number, account, instance and URL."""

    business_phone: str = f"+{BUSINESS_PHONE}"
    phone_number_id: str = PHONE_NUMBER_ID
    account_sid: str = "ACsimulator"
    messaging_service_sid: str | None = None
    instance: str = "simulator"
    webhook_url: str | None = None
    """The public URL Twilio signs (``config.webhook_url``) when it is not the URL posted to."""

    @classmethod
    def of(cls, channel: Channel) -> BusinessAccount:
        """Return the account a provider would address this channel's webhooks from."""
        config = channel.config
        default = cls()
        phone = channel.business_phone or config.get("business_phone") or default.business_phone
        instance = config.get("instance") or config.get("instance_id") or default.instance
        service = config.get("messaging_service_sid")
        return cls(
            business_phone=str(phone),
            phone_number_id=str(config.get("phone_number_id") or default.phone_number_id),
            account_sid=str(config.get("account_sid") or default.account_sid),
            messaging_service_sid=str(service) if service else None,
            instance=str(instance),
            webhook_url=str(config["webhook_url"]) if config.get("webhook_url") else None,
        )

    @property
    def business_digits(self) -> str:
        """Return the business number without the plus sign."""
        return self.business_phone.lstrip("+")


AD_CLICK_FIELDS = (
    "ctwa_clid",
    "source_id",
    "source_url",
    "source_type",
    "headline",
    "body",
    "media_type",
    "image_url",
    "video_url",
    "thumbnail_url",
)
_AD_MEDIA_CONTENT_TYPES: Mapping[str, str] = {"image": "image/jpeg", "video": "video/mp4"}
_EVOLUTION_AD_MEDIA_TYPES: Mapping[str, str] = {"image": "IMAGE", "video": "VIDEO"}
_ZAPI_AD_MEDIA_TYPES: Mapping[str, int] = {"image": 1, "video": 2}  # WhatsApp's enum numbers


@dataclass(frozen=True)
class AdClick:
    """The click-to-WhatsApp ad (or boosted post) a lead's message came from.

    ``source_id`` is the ad's id, ``ctwa_clid`` the click id the Conversions API takes back,
    ``headline`` and ``body`` the ad's text; ``media_type`` and the URLs describe its creative
    (made up from the ad id when not given, as the providers always send one).
    """

    ctwa_clid: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    source_type: Literal["ad", "post"] = "ad"
    headline: str | None = None
    body: str | None = None
    media_type: AdMediaType = "image"
    image_url: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None

    def __post_init__(self) -> None:
        if not (self.ctwa_clid or self.source_id or self.source_url):
            raise ValueError("a referral needs ctwa_clid, source_id or source_url")
        if self.source_type not in ("ad", "post"):
            raise ValueError("referral.source_type must be ad or post")
        if self.media_type not in _AD_MEDIA_CONTENT_TYPES:
            raise ValueError("referral.media_type must be image or video")
        if self.image_url and self.media_type != "image":
            raise ValueError("referral.image_url goes with media_type image")
        if self.video_url and self.media_type != "video":
            raise ValueError("referral.video_url goes with media_type video")

    @classmethod
    def from_json(cls, document: object) -> AdClick:
        """Return the ad click a JSON object describes (ValueError: what is wrong)."""
        if not isinstance(document, dict):
            raise ValueError("referral must be an object")
        unknown = set(document) - set(AD_CLICK_FIELDS)
        if unknown:
            raise ValueError(f"unknown referral fields: {', '.join(sorted(unknown))}")
        for name, value in document.items():
            if value is not None and not isinstance(value, str):
                raise ValueError(f"referral.{name} must be a string")
        values = {name: value for name, value in document.items() if value}
        return cls(**values)

    @property
    def media_url(self) -> str:
        """Return the creative's URL (the given one, else a CDN-like one made from the ad)."""
        given = self.image_url if self.media_type == "image" else self.video_url
        extension = "jpg" if self.media_type == "image" else "mp4"
        return given or f"https://scontent.xx.fbcdn.net/v/t45.1600-4/{self._key}_n.{extension}"

    @property
    def thumbnail(self) -> str:
        """Return the thumbnail URL (the given one, else a CDN-like one made from the ad)."""
        return self.thumbnail_url or (
            f"https://scontent.xx.fbcdn.net/v/t45.1600-4/{self._key}_t.jpg"
        )

    @property
    def _key(self) -> str:
        seed = self.source_id or self.ctwa_clid or self.source_url or ""
        return hashlib.sha256(seed.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChoiceReply:
    """A lead tapping a row of an interactive list or a reply button the business sent."""

    id: str
    title: str
    description: str | None = None
    kind: Literal["list", "button"] = "list"
    context_id: str | None = None
    """The provider id of the message whose row or button was tapped."""

    def __post_init__(self) -> None:
        if not self.id or not self.title:
            raise ValueError("a tapped choice needs its id and title")
        if self.kind not in ("list", "button"):
            raise ValueError("a tapped choice is a list row or a button")


@dataclass(frozen=True)
class InboundMessage:
    """A message a lead sends (or, on Evolution and Z-API, the business's own phone sends)."""

    lead_phone: str
    message_id: str
    at: datetime
    name: str | None = None
    kind: InboundKind = "text"
    text: str | None = None
    """The text of a text message, the caption of an image, video or document."""
    media_url: str | None = None
    """Where the provider serves the media; for Evolution API, where it stored the file (none:
    the webhook carries WhatsApp's encrypted CDN URL and the media is fetched by message id)."""
    media_id: str | None = None
    """Meta's media id (Meta sends an id, not a link); derived from the message id if unset."""
    mime_type: str | None = None
    from_business: bool = False
    filename: str | None = None
    """A document's file name."""
    size_bytes: int | None = None
    """The media's size, where the provider reports one."""
    referral: AdClick | None = None
    """The click-to-WhatsApp ad the lead came from."""
    reply: ChoiceReply | None = None
    """The list row or button the lead tapped (then ``kind`` is text and ``text`` unused)."""

    def __post_init__(self) -> None:
        if self.kind == "text" and not self.text and self.reply is None:
            raise ValueError("a text message needs text")
        if self.reply is not None and (self.kind != "text" or self.from_business):
            raise ValueError("only a lead's text-kind message can tap a choice")
        if self.referral is not None and self.from_business:
            raise ValueError("only a lead's message comes from an ad (referral with from_business)")
        if self.at.tzinfo is None:
            raise ValueError("at must be timezone-aware")


def webhook_request(
    provider: Provider,
    *,
    lead_phone: str,
    name: str,
    message_id: str,
    text: str,
    at: datetime,
    from_business: bool = False,
) -> WebhookRequest | None:
    """Return the request the provider would post for this message (None: the provider sends none).

    The Cloud API and Twilio do not report messages the business sends from its phone; the
    unofficial gateways do (``fromMe``), so a seller message on Meta or Twilio has no request.
    """
    message = InboundMessage(
        lead_phone=lead_phone,
        message_id=message_id,
        at=at,
        name=name,
        text=text,
        from_business=from_business,
    )
    url = SIMULATED_TWILIO_URL if provider == "twilio" else SIMULATED_URL
    return inbound_request(provider, message, url=url)


def inbound_request(
    provider: Provider,
    message: InboundMessage,
    *,
    account: BusinessAccount | None = None,
    url: str = SIMULATED_URL,
    secrets: Mapping[str, str] | None = None,
) -> WebhookRequest | None:
    """Return the provider's webhook for ``message``, signed when ``secrets`` are given.

    None when the provider reports no such message: Meta and Twilio never tell the business
    what its own phone sent.
    """
    account = account or BusinessAccount()
    if provider == "meta":
        if message.from_business:
            return None
        return _signed_json(provider, _meta_inbound(message, account), url, secrets)
    if provider == "twilio":
        if message.from_business:
            return None
        if message.reply is not None:
            raise ValueError(
                "Piloto sends Twilio choices as numbered text: the lead answers with the number"
            )
        return _signed_form(_twilio_inbound(message, account), url, account, secrets)
    if provider == "evolution":
        return _signed_json(provider, _evolution_inbound(message, account, url), url, secrets)
    return _signed_json(provider, _zapi_inbound(message, account), url, secrets)


def status_request(
    provider: Provider,
    *,
    message_id: str,
    lead_phone: str,
    status: StatusName,
    at: datetime,
    account: BusinessAccount | None = None,
    url: str = SIMULATED_URL,
    secrets: Mapping[str, str] | None = None,
) -> WebhookRequest:
    """Return the provider's status webhook for a message the business sent to ``lead_phone``."""
    account = account or BusinessAccount()
    digits = lead_phone.lstrip("+")
    if provider == "meta":
        return _signed_json(
            provider, _meta_status(message_id, digits, status, at, account), url, secrets
        )
    if provider == "twilio":
        form = _twilio_status(message_id, digits, status, account)
        return _signed_form(form, url, account, secrets)
    if provider == "evolution":
        document = _evolution_envelope(
            "messages.update",
            {
                "messageId": random_tokens.token_hex(12),
                "keyId": message_id,
                "remoteJid": f"{digits}@s.whatsapp.net",
                "fromMe": True,
                "participant": None,
                "status": _EVOLUTION_STATUSES[status],
                "instanceId": instance_uuid(account.instance),
            },
            account,
            url,
            at,
        )
        return _signed_json(provider, document, url, secrets)
    document = {
        "instanceId": account.instance,
        "status": _ZAPI_STATUSES[status],
        "ids": [message_id],
        "momment": _milliseconds(at),
        "phoneDevice": 0,
        "phone": digits,
        "type": "MessageStatusCallback",
        "isGroup": False,
    }
    return _signed_json(provider, document, url, secrets)


def new_message_id(provider: Provider, *, media: bool = False, from_api: bool = False) -> str:
    """Return a fresh id shaped like the provider's own message ids.

    Meta ``wamid.<base64>``; Twilio ``SM`` (``MM`` with media) plus 32 hex digits; WhatsApp
    Web ids for the gateways: ``3EB0…`` from a phone, ``BAE5…`` for what an API sent.
    """
    if provider == "meta":
        raw = b"\x15\x02\x00\x11\x18\x12" + random_tokens.token_bytes(18)
        return "wamid.HBgN" + base64.b64encode(raw).decode()
    if provider == "twilio":
        return ("MM" if media else "SM") + random_tokens.token_hex(16)
    if from_api:
        return "BAE5" + random_tokens.token_hex(6).upper()
    return "3EB0" + random_tokens.token_hex(8).upper()


# Meta (WhatsApp Cloud API)


def _meta_envelope(value: dict[str, Any], account: BusinessAccount) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": account.business_digits,
                                "phone_number_id": account.phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def _meta_inbound(message: InboundMessage, account: BusinessAccount) -> dict[str, Any]:
    digits = message.lead_phone.lstrip("+")
    item: dict[str, Any] = {
        "from": digits,
        "id": message.message_id,
        "timestamp": str(int(message.at.timestamp())),
        "type": message.kind,
    }
    if message.reply is not None:
        item |= _meta_reply(message.reply, account)
    elif message.kind == "text":
        item["text"] = {"body": message.text}
    else:
        media: dict[str, Any] = {
            "mime_type": _mime_type(message),
            "sha256": base64.b64encode(
                hashlib.sha256(message.message_id.encode()).digest()
            ).decode(),
            "id": message.media_id or _media_id(message.message_id),
        }
        if message.kind == "audio":
            media["voice"] = True
        elif message.text:
            media["caption"] = message.text
        if message.kind == "document":
            media["filename"] = message.filename or "documento.pdf"
        item[message.kind] = media
    if message.referral is not None:
        item["referral"] = _meta_referral(message.referral)
    contact: dict[str, Any] = {"wa_id": digits}
    if message.name:
        contact["profile"] = {"name": message.name}
    return _meta_envelope({"contacts": [contact], "messages": [item]}, account)


def _meta_reply(reply: ChoiceReply, account: BusinessAccount) -> dict[str, Any]:
    """Return a tapped list row (``list_reply``) or button (``button_reply``) as Meta posts it."""
    kind = f"{reply.kind}_reply"
    chosen = {"id": reply.id, "title": reply.title}
    if reply.description and reply.kind == "list":
        chosen["description"] = reply.description
    item: dict[str, Any] = {"type": "interactive", "interactive": {"type": kind, kind: chosen}}
    if reply.context_id:
        item["context"] = {"from": account.business_digits, "id": reply.context_id}
    return item


def _meta_referral(ad: AdClick) -> dict[str, Any]:
    """Return ``messages[].referral`` as the Cloud API reports a click-to-WhatsApp ad."""
    referral: dict[str, Any] = {
        "source_url": ad.source_url,
        "source_id": ad.source_id,
        "source_type": ad.source_type,
        "body": ad.body,
        "headline": ad.headline,
        "media_type": ad.media_type,
        f"{ad.media_type}_url": ad.media_url,
        "thumbnail_url": ad.thumbnail,
        "ctwa_clid": ad.ctwa_clid,
    }
    return {key: value for key, value in referral.items() if value is not None}


def _meta_status(
    message_id: str, digits: str, status: StatusName, at: datetime, account: BusinessAccount
) -> dict[str, Any]:
    seconds = int(at.timestamp())
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(seconds),
        "recipient_id": digits,
    }
    if status != "read":  # Meta reports the conversation and pricing on sent and delivered
        item["conversation"] = {
            "id": hashlib.sha256(f"{account.phone_number_id}:{digits}".encode()).hexdigest()[:32],
            "expiration_timestamp": str(seconds + 24 * 3600),
            "origin": {"type": "service"},
        }
        item["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "category": "service",
            "type": "regular",
        }
    return _meta_envelope({"statuses": [item]}, account)


def _media_id(message_id: str) -> str:
    return str(int(hashlib.sha256(message_id.encode()).hexdigest()[:14], 16))


# Twilio


def _twilio_inbound(message: InboundMessage, account: BusinessAccount) -> dict[str, str]:
    digits = message.lead_phone.lstrip("+")
    form = {
        "SmsMessageSid": message.message_id,
        "NumMedia": "0",
        "ProfileName": message.name or "",
        "MessageType": message.kind,
        "SmsSid": message.message_id,
        "WaId": digits,
        "SmsStatus": "received",
        "Body": message.text or "",
        "To": f"whatsapp:{account.business_phone}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message.message_id,
        "AccountSid": account.account_sid,
        "From": f"whatsapp:+{digits}",
        "ApiVersion": "2010-04-01",
    }
    if message.kind != "text":
        form["NumMedia"] = "1"
        form["MediaContentType0"] = _mime_type(message)
        form["MediaUrl0"] = message.media_url or (
            f"https://api.twilio.com/2010-04-01/Accounts/{account.account_sid}/Messages/"
            f"{message.message_id}/Media/ME{random_tokens.token_hex(16)}"
        )
    if message.referral is not None:
        form |= _twilio_referral(message.referral, message.message_id, account)
    if not message.name:
        del form["ProfileName"]
    return form


def _twilio_referral(ad: AdClick, message_id: str, account: BusinessAccount) -> dict[str, str]:
    """Return the ``Referral*`` fields Twilio adds for a click-to-WhatsApp ad."""
    media_sid = "ME" + hashlib.sha256(f"{message_id}:referral".encode()).hexdigest()[:32]
    fields = {
        "ReferralBody": ad.body,
        "ReferralHeadline": ad.headline,
        "ReferralSourceId": ad.source_id,
        "ReferralSourceType": ad.source_type,
        "ReferralSourceUrl": ad.source_url,
        "ReferralMediaId": str(int(hashlib.sha256(ad.media_url.encode()).hexdigest()[:13], 16)),
        "ReferralMediaContentType": _AD_MEDIA_CONTENT_TYPES[ad.media_type],
        "ReferralMediaUrl": (
            f"https://api.twilio.com/2010-04-01/Accounts/{account.account_sid}/Messages/"
            f"{message_id}/Media/{media_sid}"
        ),
        "ReferralNumMedia": "1",
        "ReferralCtwaClid": ad.ctwa_clid,
    }
    return {key: value for key, value in fields.items() if value is not None}


def _twilio_status(
    message_id: str, digits: str, status: StatusName, account: BusinessAccount
) -> dict[str, str]:
    form = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": "2010-04-01",
        "MessageStatus": status,
        "SmsSid": message_id,
        "SmsStatus": status,
        "ChannelInstallSid": "XE" + hashlib.sha256(account.account_sid.encode()).hexdigest()[:32],
        "To": f"whatsapp:+{digits}",
        "From": f"whatsapp:{account.business_phone}",
        "MessageSid": message_id,
        "StructuredMessage": "false",
        "AccountSid": account.account_sid,
        "ChannelToAddress": f"+{digits}",
    }
    if account.messaging_service_sid:
        form["MessagingServiceSid"] = account.messaging_service_sid
    return form


def twilio_signature(url: str, form: Mapping[str, str], auth_token: str) -> str:
    """Return ``X-Twilio-Signature``: HMAC-SHA1 over the URL plus the sorted form fields."""
    payload = url + "".join(key + form[key] for key in sorted(form))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# Evolution API (v2)


def _evolution_envelope(
    event: str, data: dict[str, Any], account: BusinessAccount, url: str, at: datetime
) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "event": event,
        "instance": account.instance,
        "data": data,
        "destination": url,
        "date_time": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sender": f"{account.business_digits}@s.whatsapp.net",
        "server_url": f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://localhost",
    }


def _evolution_inbound(
    message: InboundMessage, account: BusinessAccount, url: str
) -> dict[str, Any]:
    digits = message.lead_phone.lstrip("+")
    content: dict[str, Any]
    if message.reply is not None:
        content, message_type = _evolution_reply(message.reply, account)
    elif message.kind == "text":
        content, message_type = {"conversation": message.text}, "conversation"
    else:
        message_type = f"{message.kind}Message"
        media: dict[str, Any] = {
            "url": _whatsapp_cdn_url(message.message_id),  # encrypted: fetched by message id
            "mimetype": _mime_type(message),
            "fileSha256": base64.b64encode(
                hashlib.sha256(message.message_id.encode()).digest()
            ).decode(),
            "fileLength": str(message.size_bytes or 9824),
            "mediaKey": base64.b64encode(
                hashlib.sha256(b"key" + message.message_id.encode()).digest()
            ).decode(),
            "directPath": urlsplit(_whatsapp_cdn_url(message.message_id)).path,
        }
        if message.kind == "audio":
            media |= {"seconds": 6, "ptt": True}
        elif message.kind == "video":
            media["seconds"] = 4
        if message.kind == "document":
            media |= {"fileName": message.filename or "documento.pdf", "pageCount": 1}
            media["title"] = media["fileName"]
        if message.text and message.kind != "audio":
            media["caption"] = message.text
        content = {message_type: media}
        if message.media_url:
            content["mediaUrl"] = message.media_url  # where Evolution stored the file (S3/MinIO)
    data: dict[str, Any] = {
        "key": {
            "remoteJid": f"{digits}@s.whatsapp.net",
            "fromMe": message.from_business,
            "id": message.message_id,
        },
        "pushName": message.name or "",
        "status": "SERVER_ACK" if message.from_business else "DELIVERY_ACK",
        "message": content,
        "messageType": message_type,
        "messageTimestamp": int(message.at.timestamp()),
        "instanceId": instance_uuid(account.instance),
        "source": "android",
    }
    if message.referral is not None:  # Evolution lifts the message's contextInfo up here
        data["contextInfo"] = {
            "expiration": 0,
            "conversionSource": "FB_Ads",
            "conversionData": base64.b64encode(b'{"source":"ad"}').decode(),
            "conversionDelaySeconds": 8,
            "externalAdReply": _external_ad_reply(
                message.referral, _EVOLUTION_AD_MEDIA_TYPES[message.referral.media_type]
            ),
            "entryPointConversionSource": "ctwa_ad",
            "entryPointConversionApp": "facebook",
        }
    return _evolution_envelope("messages.upsert", data, account, url, message.at)


def _evolution_reply(reply: ChoiceReply, account: BusinessAccount) -> tuple[dict[str, Any], str]:
    """Return WhatsApp Web's list or buttons response message, as Evolution API passes it on."""
    context: dict[str, Any] = {}
    if reply.context_id:
        context = {
            "stanzaId": reply.context_id,
            "participant": f"{account.business_digits}@s.whatsapp.net",
        }
    if reply.kind == "list":
        listed: dict[str, Any] = {
            "title": reply.title,
            "listType": 1,
            "singleSelectReply": {"selectedRowId": reply.id},
            "contextInfo": context,
        }
        if reply.description:
            listed["description"] = reply.description
        return {"listResponseMessage": listed}, "listResponseMessage"
    button = {
        "selectedButtonId": reply.id,
        "selectedDisplayText": reply.title,
        "type": 1,
        "contextInfo": context,
    }
    return {"buttonsResponseMessage": button}, "buttonsResponseMessage"


def _external_ad_reply(ad: AdClick, media_type: str | int) -> dict[str, Any]:
    """Return WhatsApp Web's ``externalAdReply`` (the gateways pass it on as they get it)."""
    reply: dict[str, Any] = {
        "title": ad.headline,
        "body": ad.body,
        "mediaType": media_type,
        "thumbnailUrl": ad.thumbnail,
        "sourceType": ad.source_type,
        "sourceId": ad.source_id,
        "sourceUrl": ad.source_url,
        "containsAutoReply": False,
        "renderLargerThumbnail": True,
        "showAdAttribution": True,
        "ctwaClid": ad.ctwa_clid,
    }
    return {key: value for key, value in reply.items() if value is not None}


def instance_uuid(instance: str) -> str:
    """Return a stable UUID for an Evolution instance name (its ``instanceId``)."""
    digest = hashlib.sha256(instance.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


# Z-API


def _zapi_inbound(message: InboundMessage, account: BusinessAccount) -> dict[str, Any]:
    digits = message.lead_phone.lstrip("+")
    document: dict[str, Any] = {
        "isStatusReply": False,
        "connectedPhone": account.business_digits,
        "waitingMessage": False,
        "isEdit": False,
        "isGroup": False,
        "isNewsletter": False,
        "instanceId": account.instance,
        "messageId": message.message_id,
        "phone": digits,
        "fromMe": message.from_business,
        "momment": _milliseconds(message.at),
        "status": "SENT" if message.from_business else "RECEIVED",
        "chatName": message.name or digits,
        "senderName": message.name or digits,
        "participantPhone": None,
        "participantLid": None,
        "broadcast": False,
        "type": "ReceivedCallback",
        "fromApi": False,
    }
    if message.referral is not None:
        ad = message.referral
        document["externalAdReply"] = _external_ad_reply(ad, _ZAPI_AD_MEDIA_TYPES[ad.media_type])
    if message.reply is not None:
        reply = message.reply
        if reply.context_id:
            document["referenceMessageId"] = reply.context_id
        if reply.kind == "list":
            document["listResponseMessage"] = {
                "message": reply.description or "",
                "title": reply.title,
                "selectedRowId": reply.id,
            }
        else:
            document["buttonsResponseMessage"] = {"buttonId": reply.id, "message": reply.title}
    elif message.kind == "text":
        document["text"] = {"message": message.text}
        if message.referral is not None:  # the ad's preview rides along with the text
            document["text"] |= {
                "description": message.referral.body or "",
                "title": message.referral.headline or "",
                "url": message.referral.source_url or "",
                "thumbnailUrl": message.referral.thumbnail,
            }
    elif message.kind == "audio":
        document["audio"] = {
            "ptt": True,
            "seconds": 6,
            "audioUrl": message.media_url or "",
            "mimeType": _mime_type(message),
            "viewOnce": False,
        }
    elif message.kind == "image":
        document["image"] = {
            "mimeType": _mime_type(message),
            "imageUrl": message.media_url or "",
            "thumbnailUrl": message.media_url or "",
            "caption": message.text or "",
            "width": 600,
            "height": 315,
            "viewOnce": False,
        }
    elif message.kind == "video":
        document["video"] = {
            "videoUrl": message.media_url or "",
            "caption": message.text or "",
            "mimeType": _mime_type(message),
            "seconds": 4,
            "viewOnce": False,
        }
    else:
        document["document"] = {
            "documentUrl": message.media_url or "",
            "mimeType": _mime_type(message),
            "title": message.filename or "documento.pdf",
            "pageCount": 1,
            "fileName": message.filename or "documento.pdf",
            "caption": message.text or "",
        }
    return document


# Serialising and signing


def _signed_json(
    provider: Provider,
    document: dict[str, Any],
    url: str,
    secrets: Mapping[str, str] | None,
) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secrets is not None and provider == "evolution":
        document = {**document, "apikey": _secret(secrets, "apikey")}
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    if secrets is not None and provider == "meta":
        digest = hmac.new(_secret(secrets, "app_secret").encode(), body, hashlib.sha256)
        headers["x-hub-signature-256"] = "sha256=" + digest.hexdigest()
    if secrets is not None and provider == "zapi":
        headers["client-token"] = _secret(secrets, "client_token")
    return WebhookRequest(method="POST", url=url, body=body, headers=headers)


def _signed_form(
    form: dict[str, str],
    url: str,
    account: BusinessAccount,
    secrets: Mapping[str, str] | None,
) -> WebhookRequest:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if secrets is not None:
        signed_url = account.webhook_url or url
        headers["x-twilio-signature"] = twilio_signature(
            signed_url, form, _secret(secrets, "auth_token")
        )
    return WebhookRequest(method="POST", url=url, body=urlencode(form).encode(), headers=headers)


def _secret(secrets: Mapping[str, str], role: str) -> str:
    value = secrets.get(role)
    if not value:
        raise ValueError(f"secret role {role} is needed to sign this provider's webhooks")
    return value


def _whatsapp_cdn_url(message_id: str) -> str:
    """Return a WhatsApp CDN URL for a message's media (it holds encrypted bytes)."""
    token = hashlib.sha256(message_id.encode()).hexdigest()[:40]
    return f"https://mmg.whatsapp.net/v/t62.7117-24/{token}.enc?ccb=11-4&mms3=true"


def _mime_type(message: InboundMessage) -> str:
    return message.mime_type or DEFAULT_MIME_TYPES[message.kind]


def _milliseconds(at: datetime) -> int:
    return int(at.timestamp() * 1000)
