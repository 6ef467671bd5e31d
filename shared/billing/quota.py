"""How close a workspace is to a limit: the levels the console shows and the policy enforces.

A flow quota (``agent_replies``) is ``reached`` at its limit and ``exceeded`` at the limit plus
the plan's grace margin: only then does the agent hand conversations over. A stock quota (grace
0) is ``reached`` when nothing more may be added, and ``exceeded`` after a downgrade left more
than the limit (nothing is removed; nothing more may be added).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.billing.plans import Catalogue, Plan, QuotaName


class QuotaLevel(StrEnum):
    """Where usage stands against a limit."""

    OK = "ok"
    WARNING = "warning"
    REACHED = "reached"
    EXCEEDED = "exceeded"


class UsageLine(BaseModel):
    """One quota's usage, as the admin API returns it and the console draws it."""

    model_config = ConfigDict(extra="forbid")

    quota: QuotaName
    used: float
    limit: int
    ceiling: int
    """Where the service stops: the limit plus the grace margin (equal to limit for stock)."""
    percent: int
    """Used over limit, in percent (may pass 100)."""
    level: QuotaLevel


def quota_level(used: float, limit: int, ceiling: int, warning_percent: int) -> QuotaLevel:
    """Return the level of ``used`` against ``limit`` (warning from ``warning_percent``)."""
    if used > ceiling or (ceiling > limit and used >= ceiling):
        return QuotaLevel.EXCEEDED
    if used >= limit:
        return QuotaLevel.REACHED
    if limit > 0 and used * 100 >= limit * warning_percent:
        return QuotaLevel.WARNING
    return QuotaLevel.OK


def usage_line(quota: QuotaName, used: float, plan: Plan, catalogue: Catalogue) -> UsageLine:
    """Return one quota's usage line under ``plan``."""
    limit = plan.quotas.limit(quota)
    ceiling = plan.reply_ceiling() if quota == "agent_replies" else limit
    percent = round(used * 100 / limit) if limit > 0 else (0 if used <= 0 else 100)
    return UsageLine(
        quota=quota,
        used=used,
        limit=limit,
        ceiling=ceiling,
        percent=percent,
        level=quota_level(used, limit, ceiling, catalogue.warning_percent),
    )


def may_add(used: float, limit: int, adding: float = 1) -> bool:
    """Return whether a stock quota allows adding ``adding`` more."""
    return used + adding <= limit


def replies_allowed(used: int, plan: Plan) -> bool:
    """Return whether the agent may answer once more this month (within limit plus grace)."""
    return used < plan.reply_ceiling()
