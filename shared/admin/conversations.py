"""The inbox: conversations, their messages and decisions, and what a seller does with them.

Sellers see conversations assigned to them or to nobody; owners and admins see all. Every action
re-reads the conversation in a transaction, so it applies to the state it checked (a turn that
stored a decision meanwhile makes the transaction retry), and writes its audit entry with it.

- take over: the agent stays out (``taken_over_by``) until released; an unassigned conversation
  becomes the caller's.
- release: the agent is in charge again (a handoff goes back to open).
- close: for good, with the seller's reason; pending follow-ups become no-ops. Won or lost is
  announced to insight agents (TICKET_WON/TICKET_LOST) after the commit.
- send: the seller's message is queued like the agent's (``outbound-messages`` → the sender, which
  still holds it after an opt-out or a close) and the conversation is taken over.
- a copilot suggestion is accepted (sent as is), edited (sent as changed) or dismissed.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore
from pydantic_core import to_jsonable_python

from shared import copilot
from shared.admin.access import Membership, may_work_on, member_ref
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, conflict, contended, invalid, not_found
from shared.admin.http import Request, Response
from shared.admin.query import equal
from shared.admin.schemas import (
    Assign,
    Close,
    ConversationDetail,
    ConversationFull,
    ConversationList,
    ConversationQuery,
    ConversationSummary,
    DecisionMessage,
    DecisionOut,
    LastMessage,
    MessageOut,
    ModeChange,
    SellerMessage,
    SentMessage,
    SuggestionAccept,
    SuggestionDismiss,
    SuggestionDismissed,
    SuggestionOut,
    UnderstandingOut,
)
from shared.insights.events import read_index, ticket_event
from shared.insights.models import InsightEvent
from shared.integrations.events import close_events
from shared.integrations.models import BusinessEvent
from shared.integrations.outbox import stage_events
from shared.integrations.publish import publish_logged
from shared.knowledge.proposals import proposal_ref, seller_answer
from shared.models.conversation import Conversation, ConversationStatus, Role, WindowMessage
from shared.models.decision import Action, Decision, KnowledgeRef, OutboundMessage
from shared.models.tenant import AgentSettings
from shared.policy.windows import within_24h_window
from shared.store.channels import CHANNELS_COLLECTION
from shared.store.conversations import conversation_ref, message_ref, tenant_ref

logger = logging.getLogger("piloto.admin")

HISTORY_LIMIT = 200
TICKET_OUTCOMES = {"won": True, "lost": False}  # close reasons that are a TICKET_* event
WINDOWED_PROVIDERS = ("meta", "twilio")  # the official APIs refuse free text after 24 hours


def list_conversations(request: Request, tenant_id: str) -> ConversationList:
    """Return the conversations the caller may see, newest activity first, with filters."""
    query: ConversationQuery = request.query
    member = request.member
    collection = tenant_ref(request.services.firestore, tenant_id).collection("conversations")
    base = collection
    for name in ("status", "stage", "channel_id", "needs_human"):
        value = getattr(query, name)
        if value is not None:
            base = base.where(filter=equal(name, value))
    assignees: list[str | None]
    if query.assignee in (None, "all"):
        assignees = [member.uid, None] if not member.manages else []
    elif query.assignee == "me":
        assignees = [member.uid]
    elif query.assignee == "none":
        assignees = [None]
    else:
        if not may_work_on(member, query.assignee):
            raise ApiError(403, "sellers see only their own and unassigned conversations")
        assignees = [query.assignee]
    after = _decode_cursor(query.cursor)
    queries = [base.where(filter=equal("assignee_uid", uid)) for uid in assignees] or [base]
    found: dict[str, dict[str, Any]] = {}
    for each in queries:
        ordered = each.order_by("updated_at", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING
        )
        if after is not None:
            ordered = ordered.start_after(
                {"updated_at": after[0], "__name__": collection.document(after[1])}
            )
        for snapshot in ordered.limit(query.limit).stream():
            found[snapshot.id] = snapshot.to_dict() or {}
    rows = sorted(
        found.items(), key=lambda item: (item[1].get("updated_at"), item[0]), reverse=True
    )[: query.limit]
    summaries = [summary_of(Conversation.model_validate(record)) for _, record in rows]
    next_cursor = None
    if len(rows) == query.limit:
        last_id, last = rows[-1]
        next_cursor = _encode_cursor(last["updated_at"], last_id)
    return ConversationList(conversations=summaries, next_cursor=next_cursor)


def conversation_detail(
    request: Request, tenant_id: str, conversation_id: str
) -> ConversationDetail:
    """Return one conversation with its messages, every decision and why, and its fields."""
    client = request.services.firestore
    conversation = readable(request, tenant_id, conversation_id)
    document = conversation_ref(client, tenant_id, conversation_id)
    ledger = {
        snapshot.id: snapshot.to_dict() or {}
        for snapshot in tenant_ref(client, tenant_id)
        .collection("outbound")
        .where(filter=equal("conversation_id", conversation_id))
        .stream()
    }
    messages = [
        _message_out(snapshot.id, snapshot.to_dict() or {}, ledger)
        for snapshot in _latest(document.collection("messages"), "at")
    ]
    decisions = [
        _decision_out(snapshot.to_dict() or {})
        for snapshot in _latest(document.collection("decisions"), "decided_at")
    ]
    return ConversationDetail(
        conversation=ConversationFull(
            **summary_of(conversation).model_dump(),
            fields=conversation.fields,
            summary=conversation.summary,
            unanswered_count=conversation.unanswered_count,
            followups_sent=conversation.followups_sent,
            followup_due_at=conversation.followup_due_at,
        ),
        messages=sorted(messages, key=lambda message: message.at),
        decisions=sorted(decisions, key=lambda decision: decision.decided_at),
    )


def take_over(request: Request, tenant_id: str, conversation_id: str) -> ConversationSummary:
    """Put the caller in charge: the agent stays silent until the conversation is released."""

    def change(conversation: Conversation, member: Membership) -> dict[str, Any]:
        refuse_closed(conversation)
        update: dict[str, Any] = {"taken_over_by": member.uid, "taken_over_email": member.email}
        if conversation.assignee_uid is None:
            update |= {"assignee_uid": member.uid, "assignee_email": member.email}
        return update

    return _act(request, tenant_id, conversation_id, "conversation.takeover", change)


def release(request: Request, tenant_id: str, conversation_id: str) -> ConversationSummary:
    """Hand the conversation back to the agent."""

    def change(conversation: Conversation, member: Membership) -> dict[str, Any]:
        refuse_closed(conversation)
        update: dict[str, Any] = {
            "taken_over_by": None,
            "taken_over_email": None,
            "human_active_until": None,
        }
        if conversation.status is ConversationStatus.HANDOFF:
            update["status"] = ConversationStatus.OPEN.value
        return update

    return _act(request, tenant_id, conversation_id, "conversation.release", change)


def assign(request: Request, tenant_id: str, conversation_id: str) -> ConversationSummary:
    """Assign the conversation to a member, or to nobody (sellers: only themselves)."""
    body: Assign = request.body
    member = request.member
    client = request.services.firestore
    email = None
    if body.assignee_uid is not None:
        if not member.manages and body.assignee_uid != member.uid:
            raise ApiError(403, "a seller may assign a conversation only to themselves")
        record = member_ref(client, tenant_id, body.assignee_uid).get()
        if not record.exists:
            raise invalid("assignee_uid", "not a member of this tenant")
        email = (record.to_dict() or {}).get("email")

    def change(conversation: Conversation, member: Membership) -> dict[str, Any]:
        return {"assignee_uid": body.assignee_uid, "assignee_email": email}

    return _act(request, tenant_id, conversation_id, "conversation.assign", change)


def close(request: Request, tenant_id: str, conversation_id: str) -> ConversationSummary:
    """Close the conversation for good with the seller's reason (won/lost: a TICKET event)."""
    body: Close = request.body

    def change(conversation: Conversation, member: Membership) -> dict[str, Any]:
        refuse_closed(conversation)
        return close_changes(conversation, reason=body.reason, note=body.note, closed_by=member.uid)

    staged: list[BusinessEvent] = []

    def events(closed: Conversation) -> list[BusinessEvent]:
        staged[:] = outcome_events(closed, body.reason, request.services.now(), request.member.uid)
        return staged

    summary = _act(request, tenant_id, conversation_id, "conversation.close", change, events)
    # the close stands whatever happens here: a failed publish is logged (the outbox keeps them)
    publish_logged(getattr(request.services, "publish_events", None), staged)
    announce_close(
        request.services,
        tenant_id,
        conversation_id,
        body.reason,
        note=body.note,
        actor_uid=request.member.uid,
    )
    return summary


