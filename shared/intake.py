"""Where a canonical event enters a tenant's conversation state, exactly once.

``take_in`` runs one Firestore transaction per event: it creates the event's dedupe record
(``tenants/{t}/events/{event_id}``), appends the message and updates the conversation and the
contact, all or nothing. A redelivered or re-sent event fails the record's ``create()`` at
commit and changes nothing; concurrent redeliveries conflict, retry, and the loser fails the
same way (a recent message is recognised in the conversation's window before any write, which
keeps concurrent redeliveries short). The common path reads two documents: the contact and its
current conversation.
Events older than the configured age are dropped without a write (a provider retrying days
later must not make the agent reply).

- lead messages: appended; the inbound sequence number grows and a debounced turn is due; an
  opt-out is recorded on the contact at once (so sends already on their way stop). A
  closed conversation is never reopened: the lead's next message starts a new one, except after
  an opt-out, whose messages join the closed conversation in silence until an explicit opt-in.
  The first message that came from a click-to-WhatsApp ad sets the conversation's
  ``attribution`` (first touch: later referrals do not replace it).
- seller messages (the business phone): appended; a human is active for the takeover time. The
  gateways also report Piloto's own sends as "fromMe": those echoes are recognised (by the
  delivery the sender recorded, or by text against the agent's recent messages) and ignored.
- status updates: move the delivery, and the sender's ledger record, forward only (sent <
  delivered < read; failed is terminal and flags the conversation for a human); a status for a
  message Piloto did not send (yet) is recorded apart, and kept as an early delivery record the
  sender completes if the status overtook the provider's answer to the send.
- connection updates: the channel's last known connection state.

A lead's media message (voice note, image, video, document) is taken in with its media
pending (``WindowMessage.media``); ``record_understanding`` later stores, in a second short
transaction, what the media became (the window text the agent reads and the message document's
``understanding``). A redelivery while the media is still pending asks for the media work
again (``IntakeOutcome.awaits_media``), and a redelivery of a media message no turn has
answered yet asks for its turn again: a crash between the two steps loses nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.insights.models import Attribution
from shared.knowledge.proposals import proposal_ref, seller_answer
from shared.models.conversation import (
    Contact,
    Conversation,
    ConversationStatus,
    MediaNote,
    Role,
    WindowMessage,
)
from shared.models.decision import Reason
from shared.models.events import (
    AdReferral,
    ConnectionUpdate,
    ConversationEvent,
    DeliveryStatus,
    LeadMessage,
    MessageContent,
    MessageType,
    SellerMessage,
    StatusUpdate,
    to_plain,
)
from shared.policy import is_opt_out, starts_new_conversation
from shared.store.conversations import (
    contact_ref,
    conversation_ref,
    delivery_ref,
    event_ref,
    message_ref,
    outbound_ledger_ref,
    tenant_ref,
    unmatched_status_ref,
)

EVENT_RECORD_TTL = timedelta(days=30)
OWN_ECHO_WINDOW = timedelta(minutes=10)
# Concurrent redeliveries of one event contend for the same documents; each retry re-reads and
# the loser finds the dedupe record. Past the attempts the error reaches Pub/Sub, which retries.
TRANSACTION_ATTEMPTS = 20
MEDIA_TYPES = {MessageType.AUDIO, MessageType.IMAGE, MessageType.VIDEO, MessageType.DOCUMENT}
DEFAULT_MEDIA_WAIT = timedelta(minutes=3)


@dataclass(frozen=True)
class IntakeRules:
    """The tenant settings intake needs."""

    max_event_age: timedelta
    human_takeover: timedelta
    mode: Literal["pilot", "copilot"] = "pilot"
    media_wait: timedelta = DEFAULT_MEDIA_WAIT
    """How long a turn waits for a lead's media to be understood."""


@dataclass(frozen=True)
class IntakeOutcome:
    """What intake did with one event, and whether a turn should follow."""

    status: Literal["recorded", "duplicate", "stale", "ignored"]
    reason: Reason | None = None
    conversation_id: str | None = None
    inbound_seq: int | None = None
    turn_due: bool = False
    awaits_media: bool = False
    """A lead's media still has to be fetched and understood before its turn."""
    lead_text: str | None = None
    """A lead's message as the agent reads it (recorded, or found again in the window)."""


def take_in(
    client: Any, event: ConversationEvent, *, now: datetime, rules: IntakeRules
) -> IntakeOutcome:
    """Record one event exactly once and say whether a turn is due."""
    if now - event.occurred_at > rules.max_event_age:
        return IntakeOutcome(status="stale", reason=Reason.STALE_EVENT)
    transaction = client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
    try:
        outcome: IntakeOutcome = _take_in(transaction, client, event, now, rules)
    except AlreadyExists:  # the event's record was created first by an earlier delivery
        return IntakeOutcome(status="duplicate", reason=Reason.DUPLICATE)
    return outcome


