"""Insight events: deterministic ids, the Pub/Sub round trip, bad messages, the tenant index."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest

from shared.insights.events import (
    IndexCache,
    event_from_pubsub,
    event_to_pubsub,
    inactivity_event,
    insight_publisher,
    macro_event,
    message_event,
    publish_listened,
    read_index,
    ticket_event,
)
from shared.insights.models import EventType, InsightEvent
from shared.settings import Settings
from shared.store.conversations import tenant_ref
from shared.store.memory import MemoryFirestore

AT = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)


def test_message_event_id_is_the_conversation_and_the_inbound_sequence() -> None:
    event = message_event(
        tenant_id="t1",
        conversation_id="c1",
        inbound_seq=7,
        message_id="wamid.1",
        text="paguei",
        occurred_at=AT,
    )
    again = message_event(
        tenant_id="t1",
        conversation_id="c1",
        inbound_seq=7,
        message_id="wamid.1",
        text="paguei",
        occurred_at=AT + timedelta(seconds=5),
    )
    assert event.event_id == again.event_id == "msg:c1:7"
    assert (event.type, event.text, event.message_id) == (
        EventType.NEW_MESSAGE_RECEIVED,
        "paguei",
        "wamid.1",
    )


def test_a_long_lead_text_is_cut_to_what_an_event_holds() -> None:
    event = message_event(
        tenant_id="t1",
        conversation_id="c1",
        inbound_seq=1,
        message_id=None,
        text="a" * 9000,
        occurred_at=AT,
    )
    assert event.text is not None
    assert len(event.text) == 8000


def test_ticket_event_ids_name_the_outcome() -> None:
    won = ticket_event(tenant_id="t1", conversation_id="c1", won=True, occurred_at=AT)
    lost = ticket_event(
        tenant_id="t1",
        conversation_id="c1",
        won=False,
        occurred_at=AT,
        actor_uid="u1",
        reason="caro",
    )
    assert (won.event_id, won.type) == ("ticket:c1:won", EventType.TICKET_WON)
    assert (lost.event_id, lost.type, lost.actor_uid, lost.reason) == (
        "ticket:c1:lost",
        EventType.TICKET_LOST,
        "u1",
        "caro",
    )


def test_inactivity_event_id_is_the_same_instant_in_any_time_zone() -> None:
    brasilia = timezone(timedelta(hours=-3))
    utc = inactivity_event(
        tenant_id="t1", conversation_id="c1", last_activity=AT, occurred_at=AT + timedelta(hours=2)
    )
    local = inactivity_event(
        tenant_id="t1",
        conversation_id="c1",
        last_activity=AT.astimezone(brasilia),
        occurred_at=AT + timedelta(hours=3),
    )
    assert utc.event_id == local.event_id == "idle:c1:2025-03-04T15:30:00.000000+00:00"
    assert utc.type is EventType.INACTIVITY_2H
    with pytest.raises(ValueError, match="timezone-aware"):
        inactivity_event(
            tenant_id="t1",
            conversation_id="c1",
            last_activity=datetime(2025, 1, 1),  # noqa: DTZ001 - the refused case
            occurred_at=AT,
        )


def test_every_macro_press_is_its_own_event() -> None:
    first = macro_event(
        tenant_id="t1", conversation_id="c1", agent_id="a1", actor_uid="u1", occurred_at=AT
    )
    second = macro_event(
        tenant_id="t1", conversation_id="c1", agent_id="a1", actor_uid="u1", occurred_at=AT
    )
    assert first.event_id.startswith("macro:")
    assert first.event_id != second.event_id
    assert (first.type, first.agent_id, first.actor_uid) == (
        EventType.MACRO_BUTTON_CLICKED,
        "a1",
        "u1",
    )


def test_an_event_survives_the_pubsub_round_trip() -> None:
    event = message_event(
        tenant_id="t1",
        conversation_id="c1",
        inbound_seq=3,
        message_id="m/3",
        text="segue o comprovante ✅",
        occurred_at=AT,
    )
    data = event_to_pubsub(event)
    assert json.loads(data)["event_id"] == "msg:c1:3"
    assert event_from_pubsub(data) == event


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty message"),
        (b"not json", "not an insight event"),
        (b'{"event_id": "x"}', "type: Field required"),
        (
            b'{"event_id":"x","type":"SOMETHING","tenant_id":"t","conversation_id":"c",'
            b'"occurred_at":"2025-01-01T00:00:00Z"}',
            "type: Input should be",
        ),
        (
            b'{"event_id":"x","type":"TICKET_WON","tenant_id":"t","conversation_id":"c",'
            b'"occurred_at":"2025-01-01T00:00:00"}',
            "occurred_at",
        ),
        (
            b'{"event_id":"x","type":"TICKET_WON","tenant_id":"t","conversation_id":"c",'
            b'"occurred_at":"2025-01-01T00:00:00Z","surprise":1}',
            "surprise",
        ),
    ],
)
def test_a_message_that_is_not_an_event_is_refused_with_the_reason(
    data: bytes, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        event_from_pubsub(data)


def write_index(client: MemoryFirestore, tenant_id: str, document: dict[str, object]) -> None:
    tenant_ref(client, tenant_id).collection("settings").document("insights").set(document)


def test_read_index_is_empty_for_a_tenant_without_one_or_with_a_bad_one() -> None:
    client = MemoryFirestore()
    assert read_index(client, "t1").events == []
    write_index(client, "t1", {"events": ["NOT_AN_EVENT"]})
    assert read_index(client, "t1").events == []
    write_index(client, "t1", {"events": ["TICKET_WON", "INACTIVITY_2H"]})
    assert read_index(client, "t1").events == [EventType.TICKET_WON, EventType.INACTIVITY_2H]


def test_index_cache_answers_per_tenant_and_rereads_after_its_ttl() -> None:
    client = MemoryFirestore()
    write_index(client, "t1", {"events": ["NEW_MESSAGE_RECEIVED"]})
    cached = IndexCache(client, ttl_seconds=3600)
    fresh = IndexCache(client, ttl_seconds=0)

    assert cached.listens("t1", EventType.NEW_MESSAGE_RECEIVED)
    assert not cached.listens("t1", EventType.TICKET_LOST)
    assert not cached.listens("t2", EventType.NEW_MESSAGE_RECEIVED)

    write_index(client, "t1", {"events": ["TICKET_LOST"]})
    write_index(client, "t2", {"events": ["NEW_MESSAGE_RECEIVED"]})
    assert cached.listens("t1", EventType.NEW_MESSAGE_RECEIVED)  # within the TTL
    assert not cached.listens("t2", EventType.NEW_MESSAGE_RECEIVED)
    assert fresh.listens("t1", EventType.TICKET_LOST)
    assert fresh.listens("t2", EventType.NEW_MESSAGE_RECEIVED)


def test_publish_listened_publishes_only_what_some_agent_wants() -> None:
    client = MemoryFirestore()
    write_index(client, "t1", {"events": ["TICKET_WON"]})
    published: list[InsightEvent] = []
    won = ticket_event(tenant_id="t1", conversation_id="c1", won=True, occurred_at=AT)
    lost = ticket_event(tenant_id="t1", conversation_id="c2", won=False, occurred_at=AT)
    other = ticket_event(tenant_id="t2", conversation_id="c3", won=True, occurred_at=AT)

    sent = publish_listened(IndexCache(client, 0), published.extend, [won, lost, other])

    assert sent == published == [won]
    assert publish_listened(IndexCache(client, 0), published.extend, [lost]) == []
    assert published == [won]


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.timeouts: list[float | None] = []

    def result(self, timeout: float | None = None) -> str:
        self.timeouts.append(timeout)
        if self.error is not None:
            raise self.error
        return "message-id"


class FakePublisherClient:
    made: ClassVar[list[FakePublisherClient]] = []
    fail: ClassVar[Exception | None] = None

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []
        self.futures: list[FakeFuture] = []
        FakePublisherClient.made.append(self)

    @staticmethod
    def topic_path(project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, **attributes: str) -> FakeFuture:
        self.published.append((topic, data, attributes))
        future = FakeFuture(FakePublisherClient.fail)
        self.futures.append(future)
        return future


@pytest.fixture
def fake_pubsub(monkeypatch: pytest.MonkeyPatch) -> type[FakePublisherClient]:
    from google.cloud import pubsub_v1

    FakePublisherClient.made = []
    FakePublisherClient.fail = None
    monkeypatch.setattr(pubsub_v1, "PublisherClient", FakePublisherClient)
    return FakePublisherClient


def test_the_publisher_sends_json_with_routing_attributes_and_waits(
    fake_pubsub: type[FakePublisherClient],
) -> None:
    settings = Settings(project_id="p", insight_topic="insights-x", publish_timeout_seconds=3)
    publish = insight_publisher(settings)
    assert fake_pubsub.made == []  # no client until something is published
    won = ticket_event(tenant_id="t1", conversation_id="c1", won=True, occurred_at=AT)
    idle = inactivity_event(tenant_id="t1", conversation_id="c2", last_activity=AT, occurred_at=AT)

    publish([won, idle])
    publish([])

    [client] = fake_pubsub.made
    assert [(topic, attributes) for topic, _, attributes in client.published] == [
        (
            "projects/p/topics/insights-x",
            {"tenant_id": "t1", "type": "TICKET_WON", "event_id": "ticket:c1:won"},
        ),
        (
            "projects/p/topics/insights-x",
            {"tenant_id": "t1", "type": "INACTIVITY_2H", "event_id": idle.event_id},
        ),
    ]
    assert [event_from_pubsub(data) for _, data, _ in client.published] == [won, idle]
    assert [future.timeouts for future in client.futures] == [[3], [3]]


def test_the_publisher_raises_when_pubsub_does_not_take_an_event(
    fake_pubsub: type[FakePublisherClient],
) -> None:
    publish = insight_publisher(Settings(project_id="p"))
    fake_pubsub.fail = TimeoutError("no answer")

    with pytest.raises(TimeoutError):
        publish([ticket_event(tenant_id="t1", conversation_id="c1", won=False, occurred_at=AT)])
    [client] = fake_pubsub.made
    assert client.published[0][0] == "projects/p/topics/insight-events"
