"""The sender: each message a decision wants sent goes out at most once, and only if still allowed.

``functions/sender`` receives every ``outbound-messages`` message (Pub/Sub push) as an
``OutboundJob`` keyed ``decision_id:index``. For each one the sender:

1. reserves a slot in the channel's send rate (``shared.ratelimit``); a slot too far away hands
   the message back to Pub/Sub (``deferred``), which redelivers it later;
2. in one transaction reads the ledger record ``tenants/{t}/outbound/{key}``, the conversation
   and the contact, re-checks the restraint policy (``shared.policy.at_send``: an opt-out, a
   close or a seller taking over since the decision wins) and creates the ledger record:
   ``queued`` when the message may go, ``held`` with the reasons when it may not. A redelivery
   finds the record and does nothing, so nothing is ever sent twice. The one acknowledgement an
   opt-out or rejection allows sets the conversation's ``*_acknowledged`` flag (and, for an
   opt-out, the contact's ``opt_out_acknowledged_at``) in the same transaction, so two racing
   acknowledgements cannot both go;
3. sends through the channel's provider adapter (retries with backoff live there); free text the
   provider refuses because the 24-hour window closed (Meta 131047, Twilio 63016) falls back to
   the channel's ``reengagement`` template when one is configured. A reply the turn marked
   ``voice`` becomes a voice note first (``shared.media.speech``: text-to-speech after the
   claim, so a held or repeated message costs none); when it cannot (no text-to-speech, Twilio,
   a failure, a provider that refused the audio without delivering it) the text goes instead
   and the ledger's ``voice_reply`` says why. The text stays what the history records;
4. records the outcome: ``sent`` with the provider message id, plus the delivery record
   ``deliveries/{provider}:{id}`` that status webhooks move forward (``shared.intake``) and the
   message in the conversation's history; or ``failed`` with the provider's code, and the
   conversation flagged for a human (``needs_human``).

Claiming before sending makes delivery at-most-once: a crash between the claim and the provider
call leaves the record ``queued`` and the conversation flagged, never a duplicate message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from google.cloud import firestore
from pydantic import ValidationError

from shared.channels import adapter_for
from shared.channels.base import ProviderAdapter
from shared.channels.sending import (
    DEFAULT_RETRY_POLICY,
    MAX_BUTTON_TITLE,
    MAX_BUTTONS,
    Button,
    ListRow,
    OutboundButtons,
    OutboundList,
    OutboundRequest,
    OutboundTemplate,
    OutboundText,
    RetryPolicy,
    SendFailed,
    SendResult,
)
from shared.media.speech import Synthesizer, VoiceReply, build_synthesizer, voice_reply
from shared.models.channel import Channel
from shared.models.conversation import Contact, Conversation, ConversationStatus, Role
from shared.models.decision import OutboundMessage, Reason
from shared.models.events import DeliveryStatus
from shared.models.tenant import AgentSettings, AgentTemplates
from shared.policy import PolicyContext, at_send
from shared.policy.guards import stay_silent
from shared.policy.verdict import Verdict
from shared.ratelimit import reserve_slot
from shared.store.conversations import (
    contact_ref,
    conversation_ref,
    delivery_ref,
    message_ref,
    outbound_ledger_ref,
)
from shared.templates import TemplatePurpose, approved_template, has_template, template_for

if TYPE_CHECKING:
    import httpx

    from shared.settings import Settings

logger = logging.getLogger("piloto.sender")

WINDOW_CLOSED_CODES = frozenset({"131047", "63016"})
"""Provider codes for free text refused outside the 24-hour window (Meta, Twilio)."""


class LedgerStatus(StrEnum):
    """Where one outbound message stands in ``tenants/{t}/outbound/{key}``."""

    QUEUED = "queued"
    HELD = "held"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboundJob:
    """One message of one decision, as the turn published it to ``outbound-messages``."""

    key: str
    tenant_id: str
    conversation_id: str
    channel_id: str
    contact_key: str
    decision_id: str
    index: int
    message: OutboundMessage

    @classmethod
    def from_json(cls, body: bytes) -> OutboundJob:
        """Parse a published message, or raise ValueError naming what is wrong."""
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from error
        if not isinstance(document, dict):
            raise ValueError("an outbound message must be a JSON object")
        names = ("key", "tenant_id", "conversation_id", "channel_id", "contact_key", "decision_id")
        missing = [
            name for name in names if not document.get(name) or not isinstance(document[name], str)
        ]
        if missing:
            raise ValueError(f"missing or empty: {', '.join(missing)}")
        index = document.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError("index must be a non-negative integer")
        if document["key"] != f"{document['decision_id']}:{index}":
            raise ValueError("key must be decision_id:index")
        try:
            message = OutboundMessage.model_validate(document.get("message"))
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ValueError(f"message{'.' + where if where else ''}: {problem['msg']}") from None
        if not message.text and not message.template:
            raise ValueError("message needs text or a template")
        return cls(
            key=document["key"],
            tenant_id=document["tenant_id"],
            conversation_id=document["conversation_id"],
            channel_id=document["channel_id"],
            contact_key=document["contact_key"],
            decision_id=document["decision_id"],
            index=index,
            message=message,
        )


@dataclass(frozen=True)
class SendOutcome:
    """What the sender did with one job."""

    status: Literal["sent", "duplicate", "held", "failed", "deferred"]
    reasons: tuple[str, ...] = ()
    """Why it was held or deferred; for a voice reply sent as text, why (``VoiceFallback``)."""
    provider_message_id: str | None = None
    error_code: str | None = None
    sent_as: Literal["text", "template", "audio"] | None = None


@dataclass(frozen=True)
class _Claim:
    status: Literal["claimed", "duplicate", "held"]
    reasons: tuple[str, ...] = ()
    phone: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    templates: AgentTemplates | None = None


@dataclass
class Sender:
    """Sends outbound jobs through the providers, recording every step in Firestore."""

    firestore: Any
    http: httpx.Client
    channel: Callable[[str], Channel | None]
    tenant: Callable[[str], tuple[AgentSettings, str]]
    secrets: Callable[[Channel], dict[str, str]]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    max_wait: timedelta = timedelta(seconds=20)
    sleep: Callable[[float], None] = time.sleep
    speech: Synthesizer | None = None
    """Text-to-speech for voice replies; None: they go out as text (``voice_reply_unavailable``)."""

    def handle(self, job: OutboundJob) -> SendOutcome:
        """Send one job at most once; see the module docstring for the steps."""
        channel = self.channel(job.channel_id)
        if channel is not None and channel.tenant_id != job.tenant_id:
            channel = None  # never send one tenant's message through another tenant's number
        if channel is not None:
            wait = reserve_slot(self.firestore, channel, self.now(), self.max_wait)
            if wait is None:
                logger.info("send deferred by the channel's rate", extra=_log(job))
                return SendOutcome(status="deferred", reasons=("rate_limited",))
            if wait > timedelta(0):
                self.sleep(wait.total_seconds())
        settings, timezone = self.tenant(job.tenant_id)
        now = self.now()
        claim = _claim(
            self.firestore.transaction(max_attempts=10),
            self.firestore,
            job,
            channel,
            settings,
            timezone,
            now,
        )
        if claim.status != "claimed":
            logger.info("send %s", claim.status, extra={**_log(job), "reasons": claim.reasons})
            return SendOutcome(status=claim.status, reasons=claim.reasons)
        try:
            if channel is None or not channel.enabled:
                raise SendFailed(
                    "the channel is missing or disabled", code="no_channel", permanent=True
                )
            if not claim.phone:
                raise SendFailed("the contact has no phone number", code="no_phone", permanent=True)
            result, fallback, voice = self._send(channel, claim, job.message, settings)
        except SendFailed as failure:
            self._record_failure(job, failure.code, failure.reason, failure.attempts)
            return SendOutcome(
                status="failed", reasons=(Reason.SEND_FAILED,), error_code=failure.code
            )
        except Exception as error:  # after the claim nothing may be retried: record, then raise
            self._record_failure(job, "internal_error", f"{type(error).__name__}", 0)
            raise
        self._record_sent(job, channel, result, fallback, job.message, voice)
        return SendOutcome(
            status="sent",
            provider_message_id=result.provider_message_id,
            reasons=(voice.reason.value,) if voice and voice.reason else (),
            sent_as="audio" if voice and voice.audio else "template" if fallback else "text",
        )

    def _send(
        self, channel: Channel, claim: _Claim, message: OutboundMessage, settings: AgentSettings
    ) -> tuple[SendResult, OutboundMessage | None, VoiceReply | None]:
        adapter = adapter_for(channel.provider)
        assert adapter is not None and claim.phone is not None  # Channel.provider is validated
        secrets = self.secrets(channel)
        voice = self._voice_reply(channel, message, settings)
        if voice is not None and voice.audio is not None:
            try:
                result = adapter.send(
                    self.http, channel, secrets, claim.phone, voice.audio, policy=self.retry
                )
            except SendFailed as failure:
                if not failure.nothing_sent:
                    raise  # the voice note may have gone: sending the text could say it twice
                logger.info("the provider refused the voice note; sending the text instead")
                voice = voice.refused(failure.code)
            else:
                return result, None, voice
        result, fallback = self._send_text(adapter, channel, secrets, claim, message)
        return result, fallback, voice

    def _voice_reply(
        self, channel: Channel, message: OutboundMessage, settings: AgentSettings
    ) -> VoiceReply | None:
        """Return the voice note a reply marked ``voice`` becomes, or why it stays text."""
        if (
            not (message.voice and message.text)
            or message.template
            or message.sent_by
            or message.choices  # options to tap or number stay text
        ):
            return None
        voice = voice_reply(
            self.speech, message.text, provider=channel.provider, voice_name=settings.voice_name
        )
        if voice.reason is not None:
            logger.info("voice reply sent as text", extra={"reason": voice.reason.value})
        return voice

    def _send_text(
        self,
        adapter: ProviderAdapter,
        channel: Channel,
        secrets: dict[str, str],
        claim: _Claim,
        message: OutboundMessage,
    ) -> tuple[SendResult, OutboundMessage | None]:
        assert claim.phone is not None
        try:
            return adapter.send(
                self.http,
                channel,
                secrets,
                claim.phone,
                to_request(message, channel.provider),
                policy=self.retry,
            ), None
        except SendFailed as failure:
            fallback = template_for(channel, "reengagement", claim.values, claim.templates)
            if not (
                failure.permanent
                and failure.code in WINDOW_CLOSED_CODES
                and message.template is None
                and fallback is not None
            ):
                raise
            logger.info("free text refused outside the window; sending the template instead")
            result = adapter.send(
                self.http,
                channel,
                secrets,
                claim.phone,
                to_request(fallback, channel.provider),
                policy=self.retry,
            )
            return result, fallback

    def _record_sent(
        self,
        job: OutboundJob,
        channel: Channel,
        result: SendResult,
        fallback: OutboundMessage | None,
        message: OutboundMessage,
        voice: VoiceReply | None,
    ) -> None:
        sent = fallback or message
        content: dict[str, Any] = {
            "text": numbered_text(sent) if sent.choices else sent.text,
            "template": sent.template,
            "template_parameters": sent.template_parameters,
        }
        if voice is not None and voice.audio is not None:
            content.update({"message_type": "audio", "voice": True})
        _store_sent(
            self.firestore.transaction(max_attempts=10),
            self.firestore,
            job,
            channel.provider,
            result,
            {
                "role": (Role.SELLER if message.sent_by else Role.AGENT).value,
                "author_uid": message.sent_by,
                "provider": channel.provider,
                "at": self.now(),
                "decision_id": job.decision_id,
                "outbound_key": job.key,
                "content": content,
                "proactive": message.proactive,
            },
            fallback.template if fallback else None,
            self.now(),
            voice.record() if voice is not None else None,
        )
        logger.info("sent", extra={**_log(job), "attempts": result.attempts})

    def _record_failure(self, job: OutboundJob, code: str, reason: str, attempts: int) -> None:
        now = self.now()
        batch = self.firestore.batch()
        batch.update(
            outbound_ledger_ref(self.firestore, job.tenant_id, job.key),
            {
                "status": LedgerStatus.FAILED.value,
                "error_code": code,
                "error": reason,
                "attempts": attempts,
                "failed_at": now,
                "updated_at": now,
            },
        )
        batch.set(
            conversation_ref(self.firestore, job.tenant_id, job.conversation_id),
            {"needs_human": True, "attention_reason": f"send_failed:{code}", "updated_at": now},
            merge=True,
        )
        batch.commit()
        logger.warning("send failed", extra={**_log(job), "code": code, "attempts": attempts})


INTERACTIVE_PROVIDERS = frozenset({"meta", "evolution", "zapi"})
"""Providers that send choices as reply buttons or a list; Twilio needs Content API templates."""
DEFAULT_CHOICES_BUTTON = "Ver opções"
DEFAULT_CHOICES_BODY = "Escolha uma opção:"
NUMBER_PROMPT = "Responda com o número da opção."


def to_request(message: OutboundMessage, provider: str | None = None) -> OutboundRequest:
    """Return the provider-neutral request for a decision's message.

    Choices become reply buttons (up to three, each title within WhatsApp's 20 characters) or
    an interactive list on ``INTERACTIVE_PROVIDERS``; anywhere else, or when they cannot be
    sent interactively, the text carries them as numbered lines (``numbered_text``).
    """
    if message.template is not None:
        return OutboundTemplate(
            name=message.template,
            language=message.template_language or "pt_BR",
            parameters=tuple(message.template_parameters),
        )
    if message.choices and provider in INTERACTIVE_PROVIDERS:
        interactive = _interactive_request(message)
        if interactive is not None:
            return interactive
    return OutboundText(body=numbered_text(message))


def numbered_text(message: OutboundMessage) -> str:
    """Return the text with its choices as numbered lines (what the history keeps)."""
    text = message.text or ""
    if not message.choices:
        return text
    lines = [
        f"{number}. {choice.title}" + (f" - {choice.description}" if choice.description else "")
        for number, choice in enumerate(message.choices, 1)
    ]
    return f"{text or DEFAULT_CHOICES_BODY}\n\n" + "\n".join(lines) + f"\n\n{NUMBER_PROMPT}"


def _interactive_request(message: OutboundMessage) -> OutboundButtons | OutboundList | None:
    """Return buttons or a list for the message's choices, or None when they cannot be sent.

    Buttons only when every title fits a button whole: the title of what the lead taps comes
    back as their text, so it must read like the option the history keeps. Longer titles (a
    row holds 24) go as a list.
    """
    body = (message.text or "").strip() or DEFAULT_CHOICES_BODY
    choices = message.choices
    try:
        if (
            len(choices) <= MAX_BUTTONS
            and all(len(choice.title) <= MAX_BUTTON_TITLE for choice in choices)
            and len({choice.title for choice in choices}) == len(choices)
        ):
            return OutboundButtons(
                body=body,
                buttons=tuple(Button(id=choice.id, title=choice.title) for choice in choices),
            )
        return OutboundList(
            body=body,
            button=message.choices_button or DEFAULT_CHOICES_BUTTON,
            rows=tuple(
                ListRow(id=choice.id, title=choice.title, description=choice.description)
                for choice in choices
            ),
        )
    except ValueError as error:  # too long a body, repeated ids: the numbered text goes
        logger.info("choices sent as numbered text", extra={"reason": str(error)})
        return None


@firestore.transactional
def _store_sent(
    transaction: Any,
    client: Any,
    job: OutboundJob,
    provider: str,
    result: SendResult,
    history: dict[str, Any],
    fallback_template: str | None,
    now: datetime,
    voice_reply: dict[str, Any] | None = None,
) -> None:
    """Mark the ledger sent and create the delivery record the status webhooks move forward.

    A status webhook can overtake the provider's answer to the send; intake then left an early
    delivery record, whose (later) status wins over ``sent``.
    """
    delivery = delivery_ref(client, job.tenant_id, provider, result.provider_message_id)
    snapshot = delivery.get(transaction=transaction)
    status = DeliveryStatus.SENT
    early: dict[str, Any] = {}
    if snapshot.exists:
        early = {
            name: value
            for name, value in (snapshot.to_dict() or {}).items()
            if name in ("status", "error_code", "error_title") or name.endswith("_at")
        }
        reported = DeliveryStatus(early.get("status") or DeliveryStatus.SENT)
        status = max(status, reported, key=lambda item: item.rank)
    transaction.update(
        outbound_ledger_ref(client, job.tenant_id, job.key),
        {
            **early,
            "status": status.value,
            "provider_message_id": result.provider_message_id,
            "attempts": result.attempts,
            "sent_at": now,
            "updated_at": now,
            "fallback_template": fallback_template,
            **({"voice_reply": voice_reply} if voice_reply is not None else {}),
        },
    )
    transaction.set(
        delivery,
        {
            "status": status.value,
            "sent_at": now,
            "outbound_key": job.key,
            "conversation_id": job.conversation_id,
            "channel_id": job.channel_id,
        },
        merge=True,
    )
    # A seller's message is in the history already (queued, under its key) since the console
    # sent it; the agent's appear once they are sent, under the provider's id.
    history_id = job.key if job.message.sent_by else result.provider_message_id
    transaction.set(
        message_ref(client, job.tenant_id, job.conversation_id, history_id),
        {**history, "provider_message_id": result.provider_message_id},
        merge=bool(job.message.sent_by),  # keep the console's author_email
    )


@firestore.transactional
def _claim(
    transaction: Any,
    client: Any,
    job: OutboundJob,
    channel: Channel | None,
    settings: AgentSettings,
    timezone: str,
    now: datetime,
) -> _Claim:
    ledger = outbound_ledger_ref(client, job.tenant_id, job.key)
    if ledger.get(transaction=transaction).exists:
        return _Claim(status="duplicate")
    conversation_doc = conversation_ref(client, job.tenant_id, job.conversation_id)
    conversation_snapshot = conversation_doc.get(transaction=transaction)
    contact_snapshot = contact_ref(client, job.tenant_id, job.contact_key).get(
        transaction=transaction
    )
    conversation = (
        Conversation.model_validate(conversation_snapshot.to_dict())
        if conversation_snapshot.exists
        else None
    )
    contact = (
        Contact.model_validate(contact_snapshot.to_dict())
        if contact_snapshot.exists
        else Contact(contact_key=job.contact_key)
    )
    verdict = (
        seller_may_send(conversation, contact)
        if job.message.sent_by
        else at_send(
            PolicyContext(
                conversation=_as_decided(conversation, job.message),
                contact=contact,
                settings=settings,
                now=now,
                timezone=timezone,
                proactive=job.message.proactive,
                has_template=_may_use_template(channel, job.message, settings),
            ),
            job.message,
            job.message.acknowledgement,
        )
    )
    record = {
        "key": job.key,
        "decision_id": job.decision_id,
        "index": job.index,
        "conversation_id": job.conversation_id,
        "channel_id": job.channel_id,
        "provider": channel.provider if channel else None,
        "contact_key": job.contact_key,
        "message": job.message.model_dump(mode="json"),
        "created_at": now,
        "updated_at": now,
    }
    if conversation is None or verdict.action is not None:
        reasons = tuple(reason.value for reason in verdict.reasons) or ("no_conversation",)
        transaction.create(
            ledger, {**record, "status": LedgerStatus.HELD.value, "reasons": list(reasons)}
        )
        return _Claim(status="held", reasons=reasons)
    transaction.create(ledger, {**record, "status": LedgerStatus.QUEUED.value})
    if job.message.acknowledgement is not None:
        transaction.update(conversation_doc, {f"{job.message.acknowledgement}_acknowledged": True})
    if job.message.acknowledgement == "opt_out":  # once per opt-out, not once per conversation
        transaction.set(
            contact_ref(client, job.tenant_id, job.contact_key),
            {"contact_key": job.contact_key, "opt_out_acknowledged_at": now},
            merge=True,
        )
    values = {**conversation.fields, "name": contact.name or ""}
    return _Claim(
        status="claimed",
        phone=contact.phone or _phone_key(job.contact_key),
        values=values,
        templates=settings.templates,
    )


def _may_use_template(
    channel: Channel | None, message: OutboundMessage, settings: AgentSettings
) -> bool:
    """Return whether the message may go as a template outside the 24-hour window: a template
    message needs its own template approved (a follow-up's, a reminder's, one the public API
    started a conversation with); free text needs the follow-up or re-engagement template."""
    if channel is None:
        return False
    if message.template is not None:
        return approved_template(channel, message.template, settings.templates) is not None
    purpose: TemplatePurpose = "followup" if message.proactive else "reengagement"
    return has_template(channel, purpose, settings.templates)


def seller_may_send(conversation: Conversation | None, contact: Contact) -> Verdict:
    """Judge a seller's message from the console: the agent's restraint rules do not apply to a
    human, but an opt-out and a close still do (a seller cannot write into them)."""
    if contact.opted_out:
        return stay_silent(Reason.OPTED_OUT)
    if conversation is not None and conversation.status is ConversationStatus.CLOSED:
        return stay_silent(Reason.CLOSED)
    return Verdict(action=None)


def _as_decided(conversation: Conversation | None, message: OutboundMessage) -> Conversation | None:
    """Return the conversation as the decision judged it: without the message's own count.

    The decision already counted its message as unanswered; that count must not hold back the
    very message it was made for.
    """
    if conversation is None or message.acknowledgement is not None:
        return conversation
    return conversation.model_copy(
        update={"unanswered_count": max(conversation.unanswered_count - 1, 0)}
    )


def _phone_key(contact_key: str) -> str | None:
    return contact_key if contact_key.startswith("+") else None


def _log(job: OutboundJob) -> dict[str, Any]:
    return {
        "tenant_id": job.tenant_id,
        "conversation_id": job.conversation_id,
        "channel_id": job.channel_id,
        "outbound_key": job.key,
    }


def build_sender(settings: Settings) -> Sender:
    """Wire the sender to Firestore, the providers (httpx) and the secret references."""
    import httpx

    from shared.channels.sending import DEFAULT_TIMEOUT_SECONDS
    from shared.engine import TenantSettingsCache
    from shared.secrets import resolve_secret
    from shared.store.cache import TTLCache
    from shared.store.channels import CHANNELS_COLLECTION
    from shared.store.firestore import firestore_client

    client = firestore_client(settings.project_id)

    def load_channel(channel_id: str) -> Channel | None:
        snapshot = client.collection(CHANNELS_COLLECTION).document(channel_id).get()
        return Channel.from_document(channel_id, snapshot.to_dict()) if snapshot.exists else None

    channels = TTLCache(
        load_channel,
        ttl_seconds=settings.channel_cache_seconds,
        missing_ttl_seconds=settings.unknown_channel_cache_seconds,
    )
    tenants = TenantSettingsCache(client)

    def secrets(channel: Channel) -> dict[str, str]:
        return {
            role: resolve_secret(reference, settings.project_id)
            for role, reference in channel.secrets.items()
        }

    read, connect = DEFAULT_TIMEOUT_SECONDS
    http = httpx.Client(timeout=httpx.Timeout(read, connect=connect))
    return Sender(
        firestore=client,
        http=http,
        channel=channels.get,
        tenant=tenants.get,
        secrets=secrets,
        max_wait=timedelta(seconds=settings.send_max_wait_seconds),
        speech=build_synthesizer(settings, http),
    )
