"""The turn graph books meetings: the pick without a model, offers, moves, cancels, handoffs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from langchain_core.language_models import BaseChatModel

from shared.agent.graph import CHOICES_BUTTON, decide_turn
from shared.agent.offline import OfflineChatModel
from shared.agent.prompts import (
    CALENDAR_UNAVAILABLE_REPLY,
    NO_FREE_SLOTS_REPLY,
    OFFER_REPLY,
    build_prompt,
)
from shared.models.conversation import Conversation
from shared.models.decision import Action, Decision, Reason
from shared.scheduling.models import CalendarSettings, Slot
from shared.scheduling.service import SlotLookup
from tests.unit.agent import NOW, make_context, make_conversation, make_settings
from tests.unit.agent.test_graph import FailingChatModel, scripted

ZONE = "America/Sao_Paulo"
CALENDAR = CalendarSettings(enabled=True, slots_offered=3, location="Rua das Flores, 10")


def slot(days: int, hour: int) -> Slot:
    """Return a 30-minute slot ``days`` after NOW (a Tuesday) at ``hour`` in São Paulo."""
    local = NOW.astimezone(ZoneInfo(ZONE))
    start = (local + timedelta(days=days)).replace(hour=hour, minute=0)
    days_pt = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")
    label = f"{days_pt[start.weekday()]} {start:%d/%m} às {start:%H:%M}"
    return Slot(start=start, end=start + timedelta(minutes=30), label=label)


FREE = [slot(1, 9), slot(1, 14), slot(2, 9), slot(2, 15), slot(3, 10)]


class Lookups:
    """A slot lookup that counts its calls (the graph asks the calendar lazily)."""

    def __init__(self, lookup: SlotLookup | Exception) -> None:
        self.lookup, self.calls = lookup, 0

    def __call__(self) -> SlotLookup:
        self.calls += 1
        if isinstance(self.lookup, Exception):
            raise self.lookup
        return self.lookup


def decide(
    texts: Sequence[str],
    conversation: Conversation | None = None,
    lookup: Callable[[], SlotLookup] | None = None,
    chat_model: BaseChatModel | None = None,
    **context: Any,
) -> Decision:
    """Return the decision for the lead's texts with a calendar that has FREE slots."""
    slots = lookup if lookup is not None else Lookups(SlotLookup(calendar=CALENDAR, slots=FREE))
    return decide_turn(
        conversation or make_conversation(),
        texts,
        make_settings(),
        make_context(chat_model, timezone=ZONE, slots=slots, **context),
    )


def booked(**overrides: Any) -> Conversation:
    """Return a conversation whose lead has a confirmed meeting at FREE[0]."""
    values: dict[str, Any] = {
        "booking_id": "conv-1-4",
        "booking_start": FREE[0].start,
        "booking_status": "confirmed",
        "stage": "scheduled",
    }
    return make_conversation(**{**values, **overrides})


def test_a_meeting_request_is_offered_the_calendars_free_slots_as_choices() -> None:
    decision = decide(["Quero agendar uma avaliação"])
    assert decision.action is Action.SPEAK
    assert Reason.MEETING_OFFERED in decision.reasons
    assert decision.stage == "scheduling"
    assert decision.booking is not None and decision.booking.kind == "offer"
    assert decision.booking.slots == FREE[:3]  # slots_offered
    [message] = decision.messages
    assert message.choices_button == CHOICES_BUTTON == "Ver horários"
    assert [(c.id, c.title) for c in message.choices] == [(s.slot_id, s.label) for s in FREE[:3]]
    assert message.text and not any(char.isdigit() for char in message.text)


