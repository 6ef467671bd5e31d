"""The public API (``/api/v1``): a tenant's other tools create contacts, start a conversation with
an approved template, press an insight agent's button and read a conversation.

Every route authenticates an API key (``shared.admin.api_keys.authenticate``; the key names
the tenant, so one tenant's key never reaches another's documents: they are simply not found)
and is refused, like the console, while the workspace is read-only (402).

Starting a conversation applies the same restraint as the agent (``shared.policy``): an
opted-out contact, a last conversation closed by a rejection, a conversation already open
(never two), a seller in charge, quiet hours (with ``retry_after``), copilot mode: 409 with the
reason; the subscription off or the month's replies used up: 402. Otherwise one transaction
creates the conversation, the contact's link to it, the decision (``speak``, reason
``api_started``, the template as a proactive message), the ``conversation.started`` business
event (source ``api``), the audit entry and, with an ``Idempotency-Key`` header, the answer
under ``tenants/{t}/api_requests/{key_id}:{idempotency key}`` (the same key within 24 hours
gets the first answer again). The decision is then published on ``outbound-messages``; the
sender checks the policy again when it sends.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import phonenumbers
from google.cloud import firestore
from pydantic import AwareDatetime, BaseModel, Field

from shared.admin.api_keys import key_actor
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, conflict, contended, invalid, not_found
from shared.admin.http import Request, Response
from shared.admin.insight_agents import read_agent
from shared.admin.query import equal
from shared.admin.schemas import Strict
from shared.billing.plans import load_catalogue
from shared.billing.usage import BillingCheck, QuotaCheck
from shared.channels.phones import to_e164
from shared.insights.models import EventType
from shared.integrations.events import conversation_event
from shared.integrations.models import BusinessEvent, BusinessEventType
from shared.integrations.outbox import stage_events
from shared.integrations.publish import publish_logged
from shared.models.channel import Channel
from shared.models.conversation import (
    Contact,
    Conversation,
    ConversationStatus,
    Role,
    WindowMessage,
)
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.policy import PolicyContext, before_turn
from shared.store.channels import CHANNELS_COLLECTION
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from shared.templates import approved_template

logger = logging.getLogger("piloto.admin")

IDEMPOTENCY_WINDOW = timedelta(hours=24)
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_FIELDS = 30
REFUSALS: dict[Reason, tuple[int, str]] = {
    Reason.OPTED_OUT: (409, "opted_out: the contact opted out of messages"),
    Reason.SUBSCRIPTION_INACTIVE: (402, "subscription_inactive: the subscription is not active"),
    Reason.QUOTA_EXCEEDED: (402, "quota_exceeded: this month's agent replies are used up"),
    Reason.COPILOT_MODE: (409, "copilot_mode: the agent only suggests replies to sellers"),
    Reason.HUMAN_ACTIVE: (409, "human_active: a seller is talking to this contact"),
    Reason.HANDOFF_REQUESTED: (409, "human_active: the contact is with a seller"),
}


class ContactIn(Strict):
    phone: str = Field(min_length=3, max_length=40)
    name: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    fields: dict[str, str] = Field(default_factory=dict, max_length=MAX_FIELDS)


class ContactOut(BaseModel):
    contact_key: str
    phone: str | None
    name: str | None
    email: str | None
    fields: dict[str, str]
    opted_out: bool
    current_conversation_id: str | None
    created: bool


class ConversationStart(Strict):
    phone: str = Field(min_length=3, max_length=40)
    name: str | None = Field(default=None, max_length=120)
    channel_id: str | None = Field(default=None, min_length=1, max_length=200)
    template: str = Field(min_length=1, max_length=200)
    language: str | None = Field(default=None, min_length=2, max_length=20)
    parameters: list[str] | None = Field(default=None, max_length=20)


class ConversationStarted(BaseModel):
    conversation_id: str
    decision_id: str


class MacroAccepted(BaseModel):
    event_id: str


class ConversationBooking(BaseModel):
    booking_id: str | None
    start: AwareDatetime | None
    status: str | None


class ConversationOut(BaseModel):
    conversation_id: str
    channel_id: str
    contact_key: str
    contact_name: str | None
    status: Literal["open", "handoff", "closed"]
    close_reason: str | None
    stage: str
    mode: Literal["pilot", "copilot"]
    booking: ConversationBooking | None
    fields: dict[str, str]
    created_at: AwareDatetime
    updated_at: AwareDatetime


def upsert_contact(request: Request) -> Response:
    """Create or update a contact by phone: 201 created, 200 updated."""
    body: ContactIn = request.body
    key = request.api_key
    tenant_id = key.tenant_id
    client = request.services.firestore
    now = request.services.now()
    phone = _phone(body.phone)
    fields = _fields(body.fields)
    document = contact_ref(client, tenant_id, phone)

    @firestore.transactional
    def upsert(transaction: Any) -> tuple[Contact, bool]:
        snapshot = document.get(transaction=transaction)
        created = not snapshot.exists
        contact = (
            Contact(contact_key=phone, phone=phone)
            if created
            else Contact.model_validate(snapshot.to_dict())
        )
        changed = contact.model_copy(
            update={
                "phone": contact.phone or phone,
                "name": body.name or contact.name,
                "email": body.email or contact.email,
                "fields": {**contact.fields, **fields},
            }
        )
        transaction.set(document, changed.model_dump(mode="python"))
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                key_actor(key),
                "contact.create" if created else "contact.update",
                f"contacts/{phone}",
                now,
                after={"fields": sorted(fields), "name": body.name is not None},
            ),
        )
        return changed, created

    contact, created = contended(lambda: upsert(client.transaction()))
    out = ContactOut(
        contact_key=contact.contact_key,
        phone=contact.phone,
        name=contact.name,
        email=contact.email,
        fields=contact.fields,
        opted_out=contact.opted_out,
        current_conversation_id=contact.current_conversation_id,
        created=created,
    )
    return Response(201 if created else 200, out.model_dump(mode="json"))


def start_conversation(request: Request) -> Response:
    """Start a conversation with an approved template, if the restraint policy allows it."""
    body: ConversationStart = request.body
    key = request.api_key
    tenant_id = key.tenant_id
    client = request.services.firestore
    now = request.services.now()
    idempotency = _idempotency_ref(request)
    if idempotency is not None:
        replay = _replay(idempotency, now)
        if replay is not None:
            return _requeued(request, replay)
    phone = _phone(body.phone)
    channel = _channel(client, tenant_id, body.channel_id)
    settings, timezone = _tenant_settings(client, tenant_id)
    found = approved_template(channel, body.template, settings.templates)
    language = str((found or {}).get("language") or "pt_BR")
    if found is None or (body.language is not None and body.language != language):
        in_language = f" in {body.language}" if body.language else ""
        raise invalid(
            "template",
            f"{body.template!r} is not an approved template of channel "
            f"{channel.channel_id}{in_language}",
        )
    entry: Mapping[str, Any] = found
    billing: QuotaCheck = _billing(request.services).check(tenant_id, now, timezone)
    conversation_id = f"{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
    decision_id = f"api-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
    answer = ConversationStarted(conversation_id=conversation_id, decision_id=decision_id)

    @firestore.transactional
    def start(transaction: Any) -> tuple[Conversation, Decision, BusinessEvent] | Response:
        if idempotency is not None:
            stored = idempotency.get(transaction=transaction)
            if stored.exists:  # a concurrent request with the same key got there first
                return _stored_answer(stored.to_dict() or {})
        contact_doc = contact_ref(client, tenant_id, phone)
        snapshot = contact_doc.get(transaction=transaction)
        contact = (
            Contact.model_validate(snapshot.to_dict())
            if snapshot.exists
            else Contact(contact_key=phone, phone=phone)
        )
        previous = None
        if contact.current_conversation_id:
            found = conversation_ref(client, tenant_id, contact.current_conversation_id).get(
                transaction=transaction
            )
            previous = Conversation.model_validate(found.to_dict()) if found.exists else None
        _refuse_by_history(contact, previous)
        values = {**contact.fields, "nome": body.name or contact.name or ""}
        parameters = body.parameters
        if parameters is None:
            parameters = [_fill(str(item), values) for item in entry.get("parameters") or []]
        message = OutboundMessage(
            template=body.template,
            template_language=language,
            template_parameters=parameters,
            proactive=True,
        )
        fields = dict(contact.fields)
        if contact.email:
            fields.setdefault("email", contact.email)
        conversation = Conversation(
            conversation_id=conversation_id,
            tenant_id=tenant_id,
            channel_id=channel.channel_id,
            contact_key=phone,
            mode=settings.mode,
            contact_name=body.name or contact.name,
            contact_opted_out=contact.opted_out,
            fields=fields,
            human_active_until=previous.human_active_until if previous else None,
            created_at=now,
            updated_at=now,
        )
        verdict = before_turn(
            PolicyContext(
                conversation=conversation,
                contact=contact,
                settings=settings,
                now=now,
                timezone=timezone,
                proactive=True,
                has_template=True,
                quota_exceeded=billing.quota_exceeded,
                subscription_inactive=not billing.agent_on,
            ),
            [],
        )
        _refuse_by_verdict(verdict.action, verdict.reasons, verdict.retry_at, now)
        decision = Decision(
            decision_id=decision_id,
            action=Action.SPEAK,
            reasons=[Reason.API_STARTED],
            messages=[message],
            specialist="api",
            decided_at=now,
        )
        text = f"[template {body.template}]"
        conversation = conversation.model_copy(
            update={
                **conversation.with_messages(
                    WindowMessage(role=Role.AGENT, text=text, at=now, proactive=True)
                ),
                "outbound_count": 1,
                "unanswered_count": 1,
                "last_outbound_at": now,
            }
        )
        event = conversation_event(
            BusinessEventType.CONVERSATION_STARTED,
            conversation,
            event_id=f"{decision_id}.started",
            occurred_at=now,
            source="api",
            data={"template": body.template, "channel_id": channel.channel_id},
            phone=phone,
            email=contact.email,
        )
        document = conversation_ref(client, tenant_id, conversation_id)
        transaction.create(document, conversation.model_dump(mode="python"))
        transaction.create(
            document.collection("decisions").document(decision_id),
            decision.model_dump(mode="python"),
        )
        transaction.set(
            contact_doc,
            contact.model_copy(
                update={
                    "current_conversation_id": conversation_id,
                    "name": body.name or contact.name,
                }
            ).model_dump(mode="python"),
        )
        stage_events(transaction, client, [event], decision_id)
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                key_actor(key),
                "conversation.start",
                f"conversations/{conversation_id}",
                now,
                after={"template": body.template, "channel_id": channel.channel_id},
            ),
        )
        if idempotency is not None:
            transaction.create(
                idempotency,
                {"status": 202, "body": answer.model_dump(mode="json"), "created_at": now},
            )
        return conversation, decision, event

    result = contended(lambda: start(client.transaction()))
    if isinstance(result, Response):
        return _requeued(request, result)
    conversation, decision, event = result
    _queue(request, conversation, decision)
    publish_logged(request.services.publish_events, [event])
    return Response(202, answer.model_dump(mode="json"))


def _queue(request: Request, conversation: Conversation, decision: Decision) -> None:
    """Hand the template to the sender; on failure mark the decision so a retry queues it."""
    client = request.services.firestore
    decision_doc = (
        conversation_ref(client, conversation.tenant_id, conversation.conversation_id)
        .collection("decisions")
        .document(decision.decision_id)
    )
    try:
        request.services.deliver(conversation, decision)
    except Exception as error:
        logger.exception(
            "publishing an API conversation failed", extra={"tenant_id": conversation.tenant_id}
        )
        decision_doc.update({"publish_failed": True})
        raise ApiError(
            503,
            f"the message could not be queued for sending ({type(error).__name__}); "
            "retry with the same Idempotency-Key",
        ) from None


def _requeued(request: Request, answer: Response) -> Response:
    """Return a replayed answer, first queueing its message again if queueing it had failed.

    The sender keys every send by decision and index, so queueing a decision twice sends it once.
    """
    body = answer.body if isinstance(answer.body, dict) else {}
    conversation_id, decision_id = body.get("conversation_id"), body.get("decision_id")
    if answer.status != 202 or not conversation_id or not decision_id:
        return answer
    client = request.services.firestore
    tenant_id = request.api_key.tenant_id
    conversation_doc = conversation_ref(client, tenant_id, conversation_id)
    decision_snapshot = conversation_doc.collection("decisions").document(decision_id).get()
    if not decision_snapshot.exists or not (decision_snapshot.to_dict() or {}).get(
        "publish_failed"
    ):
        return answer
    conversation_snapshot = conversation_doc.get()
    if not conversation_snapshot.exists:
        return answer
    conversation = Conversation.model_validate(conversation_snapshot.to_dict())
    decision = Decision.model_validate(
        {
            key: value
            for key, value in (decision_snapshot.to_dict() or {}).items()
            if key in Decision.model_fields
        }
    )
    _queue(request, conversation, decision)
    conversation_doc.collection("decisions").document(decision_id).update({"publish_failed": False})
    return answer


def run_macro(request: Request, conversation_id: str, agent_id: str) -> Response:
    """Run an insight agent on a conversation, as a seller's press on its button does."""
    from shared.insights.events import macro_event

    key = request.api_key
    tenant_id = key.tenant_id
    client = request.services.firestore
    conversation = _conversation(client, tenant_id, conversation_id)
    if conversation.status is ConversationStatus.CLOSED:
        raise conflict("the conversation is closed")
    agent = read_agent(client, tenant_id, agent_id)
    if agent is None:
        raise not_found("insight agent")
    if not agent.active:
        raise conflict("this agent is switched off")
    if not any(trigger.event is EventType.MACRO_BUTTON_CLICKED for trigger in agent.triggers):
        raise conflict("this agent has no button: it has no MACRO_BUTTON_CLICKED trigger")
    now = request.services.now()
    actor = key_actor(key)
    event = macro_event(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        agent_id=agent_id,
        actor_uid=actor.uid,
        occurred_at=now,
    )
    try:
        request.services.publish_insights([event])
    except Exception as error:  # nothing happened: the caller may press again
        logger.exception("publishing a macro press failed")
        raise ApiError(
            503, f"the agent could not be started ({type(error).__name__}); try again"
        ) from None
    audit_ref(client, tenant_id, now).set(
        audit_entry(
            actor,
            "macro.press",
            f"conversations/{conversation_id}",
            now,
            after={"agent_id": agent_id, "event_id": event.event_id},
        )
    )
    return Response(202, MacroAccepted(event_id=event.event_id).model_dump(mode="json"))


