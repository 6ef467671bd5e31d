"""Follow-ups on the emulators: Cloud Tasks delivers a step to functions/followup over HTTP.

A turn (in-process, offline model) answers a lead and puts the cadence's first step on the
Cloud Tasks emulator; at its time the emulator POSTs it to the follow-up function
(functions-framework), which sends a proactive nudge to outbound-messages. A lead who wrote in
between makes the step a no-op, a redelivered step sends nothing, a malformed body is a 400.
The turn's inactivity check arrives the same way: two (fast) hours after the last message it
records INACTIVITY_2H and publishes it to the insight events topic for a tenant that listens.
``PILOTO_CLOCK_SPEED`` turns the 1h delay into one second.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import httpx
import pytest
from google.cloud import firestore

from emulators.stack import LocalStack, free_port
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.events.tasks import FollowupRequest, TaskScheduler, TurnRequest
from shared.intake import IntakeRules, take_in
from shared.models.decision import Decision
from shared.models.tenant import AgentSettings, QuietHours
from shared.store.conversations import conversation_ref, tenant_ref
from shared.turns import TurnRunner
from tests.integration.test_engine_loop import serve
from tests.support.events import lead_message

CLOCK_SPEED = 3600.0  # one hour of cadence is one second
SETTINGS = AgentSettings(
    business_facts={"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"},
    qualification_fields=["nome"],
    followups=["1h", "1000d"],  # the second step lands hours after the test
    quiet_hours=QuietHours(start="00:00", end="00:00"),  # type: ignore[arg-type]  # none
)
RULES = IntakeRules(max_event_age=timedelta(hours=6), human_takeover=timedelta(minutes=30))


@dataclass
class FollowupStack:
    """The served follow-up function, its queue, and a tap on outbound-messages."""

    url: str
    queue: str
    outbound_tap: str
    project_id: str
    tasks_host: str
    stash: dict[str, list[dict[str, Any]]]
    insight_tap: str = ""

    def pull(
        self, tenant: str, timeout: float, subscription: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the messages of a tenant published so far (outbound unless another tap is
        named), waiting up to ``timeout``."""
        tap = subscription or self.outbound_tap
        key = f"{tap} {tenant}"
        subscriber = pubsub_v1.SubscriberClient()
        deadline = time.monotonic() + timeout
        try:
            while not self.stash.get(key) and time.monotonic() < deadline:
                response = subscriber.pull(
                    request={"subscription": tap, "max_messages": 20},
                    timeout=max(deadline - time.monotonic(), 0.5),
                )
                if response.received_messages:
                    subscriber.acknowledge(
                        request={
                            "subscription": tap,
                            "ack_ids": [m.ack_id for m in response.received_messages],
                        }
                    )
                for received in response.received_messages:
                    body = json.loads(received.message.data)
                    body["attributes"] = dict(received.message.attributes)
                    self.stash.setdefault(f"{tap} {body['tenant_id']}", []).append(body)
        except Exception as error:  # the emulator answers an empty pull with DEADLINE_EXCEEDED
            if "Deadline" not in type(error).__name__:
                raise
        finally:
            subscriber.close()
        return self.stash.pop(key, [])


