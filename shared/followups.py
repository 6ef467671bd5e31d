"""Follow-up cadences and inactivity checks: when the agent writes first, and when it stops.

Scheduling (``plan_after_turn``, called by every decided turn): the turn bumps the
conversation's ``followup_generation``, so every follow-up task scheduled before it becomes a
no-op (the lead wrote). When the turn answered the lead in pilot mode and the conversation is
still open, the cadence starts: ``followup_step`` 0 due at now + the tenant's first delay
(``AgentSettings.followups``; each delay counts from the previous agent message, divided by
``PILOTO_CLOCK_SPEED``). Every decided turn of a conversation still open (pilot or copilot, the
agent or a human in charge) also schedules an inactivity check two hours after the
conversation's last activity.

Running (``FollowupRunner.run``, functions/followup, a Cloud Tasks target): one read of the
conversation; a task is a no-op, with its reason logged, when anything moved on (generation,
a newer lead message, a human, closed, opted out, step already taken). Otherwise the restraint
policy judges a proactive message (``before_turn`` with ``PolicyContext(proactive=True)``):

- quiet hours: the same step waits for their end (``followup_due_at``); nothing is sent;
- the unanswered limit, or a cadence already used up: the conversation closes with
  ``no_response`` (never reopened: the lead's next message starts a new conversation);
- outside WhatsApp's 24-hour window: only the channel's ``followup`` template may go; without
  one the cadence stops, recorded as ``stay_silent`` / ``outside_24h_window``;
- the subscription inactive or this month's agent replies over the plan's ceiling (the billing
  check, ``shared.billing.usage``): the cadence stops, recorded as ``stay_silent`` with
  ``subscription_inactive`` / ``quota_exceeded``. Unlike a turn, a follow-up does not hand the
  conversation to a human: nobody asked for anything, so a seller gets no handoff to pick up;
  the lead's next message is a turn, which does hand off;
- otherwise the follow-up specialist (``shared.agent.followup``) drafts the nudge, which counts
  one agent reply in the batch that stores its decision.

Every outcome is a Decision stored in one batch with the conversation's new state, on
condition that the conversation is as read; the nudge is then published to
``outbound-messages`` (keyed ``decision_id:index``) and the next step scheduled. The stored step
advances with the send, so a redelivered task finds its step taken and sends nothing (it only
schedules the next step again, in case that is what failed).

Inactivity (``kind="inactivity"``; ``"seller_inactivity"`` tasks queued before it are read as
such): INACTIVITY_2H is a conversation still open where neither the business (the agent, a
follow-up, a seller) nor the lead wrote for two hours (divided by ``PILOTO_CLOCK_SPEED``).
When the check fires and the conversation's last activity (the later of ``last_inbound_at`` and
``last_outbound_at``) is that old, the trigger event
``tenants/{t}/trigger_events/{conversation_id}:INACTIVITY_2H:{last activity, ISO}`` is created
once, and the insight event ``idle:{conversation_id}:{last activity}`` is published when some
insight agent of the tenant listens to it (``shared.insights.events``); a publish that fails
fails the task, and its retry publishes the same event again. When someone wrote since, the
check is put back at the new last activity + two hours: a chain that ends with the trigger, with
the conversation closing, or when a newer turn (a new follow-up generation) schedules its own.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from google.api_core.exceptions import AlreadyExists, FailedPrecondition

from shared.billing.usage import NO_BILLING, BillingGate, record_replies
from shared.events.tasks import FollowupRequest
from shared.insights.events import (
    IndexCache,
    InsightPublisher,
    activity_key,
    inactivity_event,
    publish_listened,
)
from shared.integrations.events import events_after_turn
from shared.integrations.models import BusinessEvent
from shared.integrations.outbox import PublishEvents, events_of_cause, stage_events
from shared.models.channel import Channel
from shared.models.conversation import (
    Contact,
    Conversation,
    ConversationStatus,
    Role,
    WindowMessage,
)
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.policy import PolicyContext, before_turn, within_24h_window
from shared.store.conversations import conversation_ref, tenant_ref
from shared.templates import template_for

if TYPE_CHECKING:  # the agent (LangGraph) loads only where a follow-up is drafted
    from shared.agent.followup import FollowupDrafter, Nudge

logger = logging.getLogger("piloto.followups")

ATTEMPTS = 3
INACTIVITY_DELAY = timedelta(hours=2)
INACTIVITY_TRIGGER = "INACTIVITY_2H"
EARLY_TOLERANCE = timedelta(seconds=2)
"""A task arriving this much before the stored due time is early (a stale or retried task)."""
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

ScheduleFollowup = Callable[[FollowupRequest, datetime], None]
Status = Literal["sent", "closed", "stopped", "deferred", "rescheduled", "skipped", "recorded"]


@dataclass(frozen=True)
class FollowupResult:
    """What a follow-up task did, and why."""

    status: Status
    reason: str | None = None
    decision: Decision | None = None
    next_at: datetime | None = None


def cadence(settings: AgentSettings) -> list[timedelta]:
    """Return the tenant's follow-up delays (``["1h", "1d", "3d"]``) as timedeltas."""
    return [timedelta(**{_UNITS[value[-1]]: int(value[:-1])}) for value in settings.followups]


