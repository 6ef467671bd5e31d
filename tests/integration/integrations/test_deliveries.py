"""Business events to signed webhooks on the Firestore emulator, over real HTTP.

The dispatcher and the delivery runner are the real ones; Cloud Tasks is a list of scheduled
tasks the test runs itself when their time comes (a fake clock), so a 3.5-day retry schedule
runs in a second. The receiver is a local HTTP server that checks every signature as the
README tells integrators to.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.integrations.delivery import BACKOFF, DeliveryRunner
from shared.integrations.dispatch import Dispatcher
from shared.integrations.events import test_event
from shared.integrations.models import (
    BusinessEvent,
    BusinessEventType,
    Delivery,
    DeliveryTask,
    EventContact,
    WebhookEndpoint,
)
from shared.integrations.signing import SignatureError, verify
from shared.secrets import resolve_secret
from shared.settings import load_settings
from shared.store.conversations import tenant_ref

SECRET = "whsec_" + "s" * 32
SECRET_VARIABLE = "PILOTO_TEST_WEBHOOK_SECRET"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """A webhook receiver: verifies signatures, drops duplicates by event id, answers ``status``."""

    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    url: str = ""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The receiver's clock (the test's clock: the runner signs with it)."""

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        self.requests.append({"headers": headers, "body": body})
        try:
            verify(SECRET, body, headers.get("Piloto-Signature"), self.clock().timestamp())
        except SignatureError as error:
            self.refused.append(str(error))
            return 400
        time.sleep(self.delay)
        event_id = json.loads(body)["id"]
        if self.status < 300 and event_id not in self.accepted:
            self.accepted.append(event_id)
        return self.status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code = state.handle(dict(self.headers.items()), body)
            payload = b"<html>" + b"erro interno " * 60 + b"</html>" if code >= 300 else b"ok"
            self.send_response(code)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/piloto"
    yield state
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    client: Any
    tenant: str
    clock: Clock
    tasks: list[tuple[DeliveryTask, datetime]]
    dispatcher: Dispatcher
    runner: DeliveryRunner
    told: list[dict[str, Any]]

    def endpoint(self, url: str, events: list[BusinessEventType], **changes: Any) -> str:
        endpoint_id = "ep-" + uuid.uuid4().hex[:6]
        endpoint = WebhookEndpoint(
            endpoint_id=endpoint_id,
            url=url,
            events=events,
            secret_ref=f"env:{SECRET_VARIABLE}",
            created_at=T0,
            **changes,
        )
        self.endpoints().document(endpoint_id).set(endpoint.model_dump(mode="python"))
        return endpoint_id

    def endpoints(self) -> Any:
        return tenant_ref(self.client, self.tenant).collection("webhook_endpoints")

    def stored_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        return WebhookEndpoint.model_validate(
            self.endpoints().document(endpoint_id).get().to_dict()
        )

    def delivery(self, delivery_id: str) -> Delivery:
        document = (
            tenant_ref(self.client, self.tenant)
            .collection("event_deliveries")
            .document(delivery_id)
        )
        return Delivery.model_validate(document.get().to_dict())

    def event(
        self, kind: BusinessEventType = BusinessEventType.CONVERSATION_QUALIFIED
    ) -> BusinessEvent:
        return BusinessEvent(
            event_id=f"{uuid.uuid4().hex[:12]}.qualified",
            type=kind,
            tenant_id=self.tenant,
            occurred_at=T0,
            conversation_id="conv-1",
            contact=EventContact(contact_key="+5511999990001", phone="+5511999990001"),
            data={"stage": "qualified", "previous_stage": "qualifying"},
        )

    def run_due(self) -> list[Any]:
        """Run every scheduled task, earliest first, moving the clock to its time."""
        results = []
        while self.tasks:
            self.tasks.sort(key=lambda item: item[1])
            task, at = self.tasks.pop(0)
            self.clock.now = max(self.clock.now, at)
            results.append(self.runner.run(task))
        return results


