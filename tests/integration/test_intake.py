"""Intake against the Firestore emulator: exactly-once, forward-only statuses, bounded window."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.intake import IntakeRules, take_in
from shared.models.conversation import ConversationStatus
from shared.models.events import (
    ContactRef,
    DeliveryStatus,
    LeadMessage,
    MessageContent,
    MessageType,
    SellerMessage,
    StatusUpdate,
)
from shared.store.conversations import contact_ref, conversation_ref, delivery_ref, tenant_ref
from tests.support.events import lead_message

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
RULES = IntakeRules(max_event_age=timedelta(hours=6), human_takeover=timedelta(minutes=30))
PHONE = "+5511987654321"


@pytest.fixture
def client(store: Any) -> Any:
    """Intake runs against both stores: the emulator and the simulator's in-process one."""
    return store


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def lead(tenant: str, message_id: str, text: str = "oi", at: datetime = NOW) -> LeadMessage:
    return lead_message(tenant, message_id, text, at, phone=PHONE)


def conversation_of(client: Any, tenant: str) -> dict[str, Any]:
    contact = contact_ref(client, tenant, PHONE).get().to_dict()
    document: dict[str, Any] = (
        conversation_ref(client, tenant, contact["current_conversation_id"]).get().to_dict()
    )
    return document


def test_a_lead_message_starts_a_conversation_and_makes_a_turn_due(
    client: Any, tenant: str
) -> None:
    outcome = take_in(client, lead(tenant, "wamid.1", "Quanto custa?"), now=NOW, rules=RULES)

    assert outcome.status == "recorded"
    assert outcome.turn_due and outcome.inbound_seq == 1
    conversation = conversation_of(client, tenant)
    assert conversation["status"] == "open"
    assert conversation["inbound_seq"] == 1
    assert conversation["window"][-1]["text"] == "Quanto custa?"
    assert conversation["window"][-1]["role"] == "lead"
    messages = list(
        conversation_ref(client, tenant, outcome.conversation_id).collection("messages").stream()
    )
    assert [m.id for m in messages] == ["wamid.1"]
    assert contact_ref(client, tenant, PHONE).get().get("name") == "Mariana"


def test_a_redelivered_event_changes_nothing(client: Any, tenant: str) -> None:
    take_in(client, lead(tenant, "wamid.1"), now=NOW, rules=RULES)
    before = conversation_of(client, tenant)

    again = take_in(client, lead(tenant, "wamid.1"), now=NOW + timedelta(seconds=30), rules=RULES)

    assert again.status == "duplicate"
    assert not again.turn_due
    assert conversation_of(client, tenant) == before


def test_concurrent_redeliveries_store_exactly_one_message(client: Any, tenant: str) -> None:
    event = lead(tenant, "wamid.race")

    def deliver(_: int) -> Any:
        try:
            return take_in(client, event, now=NOW, rules=RULES)
        except Exception as error:  # the push fails; Pub/Sub delivers the message again
            return error

    with ThreadPoolExecutor(max_workers=8) as pool:
        first_round = list(pool.map(deliver, range(8)))
    redelivered = [deliver(0) for outcome in first_round if isinstance(outcome, Exception)]
    outcomes = [o for o in first_round + redelivered if not isinstance(o, Exception)]

    assert len(outcomes) == 8, redelivered  # every delivery ended recorded or duplicate
    assert sorted(o.status for o in outcomes) == ["duplicate"] * 7 + ["recorded"]
    assert sum(o.turn_due for o in outcomes) == 1
    conversation = conversation_of(client, tenant)
    assert conversation["inbound_seq"] == 1
    stored = conversation_ref(client, tenant, conversation["conversation_id"]).collection(
        "messages"
    )
    assert len(list(stored.stream())) == 1


def test_a_burst_numbers_each_inbound(client: Any, tenant: str) -> None:
    for index, text in enumerate(["oi", "tudo bem?", "quanto custa?"]):
        outcome = take_in(
            client,
            lead(tenant, f"wamid.b{index}", text, NOW + timedelta(seconds=index)),
            now=NOW + timedelta(seconds=index),
            rules=RULES,
        )
        assert outcome.inbound_seq == index + 1


def test_stale_events_are_dropped_without_a_write(client: Any, tenant: str) -> None:
    old = lead(tenant, "wamid.old", at=NOW - timedelta(days=3))

    outcome = take_in(client, old, now=NOW, rules=RULES)

    assert outcome.status == "stale"
    assert outcome.reason == "stale_event"
    assert not contact_ref(client, tenant, PHONE).get().exists


