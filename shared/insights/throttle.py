"""Admission of one insight run: the throttles and the RUNNING insight in one atomic write.

For a matched (agent, trigger) on an event, ``admit``:

1. reads the insight document (its id derives from the event id and the agent id): one that
   exists and is no longer RUNNING is ``done`` (a redelivery: nothing counted, nothing run);
   a RUNNING one is ``resumed`` (an earlier delivery was admitted, then failed: it is run again
   without counting again);
2. reads the trigger's throttle documents under ``tenants/{t}/insight_throttles/``:
   ``{agent_id}~{trigger_id}~c~{conversation_id}`` holds the run times of the sliding
   per-conversation window, ``{agent_id}~{trigger_id}~d~{YYYY-MM-DD}`` the runs of the tenant's
   day (in the tenant's time zone);
3. refuses (``throttled``, naming the rule, nothing written) when one is full, else records the
   run in both and creates the insight RUNNING, in one batch that Firestore applies atomically
   and only if nothing changed since the reads: the insight is created (it must not exist) and
   each throttle document is created, or updated on the condition of its last update time.
   When a concurrent run got there first, the commit fails and everything is read again.

This is optimistic concurrency control: concurrent events for the same trigger are serialised on
these documents and can never exceed a throttle, and no lock is held. (A
``firestore.transactional`` read-then-write holds read locks; eight concurrent admissions on the
Firestore emulator deadlock into its two-second "Transaction lock timeout" round after round,
sometimes with no winner, and exhausted fifteen attempts in our concurrency tests.)
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.api_core.exceptions import Aborted, AlreadyExists, FailedPrecondition, NotFound

from shared.insights.models import Insight, InsightStatus, Trigger
from shared.store.conversations import tenant_ref

DEFAULT_TIMEZONE = "America/Sao_Paulo"
ATTEMPTS = 15


@dataclass(frozen=True)
class Admission:
    """What the transaction decided for one agent on one event."""

    status: Literal["admitted", "resumed", "done", "throttled"]
    insight: Insight | None = None
    """admitted, resumed: the RUNNING insight; done: the insight as stored."""
    rule: Literal["per_conversation", "per_day"] | None = None
    """throttled: the throttle that was full."""


def insight_id_for(event_id: str, agent_id: str) -> str:
    """Return the insight id of one agent's run on one event (event ids may hold '/')."""
    return hashlib.sha256(f"{event_id}|{agent_id}".encode()).hexdigest()[:32]


def insight_ref(client: Any, tenant_id: str, insight_id: str) -> Any:
    """Return ``tenants/{t}/insights/{insight_id}``."""
    return tenant_ref(client, tenant_id).collection("insights").document(insight_id)


def throttle_ref(client: Any, tenant_id: str, key: str) -> Any:
    """Return ``tenants/{t}/insight_throttles/{key}``."""
    return (
        tenant_ref(client, tenant_id)
        .collection("insight_throttles")
        .document(key.replace("/", "%2F")[:1500])
    )


def conversation_key(agent_id: str, trigger_id: str, conversation_id: str) -> str:
    """Return the key of a trigger's sliding window on one conversation."""
    return f"{agent_id}~{trigger_id}~c~{conversation_id}"


def day_key(agent_id: str, trigger_id: str, day: str) -> str:
    """Return the key of a trigger's daily count for the tenant (``day`` as YYYY-MM-DD)."""
    return f"{agent_id}~{trigger_id}~d~{day}"


def tenant_zone(client: Any, tenant_id: str) -> ZoneInfo:
    """Return the tenant's time zone (``tenants/{t}.timezone``), São Paulo when unset or bad."""
    snapshot = tenant_ref(client, tenant_id).get()
    name = (snapshot.to_dict() or {}).get("timezone") if snapshot.exists else None
    try:
        return ZoneInfo(name if isinstance(name, str) and name else DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def admit(
    client: Any, running: Insight, trigger: Trigger, *, now: datetime, zone: ZoneInfo
) -> Admission:
    """Admit ``running`` (a RUNNING insight not yet stored) within the trigger's throttles."""
    tenant_id = running.tenant_id
    insight_doc = insight_ref(client, tenant_id, running.insight_id)
    day = now.astimezone(zone).date().isoformat()
    window_doc = day_doc = None
    if trigger.max_per_conversation is not None:
        key = conversation_key(running.agent_id, trigger.trigger_id, running.conversation_id)
        window_doc = throttle_ref(client, tenant_id, key)
    if trigger.max_per_day is not None:
        day_doc = throttle_ref(
            client, tenant_id, day_key(running.agent_id, trigger.trigger_id, day)
        )
    for attempt in range(ATTEMPTS):
        stored = insight_doc.get()
        if stored.exists:
            insight = Insight.model_validate(stored.to_dict() or {})
            return Admission(
                "resumed" if insight.status is InsightStatus.RUNNING else "done", insight
            )
        window = window_doc.get() if window_doc is not None else None
        daily = day_doc.get() if day_doc is not None else None
        since = now - timedelta(minutes=trigger.conversation_window_minutes)
        runs = [
            run
            for run in (
                (window.to_dict() or {}).get("runs", []) if window and window.exists else []
            )
            if isinstance(run, datetime) and run > since
        ]
        count = int((daily.to_dict() or {}).get("count", 0)) if daily and daily.exists else 0
        # Counts only grow while ``now`` stands still, so a refusal on a stale read is right.
        if trigger.max_per_conversation is not None and len(runs) >= trigger.max_per_conversation:
            return Admission("throttled", rule="per_conversation")
        if trigger.max_per_day is not None and count >= trigger.max_per_day:
            return Admission("throttled", rule="per_day")
        batch = client.batch()
        batch.create(insight_doc, running.model_dump(mode="python"))
        if window_doc is not None and window is not None:
            _write_if_unchanged(
                client,
                batch,
                window_doc,
                window,
                {
                    "agent_id": running.agent_id,
                    "trigger_id": trigger.trigger_id,
                    "conversation_id": running.conversation_id,
                    "runs": [*runs, now],
                    "updated_at": now,
                },
            )
        if day_doc is not None and daily is not None:
            _write_if_unchanged(
                client,
                batch,
                day_doc,
                daily,
                {
                    "agent_id": running.agent_id,
                    "trigger_id": trigger.trigger_id,
                    "day": day,
                    "count": count + 1,
                    "updated_at": now,
                },
            )
        try:
            batch.commit()
        except (AlreadyExists, FailedPrecondition, NotFound, Aborted):
            # Another run changed a document since it was read: read again.
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # noqa: S311 (jitter)
            continue
        return Admission("admitted", running)
    raise RuntimeError(f"insight {running.insight_id}: throttle documents kept changing")


def _write_if_unchanged(
    client: Any, batch: Any, document: Any, snapshot: Any, data: dict[str, Any]
) -> None:
    """Add a write to the batch that fails its commit if the document changed since read."""
    if snapshot.exists:
        option = client.write_option(last_update_time=snapshot.update_time)
        batch.update(document, data, option=option)
    else:
        batch.create(document, data)