def get_conversation(request: Request, conversation_id: str) -> ConversationOut:
    """Return a conversation's status, stage, mode, meeting and fields."""
    key = request.api_key
    conversation = _conversation(request.services.firestore, key.tenant_id, conversation_id)
    booking = None
    if conversation.booking_id is not None:
        booking = ConversationBooking(
            booking_id=conversation.booking_id,
            start=conversation.booking_start,
            status=conversation.booking_status,
        )
    return ConversationOut(
        conversation_id=conversation.conversation_id,
        channel_id=conversation.channel_id,
        contact_key=conversation.contact_key,
        contact_name=conversation.contact_name,
        status=conversation.status.value,
        close_reason=conversation.close_reason,
        stage=conversation.stage,
        mode=conversation.mode,
        booking=booking,
        fields=conversation.fields,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


_billing_checks: dict[int, BillingCheck] = {}
_billing_lock = threading.Lock()


def _billing(services: Any) -> BillingCheck:
    """Return this instance's billing check (the turns' cache TTL and plans)."""
    with _billing_lock:
        check = _billing_checks.get(id(services.firestore))
        if check is None:
            settings = services.settings
            check = BillingCheck(
                services.firestore,
                load_catalogue(settings.plans_file),
                ttl_seconds=settings.billing_cache_seconds,
            )
            _billing_checks[id(services.firestore)] = check
        return check


def _conversation(client: Any, tenant_id: str, conversation_id: str) -> Conversation:
    snapshot = conversation_ref(client, tenant_id, conversation_id).get()
    if not snapshot.exists:
        raise not_found("conversation")
    return Conversation.model_validate(snapshot.to_dict())


def _phone(raw: str) -> str:
    """Return the phone as the contact key intake uses (E.164, Brazil by default), or 422.

    "(11) 98765-4321", "11987654321", "5511987654321" and "+55 11 98765-4321" are one contact,
    the one intake finds for WhatsApp's "5511987654321".
    """
    text = raw.strip()
    phone = None
    if not text.startswith("+"):  # as a person types it: a Brazilian number unless valid else
        try:
            number = phonenumbers.parse(text, "BR")
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_valid_number(number):
            phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    phone = phone or to_e164(text, "BR")  # as WhatsApp ids come (country code first)
    if phone is None:
        raise invalid("phone", "not a phone number (use E.164, +5511987654321)")
    return phone


def _fields(fields: dict[str, str]) -> dict[str, str]:
    for name, value in fields.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,60}", name):
            raise invalid(f"fields.{name}", "use letters, digits, '-' and '_' (1-60)")
        if len(value) > 1000:
            raise invalid(f"fields.{name}", "at most 1000 characters")
    return fields


