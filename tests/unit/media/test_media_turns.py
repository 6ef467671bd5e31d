"""A lead's media through the engine and the turn, on the in-process store.

Intake keeps the media pending, the understanding is stored before the turn is scheduled,
redeliveries redo what a crash left undone, and the turn answers media it could not read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulators.simulator.media import sample_pdf
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.engine import Engine
from shared.events.tasks import TurnRequest
from shared.intake import IntakeRules, take_in
from shared.media.fetch import FetchedMedia
from shared.media.turn import ASK_TO_WRITE, HANDING_OFF
from shared.media.understand import MediaUnderstanding, understand_media
from shared.models.conversation import Conversation, ConversationStatus, MediaNote
from shared.models.decision import Action, Decision, Reason
from shared.models.events import ContactRef, LeadMessage, Media, MessageContent, MessageType
from shared.models.tenant import AgentSettings
from shared.store.conversations import contact_ref, conversation_ref, message_ref
from shared.store.memory import MemoryFirestore
from shared.turns import TurnResult, TurnRunner
from tests.support.events import LEAD_PHONE, lead_message

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 13:00 in São Paulo
TIMEZONE = "America/Sao_Paulo"
FACTS = {"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"}
OFFLINE = MediaUnderstanding(status="not_understood", reason="offline_model", offline=True)


class Crash(BaseException):
    """The function instance dies here (not an error the code handles)."""


@dataclass
class World:
    """A tenant on the in-process store: the engine, the turn, a clock, what was scheduled."""

    settings: AgentSettings = field(default_factory=lambda: AgentSettings(business_facts=FACTS))
    client: Any = field(default_factory=MemoryFirestore)
    tenant: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:8]}")
    now: datetime = NOW
    understood: list[LeadMessage] = field(default_factory=list)
    answer: Callable[[LeadMessage], MediaUnderstanding] = lambda event: OFFLINE
    scheduled: list[tuple[TurnRequest, datetime]] = field(default_factory=list)
    delivered: list[Decision] = field(default_factory=list)
    texts_seen: list[Sequence[str]] = field(default_factory=list)
    sequence: int = 0

    def __post_init__(self) -> None:
        self.engine = Engine(
            firestore=self.client,
            max_event_age=timedelta(hours=6),
            schedule_turn=lambda turn, at: self.scheduled.append((turn, at)),
            load_agent=lambda tenant: self.settings,
            now=lambda: self.now,
            understand_media=self.understand,
            media_wait=timedelta(minutes=3),
        )
        decide = graph_decider(OfflineChatModel(), lambda tenant: TIMEZONE)

        def recording_decide(
            conversation: Conversation,
            texts: Sequence[str],
            settings: AgentSettings,
            decision_id: str,
            now: datetime,
        ) -> Decision:
            self.texts_seen.append(list(texts))
            return decide(conversation, texts, settings, decision_id, now)

        self.turns = TurnRunner(
            firestore=self.client,
            decide=recording_decide,
            load_settings=lambda tenant: (self.settings, TIMEZONE),
            deliver=lambda conversation, decision: self.delivered.append(decision),
            now=lambda: self.now,
        )

    def understand(self, event: LeadMessage) -> MediaUnderstanding:
        self.understood.append(event)
        self.now += timedelta(seconds=2)  # fetching and understanding take time
        return self.answer(event)

    def media_event(
        self,
        kind: MessageType = MessageType.AUDIO,
        *,
        caption: str | None = None,
        filename: str | None = None,
    ) -> LeadMessage:
        self.sequence += 1
        message_id = f"wamid.{self.sequence}"
        return LeadMessage(
            event_id=f"meta:lead_message:{message_id}",
            provider="meta",
            tenant_id=self.tenant,
            channel_id="ch-meta",
            occurred_at=self.now,
            received_at=self.now,
            message_id=message_id,
            contact=ContactRef(phone=LEAD_PHONE, wa_id=LEAD_PHONE.lstrip("+")),
            content=MessageContent(
                message_type=kind,
                media=Media(
                    provider_media_id=f"77{self.sequence}",
                    mime_type="audio/ogg" if kind is MessageType.AUDIO else "application/pdf",
                    voice=kind is MessageType.AUDIO,
                    caption=caption,
                    filename=filename,
                ),
            ),
        )

    def text_event(self, text: str) -> LeadMessage:
        self.sequence += 1
        return lead_message(self.tenant, f"wamid.{self.sequence}", text, self.now)

    def run_due_turn(self) -> TurnResult:
        """Advance the clock to the last scheduled turn and run it."""
        turn, at = self.scheduled[-1]
        self.now = max(self.now, at)
        return self.turns.run(turn)

    def conversation(self) -> Conversation:
        contact = contact_ref(self.client, self.tenant, LEAD_PHONE).get().to_dict() or {}
        reference = conversation_ref(self.client, self.tenant, contact["current_conversation_id"])
        return Conversation.model_validate(reference.get().to_dict())

    def message_doc(self, event: LeadMessage) -> dict[str, Any]:
        conversation = self.conversation()
        reference = message_ref(
            self.client, self.tenant, conversation.conversation_id, event.message_id
        )
        return reference.get().to_dict() or {}


def media_note(world: World) -> MediaNote:
    """Return the media note of the conversation's first message."""
    note = world.conversation().window[0].media
    assert note is not None
    return note


