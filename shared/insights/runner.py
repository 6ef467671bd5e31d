"""The insights runner: one event in, the insights of every agent whose trigger matches out.

For an ``InsightEvent`` (functions/insights, Pub/Sub push) ``InsightRunner.handle``:

1. reads the conversation and the tenant's active insight agents (one query, at most
   ``MAX_AGENTS``; a macro press reads only the agent whose button was pressed);
2. keeps each agent's first trigger that matches: the event type, the lead's text containing a
   keyword (case and accents ignored), the conversation's mode, the lead's message count;
3. per match, admits the run in one transaction (``shared.insights.throttle``): a throttled run
   writes nothing, a finished one is not redone, a RUNNING one (an earlier delivery that failed)
   is resumed without counting again;
4. builds the payload model from the agent's output fields, asks the chat model for it with
   structured output, validates it; an invalid answer or a model error is retried once (an
   invalid answer is told what was wrong), then the insight is FAILED with the error. Tokens are
   summed over the attempts. Offline (``PILOTO_LLM=offline``) the payload is the deterministic
   one of ``shared.insights.offline``, model ``offline-insights``;
5. stores the insight as a SUGGESTION (or FAILED), unless another delivery finished it first;
   a SUGGESTION stages the business event ``insight.ready`` in the same write (cause
   ``insight:{insight_id}``) and publishes it after (a redelivery finding the insight done
   publishes it again).

An exception (Firestore unavailable) propagates, so Pub/Sub redelivers and the RUNNING insights
are resumed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from google.api_core.exceptions import AlreadyExists, FailedPrecondition
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, ValidationError

from shared.agent.llm import describe_model
from shared.agent.offline import normalize
from shared.insights.context import build_prompt, retry_prompt
from shared.insights.events import event_from_pubsub
from shared.insights.models import (
    MAX_AGENTS,
    Attribution,
    EventType,
    Insight,
    InsightAgent,
    InsightEvent,
    InsightStatus,
    OutputField,
    Trigger,
)
from shared.insights.offline import OFFLINE_INSIGHTS_MODEL, offline_payload
from shared.insights.schema import PayloadInvalid, payload_model, validate_payload
from shared.insights.throttle import (
    ATTEMPTS,
    admit,
    insight_id_for,
    insight_ref,
    tenant_zone,
)
from shared.integrations.events import insight_event
from shared.integrations.models import BusinessEvent
from shared.integrations.outbox import PublishEvents, events_of_cause, stage_events
from shared.models.conversation import Conversation
from shared.settings import Settings
from shared.store.conversations import conversation_ref, tenant_ref

logger = logging.getLogger("piloto.insights")

MAX_ATTEMPTS = 2
MAX_ERROR_CHARS = 500

ModelChoice = Literal["fast", "precise"]
ChatModelFor = Callable[[ModelChoice], BaseChatModel]
"""Returns the chat model of an agent's model choice."""


@dataclass(frozen=True)
class RunOutcome:
    """What one agent's run produced: a valid payload, or the error that failed it."""

    payload: dict[str, Any] | None
    error: str | None
    attempts: int
    model: str
    offline_model: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0


def agents_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/insight_agents``."""
    return tenant_ref(client, tenant_id).collection("insight_agents")


def read_active_agents(client: Any, tenant_id: str) -> list[InsightAgent]:
    """Return the tenant's active insight agents (at most ``MAX_AGENTS``); skip unreadable ones."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        agents_ref(client, tenant_id)
        .where(filter=FieldFilter("active", "==", True))
        .limit(MAX_AGENTS)
    )
    return [
        agent
        for snapshot in query.stream()
        if (agent := _agent(snapshot, tenant_id)) is not None and agent.active
    ]


def read_agent(client: Any, tenant_id: str, agent_id: str) -> InsightAgent | None:
    """Return one insight agent, or None when it does not exist or is unreadable."""
    snapshot = agents_ref(client, tenant_id).document(agent_id).get()
    return _agent(snapshot, tenant_id) if snapshot.exists else None