@firestore.transactional
def _take_in(
    transaction: Any, client: Any, event: ConversationEvent, now: datetime, rules: IntakeRules
) -> IntakeOutcome:
    # No read of the dedupe record: its create() fails the commit when the event was taken in.
    record = event_ref(client, event.tenant_id, event.event_id)
    if isinstance(event, StatusUpdate):
        return _take_in_status(transaction, client, event, now, record)
    if isinstance(event, ConnectionUpdate):
        transaction.create(record, _event_record(event, now, None))
        transaction.set(
            tenant_ref(client, event.tenant_id)
            .collection("channel_status")
            .document(event.channel_id),
            {"state": event.state, "detail": event.detail, "at": event.occurred_at},
        )
        return IntakeOutcome(status="recorded")
    return _take_in_message(transaction, client, event, now, rules, record)


def _take_in_message(
    transaction: Any,
    client: Any,
    event: LeadMessage | SellerMessage,
    now: datetime,
    rules: IntakeRules,
    record: Any,
) -> IntakeOutcome:
    contact_doc = contact_ref(client, event.tenant_id, event.contact_key)
    snapshot = contact_doc.get(transaction=transaction)
    contact = (
        Contact.model_validate(snapshot.to_dict())
        if snapshot.exists
        else Contact(contact_key=event.contact_key, phone=event.contact.phone)
    )
    conversation = None
    if contact.current_conversation_id:
        current = conversation_ref(client, event.tenant_id, contact.current_conversation_id)
        current_snapshot = current.get(transaction=transaction)
        if current_snapshot.exists:
            conversation = Conversation.model_validate(current_snapshot.to_dict())
    recent = (
        next((entry for entry in conversation.window if entry.message_id == event.message_id), None)
        if conversation is not None
        else None
    )
    if conversation is not None and recent is not None:
        # A redelivery of a recent message, found without reading its record.
        return _redelivered(conversation, recent)
    lead = isinstance(event, LeadMessage)
    if isinstance(event, SellerMessage) and _is_own_echo(transaction, client, event, conversation):
        # The gateways report what Piloto sent as "fromMe" too: that is not a seller writing.
        transaction.create(record, _event_record(event, now, contact.current_conversation_id))
        return IntakeOutcome(status="ignored", conversation_id=contact.current_conversation_id)
    # A seller writing from the business phone may be answering a knowledge gap (read first).
    proposal_answer = (
        _proposal_answer(transaction, client, event, conversation)
        if isinstance(event, SellerMessage)
        else None
    )
    starts_new = (
        starts_new_conversation(conversation, contact, describe(event.content))
        if lead
        else conversation is not None and conversation.status == ConversationStatus.CLOSED
    )
    if starts_new or conversation is None:
        previous = conversation
        conversation = _new_conversation(event, now, rules)
        if previous is not None and previous.human_is_active(event.occurred_at):
            # a seller who took over is still in charge when the lead starts a new conversation
            conversation = conversation.model_copy(
                update={"human_active_until": previous.human_active_until}
            )
    if lead and not contact.opted_out and is_opt_out(describe(event.content)):
        # Recorded at once, so that replies already on their way to the sender stop there; the
        # turn still closes the conversation and grants the one acknowledgement.
        contact = contact.model_copy(update={"opted_out": True, "opted_out_at": event.occurred_at})
    window_entry = WindowMessage(
        role=Role.LEAD if lead else Role.SELLER,
        text=describe(event.content),
        at=event.occurred_at,
        message_id=event.message_id,
        seq=conversation.inbound_seq + 1 if lead else None,
        media=_pending_media(event.content, now + rules.media_wait) if lead else None,
    )
    changes: dict[str, Any] = {
        **conversation.with_messages(window_entry),
        "updated_at": now,
        "contact_opted_out": contact.opted_out,  # so the turn needs no contact read
    }
    if lead:
        changes |= {
            "followups_answered": conversation.followups_answered
            + answers_a_followup(conversation),
            "contact_name": event.contact.profile_name or conversation.contact_name,
            "inbound_seq": conversation.inbound_seq + 1,
            "inbound_count": conversation.inbound_count + 1,
            "unanswered_count": 0,
            "last_inbound_at": max(
                event.occurred_at, conversation.last_inbound_at or event.occurred_at
            ),
        }
        if conversation.attribution is None and event.content.referral is not None:
            changes["attribution"] = attribution_of(event.content.referral)
    else:
        human_until = event.occurred_at + rules.human_takeover
        changes |= {
            "outbound_count": conversation.outbound_count + 1,
            "last_outbound_at": event.occurred_at,
            "human_active_until": max(human_until, conversation.human_active_until or human_until),
        }
    conversation = conversation.model_copy(update=changes)
    contact = contact.model_copy(
        update={
            "current_conversation_id": conversation.conversation_id,
            "name": (event.contact.profile_name if lead else None) or contact.name,
            "phone": contact.phone or event.contact.phone,
        }
    )
    transaction.create(record, _event_record(event, now, conversation.conversation_id))
    transaction.create(
        message_ref(client, event.tenant_id, conversation.conversation_id, event.message_id),
        {
            "role": window_entry.role.value,
            "event_id": event.event_id,
            "provider": event.provider,
            "at": event.occurred_at,
            "received_at": event.received_at,
            "content": to_plain(event.content),
        },
    )
    transaction.set(
        conversation_ref(client, event.tenant_id, conversation.conversation_id),
        conversation.model_dump(mode="python"),
    )
    transaction.set(contact_doc, contact.model_dump(mode="python"))
    if proposal_answer is not None:
        transaction.update(*proposal_answer)
    return IntakeOutcome(
        status="recorded",
        conversation_id=conversation.conversation_id,
        inbound_seq=conversation.inbound_seq if lead else None,
        turn_due=lead,
        awaits_media=window_entry.media is not None,
        lead_text=window_entry.text if lead else None,
    )


