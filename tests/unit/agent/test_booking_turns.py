"""The turn runner carries out the graph's booking requests (a fake scheduler, in-process store).

The holds themselves are the scheduler's (tests/unit/scheduling, tests/integration/scheduling);
here: what the runner asks of it, when, and what the conversation keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.models.conversation import Conversation, Role
from shared.models.decision import Action, Choice, Decision, OutboundMessage, Reason
from shared.scheduling.models import BookingRequest, CalendarSettings, Slot
from shared.scheduling.service import SlotLookup
from shared.store.conversations import tenant_ref
from shared.turns import TurnResult
from tests.unit.followups import NOW, TIMEZONE, World


def slot(days: int, hour: int) -> Slot:
    local = NOW.astimezone(ZoneInfo(TIMEZONE))
    start = (local + timedelta(days=days)).replace(hour=hour, minute=0)
    return Slot(start=start, end=start + timedelta(minutes=30), label=f"{start:%d/%m} às {hour}h")


FREE = [slot(1, 9), slot(1, 14), slot(2, 10), slot(3, 11)]


@dataclass
class FakeScheduler:
    """Records the runner's calls; ``taken`` loses every race; ``sync_fails`` breaks the sync."""

    firestore: Any = None
    taken: bool = False
    sync_fails: bool = False
    calls: list[str] = field(default_factory=list)
    committed: list[Decision] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    def slots_for(self, tenant_id: str, timezone: str, now: datetime) -> SlotLookup:
        self.calls.append("slots_for")
        return SlotLookup(calendar=CalendarSettings(enabled=True, slots_offered=3), slots=FREE)

    def carry_out(
        self,
        conversation: Conversation,
        decision: Decision,
        *,
        inbound_seq: int,
        timezone: str,
        now: datetime,
    ) -> Decision:
        assert decision.booking is not None
        self.calls.append(f"carry_out:{decision.booking.kind}")
        if self.taken and decision.booking.kind in ("book", "reschedule"):
            offer = FREE[2:]
            message = OutboundMessage(
                text="Esse horário acabou de ser preenchido.",
                choices=[Choice(id=s.slot_id, title=s.label) for s in offer],
            )
            return decision.model_copy(
                update={
                    "reasons": [Reason.SLOT_TAKEN, Reason.MEETING_OFFERED],
                    "messages": [message],
                    "booking": BookingRequest(kind="offer", slots=offer),
                }
            )
        return decision

    def stage(
        self, writer: Any, conversation: Conversation, decision: Decision, now: datetime
    ) -> None:
        assert decision.booking is not None
        self.calls.append(f"stage:{decision.booking.kind}")
        if decision.booking.booking_id:
            document = tenant_ref(self.firestore, conversation.tenant_id)
            writer.set(
                document.collection("bookings").document(decision.booking.booking_id),
                {"status": "confirmed"},
            )

    def after_commit(self, conversation: Conversation, decision: Decision, timezone: str) -> None:
        self.calls.append("after_commit")
        self.committed.append(decision)
        if self.sync_fails:
            raise RuntimeError("Google Calendar down")

    def finish(self, tenant_id: str, booking_id: str, timezone: str) -> bool:
        self.finished.append(booking_id)
        return True


def booking_world(scheduler: FakeScheduler | None = None) -> World:
    """Return a tenant whose turns book through ``scheduler`` (calendar on, offline model)."""
    world = World()
    fake = scheduler or FakeScheduler()
    fake.firestore = world.client
    world.turns.decide = graph_decider(
        OfflineChatModel(), lambda t: TIMEZONE, slots_for=fake.slots_for
    )
    world.turns.scheduler = fake  # type: ignore[assignment]
    return world


def scheduler_of(world: World) -> FakeScheduler:
    assert isinstance(world.turns.scheduler, FakeScheduler)
    return world.turns.scheduler


def turn(world: World, text: str) -> Decision:
    result: TurnResult = world.answered(text)
    assert result.status == "decided" and result.decision is not None
    return result.decision


def test_an_offer_is_stored_and_the_window_keeps_its_numbered_text() -> None:
    world = booking_world()
    decision = turn(world, "Oi, queria agendar uma avaliação")
    assert decision.booking is not None and decision.booking.kind == "offer"
    conversation = world.current()
    assert conversation.offered_slots == FREE[:3]
    last = conversation.window[-1]
    assert last.role is Role.AGENT
    assert "1. " + FREE[0].label in last.text and "3. " + FREE[2].label in last.text
    assert world.delivered[-1].messages[0].choices
    assert scheduler_of(world).calls == [
        "slots_for",
        "carry_out:offer",
        "stage:offer",
        "after_commit",
    ]


def test_a_pick_books_confirms_in_the_batch_and_records_the_meeting() -> None:
    world = booking_world()
    turn(world, "quero agendar")
    decision = turn(world, "2")
    assert decision.booking is not None and decision.booking.kind == "book"
    conversation = world.current()
    booking_id = f"{conversation.conversation_id}-2"
    assert decision.booking.booking_id == booking_id
    assert (conversation.booking_id, conversation.booking_start) == (booking_id, FREE[1].start)
    assert conversation.booking_status == "confirmed" and conversation.offered_slots == []
    assert conversation.stage == "scheduled" and conversation.meeting_booked_at is not None
    stored = tenant_ref(world.client, world.tenant).collection("bookings").document(booking_id)
    assert stored.get().to_dict() == {"status": "confirmed"}  # written with the decision
    assert decision.prompt_tokens == 0


