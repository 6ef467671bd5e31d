"""Where a debounced turn decides: restraint first, then the graph, then the record.

``run_turn`` (functions/turn, a Cloud Tasks target) reads the conversation once. If a newer
inbound arrived since the task was scheduled, it does nothing: the later task answers everything
at once. Otherwise the restraint policy judges the turn before any model call; only when it
leaves the choice open does the LangGraph turn run, and its messages still pass the policy's
verdict. One batch then stores the decision and updates the conversation, on condition that
the conversation is as the turn read it (otherwise the turn starts over), and the messages to
send are handed to ``outbound-messages``, keyed ``decision_id:index``, where the sender
re-checks the policy at send time. A turn reads one document: its conversation.

Billing (``shared.billing.usage``): before the guards, the turn asks the cached billing check
whether the workspace's subscription is active and this month's replies are under the plan's
ceiling; if not, the guards hand the conversation to a human (``subscription_inactive``,
``quota_exceeded``) without a model call and nothing is sent. A turn in which the model answered
or drafted (a pilot reply, a copilot draft, a promoted intent) counts one agent reply in the same
batch as its decision.

Meetings (``shared.scheduling.service.Scheduler``): a pilot decision (or a promoted intent's)
that asks the calendar for something (``Decision.booking``) and whose messages survived the
guards is carried out before the batch (``carry_out`` holds the picked slot; a lost race turns
the confirmation into a new offer, SLOT_TAKEN); the batch confirms it (``stage``) and records it
on the conversation (offered slots, the booking); after the commit the external calendar and the
reminder follow (``after_commit``, which never fails the turn).

Every decided turn also re-plans the follow-ups (``shared.followups.plan_after_turn``, stored in
the same batch): older follow-up tasks become no-ops, and a reply in pilot mode starts the
cadence; its first task and the conversation's inactivity check (INACTIVITY_2H) are put on
Cloud Tasks after the batch committed.

Business events (``shared.integrations.events.events_after_turn``: started, qualified, stage
changed, handoff, meeting, won, lost) are staged in the same batch under the cause
``turn_cause(turn)`` and published on ``business-events`` after it committed, last; a failed
publish fails the turn, and the redelivered task (``already_decided``) publishes them again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.api_core.exceptions import FailedPrecondition

from shared import copilot
from shared.billing.usage import NO_BILLING, BillingGate, record_replies
from shared.events.tasks import TurnRequest
from shared.followups import ScheduleFollowup, pending_after_turn, plan_after_turn
from shared.integrations.events import events_after_turn
from shared.integrations.models import BusinessEvent
from shared.integrations.outbox import PublishEvents, events_of_cause, stage_events
from shared.knowledge.proposals import open_proposal, proposal_ref
from shared.media.speech import wants_voice_reply
from shared.media.turn import media_in_turn
from shared.models.conversation import (
    Contact,
    Conversation,
    ConversationStatus,
    Role,
    WindowMessage,
)
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.policy import PolicyContext, Verdict, as_pilot, before_turn
from shared.policy.verdict import DEFAULT_TIMEZONE
from shared.sender import numbered_text
from shared.store.conversations import contact_ref, conversation_ref

if TYPE_CHECKING:
    from shared.scheduling.service import Scheduler

logger = logging.getLogger("piloto.turns")

ATTEMPTS = 3
_MEETING_REASONS = {
    Reason.MEETING_OFFERED, Reason.MEETING_BOOKED, Reason.MEETING_RESCHEDULED,
    Reason.MEETING_CANCELED,
}  # fmt: skip


@dataclass(frozen=True)
class TurnResult:
    """What a turn did."""

    status: str  # "decided", "superseded", "already_decided", "missing"
    decision: Decision | None = None


def new_lead_messages(conversation: Conversation) -> list[WindowMessage]:
    """Return the lead's messages no turn has judged yet (what this turn answers).

    By inbound sequence, not by position: a seller writing after a lead's "pare" must not hide
    the opt-out from the turn.
    """
    return [
        message
        for message in conversation.window
        if message.role is Role.LEAD and (message.seq or 0) > conversation.answered_seq
    ]


def forced_decision(
    verdict: Verdict, settings: AgentSettings, decision_id: str, now: datetime
) -> Decision:
    """Return the decision the guards took alone, with the one acknowledgement they allow."""
    messages: list[OutboundMessage] = []
    if verdict.acknowledge_opt_out and settings.opt_out_acknowledgement:
        messages.append(
            OutboundMessage(text=settings.opt_out_acknowledgement, acknowledgement="opt_out")
        )
    if verdict.acknowledge_rejection and settings.rejection_acknowledgement:
        messages.append(
            OutboundMessage(text=settings.rejection_acknowledgement, acknowledgement="rejection")
        )
    if (
        verdict.action is Action.HANDOFF
        and verdict.may_send_text
        and settings.handoff_acknowledgement
        and Reason.HANDOFF_REQUESTED in verdict.reasons
    ):
        messages.append(OutboundMessage(text=settings.handoff_acknowledgement))
    return Decision(
        decision_id=decision_id,
        action=verdict.action or Action.STAY_SILENT,
        reasons=list(verdict.reasons),
        messages=messages,
        specialist="restraint",
        decided_at=now,
    )


def handoff_acknowledged(decision: Decision) -> list[OutboundMessage]:
    """Mark what a handoff decision tells the lead as the handoff's acknowledgement.

    The decision hands the conversation to a human, so the sender's send-time check would hold
    any message from it; the acknowledgement is the one message a handoff lets through.
    """
    if decision.action is not Action.HANDOFF:
        return decision.messages
    return [
        message
        if message.acknowledgement is not None
        else message.model_copy(update={"acknowledgement": "handoff"})
        for message in decision.messages
    ]


def voiced(messages: list[OutboundMessage], voice: bool) -> list[OutboundMessage]:
    """Mark the agent's text replies to a voice note as voice replies (the sender decides how)."""
    if not voice:
        return messages
    return [
        message.model_copy(update={"voice": True}) if message.text else message
        for message in messages
    ]


