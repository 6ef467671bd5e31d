"""The guards every message passes, replies and follow-ups alike: billing, mode, seller, clock.

The stop rules that come first (opt-out, close) live in ``shared.policy.restraint``.
"""

from __future__ import annotations

from shared.models.conversation import ConversationStatus
from shared.models.decision import Action, Reason
from shared.policy.verdict import PolicyContext, Verdict
from shared.policy.windows import in_quiet_hours, quiet_hours_end, within_24h_window


def guard_sending(context: PolicyContext, *, lead_replied: bool, proactive: bool) -> Verdict:
    """Apply guards 3 to 8 of ``shared.policy.restraint`` (billing to quiet hours).

    ``lead_replied`` means the lead's new messages are being answered: the 24-hour window is open
    and the unanswered count starts again.
    """
    conversation, settings, now = context.conversation, context.settings, context.now
    if context.subscription_inactive:
        return Verdict(action=Action.HANDOFF, reasons=(Reason.SUBSCRIPTION_INACTIVE,))
    if context.quota_exceeded:
        return Verdict(action=Action.HANDOFF, reasons=(Reason.QUOTA_EXCEEDED,))
    copilot = settings.mode == "copilot" or (
        conversation is not None and conversation.mode == "copilot"
    )
    if copilot:
        return stay_silent(Reason.COPILOT_MODE, may_suggest=True)
    if conversation is not None and conversation.human_is_active(now):
        return stay_silent(Reason.HUMAN_ACTIVE, may_suggest=True)
    if conversation is not None and conversation.status == ConversationStatus.HANDOFF:
        return stay_silent(Reason.HANDOFF_REQUESTED, may_suggest=True)
    unanswered = 0 if lead_replied or conversation is None else conversation.unanswered_count
    if unanswered >= settings.max_unanswered:
        return stay_silent(Reason.UNANSWERED_LIMIT)
    window_open = lead_replied or (
        conversation is not None and within_24h_window(conversation.last_inbound_at, now)
    )
    if not window_open and not context.has_template:
        return stay_silent(Reason.OUTSIDE_24H_WINDOW)
    outside = () if window_open else (Reason.OUTSIDE_24H_WINDOW,)
    if proactive and in_quiet_hours(now, settings.quiet_hours, context.timezone):
        return Verdict(
            action=Action.SCHEDULE_FOLLOWUP,
            reasons=(Reason.QUIET_HOURS, *outside),
            retry_at=quiet_hours_end(now, settings.quiet_hours, context.timezone),
        )
    return Verdict(
        reasons=outside, may_send_text=window_open, may_send_template=context.has_template
    )


def stay_silent(reason: Reason, *, may_suggest: bool = False) -> Verdict:
    """Return a verdict that keeps the agent silent for one reason."""
    return Verdict(action=Action.STAY_SILENT, reasons=(reason,), may_suggest=may_suggest)