@pytest.fixture(scope="module")
def stack(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FollowupStack]:
    from google.cloud import tasks_v2

    project = local_stack.project_id
    suffix = uuid.uuid4().hex[:8]
    tasks_host = local_stack.emulators["tasks"].host_port
    parent = f"projects/{project}/locations/southamerica-east1"
    queue = f"{parent}/queues/followups-{suffix}"
    TaskScheduler(queue_path=queue, emulator_host=tasks_host)._client.create_queue(
        parent=parent, queue=tasks_v2.Queue(name=queue)
    )
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = f"outbound-{suffix}"
    publisher.create_topic(name=publisher.topic_path(project, topic))
    tap = subscriber.subscription_path(project, f"outbound-tap-{suffix}")
    subscriber.create_subscription(
        request={"name": tap, "topic": publisher.topic_path(project, topic)}
    )
    insight_topic = f"insight-events-{suffix}"
    publisher.create_topic(name=publisher.topic_path(project, insight_topic))
    insight_tap = subscriber.subscription_path(project, f"insight-tap-{suffix}")
    subscriber.create_subscription(
        request={"name": insight_tap, "topic": publisher.topic_path(project, insight_topic)}
    )
    subscriber.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        **local_stack.env(),
        "PILOTO_OUTBOUND_TOPIC": topic,
        "PILOTO_INSIGHT_TOPIC": insight_topic,
        "PILOTO_INSIGHT_INDEX_CACHE_SECONDS": "0",
        "PILOTO_FOLLOWUP_QUEUE": queue,
        "PILOTO_FOLLOWUP_URL": url,
        "PILOTO_CLOCK_SPEED": str(CLOCK_SPEED),
        "PILOTO_LLM": "offline",
    }
    process, _ = serve("followup", "http", env, tmp_path_factory.mktemp("followup"), port=port)
    try:
        yield FollowupStack(url, queue, tap, project, tasks_host, {}, insight_tap)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)


class Lead:
    """A tenant on the emulator whose lead asks a question the turn answers (cadence started)."""

    def __init__(self, stack: FollowupStack, *, schedule: bool = True) -> None:
        self.client = firestore.Client(project=stack.project_id)
        self.tenant = f"t-{uuid.uuid4().hex[:8]}"
        tenant_ref(self.client, self.tenant).set({"name": "Clínica", "timezone": "UTC"})
        tenant_ref(self.client, self.tenant).collection("settings").document("agent").set(
            SETTINGS.model_dump(mode="json")
        )
        scheduler = TaskScheduler(queue_path=stack.queue, emulator_host=stack.tasks_host)
        self.scheduled: list[FollowupRequest] = []

        def schedule_followup(request: FollowupRequest, at: datetime) -> None:
            self.scheduled.append(request)
            if schedule:
                scheduler.schedule_followup(stack.url, request, at)

        self.turns = TurnRunner(
            firestore=self.client,
            decide=graph_decider(OfflineChatModel(), lambda tenant: "UTC"),
            load_settings=lambda tenant: (SETTINGS, "UTC"),
            deliver=lambda conversation, decision: None,
            schedule_followup=schedule_followup,
            clock_speed=CLOCK_SPEED,
        )
        self.count = 0

    def says(self, text: str) -> TurnRequest:
        self.count += 1
        now = datetime.now(UTC)
        event = lead_message(self.tenant, f"wamid.{self.tenant}.{self.count}", text, now)
        outcome = take_in(self.client, event, now=now, rules=RULES)
        assert outcome.conversation_id and outcome.inbound_seq
        return TurnRequest(self.tenant, outcome.conversation_id, outcome.inbound_seq)

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        document: dict[str, Any] = (
            conversation_ref(self.client, self.tenant, conversation_id).get().to_dict()
        )
        return document

    def followup_decisions(self, conversation_id: str) -> list[Decision]:
        collection = conversation_ref(self.client, self.tenant, conversation_id).collection(
            "decisions"
        )
        found = [Decision.model_validate(d.to_dict()) for d in collection.stream()]
        return [decision for decision in found if decision.specialist == "followup"]