def test_a_seller_message_makes_a_human_active(client: Any, tenant: str) -> None:
    take_in(client, lead(tenant, "wamid.1"), now=NOW, rules=RULES)
    seller = SellerMessage(
        event_id="evolution:seller_message:3EB0",
        provider="evolution",
        tenant_id=tenant,
        channel_id="ch-evo",
        occurred_at=NOW + timedelta(minutes=1),
        received_at=NOW + timedelta(minutes=1),
        message_id="3EB0",
        contact=ContactRef(phone=PHONE),
        content=MessageContent(message_type=MessageType.TEXT, text="Oi Mariana, aqui é a Paula"),
    )

    outcome = take_in(client, seller, now=NOW + timedelta(minutes=1), rules=RULES)

    assert outcome.status == "recorded"
    assert not outcome.turn_due
    conversation = conversation_of(client, tenant)
    assert conversation["human_active_until"] == NOW + timedelta(minutes=31)
    assert conversation["window"][-1]["role"] == "seller"
    assert conversation["inbound_seq"] == 1


def test_after_a_close_the_lead_starts_a_new_conversation(client: Any, tenant: str) -> None:
    first = take_in(client, lead(tenant, "wamid.1"), now=NOW, rules=RULES)
    conversation_ref(client, tenant, first.conversation_id).update(
        {"status": ConversationStatus.CLOSED.value, "close_reason": "rejection"}
    )

    second = take_in(client, lead(tenant, "wamid.2"), now=NOW + timedelta(days=1), rules=RULES)

    assert second.conversation_id != first.conversation_id
    closed = conversation_ref(client, tenant, first.conversation_id).get()
    assert closed.get("status") == "closed"  # never reopened
    assert conversation_of(client, tenant)["inbound_seq"] == 1


def test_after_an_opt_out_messages_join_the_closed_conversation_until_an_opt_in(
    client: Any, tenant: str
) -> None:
    first = take_in(client, lead(tenant, "wamid.1", "pare"), now=NOW, rules=RULES)
    conversation_ref(client, tenant, first.conversation_id).update(
        {"status": "closed", "close_reason": "opted_out"}
    )
    contact_ref(client, tenant, PHONE).update({"opted_out": True})

    silent = take_in(client, lead(tenant, "wamid.2", "oi?"), now=NOW, rules=RULES)
    back = take_in(client, lead(tenant, "wamid.3", "VOLTAR"), now=NOW, rules=RULES)

    assert silent.conversation_id == first.conversation_id
    assert back.conversation_id != first.conversation_id


def test_the_window_stays_bounded(client: Any, tenant: str) -> None:
    for index in range(25):
        moment = NOW + timedelta(seconds=index)
        take_in(
            client, lead(tenant, f"wamid.w{index}", f"m{index}", moment), now=moment, rules=RULES
        )

    conversation = conversation_of(client, tenant)
    assert len(conversation["window"]) == 20
    assert conversation["window"][-1]["text"] == "m24"
    assert conversation["window"][0]["text"] == "m5"
    assert conversation["summary"].splitlines() == [f"lead: m{index}" for index in range(5)]
    assert conversation["inbound_count"] == 25


def status(tenant: str, message_id: str, value: DeliveryStatus, minute: int) -> StatusUpdate:
    at = NOW + timedelta(minutes=minute)
    return StatusUpdate(
        event_id=f"meta:status_update:{message_id}:{value.value}",
        provider="meta",
        tenant_id=tenant,
        channel_id="ch-meta",
        occurred_at=at,
        received_at=at,
        message_id=message_id,
        status=value,
        contact=ContactRef(phone=PHONE),
        error_code="131047" if value is DeliveryStatus.FAILED else None,
    )


def test_statuses_only_move_forward_and_failed_is_terminal(client: Any, tenant: str) -> None:
    delivery = delivery_ref(client, tenant, "meta", "wamid.out1")
    delivery.set({"status": "sent", "ledger_key": "d1:0"})

    read = take_in(
        client, status(tenant, "wamid.out1", DeliveryStatus.READ, 2), now=NOW, rules=RULES
    )
    late = take_in(
        client, status(tenant, "wamid.out1", DeliveryStatus.DELIVERED, 1), now=NOW, rules=RULES
    )

    assert (read.status, late.status) == ("recorded", "ignored")
    assert delivery.get().get("status") == "read"
    assert delivery.get().get("read_at") == NOW + timedelta(minutes=2)

    delivery_2 = delivery_ref(client, tenant, "meta", "wamid.out2")
    delivery_2.set({"status": "sent"})
    take_in(client, status(tenant, "wamid.out2", DeliveryStatus.FAILED, 1), now=NOW, rules=RULES)
    take_in(client, status(tenant, "wamid.out2", DeliveryStatus.READ, 2), now=NOW, rules=RULES)
    assert delivery_2.get().get("status") == "failed"
    assert delivery_2.get().get("error_code") == "131047"


