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
    replied_at = NOW + timedelta(seconds=5)
    assert conversation.last_outbound_at == replied_at
    assert world.scheduled == [
        (
            FollowupRequest(world.tenant, conversation.conversation_id, 1, 0, 1, "inactivity"),
            replied_at + timedelta(hours=2),
        ),
        (FollowupRequest(world.tenant, conversation.conversation_id, 1, 0, 1), due),
    ]


def test_the_clock_speed_divides_the_delay() -> None:
    world = World(clock_speed=60)

    world.answered()

    _, due = world.next_task()
    assert due == NOW + timedelta(seconds=5) + timedelta(minutes=1)
    check, idle_at = world.next_task()
    assert (check.kind, idle_at) == ("inactivity", NOW + timedelta(seconds=5, minutes=2))


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
    lead_at = NOW + timedelta(minutes=10, seconds=5)  # the last activity: the lead's "ok"
    assert conversation.last_inbound_at == lead_at
    assert world.scheduled == [  # only the new generation's inactivity check
        (
            FollowupRequest(world.tenant, conversation.conversation_id, 2, 0, 2, "inactivity"),
            lead_at + timedelta(hours=2),
        )
    ]


@pytest.mark.parametrize(
    ("text", "settings", "kinds"),
    [
        ("pare de mandar mensagem", {}, []),  # only the opt-out acknowledgement; closed
        ("não tenho interesse", {}, []),  # only the rejection acknowledgement; closed
        ("quanto custa a limpeza de pele?", {"mode": "copilot"}, ["inactivity"]),
        ("quanto custa a limpeza de pele?", {"followups": []}, ["inactivity"]),
    ],
    ids=["opt-out", "rejection", "copilot", "no-cadence"],
)
def test_no_cadence_without_a_reply_in_pilot_mode(
    text: str, settings: dict[str, Any], kinds: list[str]
) -> None:
    world = World(settings=AgentSettings(business_facts=FACTS, **settings))

    result = world.answered(text)

    assert result.decision is not None
    assert [request.kind for request, _ in world.scheduled] == kinds  # open: checked for idling
    conversation = world.current()
    assert conversation.followup_due_at is None
    assert conversation.followup_generation == 1


def test_a_handoff_schedules_only_the_inactivity_check() -> None:
    world = World()

    result = world.answered("quero falar com um atendente")

    assert result.decision is not None and result.decision.action == "handoff"
    [(request, due)] = world.scheduled
    assert request.kind == "inactivity"
    assert (request.generation, request.inbound_seq) == (1, 1)
    assert due == world.now + timedelta(hours=2)  # two hours after the acknowledgement


def test_a_turn_while_a_seller_is_in_charge_checks_two_hours_after_the_last_activity() -> None:
    world = World(clock_speed=4)
    world.seller("Oi, aqui é a Paula")
    world.now += timedelta(minutes=1)
    lead_at = world.now

    result = world.answered()  # the turn, five seconds later, stays silent

    assert result.decision is not None and result.decision.messages == []
    assert [(r.kind, at - lead_at) for r, at in world.scheduled] == [
        ("inactivity", timedelta(minutes=30))
    ]


def test_a_closed_conversation_is_not_checked_for_inactivity() -> None:
    world = World()

    result = world.answered("pare de mandar mensagem")

    assert result.decision is not None
    assert world.current().status == "closed"
    assert world.scheduled == []


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
    assert [request.kind for request, _ in first] == ["inactivity", "followup"]
    assert world.scheduled == [*first, *first]  # the inactivity check and the first step again
    assert len(world.delivered) == 1