@pytest.fixture
def harness(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> Harness:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    settings = load_settings(
        {
            **os.environ,
            "PILOTO_WEBHOOK_TIMEOUT_SECONDS": "2",
            "PILOTO_WEBHOOK_DISABLE_AFTER_HOURS": "24",
        }
    )
    client = firestore.Client(project=local_stack.project_id)
    clock = Clock()
    receiver.clock = clock
    tasks: list[tuple[DeliveryTask, datetime]] = []
    told: list[dict[str, Any]] = []

    def schedule(task: DeliveryTask, at: datetime) -> None:
        tasks.append((task, at))

    def notify_owners(client: Any, tenant_id: str, **notice: Any) -> None:
        told.append({"tenant_id": tenant_id, **notice})

    return Harness(
        client=client,
        tenant="t-" + uuid.uuid4().hex[:10],
        clock=clock,
        tasks=tasks,
        dispatcher=Dispatcher(firestore=client, schedule=schedule, now=clock),
        runner=DeliveryRunner(
            firestore=client,
            settings=settings,
            http=httpx.Client(),
            schedule=schedule,
            resolve_secret=lambda reference: resolve_secret(reference, settings.project_id),
            now=clock,
            notify_owners=notify_owners,
        ),
        told=told,
    )


def test_an_event_dispatched_twice_reaches_the_receiver_once_signed(
    harness: Harness, receiver: Receiver
) -> None:
    endpoint_id = harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    event = harness.event()

    made = harness.dispatcher.on_event(event)
    again = harness.dispatcher.on_event(event)  # Pub/Sub redelivered it
    results = harness.run_due()

    assert [delivery.delivery_id for delivery in made] == [f"{event.event_id}~wh-{endpoint_id}"]
    assert again == []
    assert [result.status for result in results] == ["succeeded", "done"]
    assert receiver.accepted == [event.event_id]
    assert len(receiver.requests) == 1 and receiver.refused == []
    headers = receiver.requests[0]["headers"]
    assert headers["Piloto-Event-Id"] == event.event_id
    assert headers["Piloto-Event-Type"] == "conversation.qualified"
    assert headers["Piloto-Delivery-Attempt"] == "1"
    assert json.loads(receiver.requests[0]["body"]) == event.public()
    delivery = harness.delivery(made[0].delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("succeeded", 1, 200)
    last = harness.stored_endpoint(endpoint_id).last_delivery
    assert last is not None and (last.status, last.http_status) == ("succeeded", 200)
    assert harness.dispatcher.on_event(event) == [] and harness.tasks == []  # done: no task


def test_two_instances_running_the_same_attempt_deliver_it_once(
    harness: Harness, receiver: Receiver
) -> None:
    harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    receiver.delay = 0.5
    (delivery,) = harness.dispatcher.on_event(harness.event())
    task = DeliveryTask(tenant_id=harness.tenant, delivery_id=delivery.delivery_id, attempt=1)
    outcomes: list[str] = []

    def run() -> None:
        try:
            outcomes.append(harness.runner.run(task).status)
        except Exception as error:  # DeliveryBusy: the function answers 429, Cloud Tasks retries
            outcomes.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcome.split(":")[0] for outcome in outcomes) == ["DeliveryBusy", "succeeded"], (
        outcomes
    )
    assert len(receiver.requests) == 1


def test_only_enabled_endpoints_that_chose_the_type_get_it_and_a_test_goes_to_one(
    harness: Harness, receiver: Receiver
) -> None:
    wanted = harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_WON])
    harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED], enabled=False)

    made = harness.dispatcher.on_event(harness.event())
    tested = harness.dispatcher.on_event(test_event(harness.tenant, wanted, T0))
    harness.run_due()

    assert [delivery.target_id for delivery in made] == [wanted]
    assert [delivery.target_id for delivery in tested] == [wanted]
    assert len(receiver.accepted) == 2


def test_a_failing_receiver_is_retried_with_growing_delays_then_disabled_with_a_notice(
    harness: Harness, receiver: Receiver
) -> None:
    receiver.status = 500
    endpoint_id = harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    (delivery,) = harness.dispatcher.on_event(harness.event())

    attempted_at: list[datetime] = []
    results = []
    while harness.tasks:
        harness.tasks.sort(key=lambda item: item[1])
        task, at = harness.tasks.pop(0)
        harness.clock.now = at
        attempted_at.append(at)
        results.append(harness.runner.run(task))

    gaps = [later - earlier for earlier, later in itertools.pairwise(attempted_at)]
    # disabled once failing for 24 h (PILOTO_WEBHOOK_DISABLE_AFTER_HOURS): the attempt after
    # that finds the endpoint disabled and the delivery is discarded
    assert gaps == list(BACKOFF[: len(gaps)])
    assert [result.status for result in results][-1] == "discarded"
    assert all(result.status == "retrying" for result in results[:-1])
    assert len(receiver.requests) == len(results) - 1
    assert all(
        request["headers"]["Piloto-Delivery-Attempt"] == str(n + 1)
        for n, request in enumerate(receiver.requests)
    )
    endpoint = harness.stored_endpoint(endpoint_id)
    assert endpoint.enabled is False
    assert endpoint.failing_since == T0
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_at - T0 >= timedelta(hours=24)
    assert "HTTP 500" in (endpoint.disabled_reason or "")
    stored = harness.delivery(delivery.delivery_id)
    assert stored.status == "discarded"
    assert stored.last_error == "the endpoint is disabled"
    notice = (
        tenant_ref(harness.client, harness.tenant)
        .collection("notices")
        .document(f"webhook-disabled-{endpoint_id}")
        .get()
    )
    assert notice.exists and notice.to_dict()["url"] == receiver.url
    assert len(harness.told) == 1 and harness.told[0]["kind"] == "webhook_disabled"


