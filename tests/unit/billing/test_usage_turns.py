"""Turns and follow-ups with billing: replies counted once with the decision, quota and stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.billing.accounts import BillingAccount
from shared.billing.plans import Catalogue, Plan, Quotas
from shared.billing.usage import BillingCheck, record_replies, usage_ref
from shared.models.conversation import Conversation, ConversationStatus
from shared.models.decision import Decision
from shared.models.tenant import AgentSettings
from shared.store.conversations import tenant_ref
from shared.store.memory import MemoryFirestore
from tests.unit.followups import FACTS, NOW, TIMEZONE, World
from tests.unit.followups.test_runner import TEMPLATE, decisions

CATALOGUE = Catalogue(
    trial_plan="tiny",
    plans=(
        Plan(
            plan_id="tiny",
            name="Tiny",
            price_cents=100,
            stripe_lookup_key="tiny",
            grace_percent=0,
            quotas=Quotas(agent_replies=3, channels=1, seats=1, insight_agents=0, knowledge_mb=1),
        ),
    ),
)


def month_replies_in_memory(client: Any, tenant_id: str, month: str) -> int:
    """``month_replies`` on the in-process store (which has no queries): scan the usage docs."""
    usage = tenant_ref(client, tenant_id).collection("usage").stream()
    documents = [snapshot.to_dict() or {} for snapshot in usage]
    return sum(int(d.get("agent_replies", 0)) for d in documents if d.get("month") == month)


def billed(world: World, account: BillingAccount | None = None, ttl: float = 60) -> BillingCheck:
    """Give the world's runners a billing check over its store (a fixed account, or none)."""
    check = BillingCheck(
        world.client,
        CATALOGUE,
        ttl,
        read_account=lambda client, tenant_id: account,
        read_replies=month_replies_in_memory,
    )
    world.turns.billing = check
    world.followups.billing = check
    return check


def counting(world: World) -> list[str]:
    """Count the turn's model calls (the decide function)."""
    calls: list[str] = []
    decide = world.turns.decide

    def counted(conversation: Conversation, *args: Any) -> Decision:
        calls.append(conversation.conversation_id)
        return decide(conversation, *args)

    world.turns.decide = counted
    return calls


def replies_today(world: World) -> int:
    snapshot = usage_ref(world.client, world.tenant, NOW.date()).get()
    return int((snapshot.to_dict() or {}).get("agent_replies", 0)) if snapshot.exists else 0


def use(world: World, count: int) -> None:
    """Record replies as earlier turns of the month did."""
    batch = world.client.batch()
    record_replies(batch, world.client, world.tenant, NOW - timedelta(days=1), TIMEZONE, count)
    batch.commit()


def notices(world: World) -> list[str]:
    collection = tenant_ref(world.client, world.tenant).collection("notices")
    return [snapshot.id for snapshot in collection.stream()]


def test_an_answered_turn_counts_one_reply_in_the_tenant_day_and_month() -> None:
    world = World()
    check = billed(world)
    calls = counting(world)

    result = world.answered()

    assert result.decision is not None and result.decision.action == "speak"
    assert len(calls) == 1
    document = usage_ref(world.client, world.tenant, NOW.date()).get().to_dict()
    assert document is not None
    assert (document["agent_replies"], document["month"], document["day"]) == (
        1,
        "2026-03",
        "2026-03-10",
    )
    assert check.check(world.tenant, world.now, TIMEZONE).replies_used == 1


def test_without_billing_nothing_is_counted() -> None:
    world = World()
    world.answered()
    assert replies_today(world) == 0


def test_a_copilot_draft_counts_one_reply() -> None:
    world = World(settings=AgentSettings(business_facts=FACTS, mode="copilot"))
    billed(world)
    calls = counting(world)

    result = world.answered()

    assert result.decision is not None
    assert result.decision.messages == [] and result.decision.suggestions
    assert (len(calls), replies_today(world)) == (1, 1)


def test_a_decision_the_guards_take_alone_counts_nothing() -> None:
    world = World()
    billed(world)
    calls = counting(world)

    result = world.answered("Não quero mais, pare de mandar mensagem")

    assert result.decision is not None and result.decision.reasons == ["opted_out"]
    assert (calls, replies_today(world)) == ([], 0)


def test_a_turn_stored_on_its_second_attempt_counts_once() -> None:
    world = World()
    billed(world)
    calls = counting(world)
    decide = world.turns.decide

    def racing(conversation: Conversation, *args: Any) -> Decision:
        if not calls:  # something else writes the conversation meanwhile
            world.set(conversation.conversation_id, summary="atualizado")
        return decide(conversation, *args)

    world.turns.decide = racing
    result = world.answered()

    assert result.status == "decided"
    assert len(calls) == 2  # the model ran twice, one decision was stored
    assert replies_today(world) == 1