def outcome_events(
    closed: Conversation, reason: str, now: datetime, actor_uid: str | None
) -> list[BusinessEvent]:
    """Return the business event of a seller's close won or lost (none for other reasons)."""
    if reason not in TICKET_OUTCOMES:
        return []
    return close_events(
        closed, won=TICKET_OUTCOMES[reason], now=now, actor_uid=actor_uid, reason=reason
    )


def close_changes(
    conversation: Conversation, *, reason: str, note: str | None, closed_by: str
) -> dict[str, Any]:
    """Return the update that closes a conversation for good (pending follow-ups turn no-ops)."""
    return {
        "status": ConversationStatus.CLOSED.value,
        "close_reason": reason,
        "close_note": note,
        "closed_by": closed_by,
        "taken_over_by": None,
        "taken_over_email": None,
        "pending_suggestions": 0,
        "followup_generation": conversation.followup_generation + 1,
        "followup_due_at": None,
    }


def announce_close(
    services: Any,
    tenant_id: str,
    conversation_id: str,
    reason: str,
    *,
    note: str | None,
    actor_uid: str,
) -> InsightEvent | None:
    """Publish TICKET_WON/TICKET_LOST for a close that committed, if some agent listens.

    The close stands whatever happens here: a failure is logged, never raised.
    """
    if reason not in TICKET_OUTCOMES:
        return None
    event = ticket_event(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        won=TICKET_OUTCOMES[reason],
        occurred_at=services.now(),
        actor_uid=actor_uid,
        reason=note,
    )
    try:
        if event.type not in read_index(services.firestore, tenant_id).events:
            return None
        services.publish_insights([event])
    except Exception:
        logger.exception(
            "the close committed but its %s event was not published",
            event.type.value,
            extra={"tenant_id": tenant_id, "conversation_id": conversation_id},
        )
        return None
    return event


