"""The conversation engine's entry points: an event arrives, a turn comes due.

``on_event`` (functions/agent, Pub/Sub push): validate the event, take it in exactly once
(``shared.intake``) and, for a lead message, schedule the debounced turn on Cloud Tasks at
now + the tenant's ``debounce_seconds``, carrying the inbound sequence number it answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.tasks import TaskScheduler, TurnRequest
from shared.intake import IntakeOutcome, IntakeRules, take_in
from shared.models.events import event_from_json
from shared.models.tenant import AgentSettings
from shared.settings import Settings
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.engine")


def read_agent_settings(client: Any, tenant_id: str) -> AgentSettings:
    """Read ``tenants/{t}/settings/agent``; the defaults when the tenant has none."""
    snapshot = tenant_ref(client, tenant_id).collection("settings").document("agent").get()
    return (
        AgentSettings.model_validate(snapshot.to_dict() or {})
        if snapshot.exists
        else AgentSettings()
    )


@dataclass
class Engine:
    """The engine wired to Firestore and Cloud Tasks."""

    settings: Settings
    firestore: Any
    scheduler: TaskScheduler | None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def on_event(self, data: bytes) -> IntakeOutcome | None:
        """Take in one Pub/Sub message; None (acknowledged, logged) when it is not an event."""
        try:
            event = event_from_json(data)
        except ValueError as error:
            logger.error("dropped a message that is not an event: %s", error)
            return None
        now = self.now()
        agent = read_agent_settings(self.firestore, event.tenant_id)
        outcome = take_in(
            self.firestore,
            event,
            now=now,
            rules=IntakeRules(
                max_event_age=timedelta(seconds=self.settings.max_event_age_seconds),
                human_takeover=timedelta(minutes=agent.human_takeover_minutes),
                mode=agent.mode,
            ),
        )
        logger.info(
            "event %s",
            outcome.status,
            extra={
                "tenant_id": event.tenant_id,
                "event_id": event.event_id,
                "conversation_id": outcome.conversation_id,
                "reason": outcome.reason,
            },
        )
        if outcome.turn_due and outcome.conversation_id and outcome.inbound_seq:
            self._schedule_turn(
                TurnRequest(event.tenant_id, outcome.conversation_id, outcome.inbound_seq),
                now + timedelta(seconds=agent.debounce_seconds),
            )
        return outcome

    def _schedule_turn(self, turn: TurnRequest, at: datetime) -> None:
        if self.scheduler is None or not self.settings.turn_url:
            raise RuntimeError("set PILOTO_TASKS_QUEUE and PILOTO_TURN_URL to schedule turns")
        self.scheduler.schedule_turn(self.settings.turn_url, turn, at)


def build_engine(settings: Settings) -> Engine:
    """Wire the engine to Firestore and Cloud Tasks (their emulators when configured)."""
    from shared.store.firestore import firestore_client

    scheduler = (
        TaskScheduler(
            queue_path=settings.tasks_queue,
            emulator_host=settings.tasks_emulator_host,
            service_account_email=settings.tasks_service_account,
        )
        if settings.tasks_queue
        else None
    )
    return Engine(
        settings=settings, firestore=firestore_client(settings.project_id), scheduler=scheduler
    )
