"""The agent function behind a real Pub/Sub push subscription, with Firestore and Cloud Tasks.

An event published on conversation-events is pushed to the agent function (functions-framework,
cloudevent signature), taken in exactly once, and its debounced turn arrives on Cloud Tasks at
the turn URL after the tenant's debounce.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import httpx
import pytest
from google.cloud import firestore

from emulators.stack import LocalStack, free_port
from shared.events.tasks import TurnRequest
from shared.models.events import (
    event_to_json,
)
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from tests.support.events import lead_message

ROOT = Path(__file__).resolve().parents[2]
LOCATION = "southamerica-east1"


@pytest.fixture(scope="module")
def turns() -> Iterator[tuple[str, queue.Queue[tuple[float, bytes]]]]:
    """A stand-in turn endpoint that records the tasks Cloud Tasks delivers."""
    arrivals: queue.Queue[tuple[float, bytes]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrivals.put((time.time(), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/turns", arrivals
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def agent_topic(
    local_stack: LocalStack,
    turns: tuple[str, queue.Queue[tuple[float, bytes]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Serve the agent function and push a fresh topic to it; return the topic path."""
    from google.cloud import tasks_v2

    project = local_stack.project_id
    parent = f"projects/{project}/locations/{LOCATION}"
    queue_path = f"{parent}/queues/turns-{uuid.uuid4().hex[:8]}"
    from shared.events.tasks import TaskScheduler

    TaskScheduler(
        queue_path=queue_path, emulator_host=local_stack.emulators["tasks"].host_port
    )._client.create_queue(parent=parent, queue=tasks_v2.Queue(name=queue_path))

    port = free_port()
    log = (tmp_path_factory.mktemp("agent") / "agent.log").open("wb")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/functions-framework"),
            "--target=agent",
            f"--source={ROOT / 'functions/agent/main.py'}",
            "--signature-type=cloudevent",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        env={
            **os.environ,
            **local_stack.env(),
            "PILOTO_TASKS_QUEUE": queue_path,
            "PILOTO_TURN_URL": turns[0],
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project, f"events-{uuid.uuid4().hex[:8]}")
    subscription = subscriber.subscription_path(project, f"agent-push-{uuid.uuid4().hex[:8]}")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the agent function exited; see agent.log"
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        publisher.create_topic(name=topic)
        subscriber.create_subscription(
            request={
                "name": subscription,
                "topic": topic,
                "push_config": {"push_endpoint": f"http://127.0.0.1:{port}/"},
                "enable_message_ordering": True,
            }
        )
        yield topic
    finally:
        subscriber.delete_subscription(request={"subscription": subscription})
        os.killpg(process.pid, 15)
        process.wait(timeout=10)
        log.close()


def test_a_lead_message_is_taken_in_once_and_its_turn_comes_due(
    local_stack: LocalStack,
    agent_topic: str,
    turns: tuple[str, queue.Queue[tuple[float, bytes]]],
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    client = firestore.Client(project=local_stack.project_id)
    tenant_ref(client, tenant).collection("settings").document("agent").set(
        {"debounce_seconds": 2, "mode": "pilot"}
    )
    now = datetime.now(UTC)
    event = lead_message(tenant, f"wamid.{tenant}", "Quanto custa?", now)
    publisher = pubsub_v1.PublisherClient()
    for _ in range(2):  # the provider delivered it twice: one message, one turn
        publisher.publish(agent_topic, event_to_json(event)).result(timeout=10)
    published_at = time.time()

    arrived_at, body = turns[1].get(timeout=20)

    turn = TurnRequest.from_json(body)
    assert turn.tenant_id == tenant
    assert turn.inbound_seq == 1
    assert arrived_at - published_at >= 1.5  # the tenant's 2 s debounce
    contact = contact_ref(client, tenant, "+5511987654321").get().to_dict()
    assert contact["current_conversation_id"] == turn.conversation_id
    conversation = conversation_ref(client, tenant, turn.conversation_id).get().to_dict()
    assert conversation["inbound_count"] == 1
    assert [m["text"] for m in conversation["window"]] == ["Quanto custa?"]
    with pytest.raises(queue.Empty):
        turns[1].get(timeout=3)  # the duplicate scheduled no second turn
    messages = conversation_ref(client, tenant, turn.conversation_id).collection("messages")
    assert len(list(messages.stream())) == 1
    assert json.loads(body)["conversation_id"] == turn.conversation_id
