"""The delivery function's contract with Cloud Tasks, served in-process by functions-framework."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from google.api_core.exceptions import ServiceUnavailable

from shared.integrations.delivery import DeliveryBusy, RunResult
from shared.integrations.models import DeliveryTask

ROOT = Path(__file__).resolve().parents[2]


class RecordingRunner:
    def __init__(self) -> None:
        self.tasks: list[DeliveryTask] = []
        self.error: Exception | None = None

    def run(self, task: DeliveryTask) -> RunResult:
        if self.error is not None:
            raise self.error
        self.tasks.append(task)
        return RunResult("retrying", task.delivery_id, task.attempt, 500, "HTTP 500: erro")


@pytest.fixture
def runner() -> RecordingRunner:
    return RecordingRunner()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, runner: RecordingRunner) -> Iterator[Any]:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    app = create_app("delivery", str(ROOT / "functions/delivery/main.py"), "http")
    monkeypatch.setattr(sys.modules["main"], "_runner", runner)
    yield app.test_client()


def test_a_task_runs_its_attempt_and_answers_200_even_when_the_target_failed(
    client: Any, runner: RecordingRunner
) -> None:
    body = {"tenant_id": "clinica", "delivery_id": "e1~wh-ep1", "attempt": 2}
    response = client.post("/", json=body)
    assert response.status_code == 200
    assert response.get_json()["status"] == "retrying"
    assert runner.tasks == [DeliveryTask(tenant_id="clinica", delivery_id="e1~wh-ep1", attempt=2)]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not a delivery task"),
        (b'{"tenant_id": "clinica", "delivery_id": "d"}', "attempt"),
        (b'{"tenant_id": "", "delivery_id": "d", "attempt": 1}', "tenant_id"),
        (b'{"tenant_id": "c", "delivery_id": "d", "attempt": 0}', "attempt"),
        (b'{"tenant_id": "c", "delivery_id": "d", "attempt": 1, "x": 1}', "x"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_problem_and_runs_nothing(
    client: Any, runner: RecordingRunner, body: bytes, reason: str
) -> None:
    response = client.post("/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert runner.tasks == []


def test_only_post(client: Any) -> None:
    assert client.get("/").status_code == 405


def test_busy_is_429_and_firestore_unreachable_is_503(client: Any, runner: RecordingRunner) -> None:
    body = {"tenant_id": "clinica", "delivery_id": "e1~crm", "attempt": 1}
    runner.error = DeliveryBusy("e1~crm")
    assert client.post("/", json=body).status_code == 429
    runner.error = ServiceUnavailable("firestore down")
    assert client.post("/", json=body).status_code == 503