def _pending_media(content: MessageContent, wait_until: datetime) -> MediaNote | None:
    """Return the note of a lead's media still to be understood (None: no media to read)."""
    if content.message_type not in MEDIA_TYPES or content.media is None:
        return None
    return MediaNote(
        kind=content.message_type.value,  # MEDIA_TYPES are the media kinds
        status="pending",
        captioned=bool(content.media.caption),
        wait_until=wait_until,
    )


def _redelivered(conversation: Conversation, entry: WindowMessage) -> IntakeOutcome:
    """Return the outcome of a message delivered again while still in the window.

    Nothing is written. A lead's media message whose media is still pending asks for the media
    work again (the first delivery may have died before storing it), and one no turn has
    answered yet asks for its turn again (it may have died before scheduling it): both are
    idempotent. A lead's message is named (conversation, sequence, text) so what follows its
    intake and is keyed by it (its insight event) can be done again.
    """
    media = entry.media
    lead = entry.role is Role.LEAD
    unanswered = lead and media is not None and (entry.seq or 0) > conversation.answered_seq
    return IntakeOutcome(
        status="duplicate",
        reason=Reason.DUPLICATE,
        conversation_id=conversation.conversation_id if lead else None,
        inbound_seq=entry.seq if lead else None,
        turn_due=unanswered,
        awaits_media=unanswered and media is not None and media.status == "pending",
        lead_text=entry.text if lead else None,
    )


def record_understanding(
    client: Any,
    event: LeadMessage,
    conversation_id: str,
    *,
    note: MediaNote,
    text: str,
    understanding: dict[str, Any],
    now: datetime,
) -> int | None:
    """Store what a lead's media became; return the inbound sequence its turn should answer.

    One transaction: the window entry gets the text the agent reads and the media note (only
    while still pending: a concurrent redelivery's result is not overwritten), the message
    document gets ``understanding``. Returns the conversation's current inbound sequence (a
    later message's turn that waited for this media is answered by the same turn), or None
    when the conversation is gone.
    """
    transaction = client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
    result: int | None = _record_understanding(
        transaction, client, event, conversation_id, note, text, understanding, now
    )
    return result


@firestore.transactional
def _record_understanding(
    transaction: Any,
    client: Any,
    event: LeadMessage,
    conversation_id: str,
    note: MediaNote,
    text: str,
    understanding: dict[str, Any],
    now: datetime,
) -> int | None:
    reference = conversation_ref(client, event.tenant_id, conversation_id)
    snapshot = reference.get(transaction=transaction)
    if not snapshot.exists:
        return None
    conversation = Conversation.model_validate(snapshot.to_dict())
    entry = next((m for m in conversation.window if m.message_id == event.message_id), None)
    if entry is None or (entry.media is not None and entry.media.status == "pending"):
        if entry is not None:
            window = [
                m.model_copy(update={"text": text, "media": note}) if m is entry else m
                for m in conversation.window
            ]
            transaction.update(
                reference,
                {
                    "window": [m.model_dump(mode="python") for m in window],
                    "updated_at": now,
                },
            )
        transaction.set(
            message_ref(client, event.tenant_id, conversation_id, event.message_id),
            {"understanding": understanding, "understood_at": now},
            merge=True,
        )
    return conversation.inbound_seq


def _proposal_answer(
    transaction: Any, client: Any, event: SellerMessage, conversation: Conversation | None
) -> tuple[Any, dict[str, Any]] | None:
    """Return the knowledge proposal a seller's phone message answers, and its update."""
    if conversation is None or not conversation.open_question_id:
        return None
    document = proposal_ref(client, event.tenant_id, conversation.open_question_id)
    record = document.get(transaction=transaction).to_dict()
    update = seller_answer(record, describe(event.content), by_email=None, at=event.occurred_at)
    return (document, update) if update is not None else None


