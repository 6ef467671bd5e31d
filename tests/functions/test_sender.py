"""The sender function's HTTP contract with Pub/Sub push, served by functions-framework."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.sender import OutboundJob, SendOutcome

ROOT = Path(__file__).resolve().parents[2]

JOB = {
    "key": "d1:0",
    "tenant_id": "clinica",
    "conversation_id": "conv-1",
    "channel_id": "ch-1",
    "contact_key": "+5511987654321",
    "decision_id": "d1",
    "index": 0,
    "message": {"text": "Olá!"},
}


def push(data: bytes) -> dict[str, Any]:
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": "1"},
        "subscription": "projects/demo-piloto/subscriptions/outbound-messages-sender",
    }


class ScriptedSender:
    """Answers every job with one outcome (or raises), and keeps the jobs it got."""

    def __init__(self) -> None:
        self.jobs: list[OutboundJob] = []
        self.outcome: SendOutcome | Exception = SendOutcome(status="sent", provider_message_id="w1")

    def handle(self, job: OutboundJob) -> SendOutcome:
        self.jobs.append(job)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.fixture
def sender() -> ScriptedSender:
    return ScriptedSender()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, sender: ScriptedSender) -> Iterator[Any]:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    app = create_app("sender", str(ROOT / "functions/sender/main.py"), "http")
    monkeypatch.setattr(sys.modules["main"], "_sender", sender)
    yield app.test_client()


def test_a_pushed_message_is_sent(client: Any, sender: ScriptedSender) -> None:
    response = client.post("/", json=push(json.dumps(JOB).encode()))

    assert response.status_code == 200
    assert response.get_json()["status"] == "sent"
    assert [job.key for job in sender.jobs] == ["d1:0"]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (SendOutcome(status="duplicate"), 200),
        (SendOutcome(status="held", reasons=("opted_out",)), 200),
        (SendOutcome(status="failed", error_code="131047"), 200),
        (SendOutcome(status="deferred", reasons=("rate_limited",)), 429),
        (RuntimeError("firestore unavailable"), 503),
    ],
    ids=["duplicate", "held", "failed", "deferred", "error"],
)
def test_the_answer_tells_pubsub_whether_to_redeliver(
    client: Any, sender: ScriptedSender, outcome: SendOutcome | Exception, status: int
) -> None:
    sender.outcome = outcome

    assert client.post("/", json=push(json.dumps(JOB).encode())).status_code == status


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "not JSON"),
        (json.dumps({"message": {}}).encode(), "message.data is missing"),
        (json.dumps({"message": {"data": "%%%"}}).encode(), "not base64"),
        (json.dumps(push(b"[1]")).encode(), "JSON object"),
        (json.dumps(push(json.dumps({**JOB, "index": -1}).encode())).encode(), "index"),
    ],
    ids=["not-json", "no-data", "bad-base64", "not-an-object", "bad-index"],
)
def test_bad_input_is_a_400_with_the_reason_and_sends_nothing(
    client: Any, sender: ScriptedSender, body: bytes, reason: str
) -> None:
    response = client.post("/", data=body, content_type="application/json")

    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert sender.jobs == []


def test_only_post_is_served(client: Any) -> None:
    assert client.get("/").status_code == 405


def test_an_oversized_body_is_refused(client: Any, sender: ScriptedSender) -> None:
    response = client.post("/", data=b"x" * (300 * 1024), content_type="application/json")

    assert response.status_code == 413
    assert sender.jobs == []