def with_suggestions(decision: Decision, drafted: Decision) -> Decision:
    """Attach the model's draft to a guard's decision as suggestions for the seller."""
    suggestions = drafted.suggestions or [m.text for m in drafted.messages if m.text]
    return decision.model_copy(
        update={
            "suggestions": suggestions,
            "suggestions_intent": drafted.specialist,
            "model": drafted.model,
            "offline_model": drafted.offline_model,
            "prompt_tokens": drafted.prompt_tokens,
            "completion_tokens": drafted.completion_tokens,
            "extracted_fields": drafted.extracted_fields,
        }
    )


def promoted_intent(drafted: Decision) -> bool:
    """Return whether a copilot turn's draft is for an intent the owner promoted to pilot."""
    return Reason.PILOT_INTENT in drafted.reasons


def promoted_decision(
    forced: Decision, drafted: Decision, verdict: Verdict, settings: AgentSettings
) -> Decision:
    """Return a promoted intent's decision: the draft within what a pilot verdict permits."""
    if verdict.action is not None:
        guarded = forced_decision(verdict, settings, forced.decision_id, forced.decided_at)
        return with_suggestions(guarded, drafted) if verdict.may_suggest else guarded
    return restrain(drafted, verdict)


def restrain(decision: Decision, verdict: Verdict) -> Decision:
    """Keep only what the verdict permits from the graph's decision; say why in its reasons."""
    allowed = [message for message in decision.messages if verdict.permits(message)]
    reasons = list(dict.fromkeys([*decision.reasons, *verdict.reasons]))
    if len(allowed) == len(decision.messages):
        return decision.model_copy(update={"reasons": reasons})
    suggestions = decision.suggestions
    if verdict.may_suggest:
        suggestions = [*suggestions, *(m.text for m in decision.messages if m.text)]
    action = decision.action if decision.action is not Action.SPEAK else Action.STAY_SILENT
    return decision.model_copy(
        update={
            "messages": allowed,
            "reasons": reasons,
            "suggestions": suggestions,
            "action": action,
        }
    )


