"""Fan one business event out into deliveries: webhook endpoints, the CRM, e-mail notifications.

The ``integrations`` function (push subscription ``business-events-integrations``) calls
``Dispatcher.on_event`` for each event. Targets:

- each enabled webhook endpoint of the tenant whose ``events`` include the type (the tenant's
  endpoints are cached ``ENDPOINT_CACHE_SECONDS``); a ``webhook.test`` event goes only to the
  endpoint it names (``data.endpoint_id``), enabled or not;
- the CRM (target ``crm``) when ``settings/crm`` exists and is enabled and the event concerns a
  conversation (not ``insight.ready`` nor tests);
- each e-mail notification ``shared.notifications.plan.plan_notifications`` returns (target
  ``mail-{notification_id}``; it creates the console notifications itself).

Each delivery is ``tenants/{t}/event_deliveries/{event_id}~{target}``, made with ``create()``: a
redelivered event finds it and makes no second one (it only schedules attempt 1 again while
nothing was attempted, in case the first schedule failed; the runner claims each attempt once).
The delivery document also holds the event (``event``), so an attempt reads one document.
Once its deliveries exist, the event's outbox document is marked published
(``shared.integrations.outbox.mark_published``): the outbox sweep leaves it alone from then on.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.api_core.exceptions import AlreadyExists
from pydantic import ValidationError

from shared.crm.models import CrmSettings
from shared.events.tasks import TaskScheduler
from shared.integrations.models import (
    BusinessEvent,
    BusinessEventType,
    Delivery,
    DeliveryKind,
    DeliveryTask,
    WebhookEndpoint,
)
from shared.integrations.outbox import mark_published
from shared.notifications.models import Notification
from shared.settings import Settings
from shared.store.cache import TTLCache
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.integrations.dispatch")

DELIVERIES_COLLECTION = "event_deliveries"
"""Not ``deliveries``: that collection holds the delivery statuses of messages sent to leads."""
ENDPOINTS_COLLECTION = "webhook_endpoints"
ENDPOINT_CACHE_SECONDS = 30.0
NOT_FOR_CRM = (BusinessEventType.WEBHOOK_TEST, BusinessEventType.INSIGHT_READY)

ScheduleDelivery = Callable[[DeliveryTask, datetime], None]
"""Put a delivery attempt on Cloud Tasks at a time (``delivery_scheduler``)."""
PlanNotifications = Callable[[Any, BusinessEvent, datetime], Sequence[Notification]]
"""``shared.notifications.plan.plan_notifications``: the e-mail notifications to deliver."""


def deliveries(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/event_deliveries``."""
    return tenant_ref(client, tenant_id).collection(DELIVERIES_COLLECTION)


def delivery_id(event_id: str, target: str) -> str:
    """Return the id of the delivery of one event to one target."""
    return f"{event_id}~{target}"


def webhook_target(endpoint_id: str) -> str:
    """Return the delivery target of a webhook endpoint."""
    return f"wh-{endpoint_id}"


def delivery_document(delivery: Delivery, event: BusinessEvent) -> dict[str, Any]:
    """Return a delivery's Firestore document: the delivery and the event it carries."""
    return {**delivery.model_dump(mode="python"), "event": event.model_dump(mode="python")}


def delivery_scheduler(settings: Settings) -> ScheduleDelivery | None:
    """Return what puts delivery attempts on Cloud Tasks, or None without a URL or queue."""
    queue = settings.delivery_queue or settings.followup_queue or settings.tasks_queue
    url = settings.delivery_url
    if not queue or not url:
        return None
    scheduler = TaskScheduler(
        queue_path=queue,
        emulator_host=settings.tasks_emulator_host,
        service_account_email=settings.tasks_service_account,
    )

    def schedule(task: DeliveryTask, at: datetime) -> None:
        scheduler.schedule(url, task.model_dump_json().encode("utf-8"), at)

    return schedule


def read_endpoints(client: Any, tenant_id: str) -> list[WebhookEndpoint]:
    """Return the tenant's webhook endpoints (an unreadable one is logged and left out)."""
    found: list[WebhookEndpoint] = []
    for snapshot in tenant_ref(client, tenant_id).collection(ENDPOINTS_COLLECTION).stream():
        try:
            found.append(WebhookEndpoint.model_validate(snapshot.to_dict() or {}))
        except ValidationError as error:
            logger.error(
                "unreadable webhook endpoint: %s",
                error.errors()[0]["msg"],
                extra={"tenant_id": tenant_id, "endpoint_id": snapshot.id},
            )
    return found


def read_crm(client: Any, tenant_id: str) -> CrmSettings | None:
    """Return the tenant's CRM settings, or None when not connected (or unreadable)."""
    snapshot = tenant_ref(client, tenant_id).collection("settings").document("crm").get()
    if not snapshot.exists:
        return None
    try:
        return CrmSettings.model_validate(snapshot.to_dict() or {})
    except ValidationError as error:
        logger.error(
            "unreadable CRM settings: %s", error.errors()[0]["msg"], extra={"tenant_id": tenant_id}
        )
        return None


