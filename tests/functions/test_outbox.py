"""The outbox function served in-process: a sweep per POST, bad bodies, a failing sweep."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from functions_framework import create_app

from shared.integrations.outbox import SweepResult
from shared.settings import get_settings
from shared.store.memory import MemoryFirestore
from tests.functions.conftest import ROOT


@pytest.fixture
def outbox_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, list[Any]]]:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    get_settings.cache_clear()
    app = create_app("outbox", str(ROOT / "functions/outbox/main.py"), "http")
    module = sys.modules["main"]
    published: list[Any] = []
    monkeypatch.setattr(
        module, "_state", {"firestore": MemoryFirestore(), "publish": published.extend}
    )
    yield app.test_client(), module, published
    get_settings.cache_clear()


def test_a_post_sweeps_once_with_the_stores_and_answers_what_it_found(
    outbox_app: tuple[Any, Any, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, module, published = outbox_app
    calls: list[tuple[Any, Any, datetime]] = []

    def sweep(firestore: Any, publish: Any, now: datetime) -> SweepResult:
        calls.append((firestore, publish, now))
        return SweepResult(republished=2, failed=1, tenants=["clinica"])

    monkeypatch.setattr(module, "sweep_outbox", sweep)

    for body in (b"", b"{}", b"  {}\n"):
        answer = client.post("/", data=body)
        assert answer.status_code == 200
        assert answer.get_json() == {"republished": 2, "failed": 1, "tenants": ["clinica"]}
    assert len(calls) == 3
    firestore, publish, now = calls[0]
    assert isinstance(firestore, MemoryFirestore) and now.tzinfo is UTC
    publish(["event"])
    assert published == ["event"]  # the business-events publisher the function was built with


@pytest.mark.parametrize("body", [b'{"tenant_id": "t1"}', b"[]", b"not json"])
def test_a_body_other_than_empty_is_refused_and_nothing_is_swept(
    outbox_app: tuple[Any, Any, list[Any]], monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    client, module, _ = outbox_app
    monkeypatch.setattr(module, "sweep_outbox", lambda *args: pytest.fail("swept"))

    answer = client.post("/", data=body, content_type="application/json")

    assert answer.status_code == 400 and "empty" in answer.get_json()["error"]
    assert client.get("/").status_code == 405


def test_a_failing_sweep_is_a_503_for_cloud_scheduler_to_retry(
    outbox_app: tuple[Any, Any, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, module, _ = outbox_app

    def broken(*args: Any) -> SweepResult:
        raise RuntimeError("Firestore unavailable")

    monkeypatch.setattr(module, "sweep_outbox", broken)

    answer = client.post("/", data=b"{}")

    assert answer.status_code == 503 and "retry" in answer.get_json()["error"]