def set_mode(request: Request, tenant_id: str, conversation_id: str) -> ConversationSummary:
    """Switch one conversation between pilot and copilot."""
    body: ModeChange = request.body

    def change(conversation: Conversation, member: Membership) -> dict[str, Any]:
        return {"mode": body.mode}

    return _act(request, tenant_id, conversation_id, "conversation.mode", change)


def send_message(request: Request, tenant_id: str, conversation_id: str) -> Response:
    """Queue the seller's message to the lead; the conversation is theirs from now on."""
    body: SellerMessage = request.body
    return _send(request, tenant_id, conversation_id, body.text, None)


def accept_suggestion(request: Request, tenant_id: str, conversation_id: str) -> Response:
    """Send a copilot suggestion as it is, or as the seller edited it."""
    body: SuggestionAccept = request.body
    return _send(request, tenant_id, conversation_id, body.text, body)


def dismiss_suggestion(
    request: Request, tenant_id: str, conversation_id: str
) -> SuggestionDismissed:
    """Mark a copilot suggestion as not used."""
    body: SuggestionDismiss = request.body
    client = request.services.firestore
    now = request.services.now()

    @firestore.transactional
    def apply(transaction: Any) -> None:
        conversation = load_workable(
            transaction, client, tenant_id, conversation_id, request.member
        )
        decision_doc, _text, intent = _pending_suggestion(
            transaction, client, conversation, body.decision_id, body.index
        )
        transaction.update(decision_doc, {f"suggestion_states.`{body.index}`": "dismissed"})
        copilot.record(transaction, client, tenant_id, now, copilot.count(intent, "dismissed"))
        handled = _suggestion_handled(conversation, body.decision_id, accepted=False)
        if handled:  # nothing to count for an older decision's suggestion
            transaction.update(conversation_ref(client, tenant_id, conversation_id), handled)
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "suggestion.dismiss",
                f"conversations/{conversation_id}/decisions/{body.decision_id}",
                now,
                after={"index": body.index},
            ),
        )

    contended(lambda: apply(client.transaction()))
    return SuggestionDismissed(decision_id=body.decision_id, index=body.index, state="dismissed")