def test_the_turn_is_scheduled_only_once_the_understanding_is_stored() -> None:
    world = World()
    event = world.media_event()

    outcome = world.engine.take_in_event(event)

    assert outcome.status == "recorded" and world.understood == [event]
    [entry] = world.conversation().window
    assert entry.text == "[áudio não compreendido]"
    assert entry.media is not None
    assert (entry.media.kind, entry.media.status, entry.media.reason) == (
        "audio",
        "not_understood",
        "offline_model",
    )
    assert world.message_doc(event)["understanding"] == {
        "status": "not_understood",
        "text": None,
        "reason": "offline_model",
        "model": None,
        "offline": True,
    }
    [(turn, at)] = world.scheduled
    assert turn.inbound_seq == 1
    assert at == NOW + timedelta(seconds=2 + 5)  # the debounce starts after the media


def test_a_failing_understanding_is_stored_as_not_understood_and_the_turn_still_runs() -> None:
    def broken(event: LeadMessage) -> MediaUnderstanding:
        raise RuntimeError("bug")

    world = World(answer=broken)
    world.engine.take_in_event(world.media_event())

    assert media_note(world).reason == "error"
    assert len(world.scheduled) == 1
    decision = world.run_due_turn().decision
    assert decision is not None and decision.messages[0].text == ASK_TO_WRITE["audio"]


def test_a_redelivery_after_a_crash_before_the_understanding_redoes_the_media_work() -> None:
    crashes = iter([Crash()])

    def crash_once(event: LeadMessage) -> MediaUnderstanding:
        error = next(crashes, None)
        if error is not None:
            raise error
        return OFFLINE

    world = World(answer=crash_once)
    event = world.media_event()
    with pytest.raises(Crash):
        world.engine.take_in_event(event)
    assert media_note(world).status == "pending"
    assert world.scheduled == []

    again = world.engine.take_in_event(event)  # Pub/Sub redelivers

    assert again.status == "duplicate"
    assert len(world.understood) == 2
    assert media_note(world).status == "not_understood"
    assert [turn.inbound_seq for turn, _ in world.scheduled] == [1]


def test_a_redelivery_after_a_crash_before_scheduling_schedules_without_redoing() -> None:
    world = World()
    schedule = world.engine.schedule_turn
    crashes = iter([Crash()])

    def crash_once(turn: TurnRequest, at: datetime) -> None:
        error = next(crashes, None)
        if error is not None:
            raise error
        schedule(turn, at)

    world.engine.schedule_turn = crash_once
    event = world.media_event()
    with pytest.raises(Crash):
        world.engine.take_in_event(event)

    world.engine.take_in_event(event)

    assert len(world.understood) == 1  # stored the first time: not fetched again
    assert [turn.inbound_seq for turn, _ in world.scheduled] == [1]


def test_a_redelivery_of_an_answered_media_message_changes_nothing() -> None:
    world = World()
    event = world.media_event()
    world.engine.take_in_event(event)
    world.run_due_turn()

    again = world.engine.take_in_event(event)

    assert (again.status, again.turn_due, len(world.scheduled)) == ("duplicate", False, 1)
    assert len(world.understood) == 1


def test_an_earlier_text_turn_is_superseded_by_the_media_and_answered_with_it() -> None:
    world = World()
    world.engine.take_in_event(world.text_event("Oi"))
    world.engine.take_in_event(world.media_event())
    first, second = world.scheduled

    assert world.turns.run(first[0]).status == "superseded"
    world.now = second[1]
    decided = world.turns.run(second[0])

    assert decided.status == "decided"  # "Oi" is text the model answers, the audio aside
    assert world.texts_seen == [["Oi", "[áudio não compreendido]"]]


def test_a_turn_waits_for_media_still_being_understood_then_goes_without_it() -> None:
    world = World()
    rules = IntakeRules(
        max_event_age=timedelta(hours=6),
        human_takeover=timedelta(minutes=30),
        media_wait=timedelta(minutes=3),
    )
    event = world.media_event()
    outcome = take_in(world.client, event, now=world.now, rules=rules)
    assert outcome.awaits_media and outcome.conversation_id and outcome.inbound_seq
    turn = TurnRequest(world.tenant, outcome.conversation_id, outcome.inbound_seq)

    world.now += timedelta(seconds=30)
    assert world.turns.run(turn).status == "awaiting_media"
    world.now += timedelta(minutes=3)
    late = world.turns.run(turn)

    assert late.decision is not None and late.decision.action is Action.SPEAK
    assert Reason.MEDIA_NOT_UNDERSTOOD in late.decision.reasons


