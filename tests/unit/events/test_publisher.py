"""The Pub/Sub publisher: one REST call per request when idle, shared calls under load."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.events.publisher import PublishFailed, PubSubEventPublisher
from shared.gcp.http import HttpAnswer, HttpFailed
from shared.models.events import LeadMessage
from tests.support.events import lead_message as build_lead

MOMENT = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def lead_message(index: int) -> LeadMessage:
    return build_lead(
        "tenant-a", f"wamid.{index}", f"oi {index}", MOMENT, phone=f"+55119{index:08d}"
    )


class FakePubSub:
    """Answers topics.publish like Pub/Sub: one message id per message, in order."""

    def __init__(self, delay: float = 0.0, fail_calls: set[int] | None = None) -> None:
        self.delay = delay
        self.fail_calls = fail_calls or set()
        self.calls: list[list[dict[str, Any]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def post_json(self, url: str, document: Any, headers: dict[str, str]) -> HttpAnswer:
        with self._lock:
            call = len(self.calls)
            self.calls.append(document["messages"])
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            if call in self.fail_calls:
                return HttpAnswer(status=503, body=b'{"error": "unavailable"}')
            ids = [message["attributes"]["event_id"] for message in document["messages"]]
            return HttpAnswer(status=200, body=json.dumps({"messageIds": ids}).encode())
        finally:
            with self._lock:
                self.in_flight -= 1


class Tokens:
    def authorization(self) -> str:
        return "Bearer test"


def publisher(fake: Any, **kwargs: Any) -> PubSubEventPublisher:
    return PubSubEventPublisher(
        fake, Tokens(), project_id="demo-p", topic="conversation-events", **kwargs
    )


def test_one_request_is_one_call_with_ordering_key_and_attributes() -> None:
    fake = FakePubSub()
    events = [lead_message(1), lead_message(2)]

    ids = publisher(fake).publish(events)

    assert ids == [event.event_id for event in events]
    [messages] = fake.calls
    assert [m["orderingKey"] for m in messages] == [
        "tenant-a:+5511900000001",
        "tenant-a:+5511900000002",
    ]
    assert messages[0]["attributes"] == {
        "event_id": "meta:lead_message:wamid.1",
        "kind": "lead_message",
        "provider": "meta",
        "tenant_id": "tenant-a",
        "channel_id": "ch-meta",
        "contact": "+5511900000001",
    }
    decoded = json.loads(base64.b64decode(messages[0]["data"]))
    assert decoded["content"]["text"] == "oi 1"
    assert decoded["occurred_at"] == "2026-03-10T16:00:00+00:00"


def test_concurrent_requests_share_calls_and_each_gets_its_own_ids() -> None:
    fake = FakePubSub(delay=0.02)
    sink = publisher(fake, max_calls_in_flight=3)

    def publish(index: int) -> tuple[int, list[str]]:
        return index, sink.publish([lead_message(index), lead_message(index + 1000)])

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(publish, range(200)))

    for index, ids in results:
        assert ids == [
            f"meta:lead_message:wamid.{index}",
            f"meta:lead_message:wamid.{index + 1000}",
        ]
    assert fake.max_in_flight <= 3
    assert len(fake.calls) < 100  # 200 requests shared far fewer calls
    for messages in fake.calls:  # one request's events travel together, in order
        ids = [m["attributes"]["event_id"] for m in messages]
        for position in range(0, len(ids), 2):
            first = int(ids[position].rsplit(".", 1)[1])
            assert ids[position + 1].endswith(f".{first + 1000}")
    assert sink._calls == 0  # every call slot was given back


def test_a_failed_call_fails_exactly_the_requests_it_carried() -> None:
    fake = FakePubSub(delay=0.01, fail_calls={0, 1})  # the first call fails twice (with its retry)
    sink = publisher(fake, max_calls_in_flight=1)

    def publish(index: int) -> str:
        try:
            sink.publish([lead_message(index)])
        except PublishFailed:
            return "failed"
        return "published"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(publish, range(30)))

    failed_ids = {m["attributes"]["event_id"] for m in fake.calls[0]}
    assert fake.calls[0] == fake.calls[1]  # the retry carried the same messages
    assert outcomes.count("failed") == len(failed_ids) >= 1
    assert outcomes.count("published") == 30 - len(failed_ids)
    assert sink._calls == 0


def test_transport_error_is_retried_once_then_fails() -> None:
    class Broken:
        attempts = 0

        def post_json(self, url: str, document: Any, headers: dict[str, str]) -> HttpAnswer:
            self.attempts += 1
            raise HttpFailed("connection refused")

    broken = Broken()
    with pytest.raises(PublishFailed, match="connection refused"):
        publisher(broken).publish([lead_message(1)])
    assert broken.attempts == 2


def test_client_error_is_not_retried() -> None:
    class NotFound(FakePubSub):
        def post_json(self, url: str, document: Any, headers: dict[str, str]) -> HttpAnswer:
            self.calls.append(document["messages"])
            return HttpAnswer(status=404, body=b'{"error": {"message": "Topic not found"}}')

    missing = NotFound()
    with pytest.raises(PublishFailed, match="404"):
        publisher(missing).publish([lead_message(1)])
    assert len(missing.calls) == 1


def test_token_failure_fails_the_publish_instead_of_hanging() -> None:
    class NoTokens:
        def authorization(self) -> str:
            raise RuntimeError("metadata server unreachable")

    sink = PubSubEventPublisher(FakePubSub(), NoTokens(), project_id="p", topic="t")
    with pytest.raises(PublishFailed, match="metadata server unreachable"):
        sink.publish([lead_message(1)])
    assert sink._calls == 0
