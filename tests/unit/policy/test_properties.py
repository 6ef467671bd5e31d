"""Properties: whatever the lead, the seller and the clock do, no forbidden message goes out.

A tiny engine applies the policy the way the real one does (intake, turn, follow-up, send), and an
oracle that knows the ground truth from the events alone (which texts opt out, when the seller
wrote, what the clock says in São Paulo) checks every message the policy lets through.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.models.conversation import Contact, Conversation, ConversationStatus
from shared.models.decision import Action, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.policy import (
    Acknowledgement,
    PolicyContext,
    Verdict,
    at_send,
    before_turn,
    is_handoff_request,
    is_opt_in,
    is_opt_out,
    is_rejection,
    starts_new_conversation,
)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
START = datetime(2026, 3, 10, 13, 0, tzinfo=SAO_PAULO)
WINDOW = timedelta(hours=24)
TEXT = OutboundMessage(text="Posso te ajudar com mais alguma coisa?")
TEMPLATE = OutboundMessage(template="retomar_contato", template_language="pt_BR")

Label = Literal["neutral", "opt_out", "opt_in", "rejection", "handoff"]
LEAD_TEXTS: list[tuple[str, Label]] = [
    ("Oi, quanto custa a limpeza de pele?", "neutral"),
    ("Vocês parcelam?", "neutral"),
    ("Pode ser sábado às 10h", "neutral"),
    ("Não tenho interesse em parcelar, prefiro à vista", "neutral"),
    ("Já comprei com vocês mês passado, quero outro", "neutral"),
    ("Tem horário amanhã de manhã?", "neutral"),
    ("vou sair do trabalho às 18h", "neutral"),
    ("não para de chover aqui", "neutral"),
    ("Já comprei?", "neutral"),
    ("Não quero mais, pare de mandar mensagem", "opt_out"),
    ("PARE!!!", "opt_out"),
    ("me tira dessa lista", "opt_out"),
    ("Stop", "opt_out"),
    ("VOLTAR", "opt_in"),
    ("quero voltar a receber as mensagens", "opt_in"),
    ("Não tenho interesse, obrigada", "rejection"),
    ("Já comprei em outro lugar", "rejection"),
    ("quero falar com um atendente", "handoff"),
]


@dataclass(frozen=True)
class Lead:
    """The lead writes; the text's label is the ground truth the oracle uses."""

    text: str
    label: Label
    turn_follows: bool = True
    """The debounced turn runs right after, rather than after more messages of a burst."""


@dataclass(frozen=True)
class Turn:
    """The debounced turn runs over the lead's pending messages."""


@dataclass(frozen=True)
class FollowUp:
    """A follow-up task fires."""


@dataclass(frozen=True)
class LateSend:
    """A message decided earlier (or redelivered) reaches the sender now."""

    proactive: bool
    template: bool
    acknowledgement: Acknowledgement | None


@dataclass(frozen=True)
class Redeliver:
    """The last message handed to the sender arrives again (Pub/Sub redelivers)."""


@dataclass(frozen=True)
class Advance:
    """The clock moves on."""

    seconds: int


@dataclass(frozen=True)
class Seller:
    """The seller writes from the business phone."""


@dataclass(frozen=True)
class Mode:
    """The tenant switches between pilot and copilot."""

    mode: Literal["pilot", "copilot"]


@dataclass(frozen=True)
class SellerCloses:
    """The seller closes the conversation from the console."""


@dataclass(frozen=True)
class SellerReleases:
    """The seller hands a conversation in handoff back to the agent."""


@dataclass(frozen=True)
class Quota:
    """The tenant's plan quota runs out, or is topped up."""

    exceeded: bool


Event = (
    Lead
    | Turn
    | FollowUp
    | LateSend
    | Redeliver
    | Advance
    | Seller
    | Mode
    | SellerCloses
    | SellerReleases
    | Quota
)