def plan_after_turn(
    before: Conversation,
    updated: Conversation,
    decision: Decision,
    settings: AgentSettings,
    *,
    inbound_seq: int,
    now: datetime,
    clock_speed: float = 1.0,
) -> tuple[Conversation, Decision, list[tuple[FollowupRequest, datetime]]]:
    """Return the conversation and decision with the turn's follow-up plan, and the tasks to add.

    The tasks go on Cloud Tasks only after the turn's batch committed.
    """
    generation = before.followup_generation + 1
    tasks: list[tuple[FollowupRequest, datetime]] = []
    delays = cadence(settings)
    replies = [message for message in decision.messages if message.acknowledgement is None]
    pilot = settings.mode == "pilot" and updated.mode == "pilot"
    wants_followup = bool(replies) or decision.action is Action.SCHEDULE_FOLLOWUP
    due: datetime | None = None
    if delays and pilot and wants_followup and updated.status is ConversationStatus.OPEN:
        due = now + delays[0] / clock_speed
        request = FollowupRequest(
            updated.tenant_id, updated.conversation_id, generation, 0, inbound_seq
        )
        tasks.append((request, due))
    if updated.status is not ConversationStatus.CLOSED and not updated.contact_opted_out:
        check = FollowupRequest(
            updated.tenant_id,
            updated.conversation_id,
            generation,
            0,
            inbound_seq,
            kind="inactivity",
        )
        tasks.insert(0, (check, inactivity_due(updated, now, clock_speed)))  # then the cadence
    planned = updated.model_copy(
        update={"followup_generation": generation, "followup_step": 0, "followup_due_at": due}
    )
    return planned, decision.model_copy(update={"followup_at": due}), tasks


def last_activity(conversation: Conversation) -> datetime | None:
    """Return when the lead or the business last wrote in the conversation (None: nobody)."""
    instants = [
        instant
        for instant in (conversation.last_inbound_at, conversation.last_outbound_at)
        if instant is not None
    ]
    return max(instants) if instants else None


def inactivity_due(conversation: Conversation, now: datetime, clock_speed: float = 1.0) -> datetime:
    """Return when the conversation has been idle two hours if nobody writes (from ``now``
    when nobody wrote yet)."""
    return (last_activity(conversation) or now) + INACTIVITY_DELAY / clock_speed


def pending_after_turn(
    conversation: Conversation, inbound_seq: int, clock_speed: float = 1.0
) -> list[tuple[FollowupRequest, datetime]]:
    """Return the tasks a decided turn planned (its inactivity check, the cadence's first step
    not run yet) and when they are due.

    A turn task retried after its batch committed (scheduling failed) schedules them again; a
    duplicate task is harmless: the generation and step checks make it a no-op or a repeat.
    """
    if (
        conversation.answered_seq != inbound_seq
        or conversation.inbound_seq != inbound_seq
        or conversation.status is ConversationStatus.CLOSED
        or conversation.contact_opted_out
    ):
        return []
    generation = conversation.followup_generation
    tenant_id, conversation_id = conversation.tenant_id, conversation.conversation_id
    check = FollowupRequest(tenant_id, conversation_id, generation, 0, inbound_seq, "inactivity")
    tasks = [(check, inactivity_due(conversation, conversation.updated_at, clock_speed))]
    if (
        conversation.followup_due_at is not None
        and conversation.followup_step == 0
        and conversation.status is ConversationStatus.OPEN
    ):
        step = FollowupRequest(tenant_id, conversation_id, generation, 0, inbound_seq)
        tasks.append((step, conversation.followup_due_at))
    return tasks


