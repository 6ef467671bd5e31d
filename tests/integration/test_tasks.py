"""Turns scheduled on the Cloud Tasks emulator arrive at their URL, not before their time."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from emulators.stack import LocalStack
from shared.events.tasks import TaskScheduler, TurnRequest

Arrival = tuple[float, str, bytes]


@pytest.fixture
def turn_endpoint() -> Iterator[tuple[str, queue.Queue[Arrival]]]:
    arrivals: queue.Queue[Arrival] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            arrivals.put((time.time(), self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", arrivals
    server.shutdown()
    server.server_close()


def test_a_debounced_turn_arrives_after_its_schedule_time(
    local_stack: LocalStack, turn_endpoint: tuple[str, queue.Queue[Arrival]]
) -> None:
    from google.cloud import tasks_v2

    url, arrivals = turn_endpoint
    emulator = local_stack.emulators["tasks"].host_port
    parent = f"projects/{local_stack.project_id}/locations/southamerica-east1"
    queue_path = f"{parent}/queues/turns-{uuid.uuid4().hex[:8]}"
    scheduler = TaskScheduler(queue_path=queue_path, emulator_host=emulator)
    scheduler._client.create_queue(parent=parent, queue=tasks_v2.Queue(name=queue_path))
    due = datetime.now(UTC) + timedelta(seconds=2)

    name = scheduler.schedule_turn(
        f"{url}/turns", TurnRequest(tenant_id="t-1", conversation_id="c-1", inbound_seq=3), due
    )

    arrived_at, path, body = arrivals.get(timeout=15)
    assert name.startswith(queue_path)
    assert path == "/turns"
    assert TurnRequest.from_json(body) == TurnRequest("t-1", "c-1", 3)
    assert arrived_at >= due.timestamp() - 0.2  # the emulator polls every 0.1 s


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"tenant_id": "t"}',
        b'{"tenant_id": "t", "conversation_id": "c", "inbound_seq": 0}',
    ],
)
def test_malformed_turn_requests_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a turn request"):
        TurnRequest.from_json(body)


def test_turn_request_round_trip() -> None:
    turn = TurnRequest(tenant_id="t", conversation_id="c", inbound_seq=2)
    assert TurnRequest.from_json(turn.to_json()) == turn
    assert json.loads(turn.to_json())["inbound_seq"] == 2