leads = st.builds(
    lambda pair, turn_follows: Lead(*pair, turn_follows=turn_follows),
    st.sampled_from(LEAD_TEXTS),
    st.booleans(),
)
advances = st.one_of(
    st.sampled_from([5, 60, 600, 3600, 3 * 3600, 8 * 3600, 23 * 3600, 25 * 3600, 3 * 86400]),
    st.integers(1, 2 * 86400),
).map(Advance)
late_sends = st.one_of(
    st.builds(LateSend, st.booleans(), st.booleans(), st.none()),
    st.builds(LateSend, st.just(False), st.just(False), st.sampled_from(["opt_out", "rejection"])),
)
# Repeats weight the mix towards conversation (leads, turns, follow-ups, time passing) and away
# from the sticky blockers (copilot, quota, closes), so that most histories do send messages.
events = st.one_of(
    leads,
    leads,
    leads,
    st.just(Turn()),
    st.just(FollowUp()),
    st.just(FollowUp()),
    advances,
    advances,
    late_sends,
    st.just(Redeliver()),
    st.just(Redeliver()),
    st.just(Seller()),
    st.sampled_from(["pilot", "pilot", "copilot"]).map(Mode),
    st.just(SellerCloses()),
    st.just(SellerReleases()),
    st.sampled_from([False, False, False, True]).map(Quota),
)


@dataclass
class Oracle:
    """Ground truth from the events alone, and the invariants every sent message must respect."""

    max_unanswered: int
    has_template: bool
    opted_out: bool = False
    opt_out_acknowledgements: int = 0
    copilot: bool = False
    quota_exceeded: bool = False
    human_until: datetime | None = None
    last_lead_at: datetime | None = None
    unanswered: int = 0
    rejections_acknowledged: set[str] = field(default_factory=set)
    opt_in_pending: bool = False

    def lead(self, label: Label, now: datetime) -> None:
        self.last_lead_at, self.unanswered = now, 0
        if label == "opt_out":
            if self.opt_in_pending:  # opted back in, then out again: a new opt-out
                self.opt_out_acknowledgements = 0
            self.opt_in_pending = False
            if not self.opted_out:
                self.opted_out, self.opt_out_acknowledgements = True, 0
        elif label == "opt_in" and self.opted_out:
            # An opt-in counts once a turn has read it (the engine persists it there); until
            # then the opt-out still holds, and its one acknowledgement may still go out.
            self.opt_in_pending = True

    def judged(self) -> None:
        """A turn read the pending messages: an opt-in among them now lifts the opt-out."""
        if self.opt_in_pending:
            self.opted_out, self.opt_in_pending = False, False

    def check_send(
        self,
        now: datetime,
        message: OutboundMessage,
        proactive: bool,
        acknowledgement: Acknowledgement | None,
        conversation: Conversation,
    ) -> None:
        if self.opted_out:
            assert acknowledgement == "opt_out", "sent after an opt-out"
            assert self.opt_out_acknowledgements == 0, "a second opt-out acknowledgement"
            self.opt_out_acknowledgements += 1
        else:
            assert acknowledgement != "opt_out", "an opt-out acknowledgement without an opt-out"
        if conversation.status == ConversationStatus.CLOSED and acknowledgement != "opt_out":
            assert acknowledgement == "rejection", "sent after a close"
            assert conversation.close_reason == Reason.REJECTION
            assert conversation.conversation_id not in self.rejections_acknowledged
            self.rejections_acknowledged.add(conversation.conversation_id)
        assert acknowledgement != "rejection" or conversation.status == ConversationStatus.CLOSED
        assert not self.copilot, "sent in copilot mode"
        assert self.human_until is None or now >= self.human_until, "sent while a human is active"
        assert not self.quota_exceeded, "sent past the quota"
        assert self.unanswered < self.max_unanswered, "sent past max_unanswered"
        if message.template is None:
            assert self.last_lead_at is not None, "free text to a lead who never wrote"
            assert now - self.last_lead_at < WINDOW, "free text outside the 24-hour window"
        else:
            assert self.has_template, "a template the channel does not have"
        if proactive:
            local = now.astimezone(SAO_PAULO)
            assert 8 <= local.hour < 21, "a proactive message in quiet hours"
        self.unanswered += 1