def seller_wrote_since_lead(conversation: Conversation, inbound_seq: int | None = None) -> bool:
    """Return whether a seller wrote after the lead's message ``inbound_seq`` (default: the last).

    A lead message no longer in the window counts as answered: twenty messages came after it.
    """
    window = conversation.window
    leads = [
        index
        for index, message in enumerate(window)
        if message.role is Role.LEAD and (inbound_seq is None or message.seq == inbound_seq)
    ]
    if not leads:
        return inbound_seq is not None or any(m.role is Role.SELLER for m in window)
    return any(message.role is Role.SELLER for message in window[leads[-1] + 1 :])


def moved_on(conversation: Conversation, request: FollowupRequest, now: datetime) -> str | None:
    """Return why a follow-up task has nothing left to do, or None when its step is still due."""
    if conversation.followup_generation != request.generation:
        return "superseded"  # a later turn re-planned the follow-ups (the lead wrote)
    if conversation.inbound_seq > request.inbound_seq:
        return "lead_replied"  # its turn is still in the debounce
    if conversation.status is ConversationStatus.CLOSED:
        return "closed"
    if conversation.contact_opted_out:
        return "opted_out"
    if conversation.status is ConversationStatus.HANDOFF:
        return "handoff"
    if conversation.human_is_active(now) or seller_wrote_since_lead(conversation):
        return "human_active"
    if conversation.followup_due_at is None or conversation.followup_step != request.step:
        return "already_done"  # a redelivered task: its step was taken (or the cadence stopped)
    return None


def close_cause(request: FollowupRequest) -> str:
    """Return the outbox cause of the events a follow-up step stages (a close's lost)."""
    return f"followup:{request.conversation_id}:{request.generation}:{request.step}"


def trigger_event_ref(client: Any, tenant_id: str, trigger_id: str) -> Any:
    """Return ``tenants/{t}/trigger_events/{trigger_id}``."""
    return tenant_ref(client, tenant_id).collection("trigger_events").document(trigger_id)


