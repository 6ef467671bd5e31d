"""The sender's rules on the in-process store: at most once, the policy at send time, the ledger.

Providers answer through ``httpx.MockTransport`` (the adapters' HTTP shape is covered against a
loopback server in ``tests/unit/channels/test_sending.py`` and against the provider simulator in
the end-to-end tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.channels.sending import RetryPolicy
from shared.models.channel import Channel
from shared.models.conversation import Contact, Conversation, ConversationStatus
from shared.models.decision import OutboundMessage
from shared.models.tenant import AgentSettings
from shared.ratelimit import SendRate, send_rate
from shared.sender import OutboundJob, Sender
from shared.store.conversations import (
    contact_ref,
    conversation_ref,
    delivery_ref,
    message_ref,
    outbound_ledger_ref,
)
from shared.store.memory import MemoryFirestore

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 12:00 in São Paulo: outside quiet hours
TENANT = "clinica"
LEAD = "+5511987654321"

Responder = Callable[[httpx.Request], httpx.Response]


def meta_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"messages": [{"id": f"wamid.{len(request.content)}"}]})


def meta_error(code: int, status: int = 400) -> Responder:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": "no"}})

    return answer


class World:
    """One tenant, one channel, one conversation, and a provider that records what it got."""

    def __init__(self, responder: Responder = meta_ok, provider: str = "meta", **config: Any):
        self.firestore = MemoryFirestore()
        self.requests: list[httpx.Request] = []
        self.responders: list[Responder] = [responder]
        self.channel = Channel(
            channel_id="ch-1",
            tenant_id=TENANT,
            provider=provider,  # type: ignore[arg-type]
            config={
                "phone_number_id": "100",
                "api_base_url": "http://provider.test",
                "instance": "inst",
                **config,
            },
        )
        self.settings = AgentSettings()
        self.clock = NOW
        self.sender = Sender(
            firestore=self.firestore,
            http=httpx.Client(transport=httpx.MockTransport(self._answer)),
            channel=lambda channel_id: self.channel if channel_id == "ch-1" else None,
            tenant=lambda tenant_id: (self.settings, "America/Sao_Paulo"),
            secrets=lambda channel: {"access_token": "token", "apikey": "key"},
            now=lambda: self.clock,
            retry=RetryPolicy(max_attempts=2, sleep=lambda seconds: None),
            max_wait=timedelta(seconds=5),
            sleep=lambda seconds: None,
        )
        self.put_conversation()

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        responder = self.responders.pop(0) if len(self.responders) > 1 else self.responders[0]
        return responder(request)

    def put_conversation(self, **changes: Any) -> None:
        conversation = Conversation(
            conversation_id="conv-1",
            tenant_id=TENANT,
            channel_id="ch-1",
            contact_key=LEAD,
            last_inbound_at=NOW - timedelta(minutes=1),
            unanswered_count=1,
            created_at=NOW - timedelta(hours=1),
            updated_at=NOW,
        ).model_copy(update=changes)
        conversation_ref(self.firestore, TENANT, "conv-1").set(conversation.model_dump())

    def put_contact(self, **changes: Any) -> None:
        contact = Contact(contact_key=LEAD, phone=LEAD, name="Mariana").model_copy(update=changes)
        contact_ref(self.firestore, TENANT, LEAD).set(contact.model_dump())

    def conversation(self) -> Conversation:
        snapshot = conversation_ref(self.firestore, TENANT, "conv-1").get()
        return Conversation.model_validate(snapshot.to_dict())

    def ledger(self, key: str) -> dict[str, Any]:
        return outbound_ledger_ref(self.firestore, TENANT, key).get().to_dict() or {}


def job(decision: str = "d1", index: int = 0, **message: Any) -> OutboundJob:
    return OutboundJob(
        key=f"{decision}:{index}",
        tenant_id=TENANT,
        conversation_id="conv-1",
        channel_id="ch-1",
        contact_key=LEAD,
        decision_id=decision,
        index=index,
        message=OutboundMessage(**({"text": "Olá! Posso ajudar?"} | message)),
    )


@pytest.fixture
def world() -> World:
    world = World()
    world.put_contact()
    return world


def test_a_status_that_overtook_the_send_is_kept(world: World) -> None:
    early = delivery_ref(world.firestore, TENANT, "meta", "wamid.1")
    world.responders = [lambda request: httpx.Response(200, json={"messages": [{"id": "wamid.1"}]})]
    early.set({"status": "delivered", "delivered_at": NOW, "outbound_key": None})

    assert world.sender.handle(job()).status == "sent"

    assert world.ledger("d1:0")["status"] == "delivered"
    assert early.get().to_dict()["outbound_key"] == "d1:0"


def test_a_message_is_sent_once_and_recorded(world: World) -> None:
    outcome = world.sender.handle(job())

    assert outcome.status == "sent"
    assert len(world.requests) == 1
    body = json.loads(world.requests[0].content)
    assert body["to"] == LEAD.removeprefix("+")
    assert body["text"]["body"] == "Olá! Posso ajudar?"
    ledger = world.ledger("d1:0")
    assert ledger["status"] == "sent"
    assert ledger["provider_message_id"] == outcome.provider_message_id
    delivery = delivery_ref(world.firestore, TENANT, "meta", outcome.provider_message_id or "")
    assert delivery.get().to_dict()["outbound_key"] == "d1:0"


def test_a_redelivery_never_sends_twice(world: World) -> None:
    world.sender.handle(job())
    again = world.sender.handle(job())

    assert again.status == "duplicate"
    assert len(world.requests) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"contact": {"opted_out": True}}, "opted_out"),
        ({"conversation": {"status": ConversationStatus.CLOSED}}, "closed"),
        ({"conversation": {"human_active_until": NOW + timedelta(minutes=20)}}, "human_active"),
        ({"conversation": {"status": ConversationStatus.HANDOFF}}, "handoff_requested"),
        ({"conversation": {"mode": "copilot"}}, "copilot_mode"),
        ({"conversation": {"last_inbound_at": NOW - timedelta(hours=30)}}, "outside_24h_window"),
    ],
    ids=["opted-out", "closed", "seller-took-over", "handed-off", "copilot", "window-closed"],
)
def test_what_changed_after_the_decision_holds_the_message(
    world: World, change: dict[str, dict[str, Any]], reason: str
) -> None:
    if "contact" in change:
        world.put_contact(**change["contact"])
    if "conversation" in change:
        world.put_conversation(**change["conversation"])

    outcome = world.sender.handle(job())

    assert outcome.status == "held"
    assert reason in outcome.reasons
    assert world.requests == []
    assert world.ledger("d1:0")["status"] == "held"
    assert world.sender.handle(job()).status == "duplicate"  # held is final too


def test_the_decisions_own_unanswered_count_does_not_hold_it_back(world: World) -> None:
    world.put_conversation(unanswered_count=world.settings.max_unanswered)

    assert world.sender.handle(job()).status == "sent"


def test_one_opt_out_acknowledgement_goes_and_marks_the_conversation(world: World) -> None:
    world.put_contact(opted_out=True)
    world.put_conversation(status=ConversationStatus.CLOSED, close_reason="opted_out")
    text = world.settings.opt_out_acknowledgement

    first = world.sender.handle(job("d1", acknowledgement="opt_out", text=text))
    second = world.sender.handle(job("d2", acknowledgement="opt_out", text=text))

    assert (first.status, second.status) == ("sent", "held")
    assert world.conversation().opt_out_acknowledged
    assert len(world.requests) == 1


def test_an_opt_out_acknowledged_in_one_conversation_is_not_acknowledged_in_the_next(
    world: World,
) -> None:
    world.put_contact(opted_out=True, opted_out_at=NOW - timedelta(minutes=5))
    world.put_conversation(status=ConversationStatus.CLOSED, close_reason="opted_out")
    text = world.settings.opt_out_acknowledgement
    assert world.sender.handle(job("d1", acknowledgement="opt_out", text=text)).status == "sent"
    contact = Contact.model_validate(contact_ref(world.firestore, TENANT, LEAD).get().to_dict())
    assert contact.opt_out_acknowledged_at == NOW
    assert (contact.name, contact.opted_out) == ("Mariana", True)  # the rest of it kept

    # the contact's next conversation, closed for the standing opt-out with its own flag unset
    world.put_conversation(status=ConversationStatus.CLOSED, close_reason="opted_out")
    again = world.sender.handle(job("d2", acknowledgement="opt_out", text=text))

    assert (again.status, again.reasons) == ("held", ("opted_out",))
    assert len(world.requests) == 1


def test_the_handoff_acknowledgement_goes_while_the_conversation_is_handed_off(
    world: World,
) -> None:
    world.put_conversation(status=ConversationStatus.HANDOFF)

    assert world.sender.handle(job(acknowledgement="handoff")).status == "sent"
    world.put_conversation(
        status=ConversationStatus.HANDOFF, human_active_until=NOW + timedelta(minutes=5)
    )
    assert world.sender.handle(job("d2", acknowledgement="handoff")).status == "held"


def test_a_permanent_failure_is_recorded_and_flags_the_conversation() -> None:
    world = World(meta_error(131047))
    world.put_contact()

    outcome = world.sender.handle(job())

    assert (outcome.status, outcome.error_code) == ("failed", "131047")
    assert world.ledger("d1:0")["status"] == "failed"
    assert world.ledger("d1:0")["error_code"] == "131047"
    conversation = world.conversation()
    assert conversation.needs_human
    assert conversation.attention_reason == "send_failed:131047"
    assert world.sender.handle(job()).status == "duplicate"
    assert len(world.requests) == 1  # permanent: no retry


def test_exhausted_retries_are_a_recorded_failure() -> None:
    world = World(meta_error(1, status=503))
    world.put_contact()

    outcome = world.sender.handle(job())

    assert outcome.status == "failed"
    assert len(world.requests) == 2  # the retry policy's attempts
    assert world.conversation().needs_human


def test_outside_the_window_the_reengagement_template_goes_instead() -> None:
    templates = {"reengagement": {"name": "retomar_conversa", "parameters": ["{name}"]}}
    world = World(meta_error(131047), templates=templates)
    world.responders.append(meta_ok)
    world.put_contact()

    outcome = world.sender.handle(job())

    assert outcome.status == "sent"
    template = json.loads(world.requests[1].content)["template"]
    assert template["name"] == "retomar_conversa"
    assert template["components"][0]["parameters"][0]["text"] == "Mariana"
    assert world.ledger("d1:0")["fallback_template"] == "retomar_conversa"


def test_a_message_for_another_tenants_channel_is_never_sent(world: World) -> None:
    world.channel = Channel(channel_id="ch-1", tenant_id="other", provider="meta")

    outcome = world.sender.handle(job())

    assert (outcome.status, outcome.error_code) == ("failed", "no_channel")
    assert world.requests == []


def test_the_gateways_are_held_to_a_stricter_rate() -> None:
    world = World(
        lambda request: httpx.Response(201, json={"key": {"id": f"EVO{len(world.requests)}"}}),
        provider="evolution",
    )
    world.put_contact()
    world.sender.max_wait = timedelta(0)

    outcomes = [world.sender.handle(job(f"d{n}")).status for n in range(3)]

    assert send_rate(world.channel) == SendRate(per_second=0.5, burst=2)
    assert outcomes == ["sent", "sent", "deferred"]
    assert len(world.requests) == 2
    world.clock += timedelta(seconds=2)  # one interval later a slot is free again
    assert world.sender.handle(job("d2")).status == "sent"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"key": "d:0"}', "missing or empty"),
        (
            json.dumps(
                {
                    "key": "d:1",
                    "tenant_id": "t",
                    "conversation_id": "c",
                    "channel_id": "ch",
                    "contact_key": "k",
                    "decision_id": "d",
                    "index": 0,
                    "message": {"text": "oi"},
                }
            ).encode(),
            "decision_id:index",
        ),
        (
            json.dumps(
                {
                    "key": "d:0",
                    "tenant_id": "t",
                    "conversation_id": "c",
                    "channel_id": "ch",
                    "contact_key": "k",
                    "decision_id": "d",
                    "index": 0,
                    "message": {"colour": "red"},
                }
            ).encode(),
            "message.colour",
        ),
    ],
)
def test_a_malformed_job_is_refused_with_the_reason(body: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        OutboundJob.from_json(body)


def test_a_sellers_message_goes_through_what_holds_the_agent_back(world: World) -> None:
    world.put_conversation(
        human_active_until=NOW + timedelta(minutes=20),
        status=ConversationStatus.HANDOFF,
        mode="copilot",
    )

    queued = message_ref(world.firestore, TENANT, "conv-1", "seller-1:0")
    queued.set(
        {"role": "seller", "author_email": "ana@clinica.com.br", "outbound_key": "seller-1:0"}
    )

    outcome = world.sender.handle(job("seller-1", text="Oi, aqui é a Ana!", sent_by="uid-ana"))

    assert outcome.status == "sent"
    history = message_ref(world.firestore, TENANT, "conv-1", "seller-1:0").get().to_dict()
    assert history["role"] == "seller"
    assert history["author_uid"] == "uid-ana"
    assert history["author_email"] == "ana@clinica.com.br"  # the console's record is kept
    assert history["provider_message_id"] == outcome.provider_message_id


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"contact": {"opted_out": True}}, "opted_out"),
        ({"conversation": {"status": ConversationStatus.CLOSED}}, "closed"),
    ],
    ids=["opted-out", "closed"],
)
def test_an_opt_out_or_a_close_still_holds_a_sellers_message(
    world: World, change: dict[str, dict[str, Any]], reason: str
) -> None:
    if "contact" in change:
        world.put_contact(**change["contact"])
    if "conversation" in change:
        world.put_conversation(**change["conversation"])

    outcome = world.sender.handle(job("seller-1", sent_by="uid-ana"))

    assert outcome.status == "held"
    assert outcome.reasons == (reason,)
    assert world.requests == []


def test_the_tenants_reengagement_template_is_the_fallback_when_the_channel_has_none() -> None:
    world = World(meta_error(131047))
    world.responders.append(meta_ok)
    world.put_contact()
    world.settings = AgentSettings.model_validate(
        {"templates": {"reengagement": {"name": "voltar_a_falar", "parameters": ["{name}"]}}}
    )

    outcome = world.sender.handle(job())

    assert outcome.status == "sent"
    template = json.loads(world.requests[1].content)["template"]
    assert template["name"] == "voltar_a_falar"
    assert world.ledger("d1:0")["fallback_template"] == "voltar_a_falar"