def _agent(snapshot: Any, tenant_id: str) -> InsightAgent | None:
    data = {"agent_id": snapshot.id, "tenant_id": tenant_id, **(snapshot.to_dict() or {})}
    try:
        return InsightAgent.model_validate(data)
    except ValidationError as error:
        logger.error(
            "unreadable insight agent: %s",
            error.errors()[0]["msg"],
            extra={"tenant_id": tenant_id, "agent_id": snapshot.id},
        )
        return None


def matching_trigger(
    agent: InsightAgent, event: InsightEvent, conversation: Conversation
) -> Trigger | None:
    """Return the agent's first trigger that the event and the conversation satisfy."""
    if not agent.active:
        return None
    if event.type is EventType.MACRO_BUTTON_CLICKED and event.agent_id != agent.agent_id:
        return None
    for index, trigger in enumerate(agent.triggers):
        if trigger.event is not event.type:
            continue
        if trigger.keywords and not mentions(event.text or "", trigger.keywords):
            continue
        if trigger.mode != "any" and conversation.mode != trigger.mode:
            continue
        if conversation.inbound_count < trigger.min_lead_messages:
            continue
        if trigger.trigger_id:
            return trigger
        return trigger.model_copy(update={"trigger_id": f"t{index}"})
    return None


def mentions(text: str, keywords: list[str]) -> bool:
    """Return whether the text holds one of the keywords as whole words (case, accents ignored)."""
    padded = f" {normalize(text)} "
    return any((phrase := normalize(keyword)) and f" {phrase} " in padded for keyword in keywords)


