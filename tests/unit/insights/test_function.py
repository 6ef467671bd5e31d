"""The insights function's contract with Pub/Sub push, served in-process by functions-framework."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from tests.unit.insights import make_event

ROOT = Path(__file__).resolve().parents[3]


class RecordingRunner:
    """Stands in for the runner: keeps every message data it was given."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.fail = False

    def on_message(self, data: bytes) -> list[Any] | None:
        if self.fail:
            raise RuntimeError("firestore unavailable")
        self.messages.append(data)
        return []


def push(data: bytes) -> dict[str, Any]:
    """Return a Pub/Sub push body as Pub/Sub sends it."""
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": "1",
            "attributes": {"tenant_id": "clinica"},
        },
        "subscription": "projects/demo-piloto/subscriptions/insight-events-insights",
    }


@pytest.fixture
def runner() -> RecordingRunner:
    return RecordingRunner()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, runner: RecordingRunner) -> Iterator[Any]:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    app = create_app("insights", str(ROOT / "functions/insights/main.py"), "cloudevent")
    monkeypatch.setattr(sys.modules["main"], "_runner", runner)
    yield app.test_client()


def test_an_event_push_reaches_the_runner(client: Any, runner: RecordingRunner) -> None:
    data = make_event().model_dump_json().encode()

    response = client.post("/", json=push(data))

    assert response.status_code == 200
    assert runner.messages == [data]


def test_a_push_whose_data_is_not_base64_is_acknowledged(
    client: Any, runner: RecordingRunner
) -> None:
    body = push(b"")
    body["message"]["data"] = "%%% not base64"

    response = client.post("/", json=body)

    assert response.status_code == 200
    assert runner.messages == [b""]  # the runner logs and drops it


def test_a_runner_failure_makes_pub_sub_redeliver(client: Any, runner: RecordingRunner) -> None:
    runner.fail = True

    response = client.post("/", json=push(make_event().model_dump_json().encode()))

    assert response.status_code == 500
