"""Monthly reply counters and the cached billing check a turn makes before the model runs.

Counters: ``tenants/{t}/usage/{YYYY-MM-DD}`` = ``{month, day, agent_replies, updated_at}``, one
document per workspace and day in the tenant's time zone. A turn or follow-up in which the model
answered or drafted adds one with ``Increment`` in the same batch that stores its decision
(``record_replies``), so a reply is counted exactly once and concurrent turns never collide on
one hot document for long. A month's usage is the sum of its (at most 31) day documents
(``month_replies``).

The check (``BillingCheck``): per instance, each workspace's billing account and month usage
are read once per ``billing_cache_seconds`` (two reads and one query); in between a turn costs
nothing. Replies this instance records are added to its cached count, so an instance never
undercounts itself; other instances' replies show up on the next load, and the plan's grace
margin absorbs that lag. When the cached level first reaches warning, reached or exceeded in a
month, or the service is found stopped, a notice is created for the console
(``tenants/{t}/notices``, ``create()``: the first instance wins, the others find it there).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from google.api_core.exceptions import AlreadyExists, GoogleAPICallError
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.billing.accounts import (
    BillingAccount,
    StopReason,
    account_of_tenant,
    plan_of,
    service_state,
)
from shared.billing.plans import Catalogue
from shared.billing.quota import QuotaLevel, quota_level
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.billing.usage")

USAGE_COLLECTION = "usage"
NOTICES_COLLECTION = "notices"
_LEVEL_ORDER = (QuotaLevel.OK, QuotaLevel.WARNING, QuotaLevel.REACHED, QuotaLevel.EXCEEDED)
_NOTICE_KINDS = {
    QuotaLevel.WARNING: "quota_warning",
    QuotaLevel.REACHED: "quota_reached",
    QuotaLevel.EXCEEDED: "quota_exceeded",
}


def local_day(now: datetime, timezone: str) -> date:
    """Return the calendar day of ``now`` in the tenant's time zone."""
    return now.astimezone(ZoneInfo(timezone)).date()


def month_key(now: datetime, timezone: str) -> str:
    """Return the tenant's calendar month of ``now`` ("YYYY-MM")."""
    return local_day(now, timezone).strftime("%Y-%m")


def day_key(now: datetime, timezone: str) -> str:
    """Return the tenant's calendar day of ``now`` ("YYYY-MM-DD")."""
    return local_day(now, timezone).isoformat()


def usage_ref(client: Any, tenant_id: str, day: date) -> Any:
    """Return ``tenants/{t}/usage/{YYYY-MM-DD}``."""
    return tenant_ref(client, tenant_id).collection(USAGE_COLLECTION).document(day.isoformat())


def notice_ref(client: Any, tenant_id: str, notice_id: str) -> Any:
    """Return ``tenants/{t}/notices/{notice_id}``."""
    return tenant_ref(client, tenant_id).collection(NOTICES_COLLECTION).document(notice_id)


def record_replies(
    writer: Any, client: Any, tenant_id: str, now: datetime, timezone: str, count: int = 1
) -> None:
    """Add ``count`` agent replies to the tenant's day of ``now`` with a batch's merge-set."""
    if count <= 0:
        return
    day = local_day(now, timezone)
    writer.set(
        usage_ref(client, tenant_id, day),
        {
            "month": day.strftime("%Y-%m"),
            "day": day.isoformat(),
            "agent_replies": firestore.Increment(count),
            "updated_at": now,
        },
        merge=True,
    )


def month_replies(client: Any, tenant_id: str, month: str) -> int:
    """Return the agent replies of one month ("YYYY-MM"): the sum of its day documents.

    At most 31 documents, with the single-field index Firestore keeps on ``month`` (a ``sum()``
    aggregation would bill one read but needs a composite index on month and agent_replies).
    """
    query = (
        tenant_ref(client, tenant_id)
        .collection(USAGE_COLLECTION)
        .where(filter=FieldFilter("month", "==", month))
    )
    return sum(int((doc.to_dict() or {}).get("agent_replies") or 0) for doc in query.stream())


def notify(
    client: Any,
    tenant_id: str,
    kind: str,
    key: str,
    now: datetime,
    fields: dict[str, Any] | None = None,
) -> bool:
    """Create the notice ``{kind}-{key}`` once; return False when it already existed."""
    try:
        notice_ref(client, tenant_id, f"{kind}-{key}").create(
            {"kind": kind, "created_at": now, **(fields or {})}
        )
    except AlreadyExists:
        return False
    return True


@dataclass(frozen=True)
class QuotaCheck:
    """What the billing check allows a workspace's agent now."""

    agent_on: bool
    """The subscription lets the agent answer and follow up."""
    quota_exceeded: bool
    """This month's replies reached the plan's ceiling (limit plus grace)."""
    plan_id: str
    replies_used: int
    reply_ceiling: int
    level: QuotaLevel
    stop_reason: StopReason | None = None


NO_BILLING = QuotaCheck(
    agent_on=True,
    quota_exceeded=False,
    plan_id="",
    replies_used=0,
    reply_ceiling=0,
    level=QuotaLevel.OK,
)
"""What a runner without billing behaves as (the simulator, unit tests)."""


class BillingGate(Protocol):
    """What a turn or follow-up asks before the model runs, and tells after it counted replies."""

    def check(self, tenant_id: str, now: datetime, timezone: str) -> QuotaCheck:
        """Return what the workspace's subscription and usage allow at ``now``."""
        ...

    def recorded(self, tenant_id: str, now: datetime, timezone: str, count: int) -> None:
        """Note replies this instance counted (after their batch committed)."""
        ...