@dataclass
class InsightRunner:
    """Runs the tenant's insight agents on one event (see the module docstring)."""

    firestore: Any
    chat_model_for: ChatModelFor | None = None
    """The chat model of each model choice; None: offline payloads (``PILOTO_LLM=offline``)."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    read_agents: Callable[[Any, str], list[InsightAgent]] = read_active_agents
    """How the active agents are read (a query; unit tests pass a list)."""
    publish_events: PublishEvents | None = None
    """Publishes ``insight.ready`` once stored; None stages it only."""

    def on_message(self, data: bytes) -> list[Insight] | None:
        """Handle one Pub/Sub message; None (logged, acknowledged) when it is not an event."""
        try:
            event = event_from_pubsub(data)
        except ValueError as error:
            logger.error("dropped a message that is not an insight event: %s", str(error)[:300])
            return None
        return self.handle(event)

    def handle(self, event: InsightEvent) -> list[Insight]:
        """Run every matching agent on the event; return the insights it produced or resumed."""
        context = {
            "tenant_id": event.tenant_id,
            "event_id": event.event_id,
            "conversation_id": event.conversation_id,
        }
        snapshot = conversation_ref(self.firestore, event.tenant_id, event.conversation_id).get()
        if not snapshot.exists:
            logger.warning("insight event for an unknown conversation", extra=context)
            return []
        document = snapshot.to_dict() or {}
        conversation = Conversation.model_validate(document)
        if event.type is EventType.MACRO_BUTTON_CLICKED:
            agent = read_agent(self.firestore, event.tenant_id, event.agent_id or "")
            agents = [agent] if agent is not None else []
        else:
            agents = self.read_agents(self.firestore, event.tenant_id)
        matches = [
            (agent, trigger)
            for agent in agents
            if (trigger := matching_trigger(agent, event, conversation)) is not None
        ]
        if not matches:
            logger.info("no insight agent matched", extra={**context, "type": event.type.value})
            return []
        zone = tenant_zone(self.firestore, event.tenant_id)
        attribution = _attribution(document.get("attribution"))
        insights = []
        for agent, trigger in matches:
            insight = self._run_agent(agent, trigger, event, conversation, attribution, zone)
            if insight is not None:
                insights.append(insight)
        return insights

    def _run_agent(
        self,
        agent: InsightAgent,
        trigger: Trigger,
        event: InsightEvent,
        conversation: Conversation,
        attribution: Attribution | None,
        zone: ZoneInfo,
    ) -> Insight | None:
        now = self.now()
        running = Insight(
            insight_id=insight_id_for(event.event_id, agent.agent_id),
            tenant_id=event.tenant_id,
            conversation_id=event.conversation_id,
            contact_key=conversation.contact_key,
            contact_name=conversation.contact_name,
            agent_id=agent.agent_id,
            agent_name=agent.name,
            agent_icon=agent.icon,
            template=agent.template,
            event_id=event.event_id,
            event_type=event.type,
            trigger_id=trigger.trigger_id,
            status=InsightStatus.RUNNING,
            fields=agent.fields,
            apply_action=agent.apply_action,
            message_field=agent.message_field,
            attribution=attribution,
            created_at=now,
        )
        admission = admit(self.firestore, running, trigger, now=now, zone=zone)
        context = {
            "tenant_id": event.tenant_id,
            "event_id": event.event_id,
            "conversation_id": event.conversation_id,
            "agent_id": agent.agent_id,
            "trigger_id": trigger.trigger_id,
            "insight_id": running.insight_id,
        }
        if admission.status == "throttled":
            logger.info("insight throttled", extra={**context, "rule": admission.rule})
            return None
        if admission.status == "done":
            logger.info("insight already done", extra=context)
            if self.publish_events is not None:  # its publish may have failed after the write
                staged = events_of_cause(self.firestore, event.tenant_id, ready_cause(running))
                if staged:
                    self.publish_events(staged)
            return admission.insight
        outcome = self._produce(agent, event, conversation, attribution, zone)
        finished = running.model_copy(
            update={
                "status": InsightStatus.SUGGESTION if outcome.payload else InsightStatus.FAILED,
                "payload": outcome.payload or {},
                "error": outcome.error,
                "attempts": outcome.attempts,
                "model": outcome.model,
                "offline_model": outcome.offline_model,
                "prompt_tokens": outcome.prompt_tokens,
                "completion_tokens": outcome.completion_tokens,
                "created_at": admission.insight.created_at if admission.insight else now,
                "completed_at": self.now(),
            }
        )
        ready = []
        if finished.status is InsightStatus.SUGGESTION:
            ready = [
                insight_event(
                    finished,
                    "ready",
                    now=finished.completed_at or now,
                    assignee_uid=conversation.assignee_uid,
                )
            ]
        stored = complete(self.firestore, finished, ready)
        if stored is finished and ready and self.publish_events is not None:
            self.publish_events(ready)
        log = logger.info if stored.status is InsightStatus.SUGGESTION else logger.warning
        log(
            "insight %s",
            stored.status.value,
            extra={
                **context,
                "resumed": admission.status == "resumed",
                "attempts": stored.attempts,
                "model": stored.model,
                "prompt_tokens": stored.prompt_tokens,
                "completion_tokens": stored.completion_tokens,
                "error": stored.error,
            },
        )
        return stored

    def _produce(
        self,
        agent: InsightAgent,
        event: InsightEvent,
        conversation: Conversation,
        attribution: Attribution | None,
        zone: ZoneInfo,
    ) -> RunOutcome:
        if self.chat_model_for is None:
            payload = validate_payload(agent.fields, offline_payload(agent.fields, event.event_id))
            return RunOutcome(
                payload=payload,
                error=None,
                attempts=1,
                model=OFFLINE_INSIGHTS_MODEL,
                offline_model=True,
            )
        try:
            chat_model = self.chat_model_for(agent.model)
        except Exception as error:  # no model, no insight: recorded, not retried forever
            return RunOutcome(None, _error_text(error), 1, agent.model, False)
        messages = build_prompt(
            agent, conversation, event, attribution=attribution, now=self.now(), zone=zone
        )
        return run_model(chat_model, agent.fields, messages)


def run_model(
    chat_model: BaseChatModel, fields: list[OutputField], messages: list[BaseMessage]
) -> RunOutcome:
    """Ask for the payload with structured output; retry once, telling the model what was wrong."""
    model_name, offline = describe_model(chat_model)
    structured = chat_model.with_structured_output(payload_model(fields), include_raw=True)
    prompt = messages
    prompt_tokens = completion_tokens = 0
    error = "no attempt"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            result: Any = structured.invoke(prompt)
        except Exception as failure:  # a model error counts as an attempt
            error = _error_text(failure)
            continue
        outcome: dict[str, Any] = result if isinstance(result, dict) else {"parsed": result}
        usage: dict[str, Any] = getattr(outcome.get("raw"), "usage_metadata", None) or {}
        prompt_tokens += int(usage.get("input_tokens", 0) or 0)
        completion_tokens += int(usage.get("output_tokens", 0) or 0)
        try:
            payload = validate_payload(fields, _answer(outcome))
        except PayloadInvalid as invalid:
            error = f"invalid output: {invalid}"[:MAX_ERROR_CHARS]
            prompt = retry_prompt(messages, str(invalid))
            continue
        return RunOutcome(
            payload, None, attempt, model_name, offline, prompt_tokens, completion_tokens
        )
    return RunOutcome(
        None, error, MAX_ATTEMPTS, model_name, offline, prompt_tokens, completion_tokens
    )


def _answer(outcome: dict[str, Any]) -> Any:
    """Return the model's answer as data: the parsed model, else the raw tool call or JSON."""
    parsed = outcome.get("parsed")
    if isinstance(parsed, BaseModel):
        return parsed.model_dump(mode="json", by_alias=True)
    raw = outcome.get("raw")
    if isinstance(raw, AIMessage):
        if raw.tool_calls:
            return raw.tool_calls[0]["args"]
        text = raw.text.strip() if isinstance(raw.text, str) else ""
        text = text.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
        try:
            return json.loads(text)
        except ValueError:
            pass
    reason = outcome.get("parsing_error") or "no structured answer"
    raise PayloadInvalid([f"the answer was not a JSON object ({str(reason)[:200]})"])


