"""The engine's whole loop on the emulators, every function served over real HTTP.

A lead message published on a conversation-events topic is pushed to the agent function, taken
in, scheduled on Cloud Tasks, delivered to the turn function after the debounce, decided by the
LangGraph turn (offline model), recorded in Firestore, and handed to outbound-messages.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import pytest
from google.cloud import firestore

from emulators.loop import serve_function, wait_for_function
from emulators.stack import LocalStack, free_port
from shared.events.tasks import TaskScheduler
from shared.models.events import (
    event_to_json,
)
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from tests.support.events import lead_message

ROOT = Path(__file__).resolve().parents[2]


def serve(
    name: str, signature: str, env: dict[str, str], logs: Path, port: int | None = None
) -> tuple[Any, str]:
    """Start one function with functions-framework (on ``port`` if given); return it and its URL."""
    port = port or free_port()
    process = serve_function(name, signature, port, env, logs)
    url = f"http://127.0.0.1:{port}/"
    wait_for_function(url, process, name)
    return process, url


@pytest.fixture(scope="module")
def loop(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Serve agent and turn; push a topic to the agent; tap outbound-messages."""
    from google.cloud import tasks_v2

    project = local_stack.project_id
    suffix = uuid.uuid4().hex[:8]
    parent = f"projects/{project}/locations/southamerica-east1"
    queue = f"{parent}/queues/loop-{suffix}"
    TaskScheduler(
        queue_path=queue, emulator_host=local_stack.emulators["tasks"].host_port
    )._client.create_queue(parent=parent, queue=tasks_v2.Queue(name=queue))
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    outbound_topic = f"outbound-{suffix}"
    publisher.create_topic(name=publisher.topic_path(project, outbound_topic))
    outbound_tap = subscriber.subscription_path(project, f"outbound-tap-{suffix}")
    subscriber.create_subscription(
        request={"name": outbound_tap, "topic": publisher.topic_path(project, outbound_topic)}
    )
    logs = tmp_path_factory.mktemp("loop")
    env = {**os.environ, **local_stack.env(), "PILOTO_OUTBOUND_TOPIC": outbound_topic}
    turn, turn_url = serve("turn", "http", env, logs)
    agent, agent_url = serve(
        "agent",
        "cloudevent",
        {**env, "PILOTO_TASKS_QUEUE": queue, "PILOTO_TURN_URL": turn_url},
        logs,
    )
    events_topic = publisher.topic_path(project, f"events-{suffix}")
    publisher.create_topic(name=events_topic)
    push = subscriber.subscription_path(project, f"agent-{suffix}")
    subscriber.create_subscription(
        request={"name": push, "topic": events_topic, "push_config": {"push_endpoint": agent_url}}
    )
    try:
        yield {"events_topic": events_topic, "outbound_tap": outbound_tap}
    finally:
        for process in (agent, turn):
            os.killpg(process.pid, 15)
            process.wait(timeout=10)
        subscriber.close()


def test_a_lead_message_becomes_a_recorded_decision_and_an_outbound_message(
    local_stack: LocalStack, loop: dict[str, str]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    client = firestore.Client(project=local_stack.project_id)
    tenant_ref(client, tenant).set({"name": "Loop", "timezone": "America/Sao_Paulo"})
    tenant_ref(client, tenant).collection("settings").document("agent").set(
        {
            "debounce_seconds": 1,
            "business_facts": {"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"},
        }
    )
    now = datetime.now(UTC)
    event = lead_message(tenant, f"wamid.{tenant}", "Quanto custa a limpeza de pele?", now)
    pubsub_v1.PublisherClient().publish(loop["events_topic"], event_to_json(event)).result(
        timeout=10
    )

    subscriber = pubsub_v1.SubscriberClient()
    received: list[Any] = []
    deadline = time.monotonic() + 45
    while not received and time.monotonic() < deadline:
        response = subscriber.pull(
            request={"subscription": loop["outbound_tap"], "max_messages": 10}, timeout=10
        )
        received = list(response.received_messages)
    subscriber.close()

    assert received, "no outbound message within 45 s"
    outbound = json.loads(received[0].message.data)
    assert outbound["tenant_id"] == tenant
    assert "180" in outbound["message"]["text"]
    assert received[0].message.attributes["key"] == outbound["key"]
    contact = contact_ref(client, tenant, "+5511987654321").get()
    conversation = conversation_ref(client, tenant, contact.get("current_conversation_id"))
    decisions = [d.to_dict() for d in conversation.collection("decisions").stream()]
    assert [d["action"] for d in decisions] == ["speak"]
    assert decisions[0]["decision_id"] == outbound["decision_id"]
    assert decisions[0]["model"] == "offline-keywords-v1"
    assert conversation.get().get("answered_seq") == 1