def create_delivery(
    client: Any,
    event: BusinessEvent,
    kind: DeliveryKind,
    target: str,
    now: datetime,
    target_id: str | None = None,
) -> tuple[Delivery, bool]:
    """Create the delivery of ``event`` to ``target``; return it and whether it is new.

    An existing delivery is returned as stored (a redelivered event makes no second one).
    """
    delivery = Delivery(
        delivery_id=delivery_id(event.event_id, target),
        kind=kind,
        event_id=event.event_id,
        event_type=event.type.value,
        target_id=target_id or target,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    document = deliveries(client, event.tenant_id).document(delivery.delivery_id)
    try:
        document.create(delivery_document(delivery, event))
    except AlreadyExists:
        snapshot = document.get()
        return Delivery.model_validate(snapshot.to_dict() or {}), False
    return delivery, True


@dataclass
class Dispatcher:
    """Turns business events into deliveries and schedules their first attempts."""

    firestore: Any
    schedule: ScheduleDelivery
    plan_notifications: PlanNotifications | None = None
    """H8's planner; None makes no e-mail deliveries (tests of webhooks alone)."""
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    endpoint_cache_seconds: float = ENDPOINT_CACHE_SECONDS

    def __post_init__(self) -> None:
        self._endpoints: TTLCache[list[WebhookEndpoint]] = TTLCache(
            lambda tenant_id: read_endpoints(self.firestore, tenant_id),
            ttl_seconds=self.endpoint_cache_seconds,
            missing_ttl_seconds=self.endpoint_cache_seconds,
        )
        self._crm: TTLCache[CrmSettings] = TTLCache(
            lambda tenant_id: read_crm(self.firestore, tenant_id),
            ttl_seconds=self.endpoint_cache_seconds,
            missing_ttl_seconds=self.endpoint_cache_seconds,
        )

    def on_message(self, data: bytes) -> list[Delivery]:
        """Dispatch one Pub/Sub message; a message that is not an event is logged and dropped."""
        from shared.integrations.publish import event_from_pubsub

        try:
            event = event_from_pubsub(data)
        except ValueError as error:
            logger.error("business event dropped: %s", error)
            return []
        return self.on_event(event)

    def on_event(self, event: BusinessEvent) -> list[Delivery]:
        """Create the event's deliveries and schedule their first attempts; return them."""
        now = self.now()
        made: list[Delivery] = []
        for kind, target, target_id in self._targets(event, now):
            delivery, new = create_delivery(self.firestore, event, kind, target, now, target_id)
            if new or (delivery.status == "pending" and delivery.attempts == 0):
                # a redelivered event whose first schedule may have failed: schedule again
                # (the runner claims attempt 1 once, however many tasks carry it)
                self.schedule(
                    DeliveryTask(
                        tenant_id=event.tenant_id, delivery_id=delivery.delivery_id, attempt=1
                    ),
                    now,
                )
            if new:
                made.append(delivery)
        mark_published(self.firestore, event, now)  # the outbox sweep stops here
        logger.info(
            "business event dispatched",
            extra={
                "tenant_id": event.tenant_id,
                "event_id": event.event_id,
                "deliveries": [delivery.delivery_id for delivery in made],
            },
        )
        return made

    def _targets(self, event: BusinessEvent, now: datetime) -> list[tuple[DeliveryKind, str, str]]:
        """Return (kind, target, target_id) of every delivery the event needs."""
        targets: list[tuple[DeliveryKind, str, str]] = []
        if event.type is BusinessEventType.WEBHOOK_TEST:
            endpoint_id = str(event.data.get("endpoint_id") or "")
            if endpoint_id:
                targets.append(("webhook", webhook_target(endpoint_id), endpoint_id))
            return targets
        for endpoint in self._endpoints.get(event.tenant_id) or []:
            if endpoint.enabled and event.type in endpoint.events:
                endpoint_id = endpoint.endpoint_id
                targets.append(("webhook", webhook_target(endpoint_id), endpoint_id))
        if event.conversation_id is not None and event.type not in NOT_FOR_CRM:
            crm = self._crm.get(event.tenant_id)
            if crm is not None and crm.enabled:
                targets.append(("crm", "crm", "crm"))
        if self.plan_notifications is not None:
            for notification in self.plan_notifications(self.firestore, event, now):
                target = f"mail-{notification.notification_id}"
                targets.append(("email", target, target))
        return targets


def build_dispatcher(settings: Settings) -> Dispatcher:
    """Wire the dispatcher to Firestore, Cloud Tasks and the notification planner."""
    from shared.store.firestore import firestore_client

    schedule = delivery_scheduler(settings)
    if schedule is None:
        raise RuntimeError(
            "set PILOTO_DELIVERY_URL and PILOTO_DELIVERY_QUEUE (or PILOTO_FOLLOWUP_QUEUE, "
            "PILOTO_TASKS_QUEUE): each delivery is attempted through Cloud Tasks"
        )
    return Dispatcher(
        firestore=firestore_client(settings.project_id),
        schedule=schedule,
        plan_notifications=_notification_planner(),
    )


def _notification_planner() -> PlanNotifications | None:
    """Return H8's ``plan_notifications``, or None (logged) when it cannot be imported."""
    try:
        plan = importlib.import_module("shared.notifications.plan")
    except ImportError as error:
        logger.error("e-mail notifications off: %s", error)
        return None
    planner: PlanNotifications | None = getattr(plan, "plan_notifications", None)
    return planner