def summary_of(conversation: Conversation) -> ConversationSummary:
    """Return the list view of a conversation."""
    latest = conversation.window[-1] if conversation.window else None
    return ConversationSummary(
        conversation_id=conversation.conversation_id,
        channel_id=conversation.channel_id,
        contact_key=conversation.contact_key,
        contact_name=conversation.contact_name,
        contact_phone=conversation.contact_key
        if conversation.contact_key.startswith("+")
        else None,
        status=conversation.status.value,
        stage=conversation.stage,
        mode=conversation.mode,
        needs_human=conversation.needs_human,
        attention_reason=conversation.attention_reason,
        assignee_uid=conversation.assignee_uid,
        assignee_email=conversation.assignee_email,
        taken_over_by=conversation.taken_over_by,
        human_active_until=conversation.human_active_until,
        close_reason=conversation.close_reason,
        last_message=LastMessage(role=latest.role.value, text=latest.text, at=latest.at)
        if latest
        else None,
        pending_suggestions=conversation.pending_suggestions,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


def _send(
    request: Request,
    tenant_id: str,
    conversation_id: str,
    text: str | None,
    suggestion: SuggestionAccept | None,
) -> Response:
    client = request.services.firestore
    member = request.member
    now = request.services.now()
    settings = _agent_settings(client, tenant_id)
    decision_id = f"seller-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
    key = f"{decision_id}:0"

    @firestore.transactional
    def queue(transaction: Any) -> tuple[Conversation, str, str | None]:
        conversation = load_workable(transaction, client, tenant_id, conversation_id, member)
        proposal_doc = proposal = None
        if conversation.open_question_id:  # a knowledge gap the seller may be answering
            proposal_doc = proposal_ref(client, tenant_id, conversation.open_question_id)
            proposal = proposal_doc.get(transaction=transaction).to_dict()
        state = None
        body_text = text
        counts: dict[str, Any] = {}
        if suggestion is not None:
            decision_doc, suggested, intent = _pending_suggestion(
                transaction, client, conversation, suggestion.decision_id, suggestion.index
            )
            body_text = text or suggested
            if text and text != suggested:
                state = "edited"
                counts = copilot.count(
                    intent, "edited", similarity=copilot.similarity(suggested, text)
                )
            else:
                state = "accepted"
                counts = copilot.count(intent, "accepted")
        elif conversation.pending_suggestions:  # the seller wrote their own: unused suggestions
            counts = copilot.count(
                conversation.suggestions_intent, "ignored", conversation.pending_suggestions
            )
        assert body_text is not None
        refuse_closed(conversation)
        if conversation.contact_opted_out:
            raise conflict("the contact opted out: no message may be sent to them")
        provider = _provider(client, conversation.channel_id)
        if provider in WINDOWED_PROVIDERS and not within_24h_window(
            conversation.last_inbound_at, now
        ):
            raise conflict(
                "WhatsApp's 24-hour window is closed: only an approved template can reach the "
                "lead until they write again"
            )
        entry = WindowMessage(role=Role.SELLER, text=body_text, at=now, message_id=key)
        changes: dict[str, Any] = {
            **conversation.with_messages(entry),
            "outbound_count": conversation.outbound_count + 1,
            "last_outbound_at": now,
            "human_active_until": now + _takeover(settings),
            "taken_over_by": conversation.taken_over_by or member.uid,
            "taken_over_email": conversation.taken_over_email or member.email,
            "updated_at": now,
        }
        if conversation.assignee_uid is None:
            changes |= {"assignee_uid": member.uid, "assignee_email": member.email}
        if suggestion is not None:
            transaction.update(decision_doc, {f"suggestion_states.`{suggestion.index}`": state})
            changes |= _suggestion_handled(conversation, suggestion.decision_id, accepted=True)
        elif conversation.pending_suggestions:
            changes["pending_suggestions"] = 0
        copilot.record(transaction, client, tenant_id, now, counts)
        answered = seller_answer(
            proposal, body_text if state != "accepted" else "", by_email=member.email, at=now
        )
        if proposal_doc is not None and answered is not None:
            transaction.update(proposal_doc, answered)
        transaction.update(conversation_ref(client, tenant_id, conversation_id), _dumped(changes))
        transaction.create(
            message_ref(client, tenant_id, conversation_id, key),
            {
                "role": Role.SELLER.value,
                "author_uid": member.uid,
                "author_email": member.email,
                "at": now,
                "outbound_key": key,
                "content": {"text": body_text},
            },
        )
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                member,
                "suggestion.accept" if suggestion else "message.send",
                f"conversations/{conversation_id}/messages/{key}",
                now,
                after={"state": state} if suggestion else None,
            ),
        )
        return conversation, body_text, state

    conversation, body_text, _state = contended(lambda: queue(client.transaction()))
    decision = Decision(
        decision_id=decision_id,
        action=Action.SPEAK,
        messages=[OutboundMessage(text=body_text, sent_by=member.uid)],
        decided_at=now,
    )
    try:
        request.services.deliver(conversation, decision)
    except Exception as error:
        message_ref(client, tenant_id, conversation_id, key).update({"publish_failed": True})
        raise ApiError(
            503, f"the message could not be queued for sending ({type(error).__name__})"
        ) from None
    message = MessageOut(
        message_id=key,
        role="seller",
        text=body_text,
        at=now,
        status="queued",
        author_email=member.email,
    )
    return Response(202, SentMessage(message=message).model_dump(mode="json"))