@dataclass
class Engine:
    """Applies verdicts and stores state the way ``functions/agent`` and the sender do."""

    now: datetime
    settings: AgentSettings
    has_template: bool
    oracle: Oracle
    contact: Contact = field(default_factory=lambda: Contact(contact_key="5511987654321"))
    conversation: Conversation | None = None
    quota_exceeded: bool = False
    human_active_until: datetime | None = None
    pending: list[tuple[str, Label]] = field(default_factory=list)
    last_handed_to_sender: (
        tuple[OutboundMessage, bool, Acknowledgement | None, Conversation] | None
    ) = None
    conversations_started: int = 0
    sent: int = 0

    def context(self, proactive: bool) -> PolicyContext:
        return PolicyContext(
            conversation=self.conversation,
            contact=self.contact,
            settings=self.settings,
            now=self.now,
            proactive=proactive,
            has_template=self.has_template,
            quota_exceeded=self.quota_exceeded,
        )

    def run(self, event: Event) -> None:
        match event:
            case Lead(text, label, turn_follows):
                self.lead(text, label)
                if turn_follows:
                    self.turn()
            case Turn():
                self.turn()
            case FollowUp():
                self.follow_up()
            case LateSend(proactive, template, acknowledgement):
                if self.conversation is not None:
                    self.send(TEMPLATE if template else TEXT, proactive, acknowledgement)
            case Redeliver():
                if self.last_handed_to_sender is not None:  # judged in its own conversation
                    message, proactive, acknowledgement, conversation = self.last_handed_to_sender
                    self.send(message, proactive, acknowledgement, conversation)
            case Advance(seconds):
                self.now += timedelta(seconds=seconds)
            case Seller():
                self.seller()
            case Mode(mode):
                self.settings = self.settings.model_copy(update={"mode": mode})
                self.oracle.copilot = mode == "copilot"
            case SellerCloses():
                if self.conversation is not None:
                    self.conversation.status = ConversationStatus.CLOSED
                    self.conversation.close_reason = "seller"
            case SellerReleases():
                if self.conversation and self.conversation.status == ConversationStatus.HANDOFF:
                    self.conversation.status = ConversationStatus.OPEN
            case Quota(exceeded):
                self.quota_exceeded = self.oracle.quota_exceeded = exceeded

    def lead(self, text: str, label: Label) -> None:
        if starts_new_conversation(self.conversation, self.contact, text):
            self.conversations_started += 1
            self.conversation = Conversation(
                conversation_id=f"conv-{self.conversations_started}",
                tenant_id="clinica",
                channel_id="meta-1",
                contact_key=self.contact.contact_key,
                created_at=self.now,
                updated_at=self.now,
                human_active_until=self.human_active_until,  # a seller's takeover carries over
            )
        assert self.conversation is not None
        self.conversation.last_inbound_at = self.now
        self.conversation.unanswered_count = 0
        if is_opt_out(text) and not self.contact.opted_out:
            # intake records an opt-out at once; the turn acknowledges it
            self.contact.opted_out, self.contact.opted_out_at = True, self.now
        self.pending.append((text, label))
        self.oracle.lead(label, self.now)

    def turn(self) -> None:
        if not self.pending or self.conversation is None:
            return
        texts = [text for text, _ in self.pending]
        labels = {label for _, label in self.pending}
        self.pending = []
        was_open = self.conversation.status == ConversationStatus.OPEN
        all_clear = (
            labels == {"neutral"}
            and not self.oracle.opted_out
            and was_open
            and not self.oracle.copilot
            and not self.oracle.quota_exceeded
            and not self.conversation.human_is_active(self.now)
        )
        verdict = before_turn(self.context(proactive=False), texts)
        self.oracle.judged()
        self.apply(verdict)
        if all_clear:
            assert verdict.action is None and verdict.may_send_text, "a plain reply was refused"
        if "rejection" in labels and was_open and not self.oracle.opted_out:
            assert self.conversation.status == ConversationStatus.CLOSED, "a rejection left open"
        if verdict.acknowledge_opt_out:
            self.send(TEXT, proactive=False, acknowledgement="opt_out")
        if verdict.acknowledge_rejection:
            self.send(TEXT, proactive=False, acknowledgement="rejection")
        if verdict.action in (None, Action.HANDOFF):
            self.send_what_is_allowed(verdict, proactive=False)

    def follow_up(self) -> None:
        if self.conversation is None:
            return
        verdict = before_turn(self.context(proactive=True), [])
        self.apply(verdict)
        if verdict.action is None:
            self.send_what_is_allowed(verdict, proactive=True)

    def seller(self) -> None:
        self.human_active_until = self.now + timedelta(minutes=self.settings.human_takeover_minutes)
        if self.conversation is not None:
            self.conversation.human_active_until = self.human_active_until
        self.oracle.human_until = self.human_active_until

    def apply(self, verdict: Verdict) -> None:
        assert self.conversation is not None
        if verdict.persist_opt_out:
            self.contact.opted_out, self.contact.opted_out_at = True, self.now
        if verdict.persist_opt_in:
            self.contact.opted_out, self.contact.opted_out_at = False, None
            self.contact.opt_out_acknowledged_at = None
        if verdict.action is Action.CLOSE:
            self.conversation.status = ConversationStatus.CLOSED
            opted_out = Reason.OPTED_OUT in verdict.reasons
            self.conversation.close_reason = Reason.OPTED_OUT if opted_out else Reason.REJECTION
        elif verdict.action is Action.HANDOFF:
            self.conversation.status = ConversationStatus.HANDOFF

    def send_what_is_allowed(self, verdict: Verdict, proactive: bool) -> None:
        if verdict.may_send_text:
            self.send(TEXT, proactive)
        elif verdict.may_send_template:
            self.send(TEMPLATE, proactive)

    def send(
        self,
        message: OutboundMessage,
        proactive: bool,
        acknowledgement: Acknowledgement | None = None,
        conversation: Conversation | None = None,
    ) -> None:
        conversation = conversation or self.conversation
        assert conversation is not None
        self.last_handed_to_sender = (message, proactive, acknowledgement, conversation)
        context = replace(self.context(proactive), conversation=conversation)
        if at_send(context, message, acknowledgement).action is not None:
            return
        self.oracle.check_send(self.now, message, proactive, acknowledgement, conversation)
        self.sent += 1
        conversation.unanswered_count += 1
        conversation.outbound_count += 1
        conversation.last_outbound_at = self.now
        if acknowledgement == "opt_out":
            conversation.opt_out_acknowledged = True
            self.contact.opt_out_acknowledged_at = self.now
        elif acknowledgement == "rejection":
            conversation.rejection_acknowledged = True


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(events, min_size=20, max_size=80),
    start_minutes=st.integers(0, 7 * 24 * 60),
    max_unanswered=st.sampled_from([1, 2, 3, 3, 4]),
    has_template=st.booleans(),
    acknowledgement=st.sampled_from([AgentSettings().opt_out_acknowledgement] * 3 + [None]),
)
def test_no_forbidden_message_ever_goes_out(
    history: list[Event],
    start_minutes: int,
    max_unanswered: int,
    has_template: bool,
    acknowledgement: str | None,
) -> None:
    engine = Engine(
        now=START + timedelta(minutes=start_minutes),
        settings=AgentSettings(
            max_unanswered=max_unanswered, opt_out_acknowledgement=acknowledgement
        ),
        has_template=has_template,
        oracle=Oracle(max_unanswered=max_unanswered, has_template=has_template),
    )
    for event in history:
        engine.run(event)


