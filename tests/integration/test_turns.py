"""Turns on the Firestore emulator with the offline model: speak, stop, stay silent, and why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.events.tasks import TurnRequest
from shared.intake import IntakeRules, take_in
from shared.models.decision import Decision
from shared.models.tenant import AgentSettings
from shared.store.conversations import contact_ref, conversation_ref
from shared.turns import TurnRunner
from tests.support.events import lead_message

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 13:00 in São Paulo
PHONE = "+5511987654321"
SETTINGS = AgentSettings(
    business_facts={"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"},
    qualification_fields=["nome", "procedimento_de_interesse"],
)
RULES = IntakeRules(max_event_age=timedelta(hours=6), human_takeover=timedelta(minutes=30))


class World:
    """A tenant on the emulator, a clock, and what the runner handed to the sender."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.tenant = f"t-{uuid.uuid4().hex[:8]}"
        self.now = NOW
        self.delivered: list[Decision] = []
        self.runner = TurnRunner(
            firestore=client,
            decide=graph_decider(OfflineChatModel(), lambda tenant: "America/Sao_Paulo"),
            load_settings=lambda tenant: (SETTINGS, "America/Sao_Paulo"),
            deliver=lambda conversation, decision: self.delivered.append(decision),
            now=lambda: self.now,
        )
        self.sequence = 0

    def lead(self, text: str) -> TurnRequest:
        self.sequence += 1
        event = lead_message(self.tenant, f"wamid.{self.sequence}", text, self.now, phone=PHONE)
        outcome = take_in(self.client, event, now=self.now, rules=RULES)
        assert outcome.conversation_id and outcome.inbound_seq
        return TurnRequest(self.tenant, outcome.conversation_id, outcome.inbound_seq)

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        document: dict[str, Any] = (
            conversation_ref(self.client, self.tenant, conversation_id).get().to_dict()
        )
        return document


@pytest.fixture
def world(store: Any) -> World:
    """Turns run against both stores: the emulator and the simulator's in-process one."""
    return World(store)


def test_a_price_question_is_answered_from_the_facts_and_recorded(world: World) -> None:
    turn = world.lead("Oi, quanto custa a limpeza de pele?")
    world.now += timedelta(seconds=5)

    result = world.runner.run(turn)

    assert result.status == "decided"
    decision = result.decision
    assert decision is not None
    assert decision.action == "speak"
    assert "180" in (decision.messages[0].text or "")
    assert decision.offline_model is True
    assert decision.triggering_events == ["wamid.1"]
    stored = (
        conversation_ref(world.client, world.tenant, turn.conversation_id)
        .collection("decisions")
        .document(decision.decision_id)
        .get()
        .to_dict()
    )
    assert stored["action"] == "speak"
    assert stored["model"] == "offline-keywords-v1"
    conversation = world.conversation(turn.conversation_id)
    assert conversation["window"][-1]["role"] == "agent"
    assert conversation["unanswered_count"] == 1
    assert [d.decision_id for d in world.delivered] == [decision.decision_id]


def test_a_redelivered_turn_task_decides_nothing_twice(world: World) -> None:
    turn = world.lead("Oi, quanto custa a limpeza de pele?")

    first = world.runner.run(turn)
    again = world.runner.run(turn)

    assert (first.status, again.status) == ("decided", "already_decided")
    assert len(world.delivered) == 1
    decisions = conversation_ref(world.client, world.tenant, turn.conversation_id).collection(
        "decisions"
    )
    assert len(list(decisions.stream())) == 1


def test_a_burst_is_answered_once_by_the_last_turn(world: World) -> None:
    first = world.lead("oi")
    second = world.lead("tudo bem?")
    third = world.lead("quanto custa a limpeza de pele?")
    world.now += timedelta(seconds=5)

    results = [world.runner.run(turn) for turn in (first, second, third)]

    assert [r.status for r in results] == ["superseded", "superseded", "decided"]
    assert len(world.delivered) == 1
    assert results[2].decision is not None
    assert results[2].decision.triggering_events == ["wamid.1", "wamid.2", "wamid.3"]


def test_an_opt_out_closes_with_one_acknowledgement_then_silence(world: World) -> None:
    world.runner.run(world.lead("Oi, quanto custa a limpeza de pele?"))
    world.now += timedelta(minutes=2)
    opt_out = world.lead("Não quero mais, pare de mandar mensagem")

    stop = world.runner.run(opt_out)

    assert stop.decision is not None
    assert stop.decision.action == "close"
    assert "opted_out" in stop.decision.reasons
    assert len(stop.decision.messages) == 1  # the single acknowledgement
    conversation = world.conversation(opt_out.conversation_id)
    assert conversation["status"] == "closed"
    assert conversation["close_reason"] == "opted_out"
    assert contact_ref(world.client, world.tenant, PHONE).get().get("opted_out") is True

    world.now += timedelta(days=1)
    later = world.runner.run(world.lead("oi? ainda estão aí?"))

    assert later.decision is not None
    assert later.decision.action == "stay_silent"
    assert later.decision.messages == []
    assert "opted_out" in later.decision.reasons
    assert len(world.delivered) == 2  # the answer and the acknowledgement, nothing after


def test_a_human_seller_keeps_the_agent_silent_and_the_record_says_why(world: World) -> None:
    turn = world.lead("Quanto custa a limpeza de pele?")
    conversation_ref(world.client, world.tenant, turn.conversation_id).update(
        {"human_active_until": world.now + timedelta(minutes=30)}
    )

    result = world.runner.run(turn)

    assert result.decision is not None
    assert result.decision.messages == []
    assert "human_active" in result.decision.reasons
    assert result.decision.latency_ms is not None
    assert world.delivered == []


def test_a_human_in_charge_gets_suggestions_and_the_lead_gets_nothing(world: World) -> None:
    turn = world.lead("Quanto custa a limpeza de pele?")
    conversation_ref(world.client, world.tenant, turn.conversation_id).update({"mode": "copilot"})

    result = world.runner.run(turn)

    assert result.decision is not None
    assert result.decision.messages == []
    assert "copilot_mode" in result.decision.reasons
    assert any("180" in suggestion for suggestion in result.decision.suggestions)
    assert world.delivered == []


def test_piloto_decisions_answers_why(local_stack: LocalStack) -> None:
    world = World(firestore.Client(project=local_stack.project_id))
    import os
    import subprocess
    import sys

    world.runner.run(world.lead("Oi, quanto custa a limpeza de pele?"))
    world.now += timedelta(minutes=1)
    world.runner.run(world.lead("pare"))

    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "decisions", world.tenant, PHONE],
        env={**os.environ, **local_stack.env()},
        capture_output=True,
        text=True,
        check=True,
    )

    lines = result.stdout.splitlines()
    assert [line.split('"action": ')[1].split(",")[0] for line in lines[:2]] == [
        '"speak"',
        '"close"',
    ]
    assert '"opted_out"' in lines[1]
    assert lines[-1].endswith("closed (close reason: opted_out)")
