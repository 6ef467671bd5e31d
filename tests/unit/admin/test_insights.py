"""The admin API's insight pieces that need no emulator: TICKET announcements after a close, the
publisher made on first use, and the feed's status filter kept in step with the model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from shared.admin import routes
from shared.admin.conversations import announce_close
from shared.admin.schemas import InsightQuery
from shared.insights.models import InsightEvent, InsightStatus
from shared.settings import Settings
from shared.store.memory import MemoryFirestore

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@dataclass
class Services:
    firestore: MemoryFirestore = field(default_factory=MemoryFirestore)
    published: list[InsightEvent] = field(default_factory=list)
    fail: bool = False

    def now(self) -> datetime:
        return NOW

    def publish_insights(self, events: Sequence[InsightEvent]) -> None:
        if self.fail:
            raise TimeoutError("pubsub is away")
        self.published.extend(events)


def _listening(services: Services, *events: str) -> None:
    services.firestore.collection("tenants").document("t1").collection("settings").document(
        "insights"
    ).set({"events": list(events)})


def _announce(services: Services, reason: str) -> InsightEvent | None:
    return announce_close(services, "t1", "c1", reason, note="caro", actor_uid="u1")


def test_a_won_or_lost_close_is_announced_when_an_agent_listens() -> None:
    services = Services()
    _listening(services, "TICKET_WON", "TICKET_LOST")

    won, lost = _announce(services, "won"), _announce(services, "lost")

    assert services.published == [won, lost]
    assert won is not None and lost is not None
    assert (won.type, won.event_id, won.reason, won.actor_uid) == (
        "TICKET_WON",
        "ticket:c1:won",
        "caro",
        "u1",
    )
    assert (lost.type, lost.event_id, lost.occurred_at) == ("TICKET_LOST", "ticket:c1:lost", NOW)


@pytest.mark.parametrize(("listening", "reason"), [(("TICKET_LOST",), "won"), ((), "lost")])
def test_nothing_is_published_when_no_agent_listens(
    listening: tuple[str, ...], reason: str
) -> None:
    services = Services()
    _listening(services, *listening)

    assert _announce(services, reason) is None
    assert services.published == []


@pytest.mark.parametrize("reason", ["no_interest", "spam", "other"])
def test_other_close_reasons_are_no_ticket(reason: str) -> None:
    services = Services()
    _listening(services, "TICKET_WON", "TICKET_LOST")

    assert _announce(services, reason) is None
    assert services.published == []


def test_a_failed_publish_is_logged_and_the_close_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = Services(fail=True)
    _listening(services, "TICKET_WON")

    with caplog.at_level(logging.ERROR, logger="piloto.admin"):
        assert _announce(services, "won") is None

    assert "TICKET_WON event was not published" in caplog.text


def test_the_insight_publisher_is_made_on_first_use_and_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Settings] = []
    sent: list[Any] = []

    def factory(settings: Settings) -> Any:
        built.append(settings)
        return sent.extend

    monkeypatch.setattr("shared.insights.events.insight_publisher", factory)
    settings = Settings(project_id="demo-piloto")
    publish = routes._on_first_use(settings)
    assert built == []

    publish(["a"])  # type: ignore[list-item]
    publish(["b"])  # type: ignore[list-item]

    assert built == [settings]
    assert sent == ["a", "b"]


def test_the_feed_filters_on_every_insight_status() -> None:
    annotation = InsightQuery.model_fields["status"].annotation
    literal = next(arg for arg in get_args(annotation) if arg is not type(None))

    assert set(get_args(literal)) == {status.value for status in InsightStatus}