def _channel(client: Any, tenant_id: str, channel_id: str | None) -> Channel:
    """Return the channel to write from: the one named, else the tenant's only enabled one."""
    collection = client.collection(CHANNELS_COLLECTION)
    if channel_id is not None:
        snapshot = collection.document(channel_id).get() if "/" not in channel_id else None
        record = snapshot.to_dict() if snapshot is not None and snapshot.exists else None
        if not record or record.get("tenant_id") != tenant_id:
            raise invalid("channel_id", "no such channel")
        channel = Channel.from_document(channel_id, record)
        if not channel.enabled:
            raise invalid("channel_id", "this channel is disabled")
        return channel
    enabled = [
        Channel.from_document(snapshot.id, snapshot.to_dict() or {})
        for snapshot in collection.where(filter=equal("tenant_id", tenant_id)).stream()
        if (snapshot.to_dict() or {}).get("enabled", True)
    ]
    if len(enabled) != 1:
        reason = (
            "the tenant has no enabled channel"
            if not enabled
            else (f"the tenant has {len(enabled)} enabled channels: say which (channel_id)")
        )
        raise invalid("channel_id", reason)
    return enabled[0]


def _tenant_settings(client: Any, tenant_id: str) -> tuple[AgentSettings, str]:
    tenant = tenant_ref(client, tenant_id)
    agent = tenant.collection("settings").document("agent").get()
    settings = AgentSettings.model_validate(agent.to_dict() or {})
    timezone = str((tenant.get().to_dict() or {}).get("timezone") or "America/Sao_Paulo")
    return settings, timezone