@dataclass
class TurnRunner:
    """Runs due turns against Firestore with a decide function (the LangGraph turn)."""

    firestore: Any
    decide: Callable[[Conversation, Sequence[str], AgentSettings, str, datetime], Decision]
    load_settings: Callable[[str], tuple[AgentSettings, str]]
    deliver: Callable[[Conversation, Decision], None]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    schedule_followup: ScheduleFollowup | None = None
    """Puts follow-up and inactivity tasks on Cloud Tasks; None schedules none."""
    clock_speed: float = 1.0
    billing: BillingGate | None = None
    """Checks the subscription and quota before the guards and counts replies; None: no billing
    (the simulator, tests)."""
    publish_events: PublishEvents | None = None
    """Publishes the turn's business events once stored; None stages them only."""
    scheduler: Scheduler | None = None
    """Carries out the decisions' booking requests (holds, confirmations, calendar sync);
    None: a booking request is dropped (nothing is offered or booked)."""

    def run(self, turn: TurnRequest) -> TurnResult:
        """Decide one due turn, or do nothing when a newer inbound supersedes it."""
        for _attempt in range(ATTEMPTS):
            result = self._attempt(turn)
            if result is not None:
                return result
        # The conversation kept changing under the turn: fail so Cloud Tasks retries later.
        raise RuntimeError(f"conversation {turn.conversation_id} kept changing during its turn")

    def _attempt(self, turn: TurnRequest) -> TurnResult | None:
        """Run the turn once; None when the conversation changed before the decision was stored."""
        started = time.perf_counter()
        now = self.now()
        conversation_doc = conversation_ref(self.firestore, turn.tenant_id, turn.conversation_id)
        snapshot = conversation_doc.get()  # the turn's only read
        if not snapshot.exists:
            logger.error(
                "turn for a missing conversation", extra={"conversation_id": turn.conversation_id}
            )
            return TurnResult(status="missing")
        conversation = Conversation.model_validate(snapshot.to_dict())
        if conversation.inbound_seq > turn.inbound_seq:
            return TurnResult(status="superseded")  # the later task answers everything at once
        if conversation.answered_seq >= turn.inbound_seq:
            # A redelivered task: nothing to redo, except the tasks (inactivity check, first
            # follow-up) it may have failed to schedule after its batch committed.
            if self.schedule_followup is not None:
                for task in pending_after_turn(conversation, turn.inbound_seq, self.clock_speed):
                    self.schedule_followup(*task)
            if self.scheduler is not None and conversation.booking_id is not None:
                # its calendar sync and reminder, when it stopped before ``after_commit``
                timezone = self.load_settings(turn.tenant_id)[1]
                self.scheduler.finish(turn.tenant_id, conversation.booking_id, timezone)
            if self.publish_events is not None:  # its publish may have failed after the commit
                staged = events_of_cause(self.firestore, turn.tenant_id, turn_cause(turn))
                if staged:
                    self.publish_events(staged)
            return TurnResult(status="already_decided")
        contact = Contact(
            contact_key=conversation.contact_key, opted_out=conversation.contact_opted_out
        )
        settings, timezone = self.load_settings(turn.tenant_id)
        answering = new_lead_messages(conversation)
        texts = [message.text for message in answering]
        billing = NO_BILLING
        if self.billing is not None:
            billing = self.billing.check(turn.tenant_id, now, timezone)
        context = PolicyContext(
            conversation=conversation,
            contact=contact,
            settings=settings,
            now=now,
            timezone=timezone,
            quota_exceeded=billing.quota_exceeded,
            subscription_inactive=not billing.agent_on,
        )
        verdict = before_turn(context, texts)
        decision_id = f"{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
        # The lead's media (shared.media.turn): wait while it is being understood (its turn is
        # scheduled again once stored); media it could not read, and nothing else, is answered
        # without the model (ask the lead to write; the second time, hand off), within the guards.
        media = media_in_turn(conversation, answering, now)
        if media.waiting:
            return TurnResult(status="awaiting_media")
        replies = 0  # agent replies this turn counts: 1 when the model answered or drafted
        if media.unclear:
            decision = media.decision(verdict, settings, decision_id, now)
        elif verdict.action is not None:
            decision = forced_decision(verdict, settings, decision_id, now)
            if verdict.may_suggest:  # copilot or a human in charge: draft for the seller
                drafted = self.decide(conversation, texts, settings, decision_id, now)
                replies = 1
                if promoted_intent(drafted) and verdict.reasons == (Reason.COPILOT_MODE,):
                    # the owner let the agent answer this intent alone: judged as in pilot mode
                    verdict = before_turn(as_pilot(context), texts)
                    decision = promoted_decision(decision, drafted, verdict, settings)
                else:
                    decision = with_suggestions(decision, drafted)
        else:
            decision = restrain(
                self.decide(conversation, texts, settings, decision_id, now), verdict
            )
            replies = 1
        decision = self._book(conversation, decision, turn.inbound_seq, timezone, now)
        decision = decision.model_copy(
            update={
                "messages": voiced(
                    handoff_acknowledged(decision), wants_voice_reply(answering, settings)
                ),
                "triggering_events": [m.message_id for m in answering if m.message_id],
                "latency_ms": decision.latency_ms
                or round((time.perf_counter() - started) * 1000, 3),
            }
        )
        updated = apply_decision(conversation, decision, now).model_copy(
            update={"answered_seq": turn.inbound_seq}
        )
        if verdict.persist_opt_out or verdict.persist_opt_in:
            updated = updated.model_copy(update={"contact_opted_out": verdict.persist_opt_out})
        updated, decision, tasks = plan_after_turn(
            conversation,
            updated,
            decision,
            settings,
            inbound_seq=turn.inbound_seq,
            now=now,
            clock_speed=self.clock_speed,
        )
        counted = replies if self.billing is not None else 0
        events = events_after_turn(conversation, updated, decision)
        stored = _store(
            self.firestore,
            turn,
            conversation,
            snapshot.update_time,
            verdict,
            decision,
            updated,
            now,
            timezone=timezone,
            replies=counted,
            events=events,
            scheduler=self.scheduler,
        )
        if not stored:
            return None
        if self.billing is not None and counted:
            self.billing.recorded(turn.tenant_id, now, timezone, counted)
        if decision.messages:
            self.deliver(updated, decision)
        if self.schedule_followup is not None:
            for request, due in tasks:
                self.schedule_followup(request, due)
        if decision.booking is not None and self.scheduler is not None:
            try:
                self.scheduler.after_commit(updated, decision, timezone)
            except Exception:  # the booking is stored; its calendar sync must not fail the turn
                logger.exception(
                    "calendar sync after the turn failed",
                    extra={"tenant_id": turn.tenant_id, "decision_id": decision.decision_id},
                )
        if events and self.publish_events is not None:
            self.publish_events(events)  # last: a failure here loses none of the above
        return TurnResult(status="decided", decision=decision)

    def _book(
        self,
        conversation: Conversation,
        decision: Decision,
        inbound_seq: int,
        timezone: str,
        now: datetime,
    ) -> Decision:
        """Carry out the decision's booking request, or drop it when it cannot stand.

        Dropped without a scheduler, and when the guards held back the messages that offer or
        confirm it (nothing is held for a lead who is not told). A booking gets the turn's id,
        ``{conversation_id}-{inbound_seq}``, stable across retries of the same turn.
        """
        booking = decision.booking
        if booking is None:
            return decision
        if self.scheduler is None or (booking.kind != "add_email" and not decision.messages):
            return without_booking(decision, conversation)
        if booking.kind == "book" and booking.booking_id is None:
            booking = booking.model_copy(
                update={"booking_id": f"{conversation.conversation_id}-{inbound_seq}"}
            )
            decision = decision.model_copy(update={"booking": booking})
        carried = self.scheduler.carry_out(
            conversation, decision, inbound_seq=inbound_seq, timezone=timezone, now=now
        )
        taken = carried.booking is None or carried.booking.kind == "offer"
        if booking.kind not in ("book", "reschedule") or not taken:
            return carried
        # The slot was taken meanwhile: a new offer (or a handoff) replaced the confirmation.
        if carried.action is Action.HANDOFF:
            stage = "handoff"
        else:
            stage = "scheduled" if conversation.booking_status == "confirmed" else "scheduling"
        kept = [r for r in decision.reasons if r not in _MEETING_REASONS]
        reasons = list(dict.fromkeys([*carried.reasons, *kept]))
        return carried.model_copy(update={"stage": stage, "reasons": reasons})