def test_a_pick_books_without_a_model_call() -> None:
    offer = make_conversation(offered_slots=FREE[:3], stage="scheduling")
    decision = decide(["2"], offer, chat_model=FailingChatModel(messages=iter([])))
    assert decision.booking is not None
    assert (decision.booking.kind, decision.booking.slot) == ("book", FREE[1])
    assert decision.reasons[:1] == [Reason.MEETING_BOOKED]
    assert decision.stage == "scheduled"
    assert (decision.prompt_tokens, decision.model) == (0, None)
    [message] = decision.messages
    assert message.text is not None
    for detail in ("quarta-feira", f"{FREE[1].start.astimezone(ZoneInfo(ZONE)):%d/%m}", "14:00",
                   "30 minutos", "Rua das Flores, 10"):  # fmt: skip
        assert detail in message.text
    assert not message.choices


def test_the_row_title_a_tap_sends_back_books_that_slot() -> None:
    offer = make_conversation(offered_slots=FREE[:3])
    decision = decide([FREE[2].label], offer)
    assert decision.booking is not None and decision.booking.slot == FREE[2]


def test_an_e_mail_given_with_the_pick_goes_with_the_booking() -> None:
    offer = make_conversation(offered_slots=FREE[:3], fields={"email": "ana@exemplo.com"})
    assert decide(["a primeira"], offer).booking.email == "ana@exemplo.com"  # type: ignore[union-attr]


def test_an_ambiguous_answer_to_an_offer_goes_to_the_model() -> None:
    offer = make_conversation(offered_slots=FREE[:3])
    decision = decide(["9h"], offer)  # Wednesday and Thursday
    assert decision.prompt_tokens > 0
    assert decision.booking is None or decision.booking.kind != "book"


def test_a_pick_with_a_confirmed_meeting_moves_it() -> None:
    conversation = booked(offered_slots=FREE[2:5])
    decision = decide(["3"], conversation)
    assert decision.booking is not None
    assert (decision.booking.kind, decision.booking.slot, decision.booking.booking_id) == (
        "reschedule", FREE[4], "conv-1-4",
    )  # fmt: skip
    assert Reason.MEETING_RESCHEDULED in decision.reasons
    assert decision.messages[0].text and "remarquei" in decision.messages[0].text


def test_a_reschedule_request_offers_new_slots_and_keeps_the_meeting_until_the_pick() -> None:
    decision = decide(["preciso remarcar"], booked())
    assert decision.booking is not None and decision.booking.kind == "offer"
    assert decision.stage == "scheduled"
    assert len(decision.messages[0].choices) == 3


def test_a_cancel_cancels_the_meeting_without_asking_the_calendar() -> None:
    lookups = Lookups(RuntimeError("must not be asked"))
    decision = decide(["quero cancelar a reunião"], booked(), lookups)
    assert decision.booking is not None
    assert (decision.booking.kind, decision.booking.booking_id) == ("cancel", "conv-1-4")
    assert Reason.MEETING_CANCELED in decision.reasons
    assert decision.stage == "qualified"
    assert lookups.calls == 0
    assert decision.messages[0].text and "cancelei" in decision.messages[0].text


def test_no_free_slot_hands_off_politely() -> None:
    decision = decide(["quero agendar"], lookup=Lookups(SlotLookup(calendar=CALENDAR)))
    assert decision.action is Action.HANDOFF
    assert decision.reasons[:2] == [Reason.NO_FREE_SLOTS, Reason.HANDOFF_REQUESTED]
    assert [m.text for m in decision.messages] == [NO_FREE_SLOTS_REPLY]
    assert decision.booking is None
    assert decision.handoff_summary and "no_free_slots" in decision.handoff_summary


@pytest.mark.parametrize(
    "lookup",
    [SlotLookup(calendar=CALENDAR, error="Google Calendar: 503"), ConnectionError("Firestore")],
)
def test_a_calendar_that_cannot_be_read_hands_off(lookup: SlotLookup | Exception) -> None:
    decision = decide(["quero agendar"], lookup=Lookups(lookup))
    assert decision.action is Action.HANDOFF
    assert Reason.CALENDAR_UNAVAILABLE in decision.reasons
    assert [m.text for m in decision.messages] == [CALENDAR_UNAVAILABLE_REPLY]


