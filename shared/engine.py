"""The conversation engine's entry points: an event arrives, a turn comes due.

``on_event`` (functions/agent, Pub/Sub push): validate the event, take it in exactly once
(``shared.intake``) and, for a lead message, schedule the debounced turn on Cloud Tasks at
now + the tenant's ``debounce_seconds``, carrying the inbound sequence number it answers.
A lead's media is fetched and understood first (``shared.media``), its understanding stored,
and only then is the turn scheduled: the debounce waits for the media.

``build_turn_runner`` (functions/turn, the Cloud Tasks target) wires ``shared.turns`` to
Firestore, the LangGraph turn, the ``outbound-messages`` topic and the follow-up queue.

Both runners get the instance's cached billing check (``billing_check``: each workspace's billing
account and month replies, read once per ``PILOTO_BILLING_CACHE_SECONDS``; the plans from
``PILOTO_PLANS_FILE``), asked before the guards and told of the replies they count.

``build_followup_runner`` (functions/followup, the Cloud Tasks target of follow-ups and
inactivity checks) wires ``shared.followups`` to the same, plus the channel cache (for
templates), the follow-up specialist and the ``insight-events`` topic (INACTIVITY_2H).

Insight events (``shared.insights.events``): once a lead's message is taken in (its media
understood) and its turn scheduled, NEW_MESSAGE_RECEIVED is published for tenants whose insight
agents listen to it; a failed publish raises, and the redelivered message publishes the same
event again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.billing.usage import BillingCheck
from shared.events.tasks import FollowupRequest, TaskScheduler, TurnRequest
from shared.followups import FollowupRunner, ScheduleFollowup
from shared.insights.events import (
    IndexCache,
    InsightPublisher,
    insight_publisher,
    message_event,
    publish_listened,
)
from shared.intake import (
    DEFAULT_MEDIA_WAIT,
    IntakeOutcome,
    IntakeRules,
    record_understanding,
    take_in,
)
from shared.integrations.publish import business_event_publisher
from shared.knowledge.embeddings import Embedder
from shared.knowledge.models import KnowledgeSnippet, KnowledgeStatus
from shared.media.inbound import UnderstandLeadMedia, media_kind
from shared.media.understand import MediaUnderstanding, window_text
from shared.models.channel import Channel, ChannelRecordInvalid
from shared.models.conversation import Conversation, MediaNote
from shared.models.decision import Decision
from shared.models.events import ConversationEvent, LeadMessage, event_from_json
from shared.models.tenant import AgentSettings
from shared.settings import Settings
from shared.store.cache import TTLCache
from shared.store.conversations import tenant_ref
from shared.turns import TurnRunner

if TYPE_CHECKING:
    from shared.scheduling.service import Scheduler
    from shared.store.channels import ChannelDirectory

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
    understand_media: UnderstandLeadMedia | None = None
    """Fetches and understands a lead's media (``shared.media.inbound``); None: none is read."""
    media_wait: timedelta = DEFAULT_MEDIA_WAIT
    insight_index: IndexCache | None = None
    """Which tenants' insight agents listen to lead messages; None: no insight event is sent."""
    publish_insights: InsightPublisher | None = None

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
                media_wait=self.media_wait,
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
        lead_text = outcome.lead_text
        if outcome.turn_due and outcome.conversation_id and outcome.inbound_seq:
            inbound_seq = outcome.inbound_seq
            if outcome.awaits_media and isinstance(event, LeadMessage):
                # The debounce starts once the media is understood (or known not to be).
                understood = self._take_in_media(event, outcome.conversation_id)
                if understood is not None:
                    inbound_seq = understood[0] or inbound_seq
                    lead_text = understood[1]
                now = self.now()
            self.schedule_turn(
                TurnRequest(event.tenant_id, outcome.conversation_id, inbound_seq),
                now + timedelta(seconds=agent.debounce_seconds),
            )
        if isinstance(event, LeadMessage):
            self._publish_message_event(event, outcome, lead_text)
        return outcome

    def _publish_message_event(
        self, event: LeadMessage, outcome: IntakeOutcome, text: str | None
    ) -> None:
        """Publish NEW_MESSAGE_RECEIVED when some insight agent of the tenant listens to it.

        Last, after the message and its turn are safe: a failure raises, Pub/Sub redelivers,
        intake finds the message again and this publishes the same event (same id) again.
        """
        if (
            self.insight_index is None
            or self.publish_insights is None
            or outcome.status not in ("recorded", "duplicate")
            or not outcome.conversation_id
            or not outcome.inbound_seq
        ):
            return
        insight = message_event(
            tenant_id=event.tenant_id,
            conversation_id=outcome.conversation_id,
            inbound_seq=outcome.inbound_seq,
            message_id=event.message_id,
            text=text,
            occurred_at=event.occurred_at,
        )
        try:
            publish_listened(self.insight_index, self.publish_insights, [insight])
        except Exception:
            logger.exception(
                "insight event not published",
                extra={"tenant_id": event.tenant_id, "event_id": insight.event_id},
            )
            raise

    def _take_in_media(self, event: LeadMessage, conversation_id: str) -> tuple[int, str] | None:
        """Understand a lead's media and store what it became; return the turn's sequence and
        the text the agent reads for it (None: no media to read, or the conversation is gone).
        """
        kind = media_kind(event.content)
        media = event.content.media
        if kind is None or media is None:  # intake only awaits media it can read
            return None
        understanding = MediaUnderstanding(status="not_understood", reason="not_configured")
        if self.understand_media is not None:
            try:
                understanding = self.understand_media(event)
            except Exception:  # a voice note is never silently ignored: the turn hears of it
                logger.exception(
                    "media understanding failed",
                    extra={"tenant_id": event.tenant_id, "event_id": event.event_id},
                )
                understanding = MediaUnderstanding(status="not_understood", reason="error")
        note = MediaNote(
            kind=kind,
            status=understanding.status,
            reason=understanding.reason,
            captioned=bool(media.caption),
        )
        text = window_text(kind, understanding, caption=media.caption, filename=media.filename)
        inbound_seq = record_understanding(
            self.firestore,
            event,
            conversation_id,
            note=note,
            text=text,
            understanding=understanding.to_document(),
            now=self.now(),
        )
        return None if inbound_seq is None else (inbound_seq, text)


