"""Copilot suggestions per intent: what sellers did with them, and when to propose pilot.

Every suggestion the agent offers has an intent (the specialist that drafted it: qualify, sell,
schedule, close, handoff). What the seller does with it is counted per tenant, per day, per
intent in ``tenants/{t}/copilot_daily/{YYYY-MM-DD}`` (UTC days) with increments in the write
that records the outcome, so the counts cost no extra read:

- ``offered``: suggestions the turn stored;
- ``accepted``: sent as they were; ``edited``: sent after a change, adding the similarity of the
  sent text to the suggestion (0..1) to ``similarity_sum``;
- ``dismissed``: the seller said no; ``ignored``: the seller wrote something else, or the next
  turn replaced the suggestions, before anyone used them.

Acceptance counts an accepted suggestion as 1 and an edited one as its similarity:
``(accepted + similarity_sum) / (accepted + edited + dismissed + ignored)``. When an intent's
acceptance over the period is at least the tenant's threshold over at least its minimum number
of samples, the console proposes letting the agent answer that intent alone; the owner decides
(``AgentSettings.pilot_intents``).
"""

from __future__ import annotations

import difflib
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args

from google.cloud import firestore
from pydantic import BaseModel

from shared.models.tenant import AgentSettings, Intent
from shared.policy.text import normalise
from shared.store.conversations import tenant_ref

Outcome = Literal["offered", "accepted", "edited", "dismissed", "ignored"]
INTENTS: tuple[str, ...] = get_args(Intent)
MAX_DAYS = 90


class IntentStats(BaseModel):
    """One intent's copilot figures over a period, and whether pilot may be proposed."""

    intent: Intent
    mode: Literal["pilot", "copilot"]
    offered: int = 0
    accepted: int = 0
    edited: int = 0
    ignored: int = 0
    dismissed: int = 0
    acceptance_rate: float | None = None
    mean_similarity: float | None = None
    eligible: bool = False


def daily_ref(client: Any, tenant_id: str, day: date) -> Any:
    """Return the document of one UTC day's copilot counts."""
    return tenant_ref(client, tenant_id).collection("copilot_daily").document(day.isoformat())


def count(
    intent: str | None, outcome: Outcome, amount: int = 1, similarity: float | None = None
) -> dict[str, Any]:
    """Return the merge-set that adds an outcome to a day's counts (empty for no intent)."""
    if not intent or intent not in INTENTS or amount <= 0:
        return {}
    fields: dict[str, Any] = {outcome: firestore.Increment(amount)}
    if similarity is not None:
        fields["similarity_sum"] = firestore.Increment(similarity)
    return {intent: fields}


def record(writer: Any, client: Any, tenant_id: str, at: datetime, counts: dict[str, Any]) -> None:
    """Add counts to the day of ``at`` with a batch's or a transaction's merge-set."""
    if counts:
        writer.set(daily_ref(client, tenant_id, at.date()), counts, merge=True)


def similarity(suggested: str, sent: str) -> float:
    """Return how close the sent text is to the suggestion, 0..1 (accents and case ignored)."""
    ratio = difflib.SequenceMatcher(None, normalise(suggested), normalise(sent)).ratio()
    return round(ratio, 4)


def intent_stats(
    client: Any, tenant_id: str, settings: AgentSettings, *, today: date, days: int
) -> list[IntentStats]:
    """Return every intent's figures over the last ``days`` UTC days (one batched read)."""
    refs = [daily_ref(client, tenant_id, today - timedelta(days=back)) for back in range(days)]
    totals: dict[str, dict[str, float]] = {intent: {} for intent in INTENTS}
    for snapshot in client.get_all(refs):
        for intent, values in (snapshot.to_dict() or {}).items():
            if intent in totals and isinstance(values, dict):
                for name, value in values.items():
                    totals[intent][name] = totals[intent].get(name, 0) + float(value or 0)
    return [_stats(intent, totals[intent], settings) for intent in INTENTS]


def _stats(intent: str, totals: dict[str, float], settings: AgentSettings) -> IntentStats:
    whole = {name: int(totals.get(name, 0)) for name in get_args(Outcome)}
    resolved = whole["accepted"] + whole["edited"] + whole["dismissed"] + whole["ignored"]
    similarity_sum = totals.get("similarity_sum", 0.0)
    rate = (whole["accepted"] + similarity_sum) / resolved if resolved else None
    pilot = settings.mode == "pilot" or intent in settings.pilot_intents
    promotion = settings.copilot_promotion
    return IntentStats(
        intent=intent,
        mode="pilot" if pilot else "copilot",
        acceptance_rate=round(rate, 4) if rate is not None else None,
        mean_similarity=round(similarity_sum / whole["edited"], 4) if whole["edited"] else None,
        eligible=not pilot
        and resolved >= promotion.min_samples
        and rate is not None
        and rate >= promotion.threshold,
        **whole,
    )
