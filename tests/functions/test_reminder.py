"""The reminder function served in-process: bad bodies are 400, failures 503, results 200."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from functions_framework import create_app

from shared.scheduling.reminders import ReminderRequest, ReminderResult
from tests.functions.conftest import ROOT

START = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


class Runner:
    def __init__(self) -> None:
        self.requests: list[ReminderRequest] = []
        self.fail = False

    def run(self, request: ReminderRequest) -> ReminderResult:
        if self.fail:
            raise RuntimeError("Firestore down")
        self.requests.append(request)
        return ReminderResult("skipped", "rescheduled")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Runner]]:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    app = create_app("reminder", str(ROOT / "functions/reminder/main.py"), "http")
    runner = Runner()
    monkeypatch.setattr(sys.modules["main"], "_runner", runner)
    yield app.test_client(), runner


def test_a_due_reminder_runs_and_answers_its_outcome(served: tuple[Any, Runner]) -> None:
    client, runner = served
    body = ReminderRequest("t1", "conv-1-4", START).to_json()
    response = client.post("/", data=body, content_type="application/json")
    assert response.status_code == 200
    assert json.loads(response.data)["reason"] == "rescheduled"
    assert runner.requests == [ReminderRequest("t1", "conv-1-4", START)]


def test_a_malformed_body_is_400_naming_the_problem(served: tuple[Any, Runner]) -> None:
    client, runner = served
    response = client.post("/", data=b'{"tenant_id": "t1"}', content_type="application/json")
    assert response.status_code == 400
    assert "booking_id" in json.loads(response.data)["error"]
    assert client.get("/").status_code == 405
    assert runner.requests == []


def test_a_failure_is_503_so_cloud_tasks_retries(served: tuple[Any, Runner]) -> None:
    client, runner = served
    runner.fail = True
    body = ReminderRequest("t1", "conv-1-4", START).to_json()
    assert client.post("/", data=body, content_type="application/json").status_code == 503
