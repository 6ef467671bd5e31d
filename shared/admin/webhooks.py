"""Outbound webhook endpoints as managers set them up: the URL, the events, the signing secret.

``tenants/{t}/webhook_endpoints/{endpoint_id}`` (``WebhookEndpoint``). The signing secret
(``whsec_`` + 32 url-safe characters, ``shared.integrations.signing.new_secret``) is saved in
the secret store under ``piloto-tenant-{t}-webhook-{endpoint_id}``; the endpoint keeps only the
reference and the last four characters. The secret is in the answer that creates or rotates
it, and never again (nor in the audit log). Deleting an endpoint deletes its secret; its past
deliveries stay.

A URL must be https (plain http only to localhost in the local and test environments), carry
no credentials and fit in 2 KB; a tenant has at most ``MAX_ENDPOINTS`` endpoints (409). The
plans set no quota on endpoints for now.

"Send a test event" and "redeliver" write the delivery (``tenants/{t}/event_deliveries``, with the
event it carries) in the batch of their audit entry and then put its attempt on Cloud Tasks
(``AdminServices.schedule_delivery``, ``shared.integrations.dispatch.delivery_scheduler``);
the delivery function signs and POSTs it (``shared.integrations.delivery``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from google.cloud import firestore
from pydantic import AwareDatetime, BaseModel, Field

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, conflict, contended, invalid, not_found
from shared.admin.http import Request, Response
from shared.admin.query import equal
from shared.admin.schemas import Strict
from shared.integrations.dispatch import (
    ENDPOINTS_COLLECTION,
    deliveries,
    delivery_document,
    delivery_id,
    webhook_target,
)
from shared.integrations.events import test_event
from shared.integrations.models import (
    SUBSCRIBABLE_EVENTS,
    BusinessEvent,
    BusinessEventType,
    Delivery,
    DeliveryStatus,
    DeliveryTask,
    WebhookEndpoint,
)
from shared.integrations.outbox import stage_events
from shared.integrations.signing import new_secret
from shared.secret_store import tenant_secret_name
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.admin")

MAX_ENDPOINTS = 10
MAX_URL_BYTES = 2048
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
EVENT_LABELS: dict[BusinessEventType, str] = {
    BusinessEventType.CONVERSATION_STARTED: "Conversa iniciada",
    BusinessEventType.CONVERSATION_QUALIFIED: "Lead qualificado",
    BusinessEventType.STAGE_CHANGED: "Etapa alterada",
    BusinessEventType.HANDOFF: "Passada a um vendedor",
    BusinessEventType.MEETING_BOOKED: "Reunião agendada",
    BusinessEventType.MEETING_RESCHEDULED: "Reunião remarcada",
    BusinessEventType.MEETING_CANCELED: "Reunião cancelada",
    BusinessEventType.CONVERSATION_WON: "Venda ganha",
    BusinessEventType.CONVERSATION_LOST: "Venda perdida",
    BusinessEventType.INSIGHT_APPLIED: "Insight aplicado",
    BusinessEventType.INSIGHT_READY: "Insight pronto",
}

SubscribableEvent = Literal[
    "conversation.started",
    "conversation.qualified",
    "conversation.stage_changed",
    "conversation.handoff",
    "meeting.booked",
    "meeting.rescheduled",
    "meeting.canceled",
    "conversation.won",
    "conversation.lost",
    "insight.applied",
    "insight.ready",
]


class EndpointIn(Strict):
    url: str = Field(min_length=1, max_length=MAX_URL_BYTES)
    description: str = Field(default="", max_length=200)
    events: list[SubscribableEvent] = Field(min_length=1, max_length=len(SUBSCRIBABLE_EVENTS))


class EndpointPatch(Strict):
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_BYTES)
    description: str | None = Field(default=None, max_length=200)
    events: list[SubscribableEvent] | None = Field(
        default=None, min_length=1, max_length=len(SUBSCRIBABLE_EVENTS)
    )
    enabled: bool | None = None


class LastDeliveryOut(BaseModel):
    delivery_id: str
    event_type: str
    status: Literal["succeeded", "failed", "retrying"]
    http_status: int | None
    error: str | None
    at: AwareDatetime


class EndpointOut(BaseModel):
    endpoint_id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    secret_hint: str
    created_at: AwareDatetime
    failing_since: AwareDatetime | None
    disabled_at: AwareDatetime | None
    disabled_reason: str | None
    last_delivery: LastDeliveryOut | None


class EventTypeOut(BaseModel):
    type: str
    label: str


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]
    event_types: list[EventTypeOut]


class EndpointCreated(BaseModel):
    endpoint: EndpointOut
    secret: str = Field(description="The signing secret (whsec_…): shown this once.")


class EndpointDeleted(BaseModel):
    deleted: bool


class DeliveryAccepted(BaseModel):
    delivery_id: str


class DeliveriesQuery(Strict):
    limit: int = Field(default=20, ge=1, le=100)


class DeliveryOut(BaseModel):
    delivery_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_http_status: int | None
    last_error: str | None
    next_attempt_at: AwareDatetime | None
    created_at: AwareDatetime
    delivered_at: AwareDatetime | None
    payload: dict[str, Any] | None = Field(description="The body the endpoint receives.")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


def endpoints_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/webhook_endpoints``."""
    return tenant_ref(client, tenant_id).collection(ENDPOINTS_COLLECTION)