def without_booking(decision: Decision, conversation: Conversation) -> Decision:
    """Return the decision without its booking request: no meeting reasons, the stage kept."""
    return decision.model_copy(
        update={
            "booking": None,
            "reasons": [reason for reason in decision.reasons if reason not in _MEETING_REASONS],
            "stage": conversation.stage if decision.stage == "scheduled" else decision.stage,
        }
    )


def turn_cause(turn: TurnRequest) -> str:
    """Return the outbox cause of a turn's business events (the same for a retried task)."""
    return f"turn:{turn.conversation_id}:{turn.inbound_seq}"


def copilot_counts(previous: Conversation, updated: Conversation) -> dict[str, Any]:
    """Return the copilot counts of a turn: suggestions offered, and those it left unused."""
    if updated.suggestions_decision_id == previous.suggestions_decision_id:
        return {}
    counts = copilot.count(
        previous.suggestions_intent, "ignored", previous.pending_suggestions
    )  # replaced before anyone used them
    offered = copilot.count(updated.suggestions_intent, "offered", updated.pending_suggestions)
    for intent, fields in offered.items():
        counts[intent] = {**counts.get(intent, {}), **fields}
    return counts


def _store(
    client: Any,
    turn: TurnRequest,
    previous: Conversation,
    read_at: Any,
    verdict: Verdict,
    decision: Decision,
    updated: Conversation,
    now: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    replies: int = 0,
    events: Sequence[BusinessEvent] = (),
    scheduler: Scheduler | None = None,
) -> bool:
    """Store the decision and the conversation's new state in one batch, if it is unchanged.

    The conversation's update carries a precondition on the update time the turn read, so a
    message that arrived meanwhile fails the whole batch (no re-read needed on the common path).
    ``replies`` are the agent replies the turn counts, on the tenant's day (in the same batch).
    ``events`` are its business events, staged in the outbox under ``turn_cause(turn)``.
    ``scheduler`` adds what confirms or cancels the decision's booking (in the same batch).
    """
    conversation_doc = conversation_ref(client, turn.tenant_id, turn.conversation_id)
    batch = client.batch()
    batch.create(
        conversation_doc.collection("decisions").document(decision.decision_id),
        decision.model_dump(mode="python"),
    )
    batch.update(
        conversation_doc,
        updated.model_dump(mode="python"),
        option=client.write_option(last_update_time=read_at),
    )
    proposal = open_proposal(updated, decision)
    if proposal is not None:
        batch.create(
            proposal_ref(client, turn.tenant_id, proposal.proposal_id),
            proposal.model_dump(mode="python"),
        )
    copilot.record(batch, client, turn.tenant_id, now, copilot_counts(previous, updated))
    record_replies(batch, client, turn.tenant_id, now, timezone, replies)
    if scheduler is not None and decision.booking is not None:
        scheduler.stage(batch, updated, decision, now)
    stage_events(batch, client, events, turn_cause(turn))
    if verdict.persist_opt_out or verdict.persist_opt_in:
        batch.set(
            contact_ref(client, turn.tenant_id, updated.contact_key),
            {
                "opted_out": verdict.persist_opt_out,
                "opted_out_at": now if verdict.persist_opt_out else None,
                # an opt-in ends the opt-out its acknowledgement was for; a later one gets its own
                **({"opt_out_acknowledged_at": None} if verdict.persist_opt_in else {}),
            },
            merge=True,
        )
    try:
        batch.commit()
    except FailedPrecondition:
        return False
    return True