def _take_in_status(
    transaction: Any, client: Any, event: StatusUpdate, now: datetime, record: Any
) -> IntakeOutcome:
    delivery = delivery_ref(client, event.tenant_id, event.provider, event.message_id)
    snapshot = delivery.get(transaction=transaction)
    transaction.create(record, _event_record(event, now, None))
    update: dict[str, Any] = {
        "status": event.status.value,
        f"{event.status.value}_at": event.occurred_at,
    }
    if event.status is DeliveryStatus.FAILED:
        update |= {"error_code": event.error_code, "error_title": event.error_title}
    if not snapshot.exists:
        # Not (yet) a message Piloto sent: kept apart, and as an early delivery record that the
        # sender completes if the status overtook the provider's answer to the send.
        transaction.set(
            unmatched_status_ref(client, event.tenant_id, event.event_id),
            {**to_plain(event), "recorded_at": now},
        )
        transaction.set(delivery, {**update, "outbound_key": None})
        return IntakeOutcome(status="ignored")
    stored = snapshot.to_dict() or {}
    current = DeliveryStatus(stored.get("status") or DeliveryStatus.SENT)
    if current is DeliveryStatus.FAILED or event.status.rank <= current.rank:
        return IntakeOutcome(status="ignored")  # late or out of order: never move back
    transaction.update(delivery, update)
    outbound_key = stored.get("outbound_key")
    if outbound_key:  # the sender's ledger record follows the delivery
        transaction.update(
            outbound_ledger_ref(client, event.tenant_id, outbound_key),
            {**update, "updated_at": now},
        )
    conversation_id = stored.get("conversation_id")
    if event.status is DeliveryStatus.FAILED and conversation_id:
        transaction.set(
            conversation_ref(client, event.tenant_id, conversation_id),
            {
                "needs_human": True,
                "attention_reason": f"delivery_failed:{event.error_code or 'unknown'}",
            },
            merge=True,
        )
    return IntakeOutcome(status="recorded")


def _is_own_echo(
    transaction: Any, client: Any, event: SellerMessage, conversation: Conversation | None
) -> bool:
    """Return whether a "fromMe" message is Piloto's own send coming back from the gateway.

    By provider id once the sender recorded the delivery; by text against the agent's recent
    messages when the echo overtook the provider's answer to the send.
    """
    delivery = delivery_ref(client, event.tenant_id, event.provider, event.message_id).get(
        transaction=transaction
    )
    if delivery.exists and (delivery.to_dict() or {}).get("outbound_key"):
        return True
    if conversation is None:
        return False
    text = describe(event.content)
    return any(
        entry.role in (Role.AGENT, Role.SELLER)
        and entry.text == text
        and abs(event.occurred_at - entry.at) <= OWN_ECHO_WINDOW
        for entry in conversation.window
    )


def attribution_of(referral: AdReferral) -> Attribution | None:
    """Return the conversation attribution of a lead message's ad referral (None: empty)."""
    attribution = Attribution(
        ctwa_clid=referral.ctwa_clid,
        source_id=referral.source_id,
        source_url=referral.source_url,
        source_type=referral.source_type,
        headline=referral.headline,
    )
    return attribution if attribution.model_dump(exclude_none=True) else None


def answers_a_followup(conversation: Conversation) -> int:
    """Return 1 when the conversation's latest message is a follow-up the lead now answers."""
    latest = conversation.window[-1] if conversation.window else None
    return int(latest is not None and latest.role is Role.AGENT and latest.proactive)


def _new_conversation(
    event: LeadMessage | SellerMessage, now: datetime, rules: IntakeRules
) -> Conversation:
    return Conversation(
        conversation_id=f"{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}",
        tenant_id=event.tenant_id,
        channel_id=event.channel_id,
        contact_key=event.contact_key,
        mode=rules.mode,
        created_at=now,
        updated_at=now,
    )


def _event_record(
    event: ConversationEvent, now: datetime, conversation_id: str | None
) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "provider": event.provider,
        "channel_id": event.channel_id,
        "conversation_id": conversation_id,
        "received_at": event.received_at,
        "recorded_at": now,
        "expire_at": now + EVENT_RECORD_TTL,  # Firestore TTL policy field
    }


def describe(content: MessageContent) -> str:
    """Return the text the agent reads for a message: its text, or a label for what was sent."""
    if content.text:
        return content.text
    if content.interactive is not None:
        return content.interactive.title or content.interactive.id or "[resposta]"
    if content.reaction is not None:
        return f"[reação {content.reaction.emoji}]"
    caption = content.media.caption if content.media is not None else None
    label = f"[{content.message_type.value}]"
    return f"{label} {caption}" if caption else label
