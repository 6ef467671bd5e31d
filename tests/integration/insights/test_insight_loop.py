"""Insight agents on the whole local stack: from a lead's message to a stored insight.

The provider simulator posts a signed Meta webhook; the webhook publishes it, the agent function
takes it in and (the tenant's agents listen to lead messages) publishes NEW_MESSAGE_RECEIVED to
``insight-events``; Pub/Sub pushes it to the insights function, which runs the seeded
conversion auditor with the offline model and stores its suggestion. A lead who goes quiet is
found by the follow-up function's inactivity check (the loop's clock runs 3600 times faster:
two hours are two seconds), which publishes INACTIVITY_2H to the ghosting sentinel of a second
seeded tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from google.cloud import firestore

from emulators.loop import PilotoLoop
from emulators.simulator import ProviderSimulator
from emulators.stack import LocalStack
from shared.insights.models import Insight, InsightAgent, InsightStatus
from shared.insights.schema import validate_payload
from shared.insights.throttle import insight_id_for, insight_ref
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from tests.integration.insights.support import demo_copy, loop_with
from tests.integration.test_e2e import new_phone, wait_until

TENANT = "demo-clinica"
IDLE_TENANT = "it-insights-idle"
IDLE_CHANNEL = "it-insights-meta"
CLOCK_SPEED = 3600.0  # two hours of inactivity are two seconds
AUDITOR = "demo-conversion-auditor"
SENTINEL = "it-ghosting-sentinel"


@pytest.fixture(scope="module")
def loop(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PilotoLoop]:
    """The demo seed plus a tenant with a ghosting sentinel; quiet hours off, a fast clock."""
    idle = demo_copy(
        IDLE_TENANT,
        "Clínica Quieta (teste)",
        [{"provider": "meta", "channel_id": IDLE_CHANNEL, "business_phone": "+5511990000099"}],
        insight_agents=[{"agent_id": SENTINEL, "template": "ghosting_sentinel"}],
    )
    runtime = tmp_path_factory.mktemp("insights")
    with loop_with(local_stack, runtime, [idle], clock_speed=CLOCK_SPEED) as running:
        yield running


def conversation_of(client: Any, tenant: str, phone: str) -> str:
    """Return the lead's current conversation id ("" while there is none)."""
    contact = contact_ref(client, tenant, phone).get().to_dict() or {}
    return str(contact.get("current_conversation_id") or "")


def insights_of(client: Any, tenant: str, conversation_id: str) -> list[Insight]:
    stream = (
        tenant_ref(client, tenant)
        .collection("insights")
        .where(filter=firestore.FieldFilter("conversation_id", "==", conversation_id))
        .stream()
    )
    return [Insight.model_validate(snapshot.to_dict()) for snapshot in stream]


def agent(client: Any, tenant: str, agent_id: str) -> InsightAgent:
    snapshot = tenant_ref(client, tenant).collection("insight_agents").document(agent_id).get()
    return InsightAgent.model_validate(snapshot.to_dict())


def finished(client: Any, tenant: str, insight_id: str) -> Insight | None:
    snapshot = insight_ref(client, tenant, insight_id).get()
    if not snapshot.exists:
        return None
    insight = Insight.model_validate(snapshot.to_dict())
    return insight if insight.status is not InsightStatus.RUNNING else None


def test_a_lead_who_says_she_paid_gets_a_won_suggestion_from_the_conversion_auditor(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()
    simulator.send_lead_message("demo-meta", phone, "Oi, quanto custa a limpeza de pele?")
    simulator.wait_for(lambda message: message.to == phone, timeout=40)
    conversation_id = conversation_of(client, TENANT, phone)

    posted = simulator.send_lead_message("demo-meta", phone, "Paguei, segue o comprovante do Pix")

    assert posted.webhook_status == 200
    insight_id = insight_id_for(f"msg:{conversation_id}:2", AUDITOR)
    insight = wait_until(
        lambda: finished(client, TENANT, insight_id), what="the conversion auditor's insight"
    )
    assert insight.status is InsightStatus.SUGGESTION, insight.error
    assert (insight.agent_id, insight.event_type, insight.template) == (
        AUDITOR,
        "NEW_MESSAGE_RECEIVED",
        "conversion_auditor",
    )
    assert (insight.offline_model, insight.model) == (True, "offline-insights")
    assert insight.conversation_id == conversation_id
    assert insight.contact_key == phone
    assert insight.apply_action == "mark_won"
    auditor = agent(client, TENANT, AUDITOR)
    assert validate_payload(auditor.fields, insight.payload) == insight.payload
    assert insight.fields == auditor.fields
    # The first message had no payment word: the auditor did not run on it, nor the copilot-only
    # closing coach on either (the demo clinic is in pilot mode).
    assert [i.insight_id for i in insights_of(client, TENANT, conversation_id)] == [insight_id]


def test_a_lead_message_without_payment_words_makes_no_conversion_insight(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone, paid = new_phone(), new_phone()
    simulator.send_lead_message("demo-meta", phone, "Vocês atendem aos sábados?")
    simulator.wait_for(lambda message: message.to == phone, timeout=40)  # its event went first
    simulator.send_lead_message("demo-meta", paid, "Já paguei o sinal, segue o comprovante")
    wait_until(
        lambda: [
            insight
            for insight in insights_of(client, TENANT, conversation_of(client, TENANT, paid))
            if insight.status is not InsightStatus.RUNNING
        ],
        what="the paid lead's insight",
    )

    conversation_id = conversation_of(client, TENANT, phone)
    assert insights_of(client, TENANT, conversation_id) == []
    assert (
        not insight_ref(client, TENANT, insight_id_for(f"msg:{conversation_id}:1", AUDITOR))
        .get()
        .exists
    )


def test_a_conversation_nobody_writes_in_for_two_hours_wakes_the_ghosting_sentinel(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()
    simulator.send_lead_message(IDLE_CHANNEL, phone, "Oi, quanto custa a limpeza de pele?")
    simulator.wait_for(lambda message: message.to == phone, timeout=40)
    simulator.send_lead_message(IDLE_CHANNEL, phone, "E vocês atendem aos sábados?")

    conversation_id = conversation_of(client, IDLE_TENANT, phone)

    def sentinel_insight() -> Insight | None:
        done = [
            insight
            for insight in insights_of(client, IDLE_TENANT, conversation_id)
            if insight.status is not InsightStatus.RUNNING
        ]
        return done[0] if done else None

    insight = wait_until(sentinel_insight, timeout=40, what="the ghosting sentinel's insight")

    assert insight.status is InsightStatus.SUGGESTION, insight.error
    assert (insight.agent_id, insight.event_type) == (SENTINEL, "INACTIVITY_2H")
    # Only once the lead had written twice (the sentinel waits for an engaged lead).
    assert insight.event_id.startswith(f"idle:{conversation_id}:")
    idle_since = insight.event_id.removeprefix(f"idle:{conversation_id}:")
    state = conversation_ref(client, IDLE_TENANT, conversation_id).get().to_dict()
    assert state["inbound_count"] == 2
    assert datetime.fromisoformat(idle_since) >= state["last_inbound_at"]
    trigger = (
        tenant_ref(client, IDLE_TENANT)
        .collection("trigger_events")
        .document(f"{conversation_id}:INACTIVITY_2H:{idle_since}")
        .get()
    )
    assert trigger.exists and trigger.to_dict()["event_id"] == insight.event_id
    sentinel = agent(client, IDLE_TENANT, SENTINEL)
    assert validate_payload(sentinel.fields, insight.payload) == insight.payload
    assert insight.message_field == "rescue_message" and insight.payload["rescue_message"]