def apply_decision(conversation: Conversation, decision: Decision, now: datetime) -> Conversation:
    """Return the conversation after the decision: messages in the window, counters, status.

    A message with choices enters the window as its numbered text (what the lead can answer by
    number, and what the model and the pick step read); the decision's booking request sets the
    conversation's offer and meeting (``booking_fields``).
    """
    sent = [window_text(message) for message in decision.messages]
    update: dict[str, Any] = {
        **conversation.with_messages(
            *(WindowMessage(role=Role.AGENT, text=text, at=now) for text in sent)
        ),
        "updated_at": now,
        "fields": {**conversation.fields, **decision.extracted_fields},
        "stage": decision.stage or conversation.stage,
    }
    if decision.open_question:
        update["open_question_id"] = decision.decision_id
    if sent:
        update |= {
            "outbound_count": conversation.outbound_count + len(sent),
            "unanswered_count": conversation.unanswered_count + 1,
            "last_outbound_at": now,
        }
    update |= dashboard_counts(conversation, decision, now, agent_sent=len(sent))
    update |= booking_fields(conversation, decision)
    if decision.action is Action.CLOSE:
        reason = next(
            (r for r in decision.reasons if r in (Reason.OPTED_OUT, Reason.REJECTION)), None
        )
        update |= {
            "status": ConversationStatus.CLOSED,
            "close_reason": (reason or "closed_by_agent"),
        }
    elif decision.action is Action.HANDOFF:
        update["status"] = ConversationStatus.HANDOFF
    return conversation.model_copy(update=update)


