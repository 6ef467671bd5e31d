"""Copilot per intent: how sellers used the suggestions, and the owner's pilot switch.

The figures come from ``shared.copilot`` (per-day counts kept as sellers accept, edit, dismiss
or ignore suggestions). An intent whose acceptance stays at or above the tenant's threshold over
enough samples is ``eligible``: the console proposes letting the agent answer it alone, and only
the owner switches it (``AgentSettings.pilot_intents``).
"""

from __future__ import annotations

from typing import Any, Literal

from google.cloud import firestore
from pydantic import BaseModel, Field

from shared import copilot
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import contended, not_found
from shared.admin.http import Request
from shared.admin.schemas import Strict
from shared.copilot import INTENTS, IntentStats
from shared.models.tenant import AgentSettings
from shared.store.conversations import tenant_ref


class IntentsQuery(Strict):
    days: int = Field(default=30, ge=1, le=copilot.MAX_DAYS)


class IntentList(BaseModel):
    threshold: float
    min_samples: int
    days: int
    intents: list[IntentStats]


class IntentModeChange(Strict):
    mode: Literal["pilot", "copilot"]


def list_intents(request: Request, tenant_id: str) -> IntentList:
    """Return every intent's copilot figures over the period and whether pilot is proposed."""
    query: IntentsQuery = request.query
    client = request.services.firestore
    settings = _settings(client, tenant_id)
    today = request.services.now().date()
    return IntentList(
        threshold=settings.copilot_promotion.threshold,
        min_samples=settings.copilot_promotion.min_samples,
        days=query.days,
        intents=copilot.intent_stats(client, tenant_id, settings, today=today, days=query.days),
    )


def set_intent_mode(request: Request, tenant_id: str, intent: str) -> IntentStats:
    """Let the agent answer an intent alone (pilot), or give it back to the sellers (copilot)."""
    if intent not in INTENTS:
        raise not_found("intent")
    body: IntentModeChange = request.body
    client = request.services.firestore
    now = request.services.now()
    document = tenant_ref(client, tenant_id).collection("settings").document("agent")

    @firestore.transactional
    def change(transaction: Any) -> AgentSettings:
        snapshot = document.get(transaction=transaction)
        settings = AgentSettings.model_validate(snapshot.to_dict() or {})
        before = list(settings.pilot_intents)
        after = [name for name in before if name != intent]
        if body.mode == "pilot":
            after.append(intent)  # type: ignore[arg-type]
        if after != before:
            transaction.set(document, {"pilot_intents": after}, merge=True)
            transaction.set(
                audit_ref(client, tenant_id, now),
                audit_entry(
                    request.member,
                    "agent.intent_mode",
                    f"settings/agent/intents/{intent}",
                    now,
                    before={"pilot_intents": before},
                    after={"pilot_intents": after},
                ),
            )
        return settings.model_copy(update={"pilot_intents": after})

    settings = contended(lambda: change(client.transaction()))
    stats = copilot.intent_stats(client, tenant_id, settings, today=now.date(), days=30)
    return next(item for item in stats if item.intent == intent)


def _settings(client: Any, tenant_id: str) -> AgentSettings:
    snapshot = tenant_ref(client, tenant_id).collection("settings").document("agent").get()
    return AgentSettings.model_validate(snapshot.to_dict() or {})
