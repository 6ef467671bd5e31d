"""The whole loop, end to end: provider webhook in, reply out to the provider, statuses back.

Everything is real except the providers: the Firestore, Pub/Sub and Cloud Tasks emulators, every
function served by functions-framework over HTTP (webhook, agent, turn, sender, followup), the
offline model, and the provider simulator standing in for Meta, Twilio, Evolution API and Z-API
(signed webhooks in, validated send requests out, status webhooks back).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from emulators.dev import load_env_file
from emulators.loop import PilotoLoop
from emulators.simulator import OutboxMessage, ProviderSimulator
from emulators.stack import LocalStack
from shared.integrations.models import BusinessEvent, BusinessEventType
from shared.integrations.outbox import event_ref, stage_events
from shared.ratelimit import limit_ref
from shared.store.conversations import contact_ref, conversation_ref

TENANT = "demo-clinica"
PROVIDERS = ("meta", "twilio", "evolution", "zapi")
QUESTION = "Oi! Quanto custa a limpeza de pele?"


@pytest.fixture(scope="module")
def loop(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PilotoLoop]:
    """The demo tenant's loop on the session's emulators; quiet hours off, a 1-second debounce."""
    secrets = {key: value for key, value in load_env_file().items() if "_DEMO_" in key}
    with PilotoLoop(
        project_id=local_stack.project_id,
        runtime_dir=tmp_path_factory.mktemp("e2e"),
        env=secrets,
        agent={"quiet_hours": {"start": "00:00", "end": "00:00"}, "debounce_seconds": 1},
        stack=local_stack,
    ) as running:
        yield running


@pytest.fixture
def simulator(loop: PilotoLoop) -> Iterator[ProviderSimulator]:
    assert loop.simulator is not None
    yield loop.simulator
    loop.simulator.faults.clear()


@pytest.fixture
def client(loop: PilotoLoop) -> Any:
    return firestore.Client(project=loop.project_id)


def new_phone() -> str:
    """Return a lead phone no other test uses (every test is a different lead)."""
    return f"+55119{uuid.uuid4().int % 10**8:08d}"


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "the loop") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def conversation(client: Any, phone: str) -> dict[str, Any]:
    contact = contact_ref(client, TENANT, phone).get().to_dict() or {}
    conversation_id = contact.get("current_conversation_id")
    if not conversation_id:
        return {}
    return conversation_ref(client, TENANT, conversation_id).get().to_dict() or {}


def ledger(client: Any, phone: str) -> list[dict[str, Any]]:
    """Return the sender's ledger records for this lead's conversation."""
    conversation_id = conversation(client, phone).get("conversation_id")
    records = (
        client.collection("tenants")
        .document(TENANT)
        .collection("outbound")
        .where(filter=firestore.FieldFilter("conversation_id", "==", conversation_id))
        .stream()
    )
    return [record.to_dict() for record in records]


def decisions(client: Any, phone: str) -> list[dict[str, Any]]:
    found = conversation(client, phone)
    if not found:
        return []
    stream = (
        conversation_ref(client, TENANT, found["conversation_id"]).collection("decisions").stream()
    )
    return sorted((item.to_dict() for item in stream), key=lambda item: item["decided_at"])


def replies(simulator: ProviderSimulator, phone: str) -> list[OutboxMessage]:
    return simulator.outbox(to=phone)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_lead_gets_an_answer_and_its_statuses_come_back(
    simulator: ProviderSimulator, client: Any, provider: str
) -> None:
    phone = new_phone()

    posted = simulator.send_lead_message(f"demo-{provider}", phone, QUESTION, name="Mariana")

    assert posted.webhook_status == 200
    reply = simulator.wait_for(lambda message: message.to == phone, timeout=40)
    assert reply.provider == provider
    assert "180" in (reply.text or "")  # the price comes from the clinic's business facts
    record = wait_until(
        lambda: next((r for r in ledger(client, phone) if r["status"] == "read"), None),
        what="the read status to reach the ledger",
    )
    assert record["provider_message_id"] == reply.provider_message_id
    assert [d["action"] for d in decisions(client, phone)] == ["speak"]
    state = conversation(client, phone)
    assert state["human_active_until"] is None  # the gateways' echo of the reply is no seller
    assert state["followup_due_at"] is not None  # the cadence's first step is scheduled


def test_duplicate_webhooks_and_out_of_order_statuses_change_nothing(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()
    simulator.add_fault("duplicate_webhooks", provider="meta")
    simulator.add_fault("out_of_order_statuses", provider="meta")

    simulator.send_lead_message("demo-meta", phone, QUESTION, name="Mariana")

    simulator.wait_for(lambda message: message.to == phone, timeout=40)
    wait_until(lambda: any(r["status"] == "read" for r in ledger(client, phone)))
    time.sleep(3)  # room for a second reply or a status moving back, were there one
    assert len(replies(simulator, phone)) == 1
    assert len(decisions(client, phone)) == 1
    assert [record["status"] for record in ledger(client, phone)] == ["read"]
    assert conversation(client, phone)["inbound_count"] == 1


def test_a_rate_limit_is_retried_and_the_message_goes_once(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()
    simulator.add_fault("rate_limit", provider="twilio", count=1)

    simulator.send_lead_message("demo-twilio", phone, QUESTION, name="Mariana")

    simulator.wait_for(lambda message: message.to == phone, timeout=40)
    record = wait_until(lambda: next((r for r in ledger(client, phone) if r.get("attempts")), None))
    assert record["attempts"] == 2
    time.sleep(2)
    assert len(replies(simulator, phone)) == 1


def test_server_errors_exhaust_the_retries_and_flag_the_conversation(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()
    simulator.add_fault("server_error", provider="zapi")

    simulator.send_lead_message("demo-zapi", phone, QUESTION, name="Mariana")

    record = wait_until(
        lambda: next((r for r in ledger(client, phone) if r["status"] == "failed"), None),
        timeout=60,
        what="the send to fail",
    )
    assert record["attempts"] == 4
    assert record["error_code"].startswith("http_5")
    state = conversation(client, phone)
    assert state["needs_human"]
    assert state["attention_reason"].startswith("send_failed:")
    assert replies(simulator, phone) == []


def test_an_opt_out_between_decision_and_send_stops_the_reply(
    loop: PilotoLoop, simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()
    # The channel's send slots are taken for the next seconds: the reply waits in the sender.
    limit_ref(client, "demo-evolution").set(
        {"tat": datetime.now(UTC) + timedelta(seconds=8), "updated_at": datetime.now(UTC)}
    )

    simulator.send_lead_message("demo-evolution", phone, QUESTION, name="Mariana")
    wait_until(lambda: decisions(client, phone), what="the first decision")
    simulator.send_lead_message("demo-evolution", phone, "Pare de me mandar mensagem", name="M")

    wait_until(lambda: len(ledger(client, phone)) >= 2, timeout=60, what="both sends to settle")
    wait_until(lambda: all(r["status"] != "queued" for r in ledger(client, phone)), timeout=30)
    by_decision = {record["decision_id"]: record for record in ledger(client, phone)}
    first, second = decisions(client, phone)
    assert by_decision[first["decision_id"]]["status"] == "held"
    assert "opted_out" in by_decision[first["decision_id"]]["reasons"]
    assert second["action"] == "close"
    texts = [message.text for message in replies(simulator, phone)]
    assert texts == [second["messages"][0]["text"]]  # only the one acknowledgement


def test_a_handoff_tells_the_lead_once_and_then_the_agent_stays_out(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()

    simulator.send_lead_message("demo-meta", phone, "Quero falar com um atendente", name="Ana")

    told = simulator.wait_for(lambda message: message.to == phone, timeout=40)
    assert "equipe" in (told.text or "") or "pessoa" in (told.text or "")
    wait_until(lambda: conversation(client, phone).get("status") == "handoff")
    simulator.send_lead_message("demo-meta", phone, "Oi? Alguém aí?", name="Ana")
    wait_until(lambda: len(decisions(client, phone)) == 2, what="the second decision")
    second = decisions(client, phone)[1]
    assert second["action"] == "stay_silent"
    assert "handoff_requested" in second["reasons"]
    time.sleep(2)
    assert len(replies(simulator, phone)) == 1


def test_the_outbox_run_publishes_an_event_whose_publish_failed_and_integrations_takes_it_in(
    loop: PilotoLoop, client: Any
) -> None:
    tenant = "t-outbox-" + uuid.uuid4().hex[:8]
    now = datetime.now(UTC)

    def lost(name: str, minutes_ago: int) -> BusinessEvent:
        return BusinessEvent(
            event_id=f"conv-{name}.lost",
            type=BusinessEventType.CONVERSATION_LOST,
            tenant_id=tenant,
            occurred_at=now - timedelta(minutes=minutes_ago),
            source="seller",
            conversation_id=f"conv-{name}",
        )

    due, fresh = lost("due", 10), lost("fresh", 1)  # the fresh one's publish may be on its way
    batch = client.batch()  # committed like an admin close whose publish then failed
    stage_events(batch, client, [due, fresh], "close:outbox-e2e")
    batch.commit()

    def stored(event: BusinessEvent) -> dict[str, Any]:
        return event_ref(client, tenant, event.event_id).get().to_dict() or {}

    loop.run_outbox()  # what Cloud Scheduler does every 5 minutes

    # the outbox function published it, Pub/Sub pushed it to integrations, which took it in
    taken_in = wait_until(lambda: stored(due).get("published_at"), what="integrations to take in")
    assert taken_in >= now and stored(due)["sweeps"] == 1
    assert stored(fresh)["published_at"] is None and "swept_at" not in stored(fresh)