def window_text(message: OutboundMessage) -> str:
    """Return what the window keeps of a sent message: its text with numbered choices."""
    if message.choices:
        return numbered_text(message)
    return message.text or f"[template {message.template}]"


def booking_fields(conversation: Conversation, decision: Decision) -> dict[str, Any]:
    """Return what a carried-out booking request changes on the conversation.

    An offer replaces the offered slots; a book or a move clears them and records the confirmed
    meeting (a move keeps its id); a cancel clears them and marks the meeting canceled.
    """
    booking = decision.booking
    if booking is None or booking.kind == "add_email":
        return {}
    if booking.kind == "offer":
        return {"offered_slots": list(booking.slots)}
    if booking.kind == "cancel":
        return {"offered_slots": [], "booking_status": "canceled"}
    if booking.slot is None:
        return {}
    return {
        "offered_slots": [],
        "booking_id": booking.booking_id or conversation.booking_id,
        "booking_start": booking.slot.start,
        "booking_status": "confirmed",
    }


def dashboard_counts(
    conversation: Conversation, decision: Decision, now: datetime, *, agent_sent: int
) -> dict[str, Any]:
    """Return the conversation's dashboard figures after a decision (same write, no extra cost).

    The console's metrics read conversations only: silences by reason, the first response, the
    handoff, the meeting booked and the copilot suggestions offered are kept on the document.
    """
    update: dict[str, Any] = {}
    if decision.action is Action.STAY_SILENT:
        silences = dict(conversation.silences)
        for reason in decision.reasons[:1] or [Reason.NO_RESPONSE]:
            silences[reason.value] = silences.get(reason.value, 0) + 1
        update["silences"] = silences
    if agent_sent:
        update["agent_messages"] = conversation.agent_messages + agent_sent
        if conversation.first_response_at is None:
            update["first_response_at"] = now
    if decision.action is Action.HANDOFF and conversation.handed_off_at is None:
        update["handed_off_at"] = now
    if decision.stage == "scheduled" and conversation.meeting_booked_at is None:
        update["meeting_booked_at"] = now
    if decision.suggestions:
        update |= {
            "pending_suggestions": len(decision.suggestions),
            "suggestions_decision_id": decision.decision_id,
            "suggestions_intent": decision.suggestions_intent or decision.specialist,
            "suggestions_offered": conversation.suggestions_offered + len(decision.suggestions),
        }
    return update