@dataclass
class FollowupRunner:
    """Runs due follow-up steps and seller-inactivity checks against Firestore."""

    firestore: Any
    draft: FollowupDrafter
    load_settings: Callable[[str], tuple[AgentSettings, str]]
    find_channel: Callable[[str], Channel | None]
    deliver: Callable[[Conversation, Decision], None]
    schedule: ScheduleFollowup
    clock_speed: float = 1.0
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    insight_index: IndexCache | None = None
    """Which tenants' insight agents listen to INACTIVITY_2H; None: no insight event is sent."""
    publish_insights: InsightPublisher | None = None
    billing: BillingGate | None = None
    """Checks the subscription and quota before a nudge is drafted and counts drafted nudges;
    None: no billing (the simulator, tests)."""
    publish_events: PublishEvents | None = None
    """Publishes the business event of a close (conversation.lost) once stored; None: staged."""

    def run(self, request: FollowupRequest) -> FollowupResult:
        """Carry out one due task, or do nothing (and say why) when the world moved on."""
        if request.kind == "inactivity":
            result = self._check_inactivity(request)
        else:
            result = self._run_step(request)
        logger.info(
            "%s %s",
            request.kind,
            result.status,
            extra={
                "tenant_id": request.tenant_id,
                "conversation_id": request.conversation_id,
                "generation": request.generation,
                "step": request.step,
                "reason": result.reason,
                "decision_id": result.decision.decision_id if result.decision else None,
            },
        )
        return result

    def _run_step(self, request: FollowupRequest) -> FollowupResult:
        for _attempt in range(ATTEMPTS):
            result = self._attempt(request)
            if result is not None:
                return result
        # The conversation kept changing under the task: fail so Cloud Tasks retries later.
        raise RuntimeError(f"conversation {request.conversation_id} kept changing")

    def _attempt(self, request: FollowupRequest) -> FollowupResult | None:
        """Run the step once; None when the conversation changed before the record was stored."""
        started = time.perf_counter()
        now = self.now()
        snapshot = conversation_ref(
            self.firestore, request.tenant_id, request.conversation_id
        ).get()  # the task's only conversation read
        if not snapshot.exists:
            return FollowupResult(status="skipped", reason="missing")
        conversation = Conversation.model_validate(snapshot.to_dict())
        reason = moved_on(conversation, request, now)
        if reason == "already_done":
            return self._resume(request, conversation)
        if reason == "closed" and self.publish_events is not None:
            # a step that closed it may have failed to publish after its commit
            staged = events_of_cause(self.firestore, request.tenant_id, close_cause(request))
            if staged:
                self.publish_events(staged)
        if reason is not None:
            return FollowupResult(status="skipped", reason=reason)
        due = conversation.followup_due_at
        assert due is not None  # moved_on answers "already_done" otherwise
        if due - now > EARLY_TOLERANCE:  # early: make sure a task waits for the stored time
            self.schedule(request, due)
            return FollowupResult(status="rescheduled", reason="not_due", next_at=due)
        settings, timezone = self.load_settings(request.tenant_id)
        delays = cadence(settings)
        if not delays:  # the tenant turned follow-ups off since the step was scheduled
            return FollowupResult(status="skipped", reason="no_cadence")
        step = DueStep(self, request, conversation, snapshot.update_time, now, started, timezone)
        if request.step >= len(delays):
            return step.close([Reason.NO_RESPONSE])
        template = None
        if not within_24h_window(conversation.last_inbound_at, now):
            template = self._followup_template(conversation, settings)
        billing = NO_BILLING
        if self.billing is not None:
            billing = self.billing.check(request.tenant_id, now, timezone)
        context = PolicyContext(
            conversation=conversation,
            contact=Contact(
                contact_key=conversation.contact_key, opted_out=conversation.contact_opted_out
            ),
            settings=settings,
            now=now,
            timezone=timezone,
            proactive=True,
            has_template=template is not None,
            quota_exceeded=billing.quota_exceeded,
            subscription_inactive=not billing.agent_on,
        )
        verdict = before_turn(context, [])
        if verdict.action is Action.SCHEDULE_FOLLOWUP and verdict.retry_at is not None:
            return step.defer(verdict.retry_at, list(verdict.reasons))
        if Reason.UNANSWERED_LIMIT in verdict.reasons:
            return step.close([Reason.NO_RESPONSE, Reason.UNANSWERED_LIMIT])
        if verdict.action is not None:  # billing's handoff included: a follow-up stops instead
            return step.stop(list(verdict.reasons))
        nudge = None
        if verdict.may_send_text:
            local_now = now.astimezone(ZoneInfo(timezone))
            nudge = self.draft(conversation, settings, request.step, len(delays), local_now)
            message = OutboundMessage(text=nudge.text, proactive=True)
        elif verdict.may_send_template and template is not None:
            message = template.model_copy(update={"proactive": True})
        else:
            return step.stop(list(verdict.reasons) or [Reason.OUTSIDE_24H_WINDOW])
        next_delay = delays[min(request.step + 1, len(delays) - 1)]
        return step.send(message, list(verdict.reasons), nudge, now + next_delay / self.clock_speed)

    def _resume(self, request: FollowupRequest, conversation: Conversation) -> FollowupResult:
        """Skip a step already taken; schedule the next one again in case that failed before.

        A step retried after its batch committed (publishing or scheduling failed) must not
        end the cadence; a duplicate task for the next step is a no-op.
        """
        due = conversation.followup_due_at
        if conversation.followup_step != request.step + 1 or due is None:
            return FollowupResult(status="skipped", reason="already_done")
        following = FollowupRequest(
            request.tenant_id,
            request.conversation_id,
            request.generation,
            request.step + 1,
            request.inbound_seq,
        )
        self.schedule(following, due)
        return FollowupResult(status="skipped", reason="already_done", next_at=due)

    def _followup_template(
        self, conversation: Conversation, settings: AgentSettings
    ) -> OutboundMessage | None:
        """Return the channel's (else the tenant's) ``followup`` template, or None."""
        channel = self.find_channel(conversation.channel_id)
        if channel is None:
            return None
        values = {**conversation.fields, "name": conversation.fields.get("nome", "")}
        return template_for(channel, "followup", values, settings.templates)

    def _check_inactivity(self, request: FollowupRequest) -> FollowupResult:
        """Record INACTIVITY_2H once when nobody wrote for two hours; else check again later."""
        now = self.now()
        snapshot = conversation_ref(
            self.firestore, request.tenant_id, request.conversation_id
        ).get()
        if not snapshot.exists:
            return FollowupResult(status="skipped", reason="missing")
        conversation = Conversation.model_validate(snapshot.to_dict())
        if conversation.followup_generation != request.generation:
            return FollowupResult(status="skipped", reason="superseded")  # a newer turn's check
        if conversation.status is ConversationStatus.CLOSED:
            return FollowupResult(status="skipped", reason="closed")
        if conversation.contact_opted_out:
            return FollowupResult(status="skipped", reason="opted_out")
        last = last_activity(conversation) or conversation.created_at
        due = last + INACTIVITY_DELAY / self.clock_speed
        if due - now > EARLY_TOLERANCE:  # someone wrote since it was scheduled
            self.schedule(request, due)
            return FollowupResult(status="rescheduled", reason="active", next_at=due)
        event = inactivity_event(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.conversation_id,
            last_activity=last,
            occurred_at=now,
        )
        lead_last = conversation.last_inbound_at is not None and (
            conversation.last_outbound_at is None
            or conversation.last_inbound_at >= conversation.last_outbound_at
        )
        trigger_id = f"{conversation.conversation_id}:{INACTIVITY_TRIGGER}:{activity_key(last)}"
        reason = INACTIVITY_TRIGGER
        try:
            trigger_event_ref(self.firestore, request.tenant_id, trigger_id).create(
                {
                    "type": INACTIVITY_TRIGGER,
                    "tenant_id": conversation.tenant_id,
                    "conversation_id": conversation.conversation_id,
                    "channel_id": conversation.channel_id,
                    "contact_key": conversation.contact_key,
                    "event_id": event.event_id,
                    "inbound_seq": conversation.inbound_seq,
                    "last_activity_at": last,
                    "last_from": "lead" if lead_last else "business",
                    "with_human": conversation.status is ConversationStatus.HANDOFF
                    or conversation.human_is_active(last),
                    "status": conversation.status.value,
                    "mode": conversation.mode,
                    "occurred_at": now,
                }
            )
        except AlreadyExists:  # a retried task: publish again (same event id, the runner dedupes)
            reason = "already_recorded"
        if self.insight_index is not None and self.publish_insights is not None:
            try:
                publish_listened(self.insight_index, self.publish_insights, [event])
            except Exception:
                logger.exception(
                    "insight event not published",
                    extra={"tenant_id": request.tenant_id, "event_id": event.event_id},
                )
                raise
        return FollowupResult(status="recorded", reason=reason)


