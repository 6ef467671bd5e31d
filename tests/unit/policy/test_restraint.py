"""Each restraint rule with concrete times in America/Sao_Paulo (quiet hours 21:00 to 08:00)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shared.models.conversation import Contact, Conversation, ConversationStatus
from shared.models.decision import Action, OutboundMessage, Reason
from shared.models.tenant import AgentSettings, QuietHours
from shared.policy import (
    PolicyContext,
    Verdict,
    at_send,
    before_turn,
    in_quiet_hours,
    next_allowed_time,
    quiet_hours_end,
    starts_new_conversation,
    within_24h_window,
)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NEW_YORK = ZoneInfo("America/New_York")
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=SAO_PAULO)
LATE = datetime(2026, 3, 10, 22, 30, tzinfo=SAO_PAULO)
NIGHT = QuietHours()
LUNCH = QuietHours(start=time(12, 0), end=time(14, 0))
TEXT = OutboundMessage(text="Temos horário amanhã às 10h.")
TEMPLATE = OutboundMessage(template="retomar_contato", template_language="pt_BR")


def make_conversation(now: datetime = NOON, **changes: Any) -> Conversation:
    fields: dict[str, Any] = {
        "conversation_id": "conv-1",
        "tenant_id": "clinica",
        "channel_id": "meta-1",
        "contact_key": "5511987654321",
        "created_at": now - timedelta(hours=1),
        "updated_at": now,
        "last_inbound_at": now - timedelta(minutes=2),
    }
    return Conversation(**(fields | changes))


def make_context(
    *,
    now: datetime = NOON,
    conversation: Conversation | None = None,
    opted_out: bool = False,
    use_default_conversation: bool = True,
    **changes: Any,
) -> PolicyContext:
    if conversation is None and use_default_conversation:
        conversation = make_conversation(now)
    fields: dict[str, Any] = {
        "conversation": conversation,
        "contact": Contact(contact_key="5511987654321", opted_out=opted_out),
        "settings": AgentSettings(),
        "now": now,
    }
    return PolicyContext(**(fields | changes))


def closed(reason: Reason, **changes: Any) -> Conversation:
    return make_conversation(status=ConversationStatus.CLOSED, close_reason=reason, **changes)


# --- the clock: quiet hours and the 24-hour window -------------------------------------------


@pytest.mark.parametrize(
    ("wall_clock", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(22, 30), True),
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_spanning_midnight(wall_clock: time, quiet: bool) -> None:
    now = datetime.combine(NOON.date(), wall_clock, tzinfo=SAO_PAULO)
    assert in_quiet_hours(now, NIGHT, "America/Sao_Paulo") is quiet


@pytest.mark.parametrize(
    ("wall_clock", "quiet"),
    [(time(11, 59), False), (time(12, 0), True), (time(13, 59), True), (time(14, 0), False)],
)
def test_quiet_hours_within_one_day(wall_clock: time, quiet: bool) -> None:
    now = datetime.combine(NOON.date(), wall_clock, tzinfo=SAO_PAULO)
    assert in_quiet_hours(now, LUNCH, "America/Sao_Paulo") is quiet


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    always_on = QuietHours(start=time(9, 0), end=time(9, 0))
    assert not in_quiet_hours(LATE, always_on, "America/Sao_Paulo")


def test_quiet_hours_are_read_on_the_tenant_wall_clock() -> None:
    utc_midnight = datetime(2026, 3, 11, 0, 30, tzinfo=UTC)  # 21:30 in São Paulo
    assert in_quiet_hours(utc_midnight, NIGHT, "America/Sao_Paulo")
    assert not in_quiet_hours(utc_midnight, NIGHT, "Asia/Tokyo")  # 09:30 in Tokyo


@pytest.mark.parametrize(
    ("now", "quiet_hours", "end"),
    [
        (LATE, NIGHT, datetime(2026, 3, 11, 8, 0, tzinfo=SAO_PAULO)),
        (NOON.replace(hour=6), NIGHT, datetime(2026, 3, 10, 8, 0, tzinfo=SAO_PAULO)),
        (NOON, NIGHT, NOON),
        (NOON.replace(minute=30), LUNCH, datetime(2026, 3, 10, 14, 0, tzinfo=SAO_PAULO)),
    ],
)
def test_quiet_hours_end(now: datetime, quiet_hours: QuietHours, end: datetime) -> None:
    assert quiet_hours_end(now, quiet_hours, "America/Sao_Paulo") == end


def test_quiet_hours_end_across_the_spring_dst_change() -> None:
    now = datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)  # EST; clocks jump to EDT at 02:00
    end = quiet_hours_end(now, NIGHT, "America/New_York")
    assert end == datetime(2026, 3, 8, 8, 0, tzinfo=NEW_YORK)
    assert end.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=5, minutes=30)


def test_quiet_hours_end_across_the_autumn_dst_change() -> None:
    now = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)  # EDT; clocks fall back to EST at 02:00
    end = quiet_hours_end(now, NIGHT, "America/New_York")
    assert end == datetime(2026, 11, 1, 8, 0, tzinfo=NEW_YORK)
    assert end.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=8, minutes=30)


def test_quiet_hours_ending_at_a_skipped_wall_time_end_at_a_real_instant() -> None:
    quiet_hours = QuietHours(start=time(22, 0), end=time(2, 30))  # 02:30 does not exist that day
    now = datetime(2026, 3, 8, 1, 0, tzinfo=NEW_YORK)
    end = quiet_hours_end(now, quiet_hours, "America/New_York")
    assert end == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert not in_quiet_hours(end, quiet_hours, "America/New_York")


def test_the_24_hour_window() -> None:
    assert within_24h_window(NOON - timedelta(hours=23, minutes=59), NOON)
    assert not within_24h_window(NOON - timedelta(hours=24), NOON)
    assert not within_24h_window(None, NOON)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_context(conversation=make_conversation(), now=datetime(2026, 3, 10, 12, 0))  # noqa: DTZ001


# --- before_turn: a reply to the lead --------------------------------------------------------


def test_a_reply_in_an_open_conversation_is_left_to_the_model() -> None:
    verdict = before_turn(make_context(), ["Oi, quanto custa a limpeza de pele?"])
    assert verdict == Verdict(may_send_text=True)


def test_a_reply_during_quiet_hours_is_allowed() -> None:
    verdict = before_turn(make_context(now=LATE), ["Ainda tem horário amanhã?"])
    assert verdict.action is None
    assert verdict.may_send_text


def test_a_first_message_without_a_stored_conversation_is_answered() -> None:
    context = make_context(use_default_conversation=False)
    assert before_turn(context, ["Oi"]).may_send_text


def test_an_opt_out_closes_the_conversation_with_one_acknowledgement() -> None:
    verdict = before_turn(make_context(), ["Não quero mais, pare de mandar mensagem"])
    assert verdict.action is Action.CLOSE
    assert verdict.reasons == (Reason.OPTED_OUT,)
    assert verdict.persist_opt_out
    assert verdict.acknowledge_opt_out
    assert not verdict.may_send_text


@pytest.mark.parametrize(
    "context",
    [
        make_context(settings=AgentSettings(opt_out_acknowledgement=None)),
        make_context(settings=AgentSettings(mode="copilot")),
        make_context(conversation=make_conversation(opt_out_acknowledged=True)),
        make_context(
            conversation=make_conversation(human_active_until=NOON + timedelta(minutes=9))
        ),
        make_context(quota_exceeded=True),
    ],
    ids=["no-acknowledgement-set", "copilot", "already-acknowledged", "human-active", "quota"],
)
def test_an_opt_out_is_recorded_without_acknowledgement(context: PolicyContext) -> None:
    verdict = before_turn(context, ["PARE!!!"])
    assert verdict.action is Action.CLOSE
    assert verdict.reasons == (Reason.OPTED_OUT,)
    assert verdict.persist_opt_out
    assert not verdict.acknowledge_opt_out


def test_an_opted_out_contact_gets_silence() -> None:
    context = make_context(conversation=closed(Reason.OPTED_OUT), opted_out=True)
    verdict = before_turn(context, ["Oi, ainda estão aí?"])
    assert verdict == Verdict(action=Action.STAY_SILENT, reasons=(Reason.OPTED_OUT,))


def test_a_repeated_opt_out_is_not_acknowledged_again() -> None:
    context = make_context(conversation=closed(Reason.OPTED_OUT), opted_out=True)
    verdict = before_turn(context, ["PARE"])
    assert verdict.action is Action.STAY_SILENT
    assert not verdict.acknowledge_opt_out


def test_an_explicit_opt_in_lifts_the_opt_out() -> None:
    verdict = before_turn(make_context(opted_out=True), ["VOLTAR"])
    assert verdict.reasons == (Reason.OPT_IN,)
    assert verdict.persist_opt_in
    assert verdict.action is None
    assert verdict.may_send_text


def test_the_last_word_in_a_burst_decides_between_opt_out_and_opt_in() -> None:
    assert before_turn(make_context(opted_out=True), ["pare", "voltar"]).persist_opt_in
    opted_out_again = before_turn(make_context(opted_out=True), ["voltar", "pare"])
    assert opted_out_again.reasons == (Reason.OPTED_OUT,)
    assert opted_out_again.acknowledge_opt_out


def test_opt_in_words_from_a_contact_who_never_opted_out_change_nothing() -> None:
    assert before_turn(make_context(), ["voltar"]) == Verdict(may_send_text=True)


def test_a_closed_conversation_stays_closed() -> None:
    verdict = before_turn(make_context(conversation=closed(Reason.REJECTION)), ["Oi"])
    assert verdict == Verdict(action=Action.STAY_SILENT, reasons=(Reason.CLOSED,))


def test_a_rejection_closes_politely_once() -> None:
    verdict = before_turn(make_context(), ["Obrigada, mas não tenho interesse"])
    assert verdict.action is Action.CLOSE
    assert verdict.reasons == (Reason.REJECTION,)
    assert verdict.acknowledge_rejection
    assert not verdict.may_send_text


def test_a_rejection_in_copilot_mode_closes_without_a_word() -> None:
    verdict = before_turn(make_context(settings=AgentSettings(mode="copilot")), ["Já comprei"])
    assert verdict.action is Action.CLOSE
    assert not verdict.acknowledge_rejection


def test_a_request_for_a_human_hands_off() -> None:
    verdict = before_turn(make_context(), ["quero falar com um atendente"])
    assert verdict.action is Action.HANDOFF
    assert verdict.reasons == (Reason.HANDOFF_REQUESTED,)
    assert verdict.may_send_text  # a short "a person will answer you" may go out


def test_a_request_for_a_human_in_copilot_mode_hands_off_silently() -> None:
    context = make_context(settings=AgentSettings(mode="copilot"))
    verdict = before_turn(context, ["Humano"])
    assert verdict.action is Action.HANDOFF
    assert verdict.reasons == (Reason.HANDOFF_REQUESTED, Reason.COPILOT_MODE)
    assert not verdict.may_send_text


def test_an_exceeded_quota_hands_the_conversation_to_a_human() -> None:
    verdict = before_turn(make_context(quota_exceeded=True), ["Oi"])
    assert verdict == Verdict(action=Action.HANDOFF, reasons=(Reason.QUOTA_EXCEEDED,))


@pytest.mark.parametrize(
    "conversation",
    [make_conversation(mode="copilot"), make_conversation()],
    ids=["conversation-mode", "tenant-mode"],
)
def test_copilot_mode_never_sends_but_may_suggest(conversation: Conversation) -> None:
    settings = AgentSettings(mode="copilot" if conversation.mode == "pilot" else "pilot")
    verdict = before_turn(make_context(conversation=conversation, settings=settings), ["Oi"])
    assert verdict == Verdict(
        action=Action.STAY_SILENT, reasons=(Reason.COPILOT_MODE,), may_suggest=True
    )


def test_a_human_seller_keeps_the_agent_silent_until_the_takeover_ends() -> None:
    conversation = make_conversation(human_active_until=NOON + timedelta(minutes=30))
    during = before_turn(make_context(conversation=conversation), ["Oi"])
    assert during == Verdict(
        action=Action.STAY_SILENT, reasons=(Reason.HUMAN_ACTIVE,), may_suggest=True
    )
    later = make_context(conversation=conversation, now=NOON + timedelta(minutes=30))
    assert before_turn(later, ["Oi"]).may_send_text


def test_a_conversation_handed_off_stays_with_the_human() -> None:
    conversation = make_conversation(status=ConversationStatus.HANDOFF)
    verdict = before_turn(make_context(conversation=conversation), ["Oi"])
    assert verdict.action is Action.STAY_SILENT
    assert verdict.reasons == (Reason.HANDOFF_REQUESTED,)


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        (make_context(opted_out=True, quota_exceeded=True), Reason.OPTED_OUT),
        (make_context(conversation=closed(Reason.REJECTION), quota_exceeded=True), Reason.CLOSED),
        (
            make_context(quota_exceeded=True, settings=AgentSettings(mode="copilot")),
            Reason.QUOTA_EXCEEDED,
        ),
        (
            make_context(
                settings=AgentSettings(mode="copilot"),
                conversation=make_conversation(human_active_until=NOON + timedelta(minutes=5)),
            ),
            Reason.COPILOT_MODE,
        ),
        (
            make_context(
                conversation=make_conversation(
                    human_active_until=NOON + timedelta(minutes=5), unanswered_count=3
                )
            ),
            Reason.HUMAN_ACTIVE,
        ),
    ],
    ids=["opt-out>quota", "closed>quota", "quota>copilot", "copilot>human", "human>unanswered"],
)
def test_precedence(context: PolicyContext, reason: Reason) -> None:
    assert before_turn(context, ["Oi"]).reasons[0] is reason


# --- before_turn: a follow-up ----------------------------------------------------------------


def test_a_follow_up_in_the_afternoon_is_left_to_the_model() -> None:
    context = make_context(proactive=True, conversation=make_conversation(unanswered_count=1))
    assert before_turn(context, []) == Verdict(may_send_text=True)


def test_a_follow_up_in_quiet_hours_waits_for_the_morning() -> None:
    context = make_context(now=LATE, proactive=True)
    morning = datetime(2026, 3, 11, 8, 0, tzinfo=SAO_PAULO)
    verdict = before_turn(context, [])
    assert verdict == Verdict(
        action=Action.SCHEDULE_FOLLOWUP, reasons=(Reason.QUIET_HOURS,), retry_at=morning
    )
    assert next_allowed_time(context) == morning


def test_a_reply_has_no_next_allowed_time_but_now() -> None:
    assert next_allowed_time(make_context(now=LATE)) == LATE


@pytest.mark.parametrize(("unanswered", "allowed"), [(2, True), (3, False), (5, False)])
def test_the_unanswered_limit_stops_follow_ups(unanswered: int, allowed: bool) -> None:
    conversation = make_conversation(unanswered_count=unanswered)
    verdict = before_turn(make_context(conversation=conversation, proactive=True), [])
    assert verdict.may_send_text is allowed
    assert verdict.reasons == (() if allowed else (Reason.UNANSWERED_LIMIT,))


def test_a_lead_reply_starts_the_unanswered_count_again() -> None:
    conversation = make_conversation(unanswered_count=3)
    assert before_turn(make_context(conversation=conversation), ["Oi, voltei"]).may_send_text


def test_a_follow_up_outside_the_24_hour_window_without_a_template_is_dropped() -> None:
    conversation = make_conversation(last_inbound_at=NOON - timedelta(hours=25))
    verdict = before_turn(make_context(conversation=conversation, proactive=True), [])
    assert verdict == Verdict(action=Action.STAY_SILENT, reasons=(Reason.OUTSIDE_24H_WINDOW,))


def test_a_follow_up_outside_the_24_hour_window_may_use_a_template() -> None:
    conversation = make_conversation(last_inbound_at=NOON - timedelta(hours=25))
    context = make_context(conversation=conversation, proactive=True, has_template=True)
    assert before_turn(context, []) == Verdict(
        reasons=(Reason.OUTSIDE_24H_WINDOW,), may_send_template=True
    )


def test_a_template_follow_up_still_waits_out_quiet_hours() -> None:
    conversation = make_conversation(LATE, last_inbound_at=LATE - timedelta(days=2))
    context = make_context(now=LATE, conversation=conversation, proactive=True, has_template=True)
    verdict = before_turn(context, [])
    assert verdict.action is Action.SCHEDULE_FOLLOWUP
    assert verdict.reasons == (Reason.QUIET_HOURS, Reason.OUTSIDE_24H_WINDOW)


def test_an_opted_out_contact_gets_no_follow_up() -> None:
    context = make_context(opted_out=True, proactive=True)
    verdict = before_turn(context, [])
    assert verdict.reasons == (Reason.OPTED_OUT,)
    assert not verdict.acknowledge_opt_out


# --- at_send: the last check -----------------------------------------------------------------


def test_a_message_decided_a_moment_ago_goes_out() -> None:
    assert at_send(make_context(), TEXT) == Verdict(may_send_text=True)


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        (make_context(opted_out=True), Reason.OPTED_OUT),
        (make_context(conversation=closed(Reason.REJECTION)), Reason.CLOSED),
        (
            make_context(conversation=make_conversation(human_active_until=NOON + timedelta(1))),
            Reason.HUMAN_ACTIVE,
        ),
        (make_context(settings=AgentSettings(mode="copilot")), Reason.COPILOT_MODE),
        (make_context(conversation=make_conversation(unanswered_count=3)), Reason.UNANSWERED_LIMIT),
        (
            make_context(conversation=make_conversation(last_inbound_at=NOON - timedelta(days=2))),
            Reason.OUTSIDE_24H_WINDOW,
        ),
    ],
    ids=["opted-out", "closed", "human-took-over", "copilot", "unanswered", "window"],
)
def test_what_changed_since_the_decision_wins(context: PolicyContext, reason: Reason) -> None:
    verdict = at_send(context, TEXT)
    assert verdict.action is Action.STAY_SILENT
    assert verdict.reasons == (reason,)


def test_an_exceeded_quota_at_send_time_hands_off() -> None:
    verdict = at_send(make_context(quota_exceeded=True), TEXT)
    assert verdict.action is Action.HANDOFF
    assert verdict.reasons == (Reason.QUOTA_EXCEEDED,)


def test_outside_the_window_only_an_approved_template_passes() -> None:
    conversation = make_conversation(last_inbound_at=NOON - timedelta(days=2))
    with_template = make_context(conversation=conversation, has_template=True)
    text_verdict = at_send(with_template, TEXT)
    assert text_verdict.action is Action.STAY_SILENT
    assert text_verdict.may_send_template  # the caller may switch to the template
    assert at_send(with_template, TEMPLATE).action is None
    assert at_send(make_context(conversation=conversation), TEMPLATE).action is Action.STAY_SILENT


def test_a_proactive_message_at_send_time_in_quiet_hours_is_rescheduled() -> None:
    verdict = at_send(make_context(now=LATE, proactive=True), TEXT)
    assert verdict.action is Action.SCHEDULE_FOLLOWUP
    assert verdict.retry_at == datetime(2026, 3, 11, 8, 0, tzinfo=SAO_PAULO)
    assert at_send(make_context(now=LATE), TEXT).action is None


def test_the_opt_out_acknowledgement_passes_once() -> None:
    conversation = closed(Reason.OPTED_OUT)
    context = make_context(conversation=conversation, opted_out=True)
    assert at_send(context, TEXT, acknowledgement="opt_out").action is None
    acknowledged = closed(Reason.OPTED_OUT, opt_out_acknowledged=True)
    again = make_context(conversation=acknowledged, opted_out=True)
    assert at_send(again, TEXT, acknowledgement="opt_out").reasons == (Reason.OPTED_OUT,)


def test_the_opt_out_acknowledgement_is_a_reply_even_at_night() -> None:
    conversation = make_conversation(
        LATE, status=ConversationStatus.CLOSED, close_reason=Reason.OPTED_OUT
    )
    context = make_context(now=LATE, conversation=conversation, opted_out=True, proactive=True)
    assert at_send(context, TEXT, acknowledgement="opt_out").action is None


@pytest.mark.parametrize(
    "context",
    [
        make_context(conversation=closed(Reason.OPTED_OUT)),  # the lead opted back in
        make_context(opted_out=True),  # the close is not stored yet
        make_context(conversation=closed(Reason.REJECTION), opted_out=True),
        make_context(
            conversation=closed(Reason.OPTED_OUT),
            opted_out=True,
            settings=AgentSettings(opt_out_acknowledgement=None),
        ),
        make_context(
            conversation=closed(Reason.OPTED_OUT),
            opted_out=True,
            settings=AgentSettings(mode="copilot"),
        ),
    ],
    ids=[
        "opted-in-again",
        "not-closed-yet",
        "closed-for-another-reason",
        "no-acknowledgement-set",
        "copilot",
    ],
)
def test_an_opt_out_acknowledgement_that_no_longer_fits_is_held(context: PolicyContext) -> None:
    assert at_send(context, TEXT, acknowledgement="opt_out").action is Action.STAY_SILENT


def test_the_rejection_acknowledgement_passes_once() -> None:
    context = make_context(conversation=closed(Reason.REJECTION))
    assert at_send(context, TEXT, acknowledgement="rejection").action is None
    again = make_context(conversation=closed(Reason.REJECTION, rejection_acknowledged=True))
    assert at_send(again, TEXT, acknowledgement="rejection").reasons == (Reason.REJECTION,)
    assert at_send(context, TEXT).reasons == (Reason.CLOSED,)


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        (make_context(conversation=closed(Reason.REJECTION), opted_out=True), Reason.OPTED_OUT),
        (make_context(conversation=closed(Reason.UNANSWERED_LIMIT)), Reason.REJECTION),
        (make_context(), Reason.REJECTION),
    ],
    ids=["opted-out-since", "closed-for-another-reason", "not-closed"],
)
def test_a_rejection_acknowledgement_that_no_longer_fits_is_held(
    context: PolicyContext, reason: Reason
) -> None:
    verdict = at_send(context, TEXT, acknowledgement="rejection")
    assert verdict.action is Action.STAY_SILENT
    assert verdict.reasons == (reason,)


# --- a meeting's reminder: it may reach a conversation closed after the booking ---------------


def closed_as(reason: str, **changes: Any) -> Conversation:
    """Return a conversation a seller closed with ``reason`` (won, lost) after the booking."""
    return make_conversation(status=ConversationStatus.CLOSED, close_reason=reason, **changes)


REMINDER = OutboundMessage(
    text="Olá, Ana! Lembrando da sua reunião amanhã às 15:00.",
    proactive=True,
    acknowledgement="meeting_reminder",
)
REMINDER_TEMPLATE = OutboundMessage(
    template="lembrete_reuniao",
    template_language="pt_BR",
    proactive=True,
    acknowledgement="meeting_reminder",
)


@pytest.mark.parametrize(
    "conversation",
    [make_conversation(), closed_as("won"), closed_as("lost")],
    ids=["open", "closed-won", "closed-lost"],
)
def test_a_meeting_reminder_passes_a_conversation_closed_after_booking(
    conversation: Conversation,
) -> None:
    context = make_context(conversation=conversation, proactive=True)
    assert at_send(context, REMINDER, acknowledgement="meeting_reminder").action is None
    assert at_send(context, REMINDER.model_copy(update={"acknowledgement": None})).reasons == (
        () if conversation.status is ConversationStatus.OPEN else (Reason.CLOSED,)
    )


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        (make_context(conversation=closed_as("won"), opted_out=True), Reason.OPTED_OUT),
        (make_context(opted_out=True), Reason.OPTED_OUT),
        (make_context(conversation=closed(Reason.REJECTION)), Reason.REJECTION),
        (
            make_context(conversation=closed_as("won", last_inbound_at=NOON - timedelta(2))),
            Reason.OUTSIDE_24H_WINDOW,
        ),
        (
            make_context(conversation=closed_as("won"), settings=AgentSettings(mode="copilot")),
            Reason.COPILOT_MODE,
        ),
        (
            make_context(
                conversation=closed_as("won", human_active_until=NOON + timedelta(hours=1))
            ),
            Reason.HUMAN_ACTIVE,
        ),
    ],
    ids=["opted-out-closed", "opted-out-open", "rejected", "window", "copilot", "human-active"],
)
def test_a_meeting_reminder_is_still_held_by_every_other_guard(
    context: PolicyContext, reason: Reason
) -> None:
    verdict = at_send(context, REMINDER, acknowledgement="meeting_reminder")
    assert verdict.action is Action.STAY_SILENT
    assert verdict.reasons == (reason,)


def test_a_meeting_reminder_outside_the_window_goes_as_its_approved_template() -> None:
    conversation = closed_as("won", last_inbound_at=NOON - timedelta(days=2))
    context = make_context(conversation=conversation, has_template=True, proactive=True)
    assert at_send(context, REMINDER_TEMPLATE, acknowledgement="meeting_reminder").action is None
    verdict = at_send(context, REMINDER, acknowledgement="meeting_reminder")
    assert verdict.action is Action.STAY_SILENT  # free text outside the window never goes


def test_a_meeting_reminder_waits_out_quiet_hours() -> None:
    conversation = make_conversation(LATE, status=ConversationStatus.CLOSED, close_reason="won")
    context = make_context(now=LATE, conversation=conversation, proactive=True)
    verdict = at_send(context, REMINDER, acknowledgement="meeting_reminder")
    assert verdict.action is Action.SCHEDULE_FOLLOWUP
    assert verdict.retry_at == datetime(2026, 3, 11, 8, 0, tzinfo=SAO_PAULO)


# --- a new conversation or the old one -------------------------------------------------------


def test_a_lead_writing_after_a_close_starts_a_new_conversation() -> None:
    contact = Contact(contact_key="k")
    assert starts_new_conversation(None, contact, "Oi")
    assert not starts_new_conversation(make_conversation(), contact, "Oi")
    assert starts_new_conversation(closed(Reason.REJECTION), contact, "Oi")


def test_an_opted_out_lead_stays_in_the_closed_conversation_until_opting_in() -> None:
    contact = Contact(contact_key="k", opted_out=True)
    assert not starts_new_conversation(closed(Reason.OPTED_OUT), contact, "Oi")
    assert starts_new_conversation(closed(Reason.OPTED_OUT), contact, "VOLTAR")