def _act(
    request: Request,
    tenant_id: str,
    conversation_id: str,
    action: str,
    change: Callable[[Conversation, Membership], dict[str, Any]],
    events: Callable[[Conversation], list[BusinessEvent]] | None = None,
) -> ConversationSummary:
    """Apply ``change`` to the conversation in a transaction, with its audit entry.

    ``events`` returns the business events of the changed conversation, staged in the same
    transaction (cause ``{action}:{conversation_id}``).
    """
    client = request.services.firestore
    member = request.member
    now = request.services.now()

    @firestore.transactional
    def apply(transaction: Any) -> Conversation:
        conversation = load_workable(transaction, client, tenant_id, conversation_id, member)
        update = {**change(conversation, member), "updated_at": now}
        transaction.update(conversation_ref(client, tenant_id, conversation_id), update)
        before = {name: to_jsonable_python(getattr(conversation, name, None)) for name in update}
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                member,
                action,
                f"conversations/{conversation_id}",
                now,
                before=before,
                after={name: to_jsonable_python(value) for name, value in update.items()},
            ),
        )
        changed = conversation.model_copy(update=update)
        if events is not None:
            valid = Conversation.model_validate(changed.model_dump())
            stage_events(transaction, client, events(valid), f"{action}:{conversation_id}")
        return changed

    changed = contended(lambda: apply(client.transaction()))
    return summary_of(Conversation.model_validate(changed.model_dump()))


def load_workable(
    transaction: Any, client: Any, tenant_id: str, conversation_id: str, member: Membership
) -> Conversation:
    """Read the conversation in a transaction; 404 unknown, 403 another seller's."""
    snapshot = conversation_ref(client, tenant_id, conversation_id).get(transaction=transaction)
    if not snapshot.exists:
        raise not_found("conversation")
    conversation = Conversation.model_validate(snapshot.to_dict())
    if not may_work_on(member, conversation.assignee_uid):
        raise ApiError(403, "this conversation is assigned to another seller")
    return conversation


def readable(request: Request, tenant_id: str, conversation_id: str) -> Conversation:
    """Read the conversation; 404 unknown, 403 another seller's."""
    snapshot = conversation_ref(request.services.firestore, tenant_id, conversation_id).get()
    if not snapshot.exists:
        raise not_found("conversation")
    conversation = Conversation.model_validate(snapshot.to_dict())
    if not may_work_on(request.member, conversation.assignee_uid):
        raise ApiError(403, "this conversation is assigned to another seller")
    return conversation


def _pending_suggestion(
    transaction: Any, client: Any, conversation: Conversation, decision_id: str, index: int
) -> tuple[Any, str, str | None]:
    """Return a pending suggestion's decision document, its text and its intent."""
    document = (
        conversation_ref(client, conversation.tenant_id, conversation.conversation_id)
        .collection("decisions")
        .document(decision_id)
    )
    snapshot = document.get(transaction=transaction)
    if not snapshot.exists:
        raise invalid("decision_id", "no such decision in this conversation")
    record = snapshot.to_dict() or {}
    suggestions = record.get("suggestions") or []
    if index >= len(suggestions):
        raise invalid("index", f"the decision has {len(suggestions)} suggestion(s)")
    state = (record.get("suggestion_states") or {}).get(str(index))
    if state is not None:
        raise conflict(f"this suggestion was already {state}", "index")
    return (
        document,
        str(suggestions[index]),
        record.get("suggestions_intent") or record.get("specialist"),
    )