def test_over_the_ceiling_the_conversation_goes_to_a_human_without_a_model_call() -> None:
    world = World()
    billed(world)
    use(world, 3)
    calls = counting(world)

    result = world.answered()

    decision = result.decision
    assert decision is not None
    assert (decision.action, decision.reasons, decision.messages) == (
        "handoff",
        ["quota_exceeded"],
        [],
    )
    assert calls == [] and world.delivered == []
    assert replies_today(world) == 0
    conversation = world.current()
    assert conversation.status is ConversationStatus.HANDOFF
    assert conversation.window[-1].text == "Oi, quanto custa a limpeza de pele?"  # kept
    assert notices(world) == ["quota_exceeded-2026-03"]


def test_the_reply_that_reaches_the_ceiling_goes_out_and_the_next_turn_hands_off() -> None:
    world = World()
    billed(world)
    use(world, 2)

    first = world.answered()
    world.now += timedelta(minutes=1)
    second = world.answered("E vocês atendem sábado?")

    assert first.decision is not None and first.decision.action == "speak"
    assert second.decision is not None and second.decision.reasons == ["quota_exceeded"]


def test_an_inactive_subscription_hands_off_with_its_reason() -> None:
    world = World()
    canceled = BillingAccount(
        account_id="home",
        home_tenant_id="home",
        plan_id="tiny",
        status="canceled",
        created_at=NOW - timedelta(days=40),
        updated_at=NOW - timedelta(days=1),
    )
    billed(world, canceled)
    calls = counting(world)

    result = world.answered()

    assert result.decision is not None
    assert (result.decision.action, result.decision.reasons) == (
        "handoff",
        ["subscription_inactive"],
    )
    assert calls == [] and world.delivered == []
    assert notices(world) == ["service_stopped-canceled-2026-03-10"]


def started(world: World) -> tuple[Any, datetime]:
    world.answered()
    [_check, (request, due)] = world.scheduled
    world.scheduled.clear()
    world.delivered.clear()
    return request, due


def test_a_drafted_follow_up_counts_one_reply() -> None:
    world = World()
    billed(world)
    request, due = started(world)

    result = world.fire(request, due)

    assert result.status == "sent"
    assert replies_today(world) == 2  # the reply, then the nudge


def test_a_template_follow_up_needs_no_model_and_counts_nothing() -> None:
    world = World(
        settings=AgentSettings(business_facts=FACTS, followups=["1d", "3d"]),
        channel_config=TEMPLATE,
    )
    billed(world)
    request, due = started(world)

    result = world.fire(request, due)

    assert result.status == "sent"
    assert result.decision is not None and result.decision.messages[0].template
    assert usage_ref(world.client, world.tenant, due.date()).get().exists is False
    assert replies_today(world) == 1


def test_a_follow_up_over_quota_stops_the_cadence_without_a_handoff() -> None:
    world = World()
    check = billed(world)
    request, due = started(world)  # 1 reply
    use(world, 2)  # another instance answered twice more
    check.recorded(world.tenant, NOW, TIMEZONE, 2)
    drafted: list[Conversation] = []
    draft = world.followups.draft

    def counted_draft(conversation: Conversation, *args: Any) -> Any:
        drafted.append(conversation)
        return draft(conversation, *args)

    world.followups.draft = counted_draft

    result = world.fire(request, due)

    assert result.status == "stopped"
    assert result.decision is not None
    assert (result.decision.action, result.decision.reasons) == (
        "stay_silent",
        ["followup_due", "quota_exceeded"],
    )
    assert drafted == [] and world.delivered == [] and world.scheduled == []
    conversation = world.conversation(request.conversation_id)
    assert conversation.status is ConversationStatus.OPEN  # no seller was asked for anything
    assert conversation.followup_due_at is None
    assert replies_today(world) == 1
    assert [d["reasons"] for d in decisions(world, request.conversation_id)][-1] == [
        "followup_due",
        "quota_exceeded",
    ]


def test_a_memory_store_sums_days_of_one_month_only() -> None:
    client = MemoryFirestore()
    batch = client.batch()
    for day, count in ((datetime(2026, 3, 1, 12, tzinfo=UTC), 2), (NOW, 3)):
        record_replies(batch, client, "t", day, TIMEZONE, count)
    record_replies(batch, client, "t", datetime(2026, 4, 1, 12, tzinfo=UTC), TIMEZONE, 5)
    batch.commit()
    assert month_replies_in_memory(client, "t", "2026-03") == 5
