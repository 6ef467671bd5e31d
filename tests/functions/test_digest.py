"""The digest function served in-process: the hourly run, one tenant's day, bad bodies."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from functions_framework import create_app

from shared.notifications.digest import DigestResult
from shared.settings import get_settings
from shared.store.memory import MemoryFirestore
from tests.functions.conftest import ROOT


@pytest.fixture
def digest_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-piloto-unit")
    monkeypatch.setenv("PILOTO_DIGEST_HOUR", "7")
    get_settings.cache_clear()
    app = create_app("digest", str(ROOT / "functions/digest/main.py"), "http")
    module = sys.modules["main"]
    monkeypatch.setattr(module, "_state", {"firestore": MemoryFirestore(), "schedule": None})
    yield app.test_client(), module
    get_settings.cache_clear()


def test_an_empty_post_runs_the_hour_with_the_configured_digest_hour(
    digest_app: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, module = digest_app
    calls: list[dict[str, Any]] = []

    def run_hour(firestore: Any, now: datetime, **options: Any) -> list[DigestResult]:
        calls.append({"now": now, **options})
        return [DigestResult("t1", "2026-11-22", "sent", 1)]

    monkeypatch.setattr(module, "run_hour", run_hour)

    for body in (b"", b"{}"):
        answer = client.post("/", data=body)
        assert answer.status_code == 200
        assert answer.get_json()["digests"] == [
            {"tenant_id": "t1", "day": "2026-11-22", "status": "sent", "notified": 1}
        ]
    assert [call["digest_hour"] for call in calls] == [7, 7]
    assert calls[0]["now"].tzinfo is UTC


def test_one_tenant_and_day_is_sent_on_request(
    digest_app: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, module = digest_app
    asked: list[tuple[str, date]] = []

    def send_digest(firestore: Any, tenant_id: str, day: date, now: datetime, **_: Any) -> Any:
        asked.append((tenant_id, day))
        return DigestResult(tenant_id, day.isoformat(), "duplicate")

    monkeypatch.setattr(module, "send_digest", send_digest)

    answer = client.post("/", json={"tenant_id": "clinica", "date": "2026-11-22"})

    assert answer.status_code == 200
    assert asked == [("clinica", date(2026, 11, 22))]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b'{"tenant_id": "t"}', "date"),
        (b'{"tenant_id": "t", "date": "22/11/2026"}', "date"),
        (b'{"tenant_id": "", "date": "2026-11-22"}', "tenant_id"),
        (b'{"tenant_id": "t", "date": "2026-11-22", "extra": 1}', "extra"),
    ],
)
def test_bad_bodies_are_refused_with_the_field(
    digest_app: tuple[Any, Any], body: bytes, field: str
) -> None:
    client, _ = digest_app

    answer = client.post("/", data=body, content_type="application/json")

    assert answer.status_code == 400
    assert answer.get_json()["field"] == field


def test_an_unknown_tenant_is_a_404_and_a_get_a_405(digest_app: tuple[Any, Any]) -> None:
    client, _ = digest_app

    missing = client.post("/", json={"tenant_id": "nobody", "date": "2026-11-22"})

    assert missing.status_code == 404 and "nobody" in missing.get_json()["error"]
    assert client.get("/").status_code == 405
