"""The conversation engine's entry points: an event arrives, a turn comes due.

``on_event`` (functions/agent, Pub/Sub push): validate the event, take it in exactly once
(``shared.intake``) and, for a lead message, schedule the debounced turn on Cloud Tasks at
now + the tenant's ``debounce_seconds``, carrying the inbound sequence number it answers.

``build_turn_runner`` (functions/turn, the Cloud Tasks target) wires ``shared.turns`` to
Firestore, the LangGraph turn and the ``outbound-messages`` topic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.tasks import TaskScheduler, TurnRequest
from shared.intake import IntakeOutcome, IntakeRules, take_in
from shared.models.conversation import Conversation
from shared.models.decision import Decision
from shared.models.events import ConversationEvent, event_from_json
from shared.models.tenant import AgentSettings
from shared.settings import Settings
from shared.store.cache import TTLCache
from shared.store.conversations import tenant_ref
from shared.turns import TurnRunner

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
    """Intake wired to Firestore and to whatever schedules turns (Cloud Tasks in production)."""

    firestore: Any
    max_event_age: timedelta
    schedule_turn: Callable[[TurnRequest, datetime], None]
    load_agent: Callable[[str], AgentSettings]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    prepare_media: Callable[[ConversationEvent], None] = lambda event: None
    """The seam where voice notes and media will be transcribed or described before the turn."""

    def on_event(self, data: bytes) -> IntakeOutcome | None:
        """Take in one Pub/Sub message; None (acknowledged, logged) when it is not an event."""
        try:
            event = event_from_json(data)
        except ValueError as error:
            logger.error("dropped a message that is not an event: %s", error)
            return None
        return self.take_in_event(event)

    def take_in_event(self, event: ConversationEvent) -> IntakeOutcome:
        """Take one event in exactly once and schedule the debounced turn it makes due."""
        now = self.now()
        agent = self.load_agent(event.tenant_id)
        outcome = take_in(
            self.firestore,
            event,
            now=now,
            rules=IntakeRules(
                max_event_age=self.max_event_age,
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
            if outcome.awaits_media:
                self.prepare_media(event)
            self.schedule_turn(
                TurnRequest(event.tenant_id, outcome.conversation_id, outcome.inbound_seq),
                now + timedelta(seconds=agent.debounce_seconds),
            )
        return outcome


def build_engine(settings: Settings) -> Engine:
    """Wire the engine to Firestore and Cloud Tasks (their emulators when configured)."""
    from shared.store.firestore import firestore_client

    if not settings.tasks_queue or not settings.turn_url:
        raise RuntimeError("set PILOTO_TASKS_QUEUE and PILOTO_TURN_URL: turns are scheduled there")
    scheduler = TaskScheduler(
        queue_path=settings.tasks_queue,
        emulator_host=settings.tasks_emulator_host,
        service_account_email=settings.tasks_service_account,
    )
    turn_url = settings.turn_url
    client = firestore_client(settings.project_id)
    tenants = TenantSettingsCache(client)

    def schedule_turn(turn: TurnRequest, at: datetime) -> None:
        scheduler.schedule_turn(turn_url, turn, at)

    return Engine(
        firestore=client,
        max_event_age=timedelta(seconds=settings.max_event_age_seconds),
        schedule_turn=schedule_turn,
        load_agent=lambda tenant_id: tenants.get(tenant_id)[0],
    )


class TenantSettingsCache:
    """Agent settings and time zone per tenant, read once per instance per TTL."""

    def __init__(self, client: Any, ttl_seconds: float = 60.0) -> None:
        self._client = client
        self._cache = TTLCache(self._load, ttl_seconds=ttl_seconds, missing_ttl_seconds=0)

    def get(self, tenant_id: str) -> tuple[AgentSettings, str]:
        """Return the tenant's agent settings and time zone."""
        value = self._cache.get(tenant_id)
        assert value is not None  # the loader always returns settings (defaults when unset)
        return value

    def _load(self, tenant_id: str) -> tuple[AgentSettings, str]:
        tenant = tenant_ref(self._client, tenant_id).get()
        timezone = (tenant.to_dict() or {}).get("timezone") if tenant.exists else None
        return read_agent_settings(self._client, tenant_id), timezone or "America/Sao_Paulo"


def build_turn_runner(settings: Settings) -> TurnRunner:
    """Wire due turns to Firestore, the LangGraph turn and the outbound-messages topic."""
    import google.cloud.pubsub_v1 as pubsub_v1

    from shared.agent.graph import graph_decider
    from shared.agent.llm import chat_model_from_settings
    from shared.store.firestore import firestore_client

    client = firestore_client(settings.project_id)
    chat_model = chat_model_from_settings(settings)
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(settings.project_id, settings.outbound_topic)
    tenants = TenantSettingsCache(client)

    decide = graph_decider(chat_model, lambda tenant_id: tenants.get(tenant_id)[1])

    def deliver(conversation: Conversation, decision: Decision) -> None:
        futures = [
            publisher.publish(
                topic,
                outbound_message_json(conversation, decision, index),
                key=f"{decision.decision_id}:{index}",
                tenant_id=conversation.tenant_id,
            )
            for index in range(len(decision.messages))
        ]
        for future in futures:
            future.result(timeout=settings.publish_timeout_seconds)

    return TurnRunner(firestore=client, decide=decide, load_settings=tenants.get, deliver=deliver)


def outbound_message_json(conversation: Conversation, decision: Decision, index: int) -> bytes:
    """Return the outbound-messages body for one message of a decision (the sender's input)."""
    return json.dumps(
        {
            "key": f"{decision.decision_id}:{index}",
            "tenant_id": conversation.tenant_id,
            "conversation_id": conversation.conversation_id,
            "channel_id": conversation.channel_id,
            "contact_key": conversation.contact_key,
            "decision_id": decision.decision_id,
            "index": index,
            "message": decision.messages[index].model_dump(mode="json"),
        },
        ensure_ascii=False,
    ).encode("utf-8")
