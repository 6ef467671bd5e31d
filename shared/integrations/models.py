"""Business events and where they go: outbound webhooks, the CRM, notifications.

A business event is something the tenant's other tools care about (a conversation started, a
lead qualified, a meeting booked, a sale won). Whoever changes the state writes the event in the
same batch or transaction as the change (the outbox, ``tenants/{t}/business_events/{event_id}``)
and publishes it on the ``business-events`` topic once that committed. The event id is derived
from what caused it (a decision id, a booking id), so a redelivered turn or task re-publishes the
same id and every consumer can drop a duplicate.

Firestore layout under ``tenants/{tenant_id}/``:

- ``business_events/{event_id}``: ``BusinessEvent`` plus ``published_at``.
- ``webhook_endpoints/{endpoint_id}``: ``WebhookEndpoint`` (the signing secret is a Secret
  Manager reference, never the secret).
- ``deliveries/{delivery_id}``: ``Delivery``, one per event and target
  (``{event_id}~{target}``), created once: a redelivered event makes no second delivery.
- ``settings/crm``: ``shared.crm.models.CrmSettings``.

Top level: ``api_keys/{sha256 of the key}``: ``ApiKey`` (the key itself is shown once).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

BUSINESS_EVENTS_TOPIC = "business-events"


class BusinessEventType(StrEnum):
    """What happened, as integrations name it (the ``type`` of a webhook delivery)."""

    CONVERSATION_STARTED = "conversation.started"
    CONVERSATION_QUALIFIED = "conversation.qualified"
    STAGE_CHANGED = "conversation.stage_changed"
    HANDOFF = "conversation.handoff"
    MEETING_BOOKED = "meeting.booked"
    MEETING_RESCHEDULED = "meeting.rescheduled"
    MEETING_CANCELED = "meeting.canceled"
    CONVERSATION_WON = "conversation.won"
    CONVERSATION_LOST = "conversation.lost"
    INSIGHT_APPLIED = "insight.applied"
    INSIGHT_READY = "insight.ready"
    """An insight agent produced an insight (notifies the seller it is addressed to)."""
    WEBHOOK_TEST = "webhook.test"
    """Sent only by "send a test event" to one endpoint."""


SUBSCRIBABLE_EVENTS: tuple[BusinessEventType, ...] = tuple(
    kind for kind in BusinessEventType if kind is not BusinessEventType.WEBHOOK_TEST
)


class EventContact(BaseModel):
    """The lead an event is about."""

    model_config = ConfigDict(extra="forbid")

    contact_key: str
    phone: str | None = None
    name: str | None = None
    email: str | None = None


class BusinessEvent(BaseModel):
    """One business event; ``public()`` is the JSON body a webhook endpoint receives."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(pattern=r"^[A-Za-z0-9._:~-]{1,200}$")
    type: BusinessEventType
    tenant_id: str
    occurred_at: AwareDatetime
    source: Literal["agent", "seller", "api", "system"] = "agent"
    conversation_id: str | None = None
    contact: EventContact | None = None
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="By type: stage and previous_stage; reason; meeting {booking_id, start, end, "
        "location}; insight {insight_id, agent_name, payload}; assignee_uid; fields.",
    )

    def public(self) -> dict[str, Any]:
        """Return the documented webhook body: ``{id, type, created_at, tenant_id, data}``."""
        data: dict[str, Any] = dict(self.data)
        if self.conversation_id is not None:
            data.setdefault("conversation_id", self.conversation_id)
        if self.contact is not None:
            data.setdefault("contact", self.contact.model_dump(mode="json"))
        data.setdefault("source", self.source)
        return {
            "id": self.event_id,
            "type": self.type.value,
            "created_at": self.occurred_at.isoformat(),
            "tenant_id": self.tenant_id,
            "data": data,
        }


class LastDelivery(BaseModel):
    """What happened to an endpoint's latest delivery attempt (the console shows it)."""

    model_config = ConfigDict(extra="ignore")

    delivery_id: str
    event_type: str
    status: Literal["succeeded", "failed", "retrying"]
    http_status: int | None = None
    error: str | None = None
    at: AwareDatetime


class WebhookEndpoint(BaseModel):
    """A tenant's URL that receives the events it chose, signed with its own secret."""

    model_config = ConfigDict(extra="ignore")

    endpoint_id: str
    url: str
    description: str = ""
    events: list[BusinessEventType]
    enabled: bool = True
    secret_ref: str = Field(description="Secret reference to the signing secret (whsec_…).")
    secret_hint: str = Field(default="", description="The secret's last four characters.")
    created_at: AwareDatetime
    created_by: str | None = None
    updated_at: AwareDatetime | None = None
    failing_since: AwareDatetime | None = Field(
        default=None, description="First failed attempt since the last success."
    )
    disabled_at: AwareDatetime | None = None
    disabled_reason: str | None = None
    last_delivery: LastDelivery | None = None


DeliveryKind = Literal["webhook", "crm", "email"]
DeliveryStatus = Literal["pending", "succeeded", "failed", "discarded"]


class Delivery(BaseModel):
    """One event to one target, retried with backoff through Cloud Tasks until it lands."""

    model_config = ConfigDict(extra="ignore")

    delivery_id: str
    kind: DeliveryKind
    event_id: str
    event_type: str
    target_id: str = Field(description="The endpoint id, 'crm', or the notification id.")
    status: DeliveryStatus = "pending"
    attempts: int = 0
    next_attempt_at: AwareDatetime | None = None
    last_http_status: int | None = None
    last_error: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    delivered_at: AwareDatetime | None = None


class DeliveryTask(BaseModel):
    """The Cloud Tasks body for the delivery function: which delivery, which attempt."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1)
    delivery_id: str = Field(min_length=1)
    attempt: int = Field(ge=1)


ApiScope = Literal["contacts", "conversations", "macros"]
API_SCOPES: tuple[ApiScope, ...] = ("contacts", "conversations", "macros")


class ApiKey(BaseModel):
    """A tenant's key for the public API (``api_keys/{sha256}``; the key is shown once)."""

    model_config = ConfigDict(extra="ignore")

    key_id: str
    tenant_id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it (pk_live_ab12).")
    scopes: list[ApiScope] = Field(default_factory=lambda: list(API_SCOPES))
    created_at: AwareDatetime
    created_by: str | None = None
    last_used_at: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None


class AttemptResult(BaseModel):
    """What one delivery attempt did; ``permanent`` failures are not retried."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    http_status: int | None = None
    error: str | None = Field(default=None, max_length=500)
    permanent: bool = False
    retry_after_seconds: float | None = Field(
        default=None, description="Try again sooner or later than the backoff says (429s)."
    )
