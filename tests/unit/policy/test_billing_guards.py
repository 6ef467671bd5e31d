"""The billing guards: an inactive subscription, then the quota, hand off before anything else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.models.conversation import ConversationStatus
from shared.models.decision import Action, Reason
from shared.models.tenant import AgentSettings
from shared.policy import PolicyContext, Verdict, at_send, before_turn
from tests.unit.policy.test_restraint import (
    NOON,
    TEXT,
    closed,
    make_context,
    make_conversation,
)

INACTIVE = Verdict(action=Action.HANDOFF, reasons=(Reason.SUBSCRIPTION_INACTIVE,))


def test_an_inactive_subscription_hands_the_conversation_to_a_human() -> None:
    verdict = before_turn(make_context(subscription_inactive=True), ["Oi, quanto custa?"])
    assert verdict == INACTIVE
    assert not verdict.may_send_text
    assert not verdict.may_suggest  # no model call: nothing is drafted either


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        (make_context(opted_out=True, subscription_inactive=True), Reason.OPTED_OUT),
        (
            make_context(conversation=closed(Reason.REJECTION), subscription_inactive=True),
            Reason.CLOSED,
        ),
        (
            make_context(subscription_inactive=True, quota_exceeded=True),
            Reason.SUBSCRIPTION_INACTIVE,
        ),
        (
            make_context(subscription_inactive=True, settings=AgentSettings(mode="copilot")),
            Reason.SUBSCRIPTION_INACTIVE,
        ),
        (
            make_context(quota_exceeded=True, settings=AgentSettings(mode="copilot")),
            Reason.QUOTA_EXCEEDED,
        ),
        (
            make_context(
                quota_exceeded=True,
                conversation=make_conversation(human_active_until=NOON + timedelta(minutes=5)),
            ),
            Reason.QUOTA_EXCEEDED,
        ),
    ],
    ids=[
        "opt-out>inactive",
        "closed>inactive",
        "inactive>quota",
        "inactive>copilot",
        "quota>copilot",
        "quota>human",
    ],
)
def test_precedence(context: PolicyContext, reason: Reason) -> None:
    assert before_turn(context, ["Oi"]).reasons[0] is reason


def test_an_opt_out_still_closes_when_the_subscription_is_inactive() -> None:
    verdict = before_turn(make_context(subscription_inactive=True), ["Pare de mandar mensagem"])
    assert verdict.action is Action.CLOSE
    assert verdict.reasons == (Reason.OPTED_OUT,)
    assert verdict.persist_opt_out
    assert not verdict.acknowledge_opt_out  # no message goes out while the service is off


def test_a_rejection_still_closes_over_quota_without_a_closing_message() -> None:
    verdict = before_turn(make_context(quota_exceeded=True), ["Não tenho interesse, obrigado"])
    assert verdict.action is Action.CLOSE
    assert verdict.reasons == (Reason.REJECTION,)
    assert not verdict.acknowledge_rejection


def test_a_follow_up_of_an_inactive_subscription_is_held() -> None:
    context = make_context(proactive=True, subscription_inactive=True)
    assert before_turn(context, []) == INACTIVE


def test_an_inactive_subscription_holds_a_message_at_send_time() -> None:
    verdict = at_send(make_context(subscription_inactive=True), TEXT)
    assert verdict == INACTIVE


def test_a_handed_off_conversation_over_quota_is_handed_off_again_without_drafts() -> None:
    conversation = make_conversation(status=ConversationStatus.HANDOFF)
    verdict = before_turn(make_context(conversation=conversation, quota_exceeded=True), ["Oi"])
    assert verdict.action is Action.HANDOFF
    assert verdict.reasons == (Reason.QUOTA_EXCEEDED,)
    assert not verdict.may_suggest