def test_a_due_step_arrives_through_cloud_tasks_and_a_proactive_nudge_is_published(
    stack: FollowupStack,
) -> None:
    lead = Lead(stack)
    turn = lead.says("Oi, quanto custa a limpeza de pele?")
    assert lead.turns.run(turn).status == "decided"
    [check, request] = lead.scheduled
    assert (check.kind, request.kind) == ("inactivity", "followup")

    published = stack.pull(lead.tenant, timeout=20)

    assert len(published) == 1, "no follow-up on outbound-messages within 20 s"
    outbound = published[0]
    assert outbound["conversation_id"] == turn.conversation_id
    assert outbound["message"]["proactive"] is True
    assert "limpeza de pele" in outbound["message"]["text"]
    assert outbound["attributes"]["key"] == outbound["key"] == f"{outbound['decision_id']}:0"
    [decision] = lead.followup_decisions(turn.conversation_id)
    assert decision.decision_id == outbound["decision_id"]
    assert decision.reasons == ["followup_due"]
    conversation = lead.conversation(turn.conversation_id)
    assert conversation["followups_sent"] == 1
    assert conversation["followup_step"] == request.step + 1

    again = httpx.post(stack.url, content=request.to_json(), timeout=10)  # a redelivery

    assert again.status_code == 200
    assert (again.json()["status"], again.json()["reason"]) == ("skipped", "already_done")
    assert stack.pull(lead.tenant, timeout=1) == []
    assert len(lead.followup_decisions(turn.conversation_id)) == 1
    assert lead.conversation(turn.conversation_id)["followups_sent"] == 1


def test_a_lead_who_wrote_in_between_makes_the_step_a_no_op(stack: FollowupStack) -> None:
    lead = Lead(stack, schedule=False)
    turn = lead.says("Oi, quanto custa a limpeza de pele?")
    lead.turns.run(turn)
    [_, request] = lead.scheduled  # the inactivity check, then the cadence's first step
    lead.says("e vocês atendem sábado?")  # its turn is still in the debounce

    response = httpx.post(stack.url, content=request.to_json(), timeout=10)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["reason"]) == ("skipped", "lead_replied")
    assert lead.followup_decisions(turn.conversation_id) == []
    assert lead.conversation(turn.conversation_id)["followups_sent"] == 0
    assert stack.pull(lead.tenant, timeout=1) == []


def test_an_idle_conversation_is_recorded_and_published_for_a_listening_tenant(
    stack: FollowupStack,
) -> None:
    lead = Lead(stack)
    tenant_ref(lead.client, lead.tenant).collection("settings").document("insights").set(
        {"events": ["INACTIVITY_2H"]}
    )
    turn = lead.says("Oi, quanto custa a limpeza de pele?")
    assert lead.turns.run(turn).status == "decided"

    # The nudge 1 s later is activity: the check, due 2 s after the reply, waits 2 s after it.
    [published] = stack.pull(lead.tenant, timeout=20, subscription=stack.insight_tap)

    conversation = lead.conversation(turn.conversation_id)
    assert conversation["followups_sent"] == 1
    idle_since = conversation["last_outbound_at"]
    key = idle_since.isoformat(timespec="microseconds")
    assert published["event_id"] == f"idle:{turn.conversation_id}:{key}"
    assert (published["type"], published["conversation_id"]) == (
        "INACTIVITY_2H",
        turn.conversation_id,
    )
    assert published["attributes"] == {
        "tenant_id": lead.tenant,
        "type": "INACTIVITY_2H",
        "event_id": published["event_id"],
    }
    trigger = (
        tenant_ref(lead.client, lead.tenant)
        .collection("trigger_events")
        .document(f"{turn.conversation_id}:INACTIVITY_2H:{key}")
        .get()
        .to_dict()
    )
    assert trigger is not None
    assert (trigger["last_from"], trigger["event_id"]) == ("business", published["event_id"])
    assert stack.pull(lead.tenant, timeout=3, subscription=stack.insight_tap) == []  # once


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"tenant_id": "t", "conversation_id": "c", "generation": 1, "step": -1}'],
)
def test_a_malformed_body_is_a_400_with_the_reason(stack: FollowupStack, body: bytes) -> None:
    response = httpx.post(stack.url, content=body, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"].startswith("not a follow-up request")


def test_only_post_is_accepted(stack: FollowupStack) -> None:
    assert httpx.get(stack.url, timeout=10).status_code == 405