def list_endpoints(request: Request, tenant_id: str) -> EndpointList:
    """Return the tenant's endpoints, oldest first, and the events one may choose."""
    found = [
        WebhookEndpoint.model_validate(snapshot.to_dict())
        for snapshot in endpoints_ref(request.services.firestore, tenant_id).stream()
    ]
    found.sort(key=lambda endpoint: endpoint.created_at)
    return EndpointList(
        endpoints=[endpoint_out(endpoint) for endpoint in found],
        event_types=[
            EventTypeOut(type=kind.value, label=EVENT_LABELS.get(kind, kind.value))
            for kind in SUBSCRIBABLE_EVENTS
        ],
    )


def create_endpoint(request: Request, tenant_id: str) -> Response:
    """Register an endpoint with a new signing secret (in the answer, once)."""
    body: EndpointIn = request.body
    client = request.services.firestore
    now = request.services.now()
    url = _checked_url(request, body.url)
    if _count(client, tenant_id) >= MAX_ENDPOINTS:  # refused before the secret is saved
        raise _too_many()
    endpoint_id = f"we_{uuid.uuid4().hex[:16]}"
    secret = new_secret()
    name = tenant_secret_name(tenant_id, f"webhook-{endpoint_id}")
    reference = _save_secret(request, name, secret)
    endpoint = WebhookEndpoint(
        endpoint_id=endpoint_id,
        url=url,
        description=body.description,
        events=[BusinessEventType(kind) for kind in dict.fromkeys(body.events)],
        secret_ref=reference,
        secret_hint=secret[-4:],
        created_at=now,
        created_by=request.member.uid,
        updated_at=now,
    )

    @firestore.transactional
    def create(transaction: Any) -> None:
        if len(list(endpoints_ref(client, tenant_id).stream(transaction=transaction))) >= (
            MAX_ENDPOINTS
        ):
            raise _too_many()
        transaction.create(
            endpoints_ref(client, tenant_id).document(endpoint_id),
            endpoint.model_dump(mode="python"),
        )
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "webhook.create",
                f"webhook_endpoints/{endpoint_id}",
                now,
                after=_audited(endpoint),
            ),
        )

    try:
        contended(lambda: create(client.transaction()))
    except Exception:
        request.services.secret_store.delete(name)
        raise
    created = EndpointCreated(endpoint=endpoint_out(endpoint), secret=secret)
    return Response(201, created.model_dump(mode="json"))