def test_an_unclear_voice_note_asks_the_lead_to_write_and_a_second_one_hands_off() -> None:
    world = World()
    world.engine.take_in_event(world.media_event())
    asked = world.run_due_turn().decision
    assert asked is not None
    assert (asked.action, asked.reasons) == (Action.SPEAK, [Reason.MEDIA_NOT_UNDERSTOOD])
    assert [m.text for m in asked.messages] == [ASK_TO_WRITE["audio"]]
    assert world.texts_seen == []  # the model was not asked

    world.now += timedelta(minutes=1)
    world.engine.take_in_event(world.media_event())
    handed = world.run_due_turn().decision

    assert handed is not None and handed.action is Action.HANDOFF
    assert Reason.MEDIA_NOT_UNDERSTOOD in handed.reasons
    assert [(m.text, m.acknowledgement) for m in handed.messages] == [(HANDING_OFF, "handoff")]
    assert handed.handoff_summary and "offline_model" in handed.handoff_summary
    assert world.conversation().status is ConversationStatus.HANDOFF


def test_rejected_media_records_both_reasons() -> None:
    world = World(answer=lambda event: MediaUnderstanding.rejected("too_large"))
    world.engine.take_in_event(world.media_event(MessageType.DOCUMENT, filename="exame.pdf"))

    decision = world.run_due_turn().decision

    assert decision is not None
    assert decision.reasons == [Reason.MEDIA_NOT_UNDERSTOOD, Reason.MEDIA_REJECTED]
    assert [m.text for m in decision.messages] == [ASK_TO_WRITE["document"]]
    assert world.conversation().window[0].text == "[documento não lido: exame.pdf]"


def test_a_captioned_image_that_was_not_understood_is_answered_by_the_model() -> None:
    world = World()
    world.engine.take_in_event(
        world.media_event(MessageType.IMAGE, caption="quanto custa a limpeza de pele?")
    )

    decision = world.run_due_turn().decision

    assert decision is not None and "180" in (decision.messages[0].text or "")
    assert world.texts_seen == [
        ["[imagem não compreendida]\nLegenda: quanto custa a limpeza de pele?"]
    ]


def test_in_copilot_mode_asking_to_write_is_a_suggestion() -> None:
    world = World(settings=AgentSettings(business_facts=FACTS, mode="copilot"))
    world.engine.take_in_event(world.media_event())

    decision = world.run_due_turn().decision

    assert decision is not None and decision.messages == []
    assert decision.suggestions == [ASK_TO_WRITE["audio"]]
    assert Reason.COPILOT_MODE in decision.reasons


def test_a_closed_conversation_stays_silent_about_media() -> None:
    world = World()
    world.engine.take_in_event(world.text_event("Não quero mais, pare de mandar mensagem"))
    world.run_due_turn()
    world.engine.take_in_event(world.media_event())

    decision = world.run_due_turn().decision

    assert decision is not None and decision.messages == [] and decision.suggestions == []
    assert Reason.OPTED_OUT in decision.reasons


def test_a_document_the_lead_sends_is_read_and_the_turn_sees_its_text() -> None:
    pdf = sample_pdf("Resultado de exame\nGlicose em jejum: 92 mg/dL")

    def read_pdf(event: LeadMessage) -> MediaUnderstanding:
        media = FetchedMedia(pdf, "application/pdf", len(pdf), "exame.pdf")
        return understand_media(media, "document", model=None)

    world = World(answer=read_pdf)
    event = world.media_event(MessageType.DOCUMENT, filename="exame.pdf")
    world.engine.take_in_event(event)
    world.run_due_turn()

    [texts] = world.texts_seen
    assert texts == ["[documento: exame.pdf] Resultado de exame\nGlicose em jejum: 92 mg/dL"]
    assert world.message_doc(event)["understanding"]["status"] == "understood"
    assert "content" in world.message_doc(event)  # the provider's reference, never the bytes


def test_a_transcribed_voice_note_is_read_by_the_guards_too() -> None:
    heard = MediaUnderstanding(
        status="understood", text="Não quero mais, pare de mandar mensagem", model="gemini"
    )
    world = World(answer=lambda event: heard)
    world.engine.take_in_event(world.media_event())

    decision = world.run_due_turn().decision

    assert decision is not None and decision.action is Action.CLOSE
    assert Reason.OPTED_OUT in decision.reasons
    assert world.conversation().window[0].text == (
        "[áudio transcrito] Não quero mais, pare de mandar mensagem"
    )