def test_a_status_for_an_unknown_message_is_recorded_and_ignored(client: Any, tenant: str) -> None:
    outcome = take_in(
        client, status(tenant, "wamid.never-sent", DeliveryStatus.READ, 1), now=NOW, rules=RULES
    )

    assert outcome.status == "ignored"
    unmatched = list(tenant_ref(client, tenant).collection("unmatched_statuses").stream())
    assert len(unmatched) == 1
    assert unmatched[0].get("message_id") == "wamid.never-sent"
    early = delivery_ref(client, tenant, "meta", "wamid.never-sent").get().to_dict()
    assert early["status"] == "read"  # kept for the sender, should the status have overtaken it
    assert early["outbound_key"] is None


def test_statuses_move_the_senders_ledger_and_a_failure_flags_the_conversation(
    client: Any, tenant: str
) -> None:
    opened = take_in(client, lead(tenant, "wamid.1"), now=NOW, rules=RULES)
    ledger = tenant_ref(client, tenant).collection("outbound").document("d1:0")
    ledger.set({"status": "sent"})
    for message_id in ("wamid.out1", "wamid.out2"):
        delivery_ref(client, tenant, "meta", message_id).set(
            {
                "status": "sent",
                "outbound_key": "d1:0" if message_id == "wamid.out1" else None,
                "conversation_id": opened.conversation_id,
            }
        )

    take_in(client, status(tenant, "wamid.out1", DeliveryStatus.DELIVERED, 1), now=NOW, rules=RULES)
    assert ledger.get().get("status") == "delivered"
    assert not conversation_of(client, tenant)["needs_human"]

    take_in(client, status(tenant, "wamid.out2", DeliveryStatus.FAILED, 2), now=NOW, rules=RULES)
    conversation = conversation_of(client, tenant)
    assert conversation["needs_human"]
    assert conversation["attention_reason"] == "delivery_failed:131047"


def seller_message(tenant: str, message_id: str, text: str, at: datetime) -> SellerMessage:
    return SellerMessage(
        event_id=f"evolution:seller_message:{message_id}",
        provider="evolution",
        tenant_id=tenant,
        channel_id="ch-evo",
        occurred_at=at,
        received_at=at,
        message_id=message_id,
        contact=ContactRef(phone=PHONE),
        content=MessageContent(message_type=MessageType.TEXT, text=text),
    )


def test_the_gateways_echo_of_pilotos_own_send_is_not_a_seller(client: Any, tenant: str) -> None:
    opened = take_in(client, lead(tenant, "wamid.1"), now=NOW, rules=RULES)
    reply_at = NOW + timedelta(seconds=10)
    conversation = conversation_ref(client, tenant, opened.conversation_id)
    window = [*conversation.get().get("window"), {"role": "agent", "text": "Olá!", "at": reply_at}]
    conversation.update({"window": window})
    delivery_ref(client, tenant, "evolution", "EVO-SENT").set(
        {"status": "sent", "outbound_key": "d1:0"}
    )

    by_id = take_in(
        client, seller_message(tenant, "EVO-SENT", "other text", reply_at), now=NOW, rules=RULES
    )
    by_text = take_in(  # the echo overtook the provider's answer: no delivery record yet
        client, seller_message(tenant, "EVO-RACE", "Olá!", reply_at), now=NOW, rules=RULES
    )
    seller = take_in(
        client,
        seller_message(tenant, "EVO-HUMAN", "Oi, aqui é a Paula", reply_at),
        now=NOW,
        rules=RULES,
    )

    assert (by_id.status, by_text.status, seller.status) == ("ignored", "ignored", "recorded")
    document = conversation_of(client, tenant)
    assert [entry["role"] for entry in document["window"]] == ["lead", "agent", "seller"]
    assert document["human_active_until"] == reply_at + timedelta(minutes=30)


def test_an_opt_out_is_recorded_on_the_contact_at_once(client: Any, tenant: str) -> None:
    take_in(client, lead(tenant, "wamid.1", "Oi, quanto custa?"), now=NOW, rules=RULES)
    assert not contact_ref(client, tenant, PHONE).get().get("opted_out")

    take_in(client, lead(tenant, "wamid.2", "Pare de me mandar mensagem"), now=NOW, rules=RULES)

    contact = contact_ref(client, tenant, PHONE).get()
    assert contact.get("opted_out")
    assert conversation_of(client, tenant)["contact_opted_out"]