def _error_text(error: BaseException) -> str:
    return f"model error: {type(error).__name__}: {error}"[:MAX_ERROR_CHARS]


def _attribution(value: Any) -> Attribution | None:
    if not isinstance(value, dict):
        return None
    try:
        return Attribution.model_validate(value)
    except ValidationError:
        return None


def ready_cause(insight: Insight) -> str:
    """Return the outbox cause of an insight's ``insight.ready`` event."""
    return f"insight:{insight.insight_id}"


def complete(client: Any, finished: Insight, events: Sequence[BusinessEvent] = ()) -> Insight:
    """Store a finished run unless another delivery finished it first; return what is stored.

    Optimistic: the write is conditioned on the RUNNING document's last update time, and a
    document that changed meanwhile is read again (no transaction, so no lock is held).
    ``events`` (its ``insight.ready``) are staged in the same batch.
    """
    document = insight_ref(client, finished.tenant_id, finished.insight_id)
    data = finished.model_dump(mode="python")
    for _ in range(ATTEMPTS):
        snapshot = document.get()
        batch = client.batch()
        if not snapshot.exists:
            batch.create(document, data)
            stage_events(batch, client, events, ready_cause(finished))
            try:
                batch.commit()
            except AlreadyExists:
                continue
            return finished
        current = Insight.model_validate(snapshot.to_dict() or {})
        if current.status is not InsightStatus.RUNNING:
            return current
        written = client.write_option(last_update_time=snapshot.update_time)
        batch.update(document, data, option=written)
        stage_events(batch, client, events, ready_cause(finished))
        try:
            batch.commit()
        except FailedPrecondition:
            continue
        return finished
    raise RuntimeError(f"insight {finished.insight_id} kept changing; not stored")


def build_insight_runner(settings: Settings) -> InsightRunner:
    """Wire the runner to Firestore and to Gemini on Vertex AI (offline payloads otherwise)."""
    from shared.agent.llm import chat_model_from_settings
    from shared.integrations.publish import business_event_publisher
    from shared.store.firestore import firestore_client

    client = firestore_client(settings.project_id)
    publish = business_event_publisher(settings)
    if settings.llm == "offline":
        return InsightRunner(firestore=client, publish_events=publish)
    models: dict[ModelChoice, BaseChatModel] = {
        "fast": chat_model_from_settings(settings),
        "precise": chat_model_from_settings(
            replace(settings, gemini_model=settings.gemini_precise_model)
        ),
    }
    return InsightRunner(
        firestore=client, chat_model_for=models.__getitem__, publish_events=publish
    )
