"""Plan limits on the whole local stack: over quota or unpaid, conversations go to a human.

Two workspaces besides the demo clinic, seeded with billing accounts without Stripe: one on
Starter (1,000 replies a month + 10% grace: the agent hands over from 1,100) whose month already
counts 1,099 replies, and one whose subscription was canceled. Leads write through the provider
simulator; the turn function's billing check decides before any model call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from emulators.loop import PilotoLoop
from emulators.simulator import ProviderSimulator
from emulators.stack import LocalStack
from shared.billing.usage import month_key, month_replies, record_replies
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from tests.integration.insights.support import demo_copy, loop_with
from tests.integration.test_e2e import new_phone, wait_until

QUOTA_TENANT = "it-quota-starter"
QUOTA_CHANNEL = "it-quota-meta"
CANCELED_TENANT = "it-quota-canceled"
CANCELED_CHANNEL = "it-canceled-meta"
TIMEZONE = "America/Sao_Paulo"
QUESTION = "Oi, quanto custa a limpeza de pele?"


@pytest.fixture(scope="module")
def loop(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PilotoLoop]:
    """The demo seed plus a Starter workspace near its ceiling and a canceled one."""
    starter = demo_copy(
        QUOTA_TENANT,
        "Clínica no limite (teste)",
        [{"provider": "meta", "channel_id": QUOTA_CHANNEL, "business_phone": "+5511990000071"}],
        billing={"plan_id": "starter", "status": "active"},
    )
    canceled = demo_copy(
        CANCELED_TENANT,
        "Clínica cancelada (teste)",
        [{"provider": "meta", "channel_id": CANCELED_CHANNEL, "business_phone": "+5511990000072"}],
        billing={"plan_id": "starter", "status": "canceled"},
    )
    runtime = tmp_path_factory.mktemp("quota")
    with loop_with(local_stack, runtime, [starter, canceled]) as running:
        yield running


@pytest.fixture
def simulator(loop: PilotoLoop) -> ProviderSimulator:
    assert loop.simulator is not None
    return loop.simulator


@pytest.fixture
def client(loop: PilotoLoop) -> Any:
    return firestore.Client(project=loop.project_id)


def decided(client: Any, tenant: str, phone: str) -> tuple[str, dict[str, Any]] | None:
    """Return the lead's conversation id and its latest decision, once there is one."""
    contact = contact_ref(client, tenant, phone).get()
    conversation_id = (contact.to_dict() or {}).get("current_conversation_id")
    if not conversation_id:
        return None
    decisions = list(
        conversation_ref(client, tenant, conversation_id).collection("decisions").stream()
    )
    if not decisions:
        return None
    latest = max((d.to_dict() for d in decisions), key=lambda d: d["decided_at"])
    return conversation_id, latest


def test_over_the_ceiling_the_lead_is_handed_to_a_human_and_the_owner_notified(
    simulator: ProviderSimulator, client: Any
) -> None:
    now = datetime.now(UTC)
    month = month_key(now, TIMEZONE)
    batch = client.batch()  # earlier this month: one reply short of the ceiling
    record_replies(batch, client, QUOTA_TENANT, now - timedelta(minutes=5), TIMEZONE, 1099)
    batch.commit()
    answered, over = new_phone(), new_phone()

    simulator.send_lead_message(QUOTA_CHANNEL, answered, QUESTION)
    simulator.wait_for(lambda message: message.to == answered, timeout=40)  # the 1,100th reply
    posted = simulator.send_lead_message(QUOTA_CHANNEL, over, QUESTION)

    assert posted.webhook_status == 200
    conversation_id, decision = wait_until(
        lambda: decided(client, QUOTA_TENANT, over), timeout=40, what="the over-quota decision"
    )
    assert (decision["action"], decision["reasons"], decision["messages"]) == (
        "handoff",
        ["quota_exceeded"],
        [],
    )
    assert decision.get("model") is None  # decided before any model call
    conversation = conversation_ref(client, QUOTA_TENANT, conversation_id).get().to_dict()
    assert conversation["status"] == "handoff"
    assert [m["text"] for m in conversation["window"]] == [QUESTION]  # kept, not dropped
    assert [m for m in simulator.outbox() if m.to == over] == []
    notice = (
        tenant_ref(client, QUOTA_TENANT)
        .collection("notices")
        .document(f"quota_exceeded-{month}")
        .get()
    )
    assert notice.exists
    assert (notice.get("quota"), notice.get("limit")) == ("agent_replies", 1000)
    assert notice.get("used") >= 1100
    # the answered lead counted; the handoff did not
    assert month_replies(client, QUOTA_TENANT, month) == 1100


def test_a_canceled_subscription_hands_every_lead_to_a_human(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()

    simulator.send_lead_message(CANCELED_CHANNEL, phone, QUESTION)

    conversation_id, decision = wait_until(
        lambda: decided(client, CANCELED_TENANT, phone), timeout=40, what="the decision"
    )
    assert (decision["action"], decision["reasons"], decision["messages"]) == (
        "handoff",
        ["subscription_inactive"],
        [],
    )
    conversation = conversation_ref(client, CANCELED_TENANT, conversation_id).get().to_dict()
    assert conversation["status"] == "handoff"
    assert [m for m in simulator.outbox() if m.to == phone] == []
    notices = [s.id for s in tenant_ref(client, CANCELED_TENANT).collection("notices").stream()]
    assert any(notice.startswith("service_stopped-canceled-") for notice in notices)
