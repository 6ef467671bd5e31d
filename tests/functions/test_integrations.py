"""The integrations function's contract with Pub/Sub push, served in-process."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared.integrations.events import test_event

ROOT = Path(__file__).resolve().parents[2]


class RecordingDispatcher:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.fail = False

    def on_message(self, data: bytes) -> list[Any]:
        if self.fail:
            raise RuntimeError("firestore unavailable")
        self.messages.append(data)
        return []


def push(data: bytes) -> dict[str, Any]:
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": "1"},
        "subscription": "projects/demo-piloto/subscriptions/business-events-integrations",
    }


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, dispatcher: RecordingDispatcher) -> Iterator[Any]:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    app = create_app("integrations", str(ROOT / "functions/integrations/main.py"), "cloudevent")
    monkeypatch.setattr(sys.modules["main"], "_dispatcher", dispatcher)
    yield app.test_client()


def headers() -> dict[str, str]:
    return {
        "ce-id": "1",
        "ce-source": "//pubsub.googleapis.com/projects/demo-piloto/topics/business-events",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-specversion": "1.0",
    }


def test_an_event_push_reaches_the_dispatcher(client: Any, dispatcher: RecordingDispatcher) -> None:
    data = test_event("clinica", "ep1", datetime(2026, 11, 24, tzinfo=UTC)).model_dump_json()
    response = client.post("/", json=push(data.encode()), headers=headers())
    assert response.status_code == 200
    assert dispatcher.messages == [data.encode()]


def test_a_failure_is_an_error_so_pubsub_redelivers(
    client: Any, dispatcher: RecordingDispatcher
) -> None:
    dispatcher.fail = True
    response = client.post("/", json=push(b"{}"), headers=headers())
    assert response.status_code >= 500


def test_undecodable_data_reaches_the_dispatcher_as_empty(
    client: Any, dispatcher: RecordingDispatcher
) -> None:
    body = {"message": {"data": "%%%", "messageId": "2"}, "subscription": "s"}
    assert client.post("/", json=body, headers=headers()).status_code == 200
    assert dispatcher.messages == [b""]
