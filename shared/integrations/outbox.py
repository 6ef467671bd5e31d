"""The business-event outbox: stage events with the change that caused them, publish after.

``stage_events`` adds each event to the caller's batch or transaction as
``tenants/{t}/business_events/{event_id}`` (``create``: the batch fails if the event was already
stored, so callers derive event ids from something that happens once, like a decision id), with
``published_at`` None. Once the write committed, the caller publishes the same events on
``business-events``; the ``integrations`` function sets ``published_at`` when it has taken an
event in (``mark_published``, after its deliveries exist).

Two ways bring back an event whose publish failed (consumers drop duplicates by event id):

- a task or push redelivered after the failure finds its events with ``events_of_cause`` and
  publishes them again (turns, follow-ups, the insights runner);
- ``sweep_outbox``, run every few minutes by the ``outbox`` function (Cloud Scheduler), publishes
  again every event still unpublished ``SWEEP_GRACE`` after it happened, for up to
  ``SWEEP_HORIZON``: what an admin action already answered, or a crash, left behind.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud.firestore_v1 import Increment
from google.cloud.firestore_v1.base_query import FieldFilter
from pydantic import ValidationError

from shared.integrations.models import BusinessEvent
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.integrations.outbox")

BUSINESS_EVENTS_COLLECTION = "business_events"
SWEEP_GRACE = timedelta(minutes=5)
"""How long an event may wait for its own publish before the sweep publishes it again."""
SWEEP_HORIZON = timedelta(hours=24)
"""How far back the sweep looks: an older event reaching endpoints made since would be news."""
SWEEP_MAX_WAIT = timedelta(hours=4)
"""The longest wait between two publishes of the same unpublished event."""
SWEEP_BATCH = 200
"""Events one query returns; the sweep pages through them."""

PublishEvents = Callable[[Sequence[BusinessEvent]], None]
"""Publish committed events on ``business-events`` (``shared.integrations.publish``)."""


def event_ref(client: Any, tenant_id: str, event_id: str) -> Any:
    """Return ``tenants/{t}/business_events/{event_id}``."""
    return tenant_ref(client, tenant_id).collection(BUSINESS_EVENTS_COLLECTION).document(event_id)


def stage_events(
    writer: Any,
    client: Any,
    events: Sequence[BusinessEvent],
    cause: str,
    *,
    published_at: datetime | None = None,
) -> None:
    """Create each event's outbox document in ``writer`` (a batch or a transaction).

    ``cause`` is what made them (a decision id, a booking id): ``events_of_cause`` finds them
    again when the publish after the commit has to be repeated. ``published_at``: for an event
    whose delivery the same write creates (a webhook test), which is never published.
    """
    for event in events:
        writer.create(
            event_ref(client, event.tenant_id, event.event_id),
            {**event.model_dump(mode="python"), "cause": cause, "published_at": published_at},
        )


def mark_published(client: Any, event: BusinessEvent, now: datetime) -> None:
    """Record that the event was taken in (an event with no outbox document is left alone)."""
    with contextlib.suppress(NotFound):
        event_ref(client, event.tenant_id, event.event_id).update({"published_at": now})


def events_of_cause(client: Any, tenant_id: str, cause: str) -> list[BusinessEvent]:
    """Return the events a cause staged (to publish them again after a redelivery)."""
    query = (
        tenant_ref(client, tenant_id)
        .collection(BUSINESS_EVENTS_COLLECTION)
        .where(filter=FieldFilter("cause", "==", cause))
    )
    return [BusinessEvent.model_validate(snapshot.to_dict()) for snapshot in query.stream()]


@dataclass(frozen=True)
class SweepResult:
    """What one sweep found and published again."""

    republished: int = 0
    failed: int = 0
    """Events whose publish failed again (the next sweep tries them again)."""
    tenants: list[str] = field(default_factory=list)


def sweep_outbox(
    client: Any,
    publish: PublishEvents,
    now: datetime,
    *,
    grace: timedelta = SWEEP_GRACE,
    horizon: timedelta = SWEEP_HORIZON,
    batch: int = SWEEP_BATCH,
) -> SweepResult:
    """Publish again every event of every tenant still unpublished ``grace`` after it happened.

    One collection-group query (index: ``business_events`` by ``published_at``, ``occurred_at``)
    pages through the events of the last ``horizon``; they are published tenant by tenant, and a
    tenant whose publish fails is logged and left to the next sweep. The ``integrations`` function
    marks each event it takes in, so an event is swept again only while it has not arrived.
    """
    query = (
        client.collection_group(BUSINESS_EVENTS_COLLECTION)
        .where(filter=FieldFilter("published_at", "==", None))
        .where(filter=FieldFilter("occurred_at", ">=", now - horizon))
        .where(filter=FieldFilter("occurred_at", "<=", now - grace))
        .order_by("occurred_at")
        .limit(batch)
    )
    by_tenant: dict[str, list[tuple[Any, BusinessEvent]]] = {}
    last: Any = None
    while True:
        page = list((query.start_after(last) if last is not None else query).stream())
        for snapshot in page:
            document = snapshot.to_dict() or {}
            if not _due_again(document, now, grace):
                continue
            try:
                event = BusinessEvent.model_validate(document)
            except ValidationError as error:
                logger.error("outbox event unreadable: %s", error, extra={"path": snapshot.id})
                continue
            by_tenant.setdefault(event.tenant_id, []).append((snapshot.reference, event))
        if len(page) < batch:
            break
        last = page[-1]
    republished = failed = 0
    for tenant_id, found in by_tenant.items():
        events = [event for _, event in found]
        ids = [event.event_id for event in events]
        try:
            publish(events)
        except Exception:
            failed += len(events)
            logger.exception(
                "outbox sweep could not publish", extra={"tenant_id": tenant_id, "event_ids": ids}
            )
            continue
        republished += len(events)
        writes = client.batch()
        for reference, _ in found:
            writes.update(reference, {"swept_at": now, "sweeps": Increment(1)})
        writes.commit()
        # each one is a publish that failed after its commit, or an event that has not arrived
        logger.warning(
            "outbox sweep published again", extra={"tenant_id": tenant_id, "event_ids": ids}
        )
    return SweepResult(republished=republished, failed=failed, tenants=sorted(by_tenant))


def _due_again(document: dict[str, Any], now: datetime, grace: timedelta) -> bool:
    """Return whether an unpublished event is due: published again, it waits twice as long
    each time (``grace`` * 2 ** sweeps, at most ``SWEEP_MAX_WAIT``) so that a consumer down for
    hours is not buried under the same events."""
    swept_at = document.get("swept_at")
    if not isinstance(swept_at, datetime):
        return True
    sweeps = int(document.get("sweeps") or 0)
    wait = min(grace * 2 ** min(sweeps, 16), SWEEP_MAX_WAIT)
    return bool(now - swept_at >= wait)