@dataclass
class _Entry:
    """One workspace's cached billing state for one month."""

    expires: float
    month: str
    account: BillingAccount | None
    replies: int
    notified: QuotaLevel = QuotaLevel.OK
    """The highest quota level a notice was created for (by this instance) this month."""
    stopped: StopReason | None = None
    """The stop a notice was created for by this instance (None: service on, or not yet)."""


class BillingCheck:
    """The per-instance cached billing check (account and month replies per workspace)."""

    def __init__(
        self,
        client: Any,
        catalogue: Catalogue,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        read_account: Callable[[Any, str], BillingAccount | None] = account_of_tenant,
        read_replies: Callable[[Any, str, str], int] = month_replies,
    ) -> None:
        self._client = client
        self._catalogue = catalogue
        self._ttl = ttl_seconds
        self._clock = clock
        self._read_account = read_account
        self._read_replies = read_replies
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def check(self, tenant_id: str, now: datetime, timezone: str) -> QuotaCheck:
        """Return what the workspace's subscription and this month's replies allow at ``now``."""
        entry = self._entry(tenant_id, now, timezone)
        plan = plan_of(entry.account, self._catalogue)
        state = service_state(entry.account, self._catalogue, now)
        ceiling = plan.reply_ceiling()
        level = quota_level(
            entry.replies, plan.quotas.agent_replies, ceiling, self._catalogue.warning_percent
        )
        result = QuotaCheck(
            agent_on=state.agent_on,
            quota_exceeded=entry.replies >= ceiling,
            plan_id=plan.plan_id,
            replies_used=entry.replies,
            reply_ceiling=ceiling,
            level=level,
            stop_reason=state.reason,
        )
        self._notify_changes(tenant_id, entry, result, plan.quotas.agent_replies, now, timezone)
        return result

    def recorded(self, tenant_id: str, now: datetime, timezone: str, count: int) -> None:
        """Add replies this instance counted to the cached month (if still cached)."""
        month = month_key(now, timezone)
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is not None and entry.month == month and entry.expires > self._clock():
                entry.replies += count

    def _entry(self, tenant_id: str, now: datetime, timezone: str) -> _Entry:
        """Return the cached entry for the tenant's month of ``now``, loading it when expired."""
        month = month_key(now, timezone)
        with self._lock:
            cached = self._entries.get(tenant_id)
        if cached is not None and cached.month == month and cached.expires > self._clock():
            return cached
        expires = self._clock() + self._ttl
        account = self._read_account(self._client, tenant_id)
        replies = self._read_replies(self._client, tenant_id, month)
        entry = _Entry(expires=expires, month=month, account=account, replies=replies)
        if cached is not None and cached.month == month:
            # What this instance already notified this month stays notified.
            entry.notified, entry.stopped = cached.notified, cached.stopped
        with self._lock:
            self._entries[tenant_id] = entry
        return entry

    def _notify_changes(
        self,
        tenant_id: str,
        entry: _Entry,
        result: QuotaCheck,
        limit: int,
        now: datetime,
        timezone: str,
    ) -> None:
        """Create the notices a change of level or of service calls for (not on every turn)."""
        # Without a grace margin the handoff starts at the limit ("reached"): notified as exceeded.
        level = QuotaLevel.EXCEEDED if result.quota_exceeded else result.level
        if _LEVEL_ORDER.index(level) > _LEVEL_ORDER.index(entry.notified):
            kind = _NOTICE_KINDS[level]
            if level is QuotaLevel.EXCEEDED:
                logger.warning(
                    "agent replies over quota: conversations go to a human",
                    extra={
                        "tenant_id": tenant_id,
                        "month": entry.month,
                        "used": result.replies_used,
                        "ceiling": result.reply_ceiling,
                        "plan_id": result.plan_id,
                    },
                )
            fields = {
                "month": entry.month,
                "quota": "agent_replies",
                "used": result.replies_used,
                "limit": limit,
            }
            if self._notify(tenant_id, kind, entry.month, now, fields):
                entry.notified = level
        stop = result.stop_reason
        if stop is not None and not result.agent_on and entry.stopped != stop:
            logger.warning(
                "service stopped: conversations go to a human",
                extra={"tenant_id": tenant_id, "reason": stop, "plan_id": result.plan_id},
            )
            key = f"{stop}-{day_key(now, timezone)}"
            fields = {"reason": stop, "month": entry.month, "quota": None}
            if self._notify(tenant_id, "service_stopped", key, now, fields):
                entry.stopped = stop
        elif result.agent_on:
            entry.stopped = None

    def _notify(
        self, tenant_id: str, kind: str, key: str, now: datetime, fields: dict[str, Any]
    ) -> bool:
        """Create one notice; False (tried again on a later check) when Firestore failed."""
        try:
            created = notify(self._client, tenant_id, kind, key, now, fields)
        except GoogleAPICallError:
            logger.exception(
                "notice not created", extra={"tenant_id": tenant_id, "notice": f"{kind}-{key}"}
            )
            return False
        if created:  # notifications (H8): the owners hear of it once, in the console and by mail
            from shared.notifications.plan import tell_owners_of_notice

            tell_owners_of_notice(self._client, tenant_id, kind, key, fields, now)
        return True