@dataclass
class DueStep:
    """One follow-up step being decided: how each outcome is stored and carried out."""

    runner: FollowupRunner
    request: FollowupRequest
    conversation: Conversation
    read_at: Any
    now: datetime
    started: float
    timezone: str = "America/Sao_Paulo"

    def send(
        self,
        message: OutboundMessage,
        reasons: list[Reason],
        nudge: Nudge | None,
        next_at: datetime,
    ) -> FollowupResult | None:
        """Record the nudge, advance the step, publish it, and schedule the next step."""
        conversation, now = self.conversation, self.now
        extra = [Reason.MODEL_ERROR] if nudge is not None and nudge.model_error else []
        decision = self._decision(
            Action.SPEAK, [Reason.FOLLOWUP_DUE, *reasons, *extra], messages=[message]
        ).model_copy(
            update={
                "followup_at": next_at,
                "model": nudge.model if nudge is not None else None,
                "offline_model": nudge.offline_model if nudge is not None else False,
                "prompt_tokens": nudge.prompt_tokens if nudge is not None else 0,
                "completion_tokens": nudge.completion_tokens if nudge is not None else 0,
                "handoff_summary": (
                    f"Erro do modelo: {nudge.model_error}"
                    if nudge is not None and nudge.model_error
                    else None
                ),
            }
        )
        text = message.text or f"[template {message.template}]"
        changes: dict[str, Any] = {
            **conversation.with_messages(
                WindowMessage(role=Role.AGENT, text=text, at=now, proactive=True)
            ),
            "followups_sent": conversation.followups_sent + 1,
            "unanswered_count": conversation.unanswered_count + 1,
            "outbound_count": conversation.outbound_count + 1,
            "last_outbound_at": now,
            "followup_step": self.request.step + 1,
            "followup_due_at": next_at,
        }
        drafted = 1 if nudge is not None else 0  # a template needs no model: not counted
        updated = self._store(decision, changes, replies=drafted)
        if updated is None:
            return None
        if drafted and self.runner.billing is not None:
            self.runner.billing.recorded(self.request.tenant_id, now, self.timezone, drafted)
        self.runner.deliver(updated, decision)
        following = FollowupRequest(
            self.request.tenant_id,
            self.request.conversation_id,
            self.request.generation,
            self.request.step + 1,
            self.request.inbound_seq,
        )
        self.runner.schedule(following, next_at)
        return FollowupResult(status="sent", decision=decision, next_at=next_at)

    def close(self, reasons: list[Reason]) -> FollowupResult | None:
        """Close the conversation for want of an answer; nothing is sent."""
        decision = self._decision(Action.CLOSE, reasons)
        changes = {
            "status": ConversationStatus.CLOSED,
            "close_reason": Reason.NO_RESPONSE.value,
            "followup_due_at": None,
        }
        closed = self.conversation.model_copy(update={**changes, "updated_at": self.now})
        events = events_after_turn(self.conversation, closed, decision, source="system")
        if self._store(decision, changes, events=events) is None:
            return None
        if events and self.runner.publish_events is not None:
            self.runner.publish_events(events)
        return FollowupResult(status="closed", reason=reasons[-1].value, decision=decision)

    def stop(self, reasons: list[Reason]) -> FollowupResult | None:
        """Stop the cadence without sending (outside the window with no template, copilot...)."""
        decision = self._decision(Action.STAY_SILENT, [Reason.FOLLOWUP_DUE, *reasons])
        if self._store(decision, {"followup_due_at": None}) is None:
            return None
        reason = reasons[0].value if reasons else None
        return FollowupResult(status="stopped", reason=reason, decision=decision)

    def defer(self, retry_at: datetime, reasons: list[Reason]) -> FollowupResult | None:
        """Keep the same step and generation for the end of quiet hours; send nothing now."""
        decision = self._decision(
            Action.SCHEDULE_FOLLOWUP, [Reason.FOLLOWUP_DUE, *reasons]
        ).model_copy(update={"followup_at": retry_at})
        if self._store(decision, {"followup_due_at": retry_at}) is None:
            return None
        self.runner.schedule(self.request, retry_at)
        return FollowupResult(
            status="deferred", reason=Reason.QUIET_HOURS.value, decision=decision, next_at=retry_at
        )

    def _decision(
        self, action: Action, reasons: list[Reason], messages: list[OutboundMessage] | None = None
    ) -> Decision:
        return Decision(
            decision_id=f"{self.now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}",
            action=action,
            reasons=list(dict.fromkeys(reasons)),
            messages=messages or [],
            specialist="followup",
            latency_ms=round((time.perf_counter() - self.started) * 1000, 3),
            decided_at=self.now,
        )

    def _store(
        self,
        decision: Decision,
        changes: dict[str, Any],
        replies: int = 0,
        events: Sequence[BusinessEvent] = (),
    ) -> Conversation | None:
        """Store the decision and the conversation's changes in one batch, if it is unchanged.

        ``replies`` (a drafted nudge) are counted in the same batch when billing is on;
        ``events`` (a close's conversation.lost) are staged under ``close_cause``.
        """
        client = self.runner.firestore
        updated = self.conversation.model_copy(update={**changes, "updated_at": self.now})
        document = conversation_ref(client, self.request.tenant_id, self.request.conversation_id)
        batch = client.batch()
        batch.create(
            document.collection("decisions").document(decision.decision_id),
            decision.model_dump(mode="python"),
        )
        batch.update(
            document,
            updated.model_dump(mode="python", include={*changes, "updated_at"}),
            option=client.write_option(last_update_time=self.read_at),
        )
        if self.runner.billing is not None:
            record_replies(batch, client, self.request.tenant_id, self.now, self.timezone, replies)
        stage_events(batch, client, events, close_cause(self.request))
        try:
            batch.commit()
        except FailedPrecondition:
            return None
        return updated