def _suggestion_handled(
    conversation: Conversation, decision_id: str, *, accepted: bool
) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if decision_id == conversation.suggestions_decision_id:
        update["pending_suggestions"] = max(conversation.pending_suggestions - 1, 0)
    if accepted:
        update["suggestions_accepted"] = conversation.suggestions_accepted + 1
    return update


def refuse_closed(conversation: Conversation) -> None:
    """Refuse (409) to act on a closed conversation."""
    if conversation.status is ConversationStatus.CLOSED:
        raise conflict("the conversation is closed; a new message from the lead opens a new one")


def _provider(client: Any, channel_id: str) -> str | None:
    snapshot = client.collection(CHANNELS_COLLECTION).document(channel_id).get()
    return (snapshot.to_dict() or {}).get("provider") if snapshot.exists else None


def _agent_settings(client: Any, tenant_id: str) -> AgentSettings:
    snapshot = tenant_ref(client, tenant_id).collection("settings").document("agent").get()
    return AgentSettings.model_validate(snapshot.to_dict() or {})


def _takeover(settings: AgentSettings) -> timedelta:
    return timedelta(minutes=settings.human_takeover_minutes)


def _phone(contact_key: str) -> str | None:
    return contact_key if contact_key.startswith("+") else None


def _latest(collection: Any, field_name: str) -> list[Any]:
    query = collection.order_by(field_name, direction=firestore.Query.DESCENDING)
    return list(query.limit(HISTORY_LIMIT).stream())


def _message_out(message_id: str, record: dict[str, Any], ledger: dict[str, Any]) -> MessageOut:
    outbound = ledger.get(str(record.get("outbound_key") or ""), {})
    status = outbound.get("status")
    if status is None and record.get("outbound_key"):
        status = "queued"  # a seller's message the sender has not claimed yet
    if record.get("publish_failed"):
        status = "failed"
    role = record.get("role") or "lead"
    return MessageOut(
        message_id=message_id,
        role=role,
        text=_message_text(record.get("content") or {}),
        at=record["at"],
        status=status if role != "lead" else None,
        author_email=record.get("author_email"),
        understanding=UnderstandingOut.model_validate(record["understanding"])
        if record.get("understanding")
        else None,
    )


def _message_text(content: dict[str, Any]) -> str:
    if content.get("text"):
        return str(content["text"])
    if content.get("template"):
        return f"[modelo {content['template']}]"
    interactive = content.get("interactive") or {}
    if interactive.get("title") or interactive.get("id"):
        return str(interactive.get("title") or interactive.get("id"))
    reaction = content.get("reaction") or {}
    if reaction.get("emoji"):
        return f"[reação {reaction['emoji']}]"
    caption = (content.get("media") or {}).get("caption")
    label = f"[{content.get('message_type') or 'mensagem'}]"
    return f"{label} {caption}" if caption else label


def _decision_out(record: dict[str, Any]) -> DecisionOut:
    states = record.get("suggestion_states") or {}
    return DecisionOut(
        decision_id=record["decision_id"],
        action=record["action"],
        reasons=[str(reason) for reason in record.get("reasons") or []],
        messages=[
            DecisionMessage(text=message.get("text"), template=message.get("template"))
            for message in record.get("messages") or []
        ],
        suggestions=[
            SuggestionOut(index=index, text=text, state=states.get(str(index), "pending"))
            for index, text in enumerate(record.get("suggestions") or [])
        ],
        decided_at=record["decided_at"],
        specialist=record.get("specialist"),
        stage=record.get("stage"),
        handoff_summary=record.get("handoff_summary"),
        offline_model=bool(record.get("offline_model")),
        knowledge_used=[
            KnowledgeRef.model_validate(ref) for ref in record.get("knowledge_used") or []
        ],
        open_question=record.get("open_question"),
    )


def _dumped(changes: dict[str, Any]) -> dict[str, Any]:
    window = changes.get("window")
    if window is not None:
        changes = {**changes, "window": [entry.model_dump(mode="python") for entry in window]}
    return changes


def _encode_cursor(updated_at: datetime, conversation_id: str) -> str:
    raw = json.dumps([updated_at.isoformat(), conversation_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, conversation_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(at), str(conversation_id)
    except (ValueError, TypeError):
        raise ApiError(400, "cursor: not a cursor this API returned", "cursor") from None
