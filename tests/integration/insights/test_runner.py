"""The insights runner on the Firestore emulator: every template produces a valid insight on a
fixture conversation with the offline model, agents are read by the real query."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.insights.events import inactivity_event, macro_event, message_event, ticket_event
from shared.insights.models import (
    EventType,
    Insight,
    InsightAgent,
    InsightEvent,
    InsightStatus,
)
from shared.insights.runner import InsightRunner, build_insight_runner, read_active_agents
from shared.insights.schema import validate_payload
from shared.insights.templates import TEMPLATES
from shared.settings import load_settings
from shared.store.conversations import conversation_ref, tenant_ref
from tests.unit.insights import NOW, conversation_document, make_agent, make_conversation


@pytest.fixture
def client(local_stack: LocalStack) -> Any:
    return firestore.Client(project=local_stack.project_id)


@pytest.fixture
def tenant(client: Any) -> str:
    """A tenant with the fixture conversation (copilot, three lead messages, an ad)."""
    tenant_id = f"t-{uuid.uuid4().hex[:8]}"
    tenant_ref(client, tenant_id).set({"name": "Clínica", "timezone": "America/Sao_Paulo"})
    conversation = make_conversation(tenant_id=tenant_id)
    conversation_ref(client, tenant_id, "conv-1").set(conversation_document(conversation))
    return tenant_id


def add_agent(client: Any, agent: InsightAgent) -> None:
    tenant_ref(client, agent.tenant_id).collection("insight_agents").document(agent.agent_id).set(
        agent.model_dump(mode="python", exclude={"agent_id", "tenant_id"})
    )


def event_for(key: str, tenant: str) -> InsightEvent:
    """Return an event that fires the template's trigger on the fixture conversation."""
    common: dict[str, Any] = {"tenant_id": tenant, "conversation_id": "conv-1", "occurred_at": NOW}
    if key in ("closing_coach", "conversion_auditor"):
        text = (
            "Achei caro, vou pensar" if key == "closing_coach" else "Já paguei, segue o PIX feito"
        )
        return message_event(**common, inbound_seq=3, message_id="wamid.3", text=text)
    if key == "ghosting_sentinel":
        return inactivity_event(**common, last_activity=NOW)
    return ticket_event(**common, won=key != "traffic_feedback", actor_uid="seller-1")


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_produces_a_valid_insight_offline(
    client: Any, tenant: str, key: str
) -> None:
    spec = TEMPLATES[key].spec.model_dump()
    add_agent(client, make_agent(key, tenant_id=tenant, **spec))
    runner = InsightRunner(firestore=client, now=lambda: NOW)
    event = event_for(key, tenant)

    (insight,) = runner.handle(event)

    snapshot = tenant_ref(client, tenant).collection("insights").document(insight.insight_id)
    stored = Insight.model_validate(snapshot.get().to_dict())
    assert stored == insight
    assert stored.status is InsightStatus.SUGGESTION
    assert (stored.agent_id, stored.template, stored.event_type) == (key, key, event.type)
    assert stored.offline_model and stored.model == "offline-insights"
    assert validate_payload(stored.fields, stored.payload) == stored.payload
    assert validate_payload(TEMPLATES[key].spec.fields, stored.payload) == stored.payload
    assert stored.attribution is not None and stored.attribution.ctwa_clid
    assert stored.apply_action == TEMPLATES[key].spec.apply_action
    assert stored.message_field == TEMPLATES[key].spec.message_field


def test_the_query_reads_only_active_agents_and_each_runs_once(client: Any, tenant: str) -> None:
    for key in ("qa_auditor", "icp_mapper"):
        add_agent(client, make_agent(key, tenant_id=tenant, **TEMPLATES[key].spec.model_dump()))
    add_agent(
        client,
        make_agent(
            "off",
            tenant_id=tenant,
            **{**TEMPLATES["icp_mapper"].spec.model_dump(), "active": False},
        ),
    )
    settings = load_settings({**os.environ, "PILOTO_LLM": "offline"})
    runner = build_insight_runner(settings)
    runner.now = lambda: NOW
    event = ticket_event(tenant_id=tenant, conversation_id="conv-1", won=True, occurred_at=NOW)

    insights = runner.handle(event)

    assert sorted(agent.agent_id for agent in read_active_agents(client, tenant)) == [
        "icp_mapper",
        "qa_auditor",
    ]
    assert sorted(insight.agent_id for insight in insights) == ["icp_mapper", "qa_auditor"]
    assert runner.handle(event) == insights  # redelivered: the stored insights, nothing rerun
    assert len(list(tenant_ref(client, tenant).collection("insights").stream())) == 2


def test_a_macro_press_runs_its_agent_every_time(client: Any, tenant: str) -> None:
    macro = [{"trigger_id": "m", "event": "MACRO_BUTTON_CLICKED", "max_per_day": 2}]
    add_agent(client, make_agent("coach", tenant_id=tenant, triggers=macro))
    add_agent(client, make_agent("other", tenant_id=tenant, triggers=macro))
    runner = InsightRunner(firestore=client, now=lambda: NOW)

    def press() -> list[Insight]:
        event = macro_event(
            tenant_id=tenant,
            conversation_id="conv-1",
            agent_id="coach",
            actor_uid="seller-1",
            occurred_at=NOW,
        )
        assert event.type is EventType.MACRO_BUTTON_CLICKED
        return runner.handle(event)

    results = [press() for _ in range(3)]

    assert [[insight.agent_id for insight in result] for result in results] == [
        ["coach"],
        ["coach"],
        [],  # the daily limit
    ]
