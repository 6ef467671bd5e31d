"""The figures a turn keeps on the conversation for the dashboard, and what a console takeover
means to the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.intake import answers_a_followup
from shared.models.conversation import Conversation, Role, WindowMessage
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.turns import apply_decision

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def conversation(**changes: object) -> Conversation:
    return Conversation(
        conversation_id="c1",
        tenant_id="t",
        channel_id="ch",
        contact_key="+5511987654321",
        created_at=NOW - timedelta(minutes=2),
        updated_at=NOW,
    ).model_copy(update=changes)


def decision(action: Action, **changes: object) -> Decision:
    return Decision(decision_id="d1", action=action, decided_at=NOW).model_copy(update=changes)


def test_a_silence_is_counted_by_its_first_reason() -> None:
    before = conversation(silences={"human_active": 2})
    silent = decision(Action.STAY_SILENT, reasons=[Reason.HUMAN_ACTIVE, Reason.COPILOT_MODE])

    after = apply_decision(before, silent, NOW)

    assert after.silences == {"human_active": 3}
    assert after.first_response_at is None
    assert after.agent_messages == 0


def test_the_first_reply_sets_the_first_response_once() -> None:
    reply = decision(Action.SPEAK, messages=[OutboundMessage(text="Oi!")])

    first = apply_decision(conversation(), reply, NOW)
    second = apply_decision(first, reply, NOW + timedelta(minutes=5))

    assert first.first_response_at == NOW
    assert second.first_response_at == NOW
    assert second.agent_messages == 2


def test_handoff_meeting_and_suggestions_are_recorded() -> None:
    handoff = decision(Action.HANDOFF, stage="scheduled", suggestions=["Posso ajudar?", "Oi!"])

    after = apply_decision(conversation(suggestions_offered=1), handoff, NOW)

    assert after.handed_off_at == NOW
    assert after.meeting_booked_at == NOW
    assert after.pending_suggestions == 2
    assert after.suggestions_decision_id == "d1"
    assert after.suggestions_offered == 3


def test_a_lead_reply_after_a_followup_counts_as_answered() -> None:
    nudge = WindowMessage(role=Role.AGENT, text="Ainda quer agendar?", at=NOW, proactive=True)
    reply = WindowMessage(role=Role.AGENT, text="Claro!", at=NOW)

    assert answers_a_followup(conversation(window=[nudge])) == 1
    assert answers_a_followup(conversation(window=[reply])) == 0
    assert answers_a_followup(conversation()) == 0


def test_a_console_takeover_keeps_the_agent_out_until_released() -> None:
    taken = conversation(taken_over_by="uid-ana")

    assert taken.human_is_active(NOW + timedelta(days=30))
    assert not conversation().human_is_active(NOW)
