"""The restraint guards: checked before any model call and again right before sending.

Pure functions: no I/O, no clock reads (``now`` comes in the context). The model never overrides a
guard; it may only widen what the keyword rules catch. The first guard that applies decides:

1. ``opted_out`` — the contact opted out, or does so in the new messages (which closes the
   conversation and allows one acknowledgement). An explicit opt-in lifts it (``opt_in``).
2. ``closed`` — a closed conversation is never reopened; see ``starts_new_conversation``.
   A ``rejection`` in the new messages closes the conversation, with one polite acknowledgement.
3. ``subscription_inactive`` (the trial ended, a payment failed past its grace, the subscription
   was canceled), then ``quota_exceeded`` (this month's agent replies reached the plan's limit
   plus its grace margin) — hand off to a human instead of dropping the turn; nothing is sent.
   A follow-up judged so stops its cadence instead (``shared.followups``).
4. ``copilot_mode`` — never send to the lead (in the tenant's or the conversation's mode).
5. ``human_active`` (a seller wrote recently) or ``handoff_requested`` (the conversation is handed
   off) — stay silent in pilot mode. A ``handoff_requested`` in the new messages hands off.
6. ``unanswered_limit`` — ``max_unanswered`` agent messages in a row without a reply, then stop.
7. ``outside_24h_window`` — free text only within 24 h of the lead's last message; an approved
   template otherwise, or silence.
8. ``quiet_hours`` — a proactive message waits for the end of quiet hours; replies go out.

In 4 and 5 the model may still draft suggestions for the seller (``Verdict.may_suggest``).
Acknowledgements pass guards 1 or 2 (the rule they acknowledge) but are held by 3 to 7.
Intake may record an opt-out at once (``is_opt_out``) so that sends already on their way stop;
``before_turn`` still closes the conversation and grants the acknowledgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from shared.models.conversation import Contact, Conversation, ConversationStatus
from shared.models.decision import Action, OutboundMessage, Reason
from shared.policy.guards import guard_sending, stay_silent
from shared.policy.keywords import is_handoff_request, is_opt_in, is_opt_out, is_rejection
from shared.policy.verdict import Acknowledgement, PolicyContext, Verdict
from shared.policy.windows import quiet_hours_end


def before_turn(context: PolicyContext, new_lead_texts: Sequence[str]) -> Verdict:
    """Judge a turn before any model call, reading the lead's new messages for stop signals."""
    conversation = context.conversation
    opted_out, opted_in = _opt_out_after(context.contact.opted_out, new_lead_texts)
    if opted_out:
        return _opt_out_verdict(context, any(is_opt_out(text) for text in new_lead_texts))
    opt_in = (Reason.OPT_IN,) if opted_in else ()
    if _is_closed(conversation):
        return Verdict(
            action=Action.STAY_SILENT, reasons=(*opt_in, Reason.CLOSED), persist_opt_in=opted_in
        )
    lead_replied = bool(new_lead_texts)
    guards = guard_sending(context, lead_replied=lead_replied, proactive=context.proactive)
    if any(is_rejection(text) for text in new_lead_texts):
        return Verdict(
            action=Action.CLOSE,
            reasons=(*opt_in, Reason.REJECTION),
            acknowledge_rejection=guards.may_send_text
            and not (conversation is not None and conversation.rejection_acknowledged),
            persist_opt_in=opted_in,
        )
    if any(is_handoff_request(text) for text in new_lead_texts):
        reasons = tuple(dict.fromkeys((*opt_in, Reason.HANDOFF_REQUESTED, *guards.reasons)))
        return replace(
            guards,
            action=Action.HANDOFF,
            reasons=reasons,
            may_suggest=False,
            retry_at=None,
            persist_opt_in=opted_in,
        )
    return replace(guards, reasons=(*opt_in, *guards.reasons), persist_opt_in=opted_in)


def at_send(
    context: PolicyContext,
    message: OutboundMessage,
    acknowledgement: Acknowledgement | None = None,
) -> Verdict:
    """Judge one message right before it goes out; it may go when ``action`` is None.

    State that changed since the decision wins: an opt-out, a close, a seller taking over. Pass
    ``acknowledgement`` for the one message an opt-out or a rejection allows; it goes out only
    after the caller stored the close (``close_reason`` = the reason code) and, for an opt-out,
    ``Contact.opted_out``, and only while the conversation's ``*_acknowledged`` flag is unset
    (for an opt-out, the contact's ``opt_out_acknowledged_at`` too: a second conversation the
    opted-out contact started never carries a second acknowledgement).
    The ``handoff`` acknowledgement tells the lead a person takes over: the handoff its decision
    stored does not hold it back (a seller who wrote since, or an opt-out, still does). The
    ``meeting_reminder`` acknowledgement reminds the lead of a booked meeting: it passes a
    conversation closed after the booking (won, say) unless the lead opted out or rejected the
    conversation, and every other guard (window, template, quiet hours) still judges it.
    """
    if message.pilot_intent is not None and message.pilot_intent in context.settings.pilot_intents:
        context = as_pilot(context)  # the owner still lets the agent answer this intent alone
    conversation = context.conversation
    if (
        acknowledgement == "handoff"
        and conversation is not None
        and conversation.status == ConversationStatus.HANDOFF
    ):
        open_again = conversation.model_copy(update={"status": ConversationStatus.OPEN})
        context = replace(context, conversation=open_again)
    stopped = _stop_rules(context, acknowledgement)
    if stopped is not None:
        return stopped
    proactive = context.proactive and acknowledgement in (None, "meeting_reminder")
    verdict = guard_sending(context, lead_replied=False, proactive=proactive)
    if verdict.action is None and not verdict.permits(message):
        return replace(verdict, action=Action.STAY_SILENT)
    return verdict


