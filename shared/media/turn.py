"""What a turn does about the lead's media: wait for it, or answer media it could not read.

A turn whose new lead messages include media still being understood waits (the understanding,
once stored, schedules the turn again), up to the note's ``wait_until``. When the new messages
are only media that was not understood or was rejected (no text, no caption, nothing read),
the model is not asked: the draft asks the lead to write, in Portuguese, and if the agent has
already asked once in this conversation it hands off to a human instead. The draft then goes
through the restraint guards like the model's (``shared.turns``): closed, opted out, a human
in charge, copilot mode (where it becomes a suggestion) still decide first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.models.conversation import Conversation, MediaNote, Role, WindowMessage
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.policy import Verdict

ASK_TO_WRITE = {
    "audio": "Não consegui ouvir seu áudio por aqui. Pode me escrever sua dúvida?",
    "image": "Não consegui ver a imagem por aqui. Pode me escrever o que você precisa?",
    "video": "Não consegui ver o vídeo por aqui. Pode me escrever o que você precisa?",
    "document": "Não consegui abrir o arquivo por aqui. Pode me escrever o que você precisa?",
}
HANDING_OFF = (
    "Vou pedir para uma pessoa da nossa equipe ver o que você enviou e te responder por aqui."
)
UNCLEAR = ("not_understood", "rejected")
SPECIALIST = "media"


@dataclass(frozen=True)
class MediaInTurn:
    """The lead's media among the messages a turn answers."""

    waiting: bool = False
    """Media is still being understood (and may still be): the turn should not decide yet."""
    unclear: tuple[MediaNote, ...] = ()
    """Media not understood or rejected, when it is all the lead sent."""
    asked_before: bool = False

    def decision(
        self, verdict: Verdict, settings: AgentSettings, decision_id: str, now: datetime
    ) -> Decision:
        """Return the turn's decision: the draft for unclear media, within what the guards allow."""
        from shared.turns import forced_decision, restrain, with_suggestions

        drafted = unclear_media_decision(self.unclear, self.asked_before, decision_id, now)
        if verdict.action is None:
            return restrain(drafted, verdict)
        forced = forced_decision(verdict, settings, decision_id, now)
        return with_suggestions(forced, drafted) if verdict.may_suggest else forced


def media_in_turn(
    conversation: Conversation, answering: Sequence[WindowMessage], now: datetime
) -> MediaInTurn:
    """Judge the media among ``answering`` (the lead's new messages) at ``now``."""
    notes = [message.media for message in answering if message.media is not None]
    if any(
        note.status == "pending" and (note.wait_until is None or now < note.wait_until)
        for note in notes
    ):
        return MediaInTurn(waiting=True)
    unclear = [note for note in notes if _is_unclear(note)]
    readable = [
        message
        for message in answering
        if message.media is None or not _is_unclear(message.media) or message.media.captioned
    ]
    if not unclear or readable:
        return MediaInTurn()
    return MediaInTurn(unclear=tuple(unclear), asked_before=asked_to_write(conversation))


def asked_to_write(conversation: Conversation) -> bool:
    """Return whether the agent already asked this lead to write instead of sending media."""
    asks = set(ASK_TO_WRITE.values())
    in_window = any(
        message.role is Role.AGENT and message.text in asks for message in conversation.window
    )
    return in_window or any(ask in conversation.summary for ask in asks)


def unclear_media_decision(
    unclear: Sequence[MediaNote], asked_before: bool, decision_id: str, now: datetime
) -> Decision:
    """Ask the lead to write (once); the second time, hand the conversation to a human."""
    reasons = [Reason.MEDIA_NOT_UNDERSTOOD]
    if any(note.status == "rejected" for note in unclear):
        reasons.append(Reason.MEDIA_REJECTED)
    why = ", ".join(sorted({f"{note.kind}: {_reason(note)}" for note in unclear}))
    if asked_before:
        return Decision(
            decision_id=decision_id,
            action=Action.HANDOFF,
            reasons=reasons,
            messages=[OutboundMessage(text=HANDING_OFF)],
            handoff_summary="O lead enviou mídia que o agente não conseguiu entender de novo, "
            f"depois de já ter pedido para escrever ({why}). Veja a mídia no WhatsApp.",
            specialist=SPECIALIST,
            decided_at=now,
        )
    return Decision(
        decision_id=decision_id,
        action=Action.SPEAK,
        reasons=reasons,
        messages=[OutboundMessage(text=ASK_TO_WRITE[unclear[-1].kind])],
        specialist=SPECIALIST,
        decided_at=now,
    )


def _reason(note: MediaNote) -> str:
    return note.reason or ("timeout" if note.status == "pending" else note.status)


def _is_unclear(note: MediaNote) -> bool:
    # Still pending past its wait: the turn goes on without it.
    return note.status in UNCLEAR or note.status == "pending"