def test_a_failure_records_a_short_snippet_and_a_success_clears_the_streak(
    harness: Harness, receiver: Receiver
) -> None:
    receiver.status = 503
    endpoint_id = harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    (delivery,) = harness.dispatcher.on_event(harness.event())
    task, _at = harness.tasks.pop()
    first = harness.runner.run(task)

    stored = harness.delivery(delivery.delivery_id)
    assert first.status == "retrying"
    assert stored.last_http_status == 503
    assert stored.last_error is not None and stored.last_error.startswith("HTTP 503: <html>")
    assert len(stored.last_error) <= 300
    assert stored.next_attempt_at == T0 + timedelta(minutes=1)
    assert harness.stored_endpoint(endpoint_id).failing_since == T0

    assert harness.runner.run(task).status == "rescheduled"  # a repeated task re-queues n+1
    receiver.status = 204
    results = harness.run_due()
    assert [result.status for result in results] == ["succeeded", "done"]
    endpoint = harness.stored_endpoint(endpoint_id)
    assert endpoint.failing_since is None and endpoint.enabled
    assert harness.delivery(delivery.delivery_id).attempts == 2


def test_410_gone_disables_the_endpoint_at_once(harness: Harness, receiver: Receiver) -> None:
    receiver.status = 410
    endpoint_id = harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    (delivery,) = harness.dispatcher.on_event(harness.event())

    results = harness.run_due()

    assert [result.status for result in results] == ["failed"]
    endpoint = harness.stored_endpoint(endpoint_id)
    assert endpoint.enabled is False and "410" in (endpoint.disabled_reason or "")
    assert harness.delivery(delivery.delivery_id).status == "failed"
    assert len(harness.told) == 1


def test_a_receiver_refuses_a_delivery_signed_more_than_five_minutes_ago(
    harness: Harness, receiver: Receiver
) -> None:
    """The runner signs with its clock: a delivery whose signature is six minutes old (a replay,
    or a clock far off) is refused by the receiver; three minutes old is accepted."""
    harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    receiver.clock = lambda: datetime.now(UTC)
    harness.clock.now = datetime.now(UTC) - timedelta(minutes=3)
    harness.dispatcher.on_event(harness.event())
    assert [result.status for result in harness.run_due()] == ["succeeded"]

    harness.clock.now = datetime.now(UTC) - timedelta(minutes=6)
    (_late,) = harness.dispatcher.on_event(harness.event())
    task, _at = harness.tasks.pop()
    result = harness.runner.run(task)

    assert result.status == "retrying" and result.http_status == 400
    assert receiver.refused == ["timestamp outside the tolerance"]


def test_late_repeated_or_unknown_tasks_change_nothing(harness: Harness) -> None:
    harness.endpoint("http://127.0.0.1:9/unused", [BusinessEventType.CONVERSATION_QUALIFIED])
    (delivery,) = harness.dispatcher.on_event(harness.event())
    harness.tasks.clear()

    stale = DeliveryTask(tenant_id=harness.tenant, delivery_id=delivery.delivery_id, attempt=3)
    missing = DeliveryTask(tenant_id=harness.tenant, delivery_id="nope~wh-x", attempt=1)

    assert harness.runner.run(stale).status == "stale"
    assert harness.runner.run(missing).status == "missing"
    stored = harness.delivery(delivery.delivery_id)
    assert (stored.status, stored.attempts) == ("pending", 0)
    assert harness.tasks == []


def test_a_production_endpoint_on_an_internal_address_is_never_called_and_disabled(
    harness: Harness, receiver: Receiver
) -> None:
    harness.runner = dataclasses.replace(
        harness.runner,
        settings=dataclasses.replace(harness.runner.settings, environment="prod"),
    )
    endpoint_id = harness.endpoint(receiver.url, [BusinessEventType.CONVERSATION_QUALIFIED])
    (delivery,) = harness.dispatcher.on_event(harness.event())

    results = harness.run_due()

    assert [result.status for result in results] == ["failed"]
    assert receiver.requests == []  # the loopback receiver was never reached
    endpoint = harness.stored_endpoint(endpoint_id)
    assert endpoint.enabled is False
    assert "127.0.0.1" in (endpoint.disabled_reason or "")
    assert harness.delivery(delivery.delivery_id).status == "failed"
