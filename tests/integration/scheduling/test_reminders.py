"""The reminder runner on the Firestore emulator and the in-process store: each path, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.models.channel import Channel
from shared.models.conversation import Conversation, ConversationStatus
from shared.models.decision import Action, Decision, Reason
from shared.models.tenant import AgentSettings, AgentTemplates, TemplateSpec
from shared.scheduling.bookings import booking_ref
from shared.scheduling.models import Booking, BookingStatus, CalendarSettings
from shared.scheduling.reminders import ReminderRequest, ReminderRunner, reminder_decision_id
from shared.store.conversations import conversation_ref

SP = "America/Sao_Paulo"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tuesday 07:00 in São Paulo
START = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # 15:00 the same day


@dataclass
class World:
    client: Any
    tenant_id: str = field(default_factory=lambda: f"rem-{uuid.uuid4().hex[:10]}")
    sent: list[tuple[Conversation, Decision]] = field(default_factory=list)
    agent: AgentSettings = field(default_factory=AgentSettings)

    def conversation(self, **changes: Any) -> None:
        conversation = Conversation(
            conversation_id="conv-1",
            tenant_id=self.tenant_id,
            channel_id="ch-1",
            contact_key="+5511999990000",
            contact_name="Ana Souza",
            last_inbound_at=NOW - timedelta(hours=3),
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(hours=3),
        ).model_copy(update=changes)
        conversation_ref(self.client, self.tenant_id, "conv-1").set(
            conversation.model_dump(mode="python")
        )

    def booking(self, **changes: Any) -> ReminderRequest:
        booking = Booking(
            booking_id="conv-1-4",
            tenant_id=self.tenant_id,
            conversation_id="conv-1",
            start=START,
            end=START + timedelta(minutes=30),
            status=BookingStatus.CONFIRMED,
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(days=1),
        ).model_copy(update=changes)
        booking_ref(self.client, self.tenant_id, "conv-1-4").set(
            {**booking.model_dump(mode="python"), "day": "2026-11-24"}
        )
        return ReminderRequest(self.tenant_id, "conv-1-4", START)

    def runner(self) -> ReminderRunner:
        return ReminderRunner(
            firestore=self.client,
            load_settings=lambda _tenant: (self.agent, SP),
            find_channel=lambda channel_id: Channel(
                channel_id=channel_id, tenant_id=self.tenant_id, provider="meta", config={}
            ),
            deliver=lambda conversation, decision: self.sent.append((conversation, decision)),
            load_calendar=lambda _tenant: CalendarSettings(enabled=True, location="Rua A, 10"),
            now=lambda: NOW,
        )

    def stored_booking(self) -> dict[str, Any]:
        return booking_ref(self.client, self.tenant_id, "conv-1-4").get().to_dict() or {}

    def decision(self, request: ReminderRequest) -> Decision | None:
        snapshot = (
            conversation_ref(self.client, self.tenant_id, "conv-1")
            .collection("decisions")
            .document(reminder_decision_id(request))
            .get()
        )
        return Decision.model_validate(snapshot.to_dict()) if snapshot.exists else None


@pytest.fixture
def world(store: object) -> World:
    return World(store)


def test_inside_the_window_a_closed_conversation_gets_free_text_once(world: World) -> None:
    world.conversation(status=ConversationStatus.CLOSED)
    request = world.booking()
    result = world.runner().run(request)
    assert result.status == "sent" and result.reason == "text"
    ((conversation, decision),) = world.sent
    assert decision.reasons == [Reason.MEETING_REMINDER] and decision.action is Action.SPEAK
    assert decision.messages[0].proactive
    assert decision.messages[0].text == (
        "Olá, Ana! Lembrando da sua reunião hoje às 15:00 — Rua A, 10. "
        "Se precisar remarcar, é só responder aqui."
    )
    assert conversation.window[-1].text == decision.messages[0].text
    assert world.stored_booking()["reminder_sent_at"] == NOW
    assert world.decision(request) == decision
    # A redelivered task publishes the same decision again (the sender dedupes) and records nothing.
    again = world.runner().run(request)
    assert again.status == "already_done"
    assert [decision.decision_id for _, decision in world.sent] == [decision.decision_id] * 2


def test_outside_the_window_the_reminder_template_goes_out(world: World) -> None:
    world.agent = AgentSettings(
        templates=AgentTemplates(
            reminder=TemplateSpec(name="lembrete", parameters=["{nome}", "{data}", "{hora}"])
        )
    )
    world.conversation(last_inbound_at=NOW - timedelta(days=2))
    request = world.booking()
    result = world.runner().run(request)
    assert result.status == "sent" and result.reason == "template"
    message = world.sent[0][1].messages[0]
    assert message.template == "lembrete"
    assert message.template_parameters == ["Ana", "24/11", "15:00"]


def test_outside_the_window_without_a_template_records_why(world: World) -> None:
    world.conversation(last_inbound_at=NOW - timedelta(days=2))
    request = world.booking()
    result = world.runner().run(request)
    assert result.status == "recorded" and world.sent == []
    decision = world.decision(request)
    assert decision is not None and decision.action is Action.STAY_SILENT
    assert decision.reasons == [Reason.MEETING_REMINDER, Reason.OUTSIDE_24H_WINDOW]
    assert world.stored_booking()["reminder_sent_at"] is None
    assert world.runner().run(request).status == "already_done"


def test_an_opted_out_lead_is_not_reminded(world: World) -> None:
    world.conversation(contact_opted_out=True)
    request = world.booking()
    result = world.runner().run(request)
    assert result.status == "recorded" and result.reason == Reason.OPTED_OUT.value
    assert world.sent == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"start": START + timedelta(days=1), "end": START + timedelta(days=1, minutes=30)},
            "rescheduled",
        ),
        ({"status": BookingStatus.CANCELED}, "canceled"),
        ({"reminder_sent_at": NOW - timedelta(minutes=5)}, "sent"),
    ],
)
def test_a_moved_canceled_or_reminded_booking_is_a_no_op(
    world: World, changes: dict[str, Any], reason: str
) -> None:
    world.conversation()
    request = ReminderRequest(world.tenant_id, "conv-1-4", START)
    world.booking(**changes)
    result = world.runner().run(request)
    assert result.reason == reason and result.status in ("skipped", "already_done")
    assert world.sent == [] and world.decision(request) is None


def test_the_request_body_round_trips_and_bad_bodies_name_the_problem() -> None:
    request = ReminderRequest("t1", "b1", START)
    assert ReminderRequest.from_json(request.to_json()) == request
    with pytest.raises(ValueError, match="booking_id must be a non-empty string"):
        ReminderRequest.from_json(b'{"tenant_id": "t", "start": "2026-11-24T18:00:00+00:00"}')
    with pytest.raises(ValueError, match="UTC offset"):
        ReminderRequest.from_json(
            b'{"tenant_id": "t", "booking_id": "b", "start": "2026-11-24T18:00"}'
        )
    with pytest.raises(ValueError, match="not a JSON object"):
        ReminderRequest.from_json(b"[]")
