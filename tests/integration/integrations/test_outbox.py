"""The outbox sweep on the Firestore and Pub/Sub emulators: a business event whose publish failed
after its commit reaches business-events, the real dispatcher takes it in, and it is not swept
again.

The test's clock is years ahead of every other test's events, so the collection-group sweep
(which looks at every tenant) sees only what these tests staged.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import pytest
from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.integrations.dispatch import Dispatcher
from shared.integrations.models import (
    BusinessEvent,
    BusinessEventType,
    DeliveryTask,
    EventContact,
    WebhookEndpoint,
)
from shared.integrations.outbox import event_ref, stage_events, sweep_outbox
from shared.integrations.publish import business_event_publisher, event_from_pubsub
from shared.settings import load_settings
from shared.store.conversations import tenant_ref

NOW = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)


@pytest.fixture
def client(local_stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=local_stack.project_id)


@pytest.fixture
def tap(local_stack: LocalStack) -> Iterator[tuple[Any, str]]:
    """A pull subscription on business-events, made after the topic exists."""
    settings = load_settings(dict(os.environ))
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(local_stack.project_id, settings.business_events_topic)
    with contextlib.suppress(AlreadyExists):  # made by the loop or another test
        publisher.create_topic(name=topic)
    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(local_stack.project_id, f"outbox-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(request={"name": name, "topic": topic})
    yield subscriber, name
    subscriber.delete_subscription(request={"subscription": name})


def pulled(tap: tuple[Any, str], wanted: set[str], seconds: float = 10) -> list[BusinessEvent]:
    """Return the events of ``wanted`` ids the subscription receives within ``seconds``."""
    subscriber, name = tap
    found: dict[str, BusinessEvent] = {}
    deadline = time.monotonic() + seconds
    while set(found) != wanted and time.monotonic() < deadline:
        answer = subscriber.pull(
            request={"subscription": name, "max_messages": 100, "return_immediately": True},
            timeout=5,
        )
        received = list(answer.received_messages)
        if received:
            subscriber.acknowledge(
                request={"subscription": name, "ack_ids": [m.ack_id for m in received]}
            )
        for message in received:
            event = event_from_pubsub(message.message.data)
            if event.event_id in wanted:
                found[event.event_id] = event
        if not received:
            time.sleep(0.1)
    return list(found.values())


def event(tenant: str, name: str, occurred_at: datetime) -> BusinessEvent:
    return BusinessEvent(
        event_id=f"conv-{name}.lost",
        type=BusinessEventType.CONVERSATION_LOST,
        tenant_id=tenant,
        occurred_at=occurred_at,
        source="seller",
        conversation_id=f"conv-{name}",
        contact=EventContact(contact_key="+5511999990001", phone="+5511999990001"),
        data={"reason": "closed_by_seller"},
    )


def stage(client: Any, *events: BusinessEvent, **options: Any) -> None:
    """Commit events the way an admin close does (its publish after the commit then failed)."""
    batch = client.batch()
    stage_events(batch, client, events, f"close:{events[0].conversation_id}", **options)
    batch.commit()


def stored(client: Any, found: BusinessEvent) -> dict[str, Any]:
    return event_ref(client, found.tenant_id, found.event_id).get().to_dict() or {}


def test_an_unpublished_event_is_published_taken_in_once_and_never_swept_again(
    client: Any, tap: tuple[Any, str]
) -> None:
    tenant = "t-" + uuid.uuid4().hex[:10]
    endpoint = WebhookEndpoint(
        endpoint_id="ep-1",
        url="https://hooks.example.com/piloto",
        events=[BusinessEventType.CONVERSATION_LOST],
        secret_ref="env:UNUSED",
        created_at=NOW - timedelta(days=3),
    )
    tenant_ref(client, tenant).collection("webhook_endpoints").document("ep-1").set(
        endpoint.model_dump(mode="python")
    )
    due = event(tenant, "due", NOW - timedelta(minutes=12))
    fresh = event(tenant, "fresh", NOW - timedelta(minutes=2))  # its own publish may be on its way
    stale = event(tenant, "stale", NOW - timedelta(hours=25))  # too old to be news
    direct = event(tenant, "direct", NOW - timedelta(minutes=30))
    stage(client, due, fresh, stale)
    stage(client, direct, published_at=direct.occurred_at)  # delivered without business-events
    publish = business_event_publisher(load_settings(dict(os.environ)))

    result = sweep_outbox(client, publish, NOW)

    assert tenant in result.tenants and result.failed == 0
    arrived = pulled(tap, {due.event_id})
    assert [found.event_id for found in arrived] == [due.event_id]
    assert stored(client, due)["sweeps"] == 1 and stored(client, due)["swept_at"] == NOW
    assert "swept_at" not in stored(client, fresh) and "swept_at" not in stored(client, stale)
    # no other message came: the fresh, stale and direct events stayed where they were
    assert pulled(tap, {fresh.event_id, stale.event_id, direct.event_id}, seconds=1) == []

    scheduled: list[tuple[DeliveryTask, datetime]] = []
    dispatcher = Dispatcher(
        firestore=client,
        schedule=lambda task, at: scheduled.append((task, at)),
        now=lambda: NOW + timedelta(seconds=3),
    )
    made = dispatcher.on_event(arrived[0])  # the integrations function's push
    assert [delivery.target_id for delivery in made] == ["ep-1"] and len(scheduled) == 1
    assert stored(client, due)["published_at"] == NOW + timedelta(seconds=3)

    later = NOW + timedelta(hours=2)
    again = sweep_outbox(client, publish, later)
    # the fresh event, never published by its producer, comes now; the taken-in one does not
    assert tenant in again.tenants
    assert {found.event_id for found in pulled(tap, {fresh.event_id})} == {fresh.event_id}
    assert pulled(tap, {due.event_id}, seconds=1) == []
    assert stored(client, due)["sweeps"] == 1


def test_a_failed_sweep_leaves_the_event_and_an_event_never_taken_in_is_swept_less_often(
    client: Any, tap: tuple[Any, str]
) -> None:
    tenant = "t-" + uuid.uuid4().hex[:10]
    lost = event(tenant, "lost", NOW - timedelta(minutes=6))
    stage(client, lost)

    def down(events: Any) -> None:
        raise RuntimeError("Pub/Sub unavailable")

    failed = sweep_outbox(client, down, NOW)
    assert failed.failed >= 1 and tenant in failed.tenants
    assert "swept_at" not in stored(client, lost)

    published: list[str] = []

    def record(events: Any) -> None:
        published.extend(found.event_id for found in events if found.tenant_id == tenant)

    # nobody takes it in: published at NOW, then after waits of 10 and 20 minutes
    for minutes in (0, 5, 9, 10, 20, 29, 30):
        sweep_outbox(client, record, NOW + timedelta(minutes=minutes))
    assert published == [lost.event_id] * 3
    assert stored(client, lost)["sweeps"] == 3
    assert stored(client, lost)["swept_at"] == NOW + timedelta(minutes=30)