def build_engine(settings: Settings) -> Engine:
    """Wire the engine to Firestore, Cloud Tasks (their emulators when configured) and media."""
    from shared.media.inbound import media_understander
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
        understand_media=media_understander(settings, client),
        media_wait=timedelta(seconds=settings.media_wait_seconds),
        insight_index=IndexCache(client, settings.insight_index_cache_seconds),
        publish_insights=insight_publisher(settings),
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


def billing_check(settings: Settings, client: Any) -> BillingCheck:
    """Return the instance's billing check for turns and follow-ups (plans file, cache TTL)."""
    from shared.billing.plans import load_catalogue

    return BillingCheck(
        client, load_catalogue(settings.plans_file), ttl_seconds=settings.billing_cache_seconds
    )


def build_turn_runner(settings: Settings) -> TurnRunner:
    """Wire due turns to Firestore, the LangGraph turn, outbound-messages and follow-up tasks."""
    from shared.agent.graph import graph_decider
    from shared.agent.llm import chat_model_from_settings
    from shared.store.firestore import firestore_client

    client = firestore_client(settings.project_id)
    chat_model = chat_model_from_settings(settings)
    tenants = TenantSettingsCache(client)
    schedule_followup = followup_scheduler(settings)
    if schedule_followup is None:
        logger.warning(
            "PILOTO_FOLLOWUP_URL or a queue (PILOTO_FOLLOWUP_QUEUE, PILOTO_TASKS_QUEUE) is unset: "
            "turns schedule no follow-ups or inactivity checks"
        )
    from shared.knowledge.embeddings import embedder_from_settings

    retrieve = knowledge_retriever(client, embedder_from_settings(settings))
    scheduler = calendar_scheduler(settings, client, tenants.get)
    return TurnRunner(
        firestore=client,
        decide=graph_decider(
            chat_model,
            lambda tenant_id: tenants.get(tenant_id)[1],
            retrieve,
            slots_for=scheduler.slots_for,
        ),
        load_settings=tenants.get,
        deliver=outbound_publisher(settings),
        schedule_followup=schedule_followup,
        clock_speed=settings.clock_speed,
        billing=billing_check(settings, client),
        publish_events=business_event_publisher(settings),
        scheduler=scheduler,
    )


def calendar_scheduler(
    settings: Settings, client: Any, load_agent: Callable[[str], tuple[AgentSettings, str]]
) -> Scheduler:
    """Return the turns' scheduler: Firestore holds, Google Calendar when connected, reminders."""
    import httpx

    from shared.scheduling.google import google_backend_for
    from shared.scheduling.reminders import reminder_scheduler
    from shared.scheduling.service import Scheduler

    schedule_reminder = reminder_scheduler(settings)
    if schedule_reminder is None:
        logger.warning(
            "PILOTO_REMINDER_URL or a queue (PILOTO_FOLLOWUP_QUEUE, PILOTO_TASKS_QUEUE) is unset: "
            "booked meetings get no reminder"
        )
    return Scheduler(
        firestore=client,
        backend_for=google_backend_for(settings, httpx.Client(timeout=10.0)),
        schedule_reminder=schedule_reminder,
        load_agent=load_agent,
    )