def as_pilot(context: PolicyContext) -> PolicyContext:
    """Return a copilot context as if the tenant and conversation were in pilot mode.

    For an intent the owner promoted (``AgentSettings.pilot_intents``): every other guard still
    judges it.
    """
    conversation = context.conversation
    return replace(
        context,
        settings=context.settings.model_copy(update={"mode": "pilot"}),
        conversation=conversation.model_copy(update={"mode": "pilot"}) if conversation else None,
    )


def starts_new_conversation(
    conversation: Conversation | None, contact: Contact, lead_text: str
) -> bool:
    """Return whether a lead's message starts a new conversation instead of joining the current one.

    A closed conversation is never reopened: writing again starts a new one, except after an
    opt-out, whose messages join the closed conversation in silence until an explicit opt-in.
    """
    if conversation is None:
        return True
    if conversation.status != ConversationStatus.CLOSED:
        return False
    return not contact.opted_out or is_opt_in(lead_text)


def next_allowed_time(context: PolicyContext) -> datetime:
    """Return when the message judged in ``context`` may go out as far as quiet hours go."""
    if not context.proactive:
        return context.now
    return quiet_hours_end(context.now, context.settings.quiet_hours, context.timezone)


def _opt_out_verdict(context: PolicyContext, opts_out_now: bool) -> Verdict:
    """Close an opted-out contact's conversation, acknowledging a new opt-out at most once."""
    conversation = context.conversation
    open_ = conversation is not None and not _is_closed(conversation)
    acknowledge = (
        opts_out_now
        and not _is_closed(conversation)
        and context.settings.opt_out_acknowledgement is not None
        and not (conversation is not None and conversation.opt_out_acknowledged)
        and guard_sending(context, lead_replied=True, proactive=False).may_send_text
    )
    return Verdict(
        action=Action.CLOSE if open_ else Action.STAY_SILENT,
        reasons=(Reason.OPTED_OUT,),
        acknowledge_opt_out=acknowledge,
        persist_opt_out=opts_out_now,
    )


def _stop_rules(context: PolicyContext, acknowledgement: Acknowledgement | None) -> Verdict | None:
    """Apply guards 1 and 2 (opt-out, close), letting the matching acknowledgement through."""
    conversation = context.conversation
    if acknowledgement == "opt_out":
        allowed = (
            context.contact.opted_out
            and context.contact.opt_out_acknowledged_at is None
            and conversation is not None
            and _is_closed(conversation)
            and conversation.close_reason == Reason.OPTED_OUT
            and not conversation.opt_out_acknowledged
            and context.settings.opt_out_acknowledgement is not None
        )
        return None if allowed else stay_silent(Reason.OPTED_OUT)
    if context.contact.opted_out:
        return stay_silent(Reason.OPTED_OUT)
    if acknowledgement == "rejection":
        allowed = (
            conversation is not None
            and _is_closed(conversation)
            and conversation.close_reason == Reason.REJECTION
            and not conversation.rejection_acknowledged
        )
        return None if allowed else stay_silent(Reason.REJECTION)
    if (
        acknowledgement == "meeting_reminder"
        and conversation is not None
        and _is_closed(conversation)
    ):
        rejected = conversation.close_reason == Reason.REJECTION
        return stay_silent(Reason.REJECTION) if rejected else None
    return stay_silent(Reason.CLOSED) if _is_closed(conversation) else None


def _opt_out_after(opted_out: bool, lead_texts: Sequence[str]) -> tuple[bool, bool]:
    """Replay the new messages in order; return (opted out at the end, opted back in)."""
    opted_in = False
    for text in lead_texts:
        if is_opt_out(text):
            opted_out = True
        elif opted_out and is_opt_in(text):
            opted_out, opted_in = False, True
    return opted_out, opted_in and not opted_out


def _is_closed(conversation: Conversation | None) -> bool:
    return conversation is not None and conversation.status == ConversationStatus.CLOSED
