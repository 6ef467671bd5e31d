"""Turns plan the follow-ups: a reply starts the cadence, every turn cancels the older one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.events.tasks import FollowupRequest
from shared.models.tenant import AgentSettings
from tests.unit.followups import FACTS, NOW, World


def test_a_reply_starts_the_cadence_in_the_same_batch_and_schedules_its_first_step() -> None:
    world = World()

    result = world.answered()

    assert result.decision is not None and result.decision.action == "speak"
    conversation = world.current()
    due = NOW + timedelta(seconds=5) + timedelta(hours=1)
    assert (conversation.followup_generation, conversation.followup_step) == (1, 0)
    assert conversation.followup_due_at == due
    assert result.decision.followup_at == due
    assert world.scheduled == [
        (FollowupRequest(world.tenant, conversation.conversation_id, 1, 0, 1), due)
    ]


def test_the_clock_speed_divides_the_delay() -> None:
    world = World(clock_speed=60)

    world.answered()

    _, due = world.next_task()
    assert due == NOW + timedelta(seconds=5) + timedelta(minutes=1)


def test_every_decided_turn_cancels_the_older_cadence() -> None:
    world = World()
    world.answered()
    world.scheduled.clear()
    world.now += timedelta(minutes=10)

    result = world.answered("ok, obrigado")  # nothing to answer: the agent stays silent

    assert result.decision is not None and result.decision.action == "stay_silent"
    conversation = world.current()
    assert conversation.followup_generation == 2
    assert conversation.followup_due_at is None
    assert world.scheduled == []


@pytest.mark.parametrize(
    ("text", "settings"),
    [
        ("pare de mandar mensagem", {}),  # only the opt-out acknowledgement goes out
        ("não tenho interesse", {}),  # only the rejection acknowledgement goes out
        ("quanto custa a limpeza de pele?", {"mode": "copilot"}),
        ("quanto custa a limpeza de pele?", {"followups": []}),
    ],
    ids=["opt-out", "rejection", "copilot", "no-cadence"],
)
def test_no_cadence_without_a_reply_in_pilot_mode(text: str, settings: dict[str, Any]) -> None:
    world = World(settings=AgentSettings(business_facts=FACTS, **settings))

    result = world.answered(text)

    assert result.decision is not None
    assert [request.kind for request, _ in world.scheduled] == []
    conversation = world.current()
    assert conversation.followup_due_at is None
    assert conversation.followup_generation == 1


def test_a_handoff_schedules_a_seller_inactivity_check_instead() -> None:
    world = World()

    result = world.answered("quero falar com um atendente")

    assert result.decision is not None and result.decision.action == "handoff"
    [(request, due)] = world.scheduled
    assert request.kind == "seller_inactivity"
    assert (request.generation, request.inbound_seq) == (1, 1)
    assert due == world.now + timedelta(hours=2)


def test_a_turn_while_a_seller_is_in_charge_schedules_a_seller_inactivity_check() -> None:
    world = World(clock_speed=4)
    world.seller("Oi, aqui é a Paula")
    world.now += timedelta(minutes=1)

    result = world.answered()

    assert result.decision is not None and result.decision.messages == []
    assert [(r.kind, at - world.now) for r, at in world.scheduled] == [
        ("seller_inactivity", timedelta(minutes=30))
    ]


def test_a_retried_turn_schedules_its_first_step_again_and_reads_one_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    turn = world.lead("Oi, quanto custa a limpeza de pele?")
    reads: list[object] = []
    read = world.client._read
    monkeypatch.setattr(world.client, "_read", lambda path: reads.append(path) or read(path))

    world.turns.run(turn)
    assert len(reads) == 1  # the turn's single read: its conversation
    first = list(world.scheduled)
    again = world.turns.run(turn)  # Cloud Tasks retried after scheduling failed

    assert again.status == "already_decided"
    assert world.scheduled == [*first, *first]
    assert len(world.delivered) == 1