def update_endpoint(request: Request, tenant_id: str, endpoint_id: str) -> EndpointOut:
    """Change an endpoint's URL, description, events or switch; enabling clears its failures."""
    body: EndpointPatch = request.body
    changes: dict[str, Any] = {}
    if body.url is not None:
        changes["url"] = _checked_url(request, body.url)
    if body.description is not None:
        changes["description"] = body.description
    if body.events is not None:
        changes["events"] = [BusinessEventType(kind) for kind in dict.fromkeys(body.events)]
    if body.enabled is not None:
        changes["enabled"] = body.enabled
        if body.enabled:
            changes |= {"failing_since": None, "disabled_at": None, "disabled_reason": None}
        else:
            changes |= {"disabled_at": request.services.now(), "disabled_reason": None}
    if not changes:
        raise ApiError(422, "nothing to change: send url, description, events or enabled")
    return _change(request, tenant_id, endpoint_id, "webhook.update", changes)


def delete_endpoint(request: Request, tenant_id: str, endpoint_id: str) -> EndpointDeleted:
    """Delete an endpoint and its signing secret (its deliveries stay in the history)."""
    client = request.services.firestore
    now = request.services.now()
    document = endpoints_ref(client, tenant_id).document(endpoint_id)

    @firestore.transactional
    def delete(transaction: Any) -> None:
        endpoint = _read(transaction, document)
        transaction.delete(document)
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "webhook.delete",
                f"webhook_endpoints/{endpoint_id}",
                now,
                before=_audited(endpoint),
            ),
        )

    contended(lambda: delete(client.transaction()))
    request.services.secret_store.delete(tenant_secret_name(tenant_id, f"webhook-{endpoint_id}"))
    return EndpointDeleted(deleted=True)


def rotate_secret(request: Request, tenant_id: str, endpoint_id: str) -> EndpointCreated:
    """Give an endpoint a new signing secret (in the answer, once); the old one stops at once."""
    client = request.services.firestore
    document = endpoints_ref(client, tenant_id).document(endpoint_id)
    if not document.get().exists:  # refused before a secret is saved
        raise not_found("webhook endpoint")
    secret = new_secret()
    name = tenant_secret_name(tenant_id, f"webhook-{endpoint_id}")
    reference = _save_secret(request, name, secret)
    changes = {"secret_ref": reference, "secret_hint": secret[-4:]}
    endpoint = _change(request, tenant_id, endpoint_id, "webhook.rotate_secret", changes)
    return EndpointCreated(endpoint=endpoint, secret=secret)


def send_test(request: Request, tenant_id: str, endpoint_id: str) -> Response:
    """Send a ``webhook.test`` event to the endpoint now (a delivery like any other)."""
    client = request.services.firestore
    now = request.services.now()
    document = endpoints_ref(client, tenant_id).document(endpoint_id)
    if not document.get().exists:
        raise not_found("webhook endpoint")
    schedule = _scheduler(request)
    event = test_event(tenant_id, endpoint_id, now)
    target = webhook_target(endpoint_id)
    delivery = Delivery(
        delivery_id=delivery_id(event.event_id, target),
        kind="webhook",
        event_id=event.event_id,
        event_type=event.type.value,
        target_id=endpoint_id,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )

    @firestore.transactional
    def record(transaction: Any) -> None:
        _read(transaction, document)
        # its delivery is made here, never through business-events: nothing to sweep
        stage_events(transaction, client, [event], event.event_id, published_at=now)
        transaction.create(
            deliveries(client, tenant_id).document(delivery.delivery_id),
            delivery_document(delivery, event),
        )
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "webhook.test",
                f"webhook_endpoints/{endpoint_id}",
                now,
                after={"delivery_id": delivery.delivery_id},
            ),
        )

    contended(lambda: record(client.transaction()))
    _schedule(request, schedule, tenant_id, delivery.delivery_id, 1, now)
    accepted = DeliveryAccepted(delivery_id=delivery.delivery_id)
    return Response(202, accepted.model_dump(mode="json"))