def test_the_engine_does_send_when_nothing_forbids_it() -> None:
    engine = Engine(
        now=START,
        settings=AgentSettings(),
        has_template=False,
        oracle=Oracle(max_unanswered=3, has_template=False),
    )
    for event in [
        Lead("Oi, quanto custa a limpeza de pele?", "neutral"),
        Turn(),
        Advance(3600),
        FollowUp(),
        Lead("Não tenho interesse, obrigada", "rejection"),
        Turn(),
        Advance(86400),
        FollowUp(),
    ]:
        engine.run(event)
    assert engine.sent == 3  # the reply, the follow-up, the polite close; then silence


@pytest.mark.parametrize(("text", "label"), LEAD_TEXTS)
def test_the_oracle_labels_agree_with_the_keyword_rules(text: str, label: Label) -> None:
    detected = {
        "opt_out": is_opt_out(text),
        "opt_in": is_opt_in(text),
        "rejection": is_rejection(text),
        "handoff": is_handoff_request(text),
    }
    assert {name for name, found in detected.items() if found} == (
        set() if label == "neutral" else {label}
    )


@pytest.mark.parametrize("again", [Redeliver(), LateSend(False, False, "opt_out")])
def test_an_opt_out_is_acknowledged_once_whichever_conversation_carries_it(again: Event) -> None:
    """A random run found this history: the lead opts out (acknowledged), writes VOLTAR, which
    starts a second conversation before any turn reads it, and a follow-up closes that one for
    the standing opt-out; an acknowledgement handed to the sender again must not go out twice."""
    engine = Engine(
        now=START,
        settings=AgentSettings(max_unanswered=1),
        has_template=False,
        oracle=Oracle(max_unanswered=1, has_template=False),
    )
    for event in [
        Lead("Oi, quanto custa a limpeza de pele?", "neutral", turn_follows=False),
        Lead("Não quero mais, pare de mandar mensagem", "opt_out"),
        Lead("VOLTAR", "opt_in", turn_follows=False),
        FollowUp(),
        again,
    ]:
        engine.run(event)
    assert engine.conversations_started == 2
    assert engine.sent == 1  # the acknowledgement, in the first conversation only