def test_a_lost_race_sends_a_new_offer_instead_of_the_confirmation() -> None:
    world = booking_world(FakeScheduler(taken=True))
    turn(world, "quero agendar")
    decision = turn(world, "2")
    assert Reason.SLOT_TAKEN in decision.reasons and Reason.LEAD_REPLIED in decision.reasons
    assert decision.stage == "scheduling"
    conversation = world.current()
    assert conversation.booking_id is None and conversation.offered_slots == FREE[2:]
    assert conversation.meeting_booked_at is None
    assert world.delivered[-1].messages[0].text == "Esse horário acabou de ser preenchido."


def test_a_move_keeps_the_booking_id_and_a_cancel_marks_it_canceled() -> None:
    world = booking_world()
    turn(world, "quero agendar")
    turn(world, "1")
    booking_id = world.current().booking_id
    offer = turn(world, "preciso remarcar")
    assert offer.booking is not None and offer.booking.kind == "offer"
    moved = turn(world, "3")
    assert moved.booking is not None and moved.booking.kind == "reschedule"
    conversation = world.current()
    assert (conversation.booking_id, conversation.booking_start) == (booking_id, FREE[2].start)
    canceled = turn(world, "quero cancelar a reunião")
    assert canceled.booking is not None and canceled.booking.kind == "cancel"
    conversation = world.current()
    assert conversation.booking_status == "canceled" and conversation.stage == "qualified"


def test_a_failing_calendar_sync_never_fails_the_turn() -> None:
    world = booking_world(FakeScheduler(sync_fails=True))
    turn(world, "quero agendar")
    decision = turn(world, "1")
    assert decision.booking is not None and world.current().booking_status == "confirmed"
    assert world.delivered[-1].decision_id == decision.decision_id


def test_a_redelivered_booking_turn_finishes_what_its_first_run_left_undone() -> None:
    world = booking_world()
    turn(world, "quero agendar")
    pick = world.lead("1")
    world.now += timedelta(seconds=5)
    assert world.turns.run(pick).status == "decided"
    booking_id = world.current().booking_id
    assert booking_id is not None and scheduler_of(world).finished == []

    again = world.turns.run(pick)  # Cloud Tasks redelivers: the batch was stored

    assert again.status == "already_decided"
    assert scheduler_of(world).finished == [booking_id]
    assert scheduler_of(world).calls.count("after_commit") == 2  # no second decision


def test_a_redelivered_turn_without_a_booking_asks_nothing_of_the_scheduler() -> None:
    world = booking_world()
    first = world.lead("Oi, quanto custa a limpeza de pele?")
    world.now += timedelta(seconds=5)
    world.turns.run(first)
    assert world.turns.run(first).status == "already_decided"
    assert scheduler_of(world).finished == []


def test_without_a_scheduler_a_booking_request_is_dropped() -> None:
    world = World()
    offer = [FREE[0]]

    def decide(conversation: Conversation, *args: Any) -> Decision:
        return Decision(
            decision_id=args[2],
            action=Action.SPEAK,
            reasons=[Reason.MEETING_OFFERED],
            messages=[OutboundMessage(text="Horários:")],
            booking=BookingRequest(kind="offer", slots=offer),
            stage="scheduled",
            decided_at=args[3],
        )

    world.turns.decide = decide
    decision = turn(world, "quero agendar")
    assert decision.booking is None and Reason.MEETING_OFFERED not in decision.reasons
    assert world.current().offered_slots == [] and world.current().meeting_booked_at is None


def test_a_copilot_turn_asks_nothing_of_the_scheduler() -> None:
    world = booking_world()
    world.settings = world.settings.model_copy(update={"mode": "copilot"})
    result = world.answered("quero agendar")
    assert result.decision is not None and result.decision.booking is None
    assert result.decision.suggestions and "1. " in result.decision.suggestions[0]
    assert [c for c in scheduler_of(world).calls if c != "slots_for"] == []


def test_a_booking_whose_messages_the_guards_held_back_is_not_carried_out() -> None:
    world = booking_world()
    conversation = Conversation(
        conversation_id="c-1", tenant_id=world.tenant, channel_id="ch", contact_key="5511",
        stage="scheduling", created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    held_back = Decision(
        decision_id="d-1",
        action=Action.STAY_SILENT,
        reasons=[Reason.MEETING_BOOKED, Reason.LEAD_REPLIED],
        booking=BookingRequest(kind="book", slot=FREE[0]),
        stage="scheduled",
        decided_at=NOW,
    )
    kept = world.turns._book(conversation, held_back, 3, TIMEZONE, NOW)
    assert kept.booking is None and kept.stage == "scheduling"
    assert kept.reasons == [Reason.LEAD_REPLIED]
    assert scheduler_of(world).calls == []
