"""Throttles under concurrent events on the Firestore emulator: never exceeded, never counted
twice for a redelivered event (the offline runner, agents read by the real query)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.insights.events import message_event
from shared.insights.models import Insight, InsightAgent, InsightStatus
from shared.insights.runner import InsightRunner
from shared.insights.throttle import throttle_ref
from shared.store.conversations import conversation_ref, tenant_ref
from tests.unit.insights import NOW, conversation_document, make_agent, make_conversation

THREADS = 8


@pytest.fixture
def client(local_stack: LocalStack) -> Any:
    return firestore.Client(project=local_stack.project_id)


def world(client: Any, agent_spec: dict[str, Any], conversations: int = 1) -> tuple[str, Any]:
    """Store a tenant with one agent and some conversations; return the tenant and the runner."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    tenant_ref(client, tenant).set({"name": "Clínica", "timezone": "America/Sao_Paulo"})
    agent: InsightAgent = make_agent("coach", tenant_id=tenant, **agent_spec)
    tenant_ref(client, tenant).collection("insight_agents").document("coach").set(
        agent.model_dump(mode="python", exclude={"agent_id", "tenant_id"})
    )
    for index in range(conversations):
        conversation = make_conversation(f"conv-{index}", tenant_id=tenant)
        conversation_ref(client, tenant, conversation.conversation_id).set(
            conversation_document(conversation)
        )
    return tenant, InsightRunner(firestore=client, now=lambda: NOW)


def at_once(calls: list[Callable[[], list[Insight]]]) -> list[list[Insight]]:
    """Run the calls on THREADS threads at the same time."""
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(lambda call: call(), calls))


def stored_insights(client: Any, tenant: str) -> list[Insight]:
    return [
        Insight.model_validate(snapshot.to_dict())
        for snapshot in tenant_ref(client, tenant).collection("insights").stream()
    ]


def lead_message(tenant: str, conversation_id: str, seq: int) -> Any:
    return message_event(
        tenant_id=tenant,
        conversation_id=conversation_id,
        inbound_seq=seq,
        message_id=f"wamid.{seq}",
        text="Achei caro, vou pensar",
        occurred_at=NOW,
    )


def test_concurrent_events_on_one_conversation_make_one_insight(client: Any) -> None:
    trigger = {
        "trigger_id": "t1",
        "event": "NEW_MESSAGE_RECEIVED",
        "max_per_conversation": 1,
        "conversation_window_minutes": 60,
    }
    tenant, runner = world(client, {"triggers": [trigger]})
    events = [lead_message(tenant, "conv-0", seq) for seq in range(1, THREADS + 1)]

    results = at_once([lambda event=event: runner.handle(event) for event in events])

    assert sorted(len(result) for result in results) == [0] * (THREADS - 1) + [1]
    (insight,) = stored_insights(client, tenant)
    assert insight.status is InsightStatus.SUGGESTION
    window = throttle_ref(client, tenant, "coach~t1~c~conv-0").get().to_dict()
    assert len(window["runs"]) == 1


def test_a_daily_limit_holds_across_concurrent_conversations(client: Any) -> None:
    trigger = {"trigger_id": "t1", "event": "NEW_MESSAGE_RECEIVED", "max_per_day": 3}
    tenant, runner = world(client, {"triggers": [trigger]}, conversations=THREADS)
    events = [lead_message(tenant, f"conv-{index}", 1) for index in range(THREADS)]

    results = at_once([lambda event=event: runner.handle(event) for event in events])

    assert sum(len(result) for result in results) == 3
    assert len(stored_insights(client, tenant)) == 3
    daily = throttle_ref(client, tenant, "coach~t1~d~2026-03-10").get().to_dict()
    assert daily["count"] == 3


def test_a_redelivered_event_neither_runs_twice_nor_counts_twice(client: Any) -> None:
    trigger = {
        "trigger_id": "t1",
        "event": "NEW_MESSAGE_RECEIVED",
        "max_per_conversation": 5,
        "max_per_day": 5,
    }
    tenant, runner = world(client, {"triggers": [trigger]})
    event = lead_message(tenant, "conv-0", 7)

    concurrent = at_once([lambda: runner.handle(event)] * THREADS)
    later = runner.handle(event)

    (insight,) = stored_insights(client, tenant)
    assert insight.status is InsightStatus.SUGGESTION
    assert all(result == [] or result[0].insight_id == insight.insight_id for result in concurrent)
    assert later == [insight]
    window = throttle_ref(client, tenant, "coach~t1~c~conv-0").get().to_dict()
    daily = throttle_ref(client, tenant, "coach~t1~d~2026-03-10").get().to_dict()
    assert (len(window["runs"]), daily["count"]) == (1, 1)