def list_deliveries(request: Request, tenant_id: str, endpoint_id: str) -> DeliveryList:
    """Return the endpoint's latest deliveries, newest first, with the body each carries."""
    query: DeliveriesQuery = request.query
    client = request.services.firestore
    if not endpoints_ref(client, tenant_id).document(endpoint_id).get().exists:
        raise not_found("webhook endpoint")
    found = (
        deliveries(client, tenant_id)
        .where(filter=equal("target_id", endpoint_id))
        .order_by("created_at", direction=firestore.Query.DESCENDING)
        .limit(query.limit)
        .stream()
    )
    return DeliveryList(
        deliveries=[
            delivery_out(snapshot.to_dict() or {})
            for snapshot in found
            if (snapshot.to_dict() or {}).get("kind") == "webhook"
        ]
    )


def redeliver(request: Request, tenant_id: str, endpoint_id: str, delivery_id: str) -> Response:
    """Attempt a finished delivery again (it becomes pending; the next attempt goes now)."""
    client = request.services.firestore
    now = request.services.now()
    endpoint_doc = endpoints_ref(client, tenant_id).document(endpoint_id)
    document = deliveries(client, tenant_id).document(delivery_id)
    if not endpoint_doc.get().exists:
        raise not_found("webhook endpoint")
    schedule = _scheduler(request)

    @firestore.transactional
    def reopen(transaction: Any) -> dict[str, Any]:
        endpoint = _read(transaction, endpoint_doc)
        snapshot = document.get(transaction=transaction)
        record = snapshot.to_dict() or {}
        if not snapshot.exists or record.get("target_id") != endpoint_id:
            raise not_found("delivery")
        if record.get("kind") != "webhook":
            raise not_found("delivery")
        if not endpoint.enabled:
            raise conflict("the endpoint is disabled: enable it before redelivering")
        if record.get("status") == "pending":
            raise conflict("this delivery is still being attempted")
        changes = {"status": "pending", "next_attempt_at": now, "updated_at": now}
        transaction.update(document, changes)
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "webhook.redeliver",
                f"deliveries/{delivery_id}",
                now,
                before={"status": record.get("status"), "attempts": record.get("attempts")},
                after={"status": "pending"},
            ),
        )
        return {**record, **changes}

    record = contended(lambda: reopen(client.transaction()))
    attempt = int(record.get("attempts") or 0) + 1
    _schedule(request, schedule, tenant_id, delivery_id, attempt, now)
    return Response(202, delivery_out(record).model_dump(mode="json"))


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    """Return the console's view of an endpoint (no secret, only its hint)."""
    last = endpoint.last_delivery
    return EndpointOut(
        endpoint_id=endpoint.endpoint_id,
        url=endpoint.url,
        description=endpoint.description,
        events=[kind.value for kind in endpoint.events],
        enabled=endpoint.enabled,
        secret_hint=endpoint.secret_hint,
        created_at=endpoint.created_at,
        failing_since=endpoint.failing_since,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        last_delivery=LastDeliveryOut.model_validate(last.model_dump()) if last else None,
    )


def delivery_out(record: dict[str, Any]) -> DeliveryOut:
    """Return the console's view of a delivery document (with the body it carries)."""
    delivery = Delivery.model_validate(record)
    stored = record.get("event")
    payload = BusinessEvent.model_validate(stored).public() if isinstance(stored, dict) else None
    return DeliveryOut(
        delivery_id=delivery.delivery_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        last_http_status=delivery.last_http_status,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        payload=payload,
    )


