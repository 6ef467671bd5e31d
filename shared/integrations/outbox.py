"""The business-event outbox: stage events with the change that caused them, publish after.

``stage_events`` adds each event to the caller's batch or transaction as
``tenants/{t}/business_events/{event_id}`` (``create``: the batch fails if the event was already
stored, so callers derive event ids from something that happens once, like a decision id).
Once the write committed, the caller publishes the same events on ``business-events``; a task
or push redelivered after a failed publish finds the events with ``events_of_cause`` and
publishes them again (consumers drop duplicates by event id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter

from shared.integrations.models import BusinessEvent
from shared.store.conversations import tenant_ref

BUSINESS_EVENTS_COLLECTION = "business_events"

PublishEvents = Callable[[Sequence[BusinessEvent]], None]
"""Publish committed events on ``business-events`` (``shared.integrations.publish``)."""


def event_ref(client: Any, tenant_id: str, event_id: str) -> Any:
    """Return ``tenants/{t}/business_events/{event_id}``."""
    return tenant_ref(client, tenant_id).collection(BUSINESS_EVENTS_COLLECTION).document(event_id)


def stage_events(writer: Any, client: Any, events: Sequence[BusinessEvent], cause: str) -> None:
    """Create each event's outbox document in ``writer`` (a batch or a transaction).

    ``cause`` is what made them (a decision id, a booking id): ``events_of_cause`` finds them
    again when the publish after the commit has to be repeated.
    """
    for event in events:
        writer.create(
            event_ref(client, event.tenant_id, event.event_id),
            {**event.model_dump(mode="python"), "cause": cause, "published_at": None},
        )


def events_of_cause(client: Any, tenant_id: str, cause: str) -> list[BusinessEvent]:
    """Return the events a cause staged (to publish them again after a redelivery)."""
    query = (
        tenant_ref(client, tenant_id)
        .collection(BUSINESS_EVENTS_COLLECTION)
        .where(filter=FieldFilter("cause", "==", cause))
    )
    return [BusinessEvent.model_validate(snapshot.to_dict()) for snapshot in query.stream()]
