"""Restraint: the deterministic guards that decide when the agent must not speak.

``before_turn`` runs before any model call, ``at_send`` right before each message goes out; both
return a ``Verdict`` with reason codes from ``shared.models.decision.Reason``. The keyword rules
(opt-out, opt-in, rejection, handoff) live in ``keywords``, the clock rules in ``windows``.
"""

from shared.policy.keywords import (
    is_handoff_request,
    is_opt_in,
    is_opt_out,
    is_rejection,
    normalise,
)
from shared.policy.restraint import (
    as_pilot,
    at_send,
    before_turn,
    next_allowed_time,
    starts_new_conversation,
)
from shared.policy.verdict import Acknowledgement, PolicyContext, Verdict
from shared.policy.windows import in_quiet_hours, quiet_hours_end, within_24h_window

__all__ = [
    "Acknowledgement",
    "PolicyContext",
    "Verdict",
    "as_pilot",
    "at_send",
    "before_turn",
    "in_quiet_hours",
    "is_handoff_request",
    "is_opt_in",
    "is_opt_out",
    "is_rejection",
    "next_allowed_time",
    "normalise",
    "quiet_hours_end",
    "starts_new_conversation",
    "within_24h_window",
]