def test_without_a_calendar_the_agent_asks_for_a_time_as_before() -> None:
    decision = decide(["quero agendar"], lookup=Lookups(SlotLookup(calendar=None)))
    assert decision.booking is None
    assert decision.stage == "scheduling"
    assert decision.messages[0].text and "horário" in decision.messages[0].text
    assert not decision.messages[0].choices


def test_turns_that_do_not_schedule_never_ask_the_calendar() -> None:
    lookups = Lookups(RuntimeError("must not be asked"))
    decision = decide(["quanto custa a consulta?"], lookup=lookups)
    assert decision.specialist == "sell"
    assert lookups.calls == 0 and decision.booking is None


def test_a_draft_reply_naming_a_time_is_replaced_by_the_calendars_intro() -> None:
    model = scripted(
        specialist="schedule", action="speak", meeting_request="book",
        replies=["Tenho terça às 10h, pode ser?"],
    )  # fmt: skip
    decision = decide(["quero marcar"], chat_model=model)
    assert decision.messages[0].text == OFFER_REPLY
    assert decision.messages[0].choices


def test_the_models_meeting_request_wins_over_keywords() -> None:
    model = scripted(
        specialist="schedule", action="speak", meeting_request="cancel", replies=["Certo."]
    )
    decision = decide(["não vou conseguir comparecer amanhã"], booked(), chat_model=model)
    assert decision.booking is not None and decision.booking.kind == "cancel"


def test_an_e_mail_after_booking_invites_the_lead() -> None:
    decision = decide(["meu e-mail é Ana@Exemplo.com"], booked())
    assert decision.booking is not None
    assert (decision.booking.kind, decision.booking.email) == ("add_email", "ana@exemplo.com")
    assert decision.booking.booking_id == "conv-1-4"


def test_in_copilot_mode_the_offer_becomes_a_numbered_suggestion_and_nothing_is_held() -> None:
    decision = decide(["quero agendar"], mode="copilot")
    assert decision.booking is None and not decision.messages
    assert Reason.MEETING_OFFERED not in decision.reasons
    [suggestion] = decision.suggestions
    assert f"1. {FREE[0].label}" in suggestion and f"3. {FREE[2].label}" in suggestion


def test_in_copilot_mode_a_pick_is_only_suggested() -> None:
    offer = make_conversation(offered_slots=FREE[:3], stage="scheduling")
    decision = decide(["2"], offer, mode="copilot")
    assert decision.booking is None and not decision.messages
    assert decision.stage == "scheduling"  # nothing booked: no meeting counted
    assert decision.suggestions and "14:00" in decision.suggestions[0]


def test_a_promoted_schedule_intent_books_in_copilot_mode() -> None:
    decision = decide(["quero agendar"], mode="copilot", pilot_intents=frozenset({"schedule"}))
    assert decision.booking is not None and decision.booking.kind == "offer"
    assert decision.messages[0].choices and decision.messages[0].pilot_intent == "schedule"


def test_the_prompt_tells_the_model_the_meeting_and_that_times_come_from_the_calendar() -> None:
    conversation = booked(offered_slots=FREE[:2])
    system, human = build_prompt(
        conversation, ["oi"], make_settings(), NOW.astimezone(ZoneInfo(ZONE))
    )
    assert "never propose, invent or confirm" in system.text
    assert "<meeting>confirmed: quarta-feira" in human.text
    assert f"offered: {FREE[0].label}; {FREE[1].label}" in human.text


def test_the_offline_model_books_end_to_end() -> None:
    offline = OfflineChatModel()
    offer = decide(["Oi, queria marcar uma reunião"], chat_model=offline)
    assert offer.booking is not None and offer.booking.kind == "offer"
    conversation = make_conversation(offered_slots=offer.booking.slots)
    pick = decide(["2"], conversation, chat_model=offline)
    assert pick.booking is not None and pick.booking.slot == FREE[1]
    move = decide(["preciso remarcar"], booked(), chat_model=offline)
    assert move.booking is not None and move.booking.kind == "offer"
    cancel = decide(["pode cancelar a reunião"], booked(), chat_model=offline)
    assert cancel.booking is not None and cancel.booking.kind == "cancel"