def _checked_url(request: Request, raw: str) -> str:
    """Return the URL if an endpoint may have it, else refuse with a 422 naming ``url``."""
    url = raw.strip()
    if len(url.encode()) > MAX_URL_BYTES:
        raise invalid("url", f"at most {MAX_URL_BYTES} bytes")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  # raises ValueError for a bad port
    except ValueError:
        raise invalid("url", "not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise invalid("url", "must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise invalid("url", "must not carry credentials (user:password@)")
    if any(character.isspace() for character in url):
        raise invalid("url", "must not contain spaces")
    if parts.scheme == "http":
        local = request.services.settings.environment in ("local", "test")
        if not (local and host in LOCAL_HOSTS):
            raise invalid("url", "must be https (plain http only to localhost in development)")
    return url


def _save_secret(request: Request, name: str, secret: str) -> str:
    """Save the signing secret; return its reference (503 when the secret store fails)."""
    try:
        reference: str = request.services.secret_store.put(name, secret)
    except Exception as error:
        logger.exception("saving a webhook secret failed")
        raise ApiError(503, f"the secret could not be saved ({type(error).__name__})") from None
    return reference


def _change(
    request: Request, tenant_id: str, endpoint_id: str, action: str, changes: dict[str, Any]
) -> EndpointOut:
    """Apply ``changes`` to the endpoint in a transaction with its audit entry."""
    client = request.services.firestore
    now = request.services.now()
    document = endpoints_ref(client, tenant_id).document(endpoint_id)

    @firestore.transactional
    def apply(transaction: Any) -> WebhookEndpoint:
        endpoint = _read(transaction, document)
        update = {**changes, "updated_at": now}
        changed = endpoint.model_copy(update=update)
        transaction.update(document, changed.model_dump(mode="python", include=set(update)))
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                action,
                f"webhook_endpoints/{endpoint_id}",
                now,
                before=_audited(endpoint, set(changes)),
                after=_audited(changed, set(changes)),
            ),
        )
        return changed

    return endpoint_out(contended(lambda: apply(client.transaction())))


def _read(transaction: Any, document: Any) -> WebhookEndpoint:
    snapshot = document.get(transaction=transaction)
    if not snapshot.exists:
        raise not_found("webhook endpoint")
    return WebhookEndpoint.model_validate(snapshot.to_dict())


def _audited(endpoint: WebhookEndpoint, fields: set[str] | None = None) -> dict[str, Any]:
    """Return what the audit log keeps of an endpoint: never the secret (its hint at most)."""
    kept = {"url", "description", "events", "enabled", "secret_hint", "disabled_reason"}
    record = endpoint.model_dump(mode="json", include=kept)
    if fields is not None:
        record = {name: value for name, value in record.items() if name in fields}
        if "secret_ref" in fields:
            record["secret_hint"] = endpoint.secret_hint
    return record


def _count(client: Any, tenant_id: str) -> int:
    return len(list(endpoints_ref(client, tenant_id).select([]).stream()))


def _too_many() -> ApiError:
    return conflict(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")


def _scheduler(request: Request) -> Any:
    """Return the delivery scheduler, or refuse with 503 before anything is written."""
    schedule = request.services.schedule_delivery
    if schedule is None:
        raise ApiError(503, "deliveries are not configured here (PILOTO_DELIVERY_URL and a queue)")
    return schedule


def _schedule(
    request: Request, schedule: Any, tenant_id: str, delivery_id: str, attempt: int, at: datetime
) -> None:
    """Put the attempt on Cloud Tasks; when that fails, the delivery is failed (503)."""
    try:
        schedule(DeliveryTask(tenant_id=tenant_id, delivery_id=delivery_id, attempt=attempt), at)
    except Exception as error:
        logger.exception("scheduling a delivery failed", extra={"tenant_id": tenant_id})
        deliveries(request.services.firestore, tenant_id).document(delivery_id).update(
            {"status": "failed", "last_error": f"not scheduled: {type(error).__name__}"}
        )
        raise ApiError(
            503, f"the delivery could not be scheduled ({type(error).__name__}); try again"
        ) from None