def _refuse_by_history(contact: Contact, previous: Conversation | None) -> None:
    """Refuse what the contact's last conversation forbids (409 with the reason)."""
    if contact.opted_out:
        raise conflict(REFUSALS[Reason.OPTED_OUT][1], "phone")
    if previous is None:
        return
    if previous.status is not ConversationStatus.CLOSED:
        raise conflict(
            f"conversation_open: conversation {previous.conversation_id} is still open", "phone"
        )
    if previous.close_reason == Reason.REJECTION.value:
        raise conflict("rejection: the contact's last conversation ended with a no", "phone")
    if previous.close_reason == Reason.OPTED_OUT.value:
        raise conflict(REFUSALS[Reason.OPTED_OUT][1], "phone")


class QuietHours(ApiError):
    """The 409 of quiet hours: when to try again, in the body and in ``Retry-After``."""

    def __init__(self, retry_at: datetime, now: datetime) -> None:
        when = retry_at.isoformat()
        super().__init__(
            409,
            f"quiet_hours: the tenant's quiet hours; try again after {when}",
            "retry_after",
            [{"field": "retry_after", "reason": when}],
        )
        seconds = max(1, math.ceil((retry_at - now).total_seconds()))
        self.headers = {"Retry-After": str(seconds)}


def _refuse_by_verdict(
    action: Action | None, reasons: tuple[Reason, ...], retry_at: datetime | None, now: datetime
) -> None:
    """Refuse what the restraint guards hold back (402 billing, 409 the others)."""
    if action is None:
        return
    if Reason.QUIET_HOURS in reasons and retry_at is not None:
        raise QuietHours(retry_at, now)
    for reason in reasons:
        if reason in REFUSALS:
            status, message = REFUSALS[reason]
            raise ApiError(status, message, "phone" if status == 409 else None)
    raise conflict(", ".join(reason.value for reason in reasons) or "the policy refuses it")


def _idempotency_ref(request: Request) -> Any:
    header = request.headers.get("Idempotency-Key")
    if header is None:
        return None
    if not IDEMPOTENCY_KEY.match(header):
        raise ApiError(
            400, "Idempotency-Key: 1-100 letters, digits, '.', '_', ':' or '-'", "Idempotency-Key"
        )
    key = request.api_key
    return (
        tenant_ref(request.services.firestore, key.tenant_id)
        .collection("api_requests")
        .document(f"{key.key_id}:{header}")
    )


def _replay(document: Any, now: datetime) -> Response | None:
    snapshot = document.get()
    if not snapshot.exists:
        return None
    record = snapshot.to_dict() or {}
    created = record.get("created_at")
    if isinstance(created, datetime) and now - created >= IDEMPOTENCY_WINDOW:
        document.delete()  # expired: the key may be used again
        return None
    return _stored_answer(record)


def _stored_answer(record: dict[str, Any]) -> Response:
    return Response(int(record.get("status") or 202), record.get("body"))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(pattern: str, values: dict[str, str]) -> str:
    import string

    try:
        return string.Formatter().vformat(pattern, (), _Blank(values)).strip()
    except (ValueError, IndexError):
        return pattern