def knowledge_retriever(
    client: Any, embedder: Embedder, ttl_seconds: float = 60.0
) -> Callable[[str, Sequence[str]], list[KnowledgeSnippet]]:
    """Return the turn's knowledge lookup: nothing (no embedding call) for a tenant without any.

    A tenant's knowledge counts are cached while it has some; an empty tenant is asked again
    each turn (one read), so the first entry it adds is found at once.
    """
    from shared.knowledge.store import knowledge_status, retrieve

    def counts(tenant_id: str) -> KnowledgeStatus | None:
        status = knowledge_status(client, tenant_id)
        return None if status.empty else status

    statuses = TTLCache(counts, ttl_seconds=ttl_seconds, missing_ttl_seconds=0)

    def find(tenant_id: str, texts: Sequence[str]) -> list[KnowledgeSnippet]:
        if statuses.get(tenant_id) is None:
            return []
        return retrieve(client, tenant_id, texts, embedder)

    return find


def build_followup_runner(settings: Settings) -> FollowupRunner:
    """Wire due follow-ups to Firestore, the follow-up specialist, templates and outbound."""
    from shared.agent.followup import followup_drafter
    from shared.agent.llm import chat_model_from_settings
    from shared.store.firestore import firestore_client

    schedule_followup = followup_scheduler(settings)
    if schedule_followup is None:
        raise RuntimeError(
            "set PILOTO_FOLLOWUP_URL and PILOTO_FOLLOWUP_QUEUE (or PILOTO_TASKS_QUEUE): "
            "each follow-up schedules the next step there"
        )
    client = firestore_client(settings.project_id)
    tenants = TenantSettingsCache(client)
    channels = channel_directory(settings, client, "follow-up")
    return FollowupRunner(
        firestore=client,
        draft=followup_drafter(chat_model_from_settings(settings)),
        load_settings=tenants.get,
        find_channel=channels.get,
        deliver=outbound_publisher(settings),
        schedule=schedule_followup,
        clock_speed=settings.clock_speed,
        insight_index=IndexCache(client, settings.insight_index_cache_seconds),
        publish_insights=insight_publisher(settings),
        billing=billing_check(settings, client),
        publish_events=business_event_publisher(settings),
    )


def channel_directory(settings: Settings, client: Any, user: str) -> ChannelDirectory:
    """Return the instance's channel cache (for templates); ``user`` names who logs a bad one."""
    from shared.store.channels import CHANNELS_COLLECTION, ChannelDirectory

    def load_channel(channel_id: str) -> Channel | None:
        snapshot = client.collection(CHANNELS_COLLECTION).document(channel_id).get()
        if not snapshot.exists:
            return None
        try:
            return Channel.from_document(channel_id, snapshot.to_dict() or {})
        except ChannelRecordInvalid as error:
            logger.error("%s without a usable channel: %s", user, error)
            return None

    return ChannelDirectory(
        load_channel,
        ttl_seconds=settings.channel_cache_seconds,
        missing_ttl_seconds=settings.unknown_channel_cache_seconds,
    )


def followup_scheduler(settings: Settings) -> ScheduleFollowup | None:
    """Return what puts follow-up tasks on Cloud Tasks, or None when no URL or queue is set."""
    queue = settings.followup_queue or settings.tasks_queue
    url = settings.followup_url
    if not queue or not url:
        return None
    scheduler = TaskScheduler(
        queue_path=queue,
        emulator_host=settings.tasks_emulator_host,
        service_account_email=settings.tasks_service_account,
    )

    def schedule_followup(request: FollowupRequest, at: datetime) -> None:
        scheduler.schedule_followup(url, request, at)

    return schedule_followup


def outbound_publisher(settings: Settings) -> Callable[[Conversation, Decision], None]:
    """Return what hands a decision's messages to outbound-messages, keyed decision_id:index."""
    import google.cloud.pubsub_v1 as pubsub_v1

    # Ordered per conversation: a decision's second message never overtakes its first, and a
    # message the sender defers (rate) holds back the ones after it.
    publisher = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )
    topic = publisher.topic_path(settings.project_id, settings.outbound_topic)

    def deliver(conversation: Conversation, decision: Decision) -> None:
        futures = [
            publisher.publish(
                topic,
                outbound_message_json(conversation, decision, index),
                ordering_key=f"{conversation.tenant_id}:{conversation.conversation_id}",
                key=f"{decision.decision_id}:{index}",
                tenant_id=conversation.tenant_id,
            )
            for index in range(len(decision.messages))
        ]
        for future in futures:
            future.result(timeout=settings.publish_timeout_seconds)

    return deliver


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
