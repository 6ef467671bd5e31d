"""Canonical conversation events: what every WhatsApp provider's webhook becomes.

A provider adapter (``shared/channels/<provider>.py``) turns one webhook request into a list of
these events; the webhook function publishes each to the Pub/Sub topic ``conversation-events``
with the ordering key ``tenant_id:contact_key`` so one contact's events are handled in order.

Four kinds exist, told apart by ``kind``:

- ``lead_message``: a message the lead sent to the business.
- ``seller_message``: a message the business sent from its own phone (Evolution/Z-API ``fromMe``):
  a human seller is active; it is never a lead message.
- ``status_update``: the provider's progress report on a message the business sent
  (sent < delivered < read; failed carries the provider's error code).
- ``connection_update``: the channel's own connection state (unofficial gateways).

``event_id`` is the idempotency key (provider + kind + provider message id, plus the status for
status updates): a provider retry of the same webhook yields the same ``event_id``.

The events are frozen standard-library dataclasses, not pydantic models: the webhook builds them
on its hot path, and importing pydantic there would double its cold start (see ``make bench``).
Consumers validate what they receive with ``event_from_json``, which uses pydantic's
``TypeAdapter`` over these same classes, so there is one definition of the contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

if TYPE_CHECKING:
    from pydantic import TypeAdapter

Provider = Literal["meta", "twilio", "evolution", "zapi"]
PROVIDERS: tuple[Provider, ...] = ("meta", "twilio", "evolution", "zapi")


class MessageType(StrEnum):
    """What a WhatsApp message carries."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE_REPLY = "interactive_reply"
    REACTION = "reaction"
    UNSUPPORTED = "unsupported"


class DeliveryStatus(StrEnum):
    """Progress of a message the business sent; ``rank`` orders the forward-only moves."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Return the position of this status in sent < delivered < read (failed is terminal)."""
        return {"sent": 1, "delivered": 2, "read": 3, "failed": 4}[self.value]


@dataclass(frozen=True, kw_only=True, slots=True)
class ContactRef:
    """Who the conversation is with, as the provider identified them.

    ``phone`` is E.164 when the provider gave a phone number; ``lid`` is WhatsApp's privacy
    "linked id" when the provider only gave that. ``key`` is the stable id used in ordering keys
    and Firestore paths.
    """

    phone: str | None = None
    wa_id: str | None = None
    lid: str | None = None
    profile_name: str | None = None

    @property
    def key(self) -> str:
        """Return the stable contact key: the E.164 phone, else the LID, else the raw wa_id."""
        return self.phone or self.lid or self.wa_id or "unknown"


@dataclass(frozen=True, kw_only=True, slots=True)
class Media:
    """A media attachment by reference: media itself never travels through events."""

    provider_media_id: str | None = None
    url: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    filename: str | None = None
    caption: str | None = None
    voice: bool = False
    size_bytes: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Location:
    """A shared location pin."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SharedContact:
    """A contact card the lead shared."""

    name: str | None = None
    phones: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class InteractiveReply:
    """The lead's tap on a button or list row the business offered."""

    kind: Literal["button", "list"]
    id: str | None = None
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Reaction:
    """An emoji reaction to an earlier message (an empty emoji removes the reaction)."""

    emoji: str
    message_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AdReferral:
    """Click-to-WhatsApp ad attribution: which ad or post brought the lead."""

    ctwa_clid: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    source_type: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageContent:
    """The content of one WhatsApp message, lead's or seller's.

    ``reply_to`` is the provider id of the quoted message; ``unsupported_type`` is the
    provider's own type name when ``message_type`` is unsupported.
    """

    message_type: MessageType
    text: str | None = None
    media: Media | None = None
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    interactive: InteractiveReply | None = None
    reaction: Reaction | None = None
    reply_to: str | None = None
    referral: AdReferral | None = None
    unsupported_type: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _EventBase:
    event_id: str
    provider: Provider
    tenant_id: str
    channel_id: str
    occurred_at: datetime
    received_at: datetime

    @property
    def contact_key(self) -> str:
        """Return the key that orders this event among the same contact's events."""
        raise NotImplementedError

    @property
    def ordering_key(self) -> str:
        """Return the Pub/Sub ordering key: one contact of one tenant."""
        return f"{self.tenant_id}:{self.contact_key}"


@dataclass(frozen=True, kw_only=True, slots=True)
class LeadMessage(_EventBase):
    """A message a lead sent to the business."""

    message_id: str
    contact: ContactRef
    content: MessageContent
    kind: Literal["lead_message"] = "lead_message"

    @property
    def contact_key(self) -> str:
        """Return the lead's contact key."""
        return self.contact.key


@dataclass(frozen=True, kw_only=True, slots=True)
class SellerMessage(_EventBase):
    """A message the business sent from its own phone: a human seller is active."""

    message_id: str
    contact: ContactRef
    content: MessageContent
    kind: Literal["seller_message"] = "seller_message"

    @property
    def contact_key(self) -> str:
        """Return the key of the contact the seller wrote to."""
        return self.contact.key


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusUpdate(_EventBase):
    """The provider's report on a message the business sent."""

    message_id: str
    status: DeliveryStatus
    contact: ContactRef
    error_code: str | None = None
    error_title: str | None = None
    kind: Literal["status_update"] = "status_update"

    @property
    def contact_key(self) -> str:
        """Return the key of the recipient of the reported message."""
        return self.contact.key


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionUpdate(_EventBase):
    """The connection state of the channel itself (gateway connected, disconnected, ...)."""

    state: str
    detail: str | None = None
    kind: Literal["connection_update"] = "connection_update"

    @property
    def contact_key(self) -> str:
        """Return a per-channel key: connection events belong to no contact."""
        return f"channel:{self.channel_id}"


ConversationEvent = LeadMessage | SellerMessage | StatusUpdate | ConnectionUpdate


def to_plain(value: Any) -> Any:
    """Return an event (or any part of one) as JSON-ready data: dicts, lists, strings, numbers."""
    if is_dataclass(value):
        return {item.name: to_plain(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_plain(item) for item in value]
    return value  # str (StrEnum included), int, float, bool, None


def event_to_json(event: ConversationEvent) -> bytes:
    """Serialise an event to the JSON carried by Pub/Sub messages."""
    return json.dumps(to_plain(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@cache
def _event_adapter() -> TypeAdapter[ConversationEvent]:
    from pydantic import Field, TypeAdapter

    return TypeAdapter(Annotated[ConversationEvent, Field(discriminator="kind")])


def event_from_json(data: bytes | str) -> ConversationEvent:
    """Validate a Pub/Sub message body into an event; raise ``ValueError`` when it is not one."""
    event = _event_adapter().validate_json(data)
    for moment in (event.occurred_at, event.received_at):
        if moment.tzinfo is None:
            raise ValueError("event datetimes must carry a time zone")
    return event


def event_id_for(provider: Provider, kind: str, provider_id: str, suffix: str = "") -> str:
    """Build the idempotency key of an event from the provider's own ids."""
    parts = [provider, kind, provider_id] + ([suffix] if suffix else [])
    return ":".join(parts)


def timestamp_to_datetime(value: int | float | str) -> datetime:
    """Convert a provider Unix timestamp (seconds or milliseconds) to an aware UTC datetime."""
    number = float(value)
    if number > 1e11:  # milliseconds
        number /= 1000.0
    return datetime.fromtimestamp(number, tz=UTC)
