"""Keep a conversation's contact and deal in RD Station CRM in step with the conversation.

A CRM delivery does not replay its event: it re-reads the conversation and makes RD Station
match it, so deliveries that arrive late or out of order converge on the same state:

1. the deal, created once: a lease in a transaction on ``crm_links/{conversation_id}`` lets one
   attempt create it; a concurrent attempt that finds a fresh lease is retried shortly;
2. the contact (name, WhatsApp phone, e-mail, qualification fields in its notes), found by
   phone, then e-mail, or created, and linked to the deal (``deal_ids``);
3. the deal's stage, ``stage_mapping[conversation.stage]`` (unmapped stages move nothing);
4. won or lost, once, when the conversation reached it.

Each step's result is written to the link as soon as RD Station accepted it, so a failed attempt
redoes only what is left. RD Station refusing the token (401) marks ``settings/crm`` failing,
tells the owners and stops (permanent); network errors, 5xx and 429 are retried with backoff.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from google.api_core.exceptions import Aborted, NotFound
from google.cloud import firestore

from shared.crm.models import CrmLink, CrmSettings
from shared.crm.rdstation import (
    CrmRefused,
    CrmUnavailable,
    Pipeline,
    RdStationClient,
    resource_id,
)
from shared.crm.store import crm_link_ref, crm_settings_ref, read_crm_link, read_crm_settings
from shared.integrations.delivery import AttemptContext, Discard
from shared.integrations.models import AttemptResult
from shared.models.conversation import Contact, Conversation, ConversationStatus
from shared.secrets import SecretUnavailable
from shared.store.conversations import contact_ref, conversation_ref

logger = logging.getLogger("piloto.crm.sync")

LEASE_SECONDS = 60.0
"""How long an attempt may take to create the deal before another may try."""
NOTES_MARKER = "Qualificação (Piloto)"
"""The first line of the contact notes Piloto writes; notes a seller wrote are left alone."""
LOST_NOTE = "Conversa encerrada no WhatsApp ({reason})."
EMAIL_FIELDS = ("email", "e-mail")
Outcome = Literal["won", "lost"]


class CrmApi(Protocol):
    """The RD Station calls the sync makes (``RdStationClient``; a fake in unit tests)."""

    def pipelines(self) -> list[Pipeline]: ...
    def lost_reasons(self) -> list[dict[str, Any]]: ...
    def find_contact(self, *, phone: str | None, email: str | None) -> dict[str, Any] | None: ...
    def get_contact(self, contact_id: str) -> dict[str, Any]: ...
    def create_contact(self, contact: dict[str, Any]) -> dict[str, Any]: ...
    def update_contact(self, contact_id: str, contact: dict[str, Any]) -> dict[str, Any]: ...
    def create_deal(self, *, name: str, stage_id: str | None) -> dict[str, Any]: ...
    def move_deal(self, deal_id: str, stage_id: str) -> dict[str, Any]: ...
    def mark_won(self, deal_id: str) -> dict[str, Any]: ...
    def mark_lost(
        self, deal_id: str, *, note: str | None = None, lost_reason_id: str | None = None
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Lead:
    """Who the deal is about, as the CRM contact shows it."""

    name: str
    phone: str | None
    email: str | None
    fields: dict[str, str]


class _Busy(Exception):
    """Another attempt holds the lease on creating this conversation's deal."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"another attempt is creating this conversation's deal ({seconds:.0f} s)")
        self.seconds = seconds


class _StaleDeal(Exception):
    """The linked deal no longer exists in RD Station (deleted, or another account)."""


def crm_attempt(ctx: AttemptContext) -> AttemptResult:
    """Make RD Station match the delivery's conversation (the delivery runner's crm handler)."""
    settings = read_crm_settings(ctx.firestore, ctx.tenant_id)
    if settings is None or not settings.enabled:
        raise Discard("the CRM is not connected or is turned off")
    if settings.status == "failing":
        return _failed(f"RD Station refused the token; connect it again ({settings.error})", True)
    conversation_id = ctx.event.conversation_id if ctx.event is not None else None
    if not conversation_id:
        raise Discard("the event is not about a conversation")
    try:
        token = ctx.resolve_secret(settings.token_ref)
    except SecretUnavailable as error:
        return _failed(f"the CRM token cannot be read: {error}")
    api = RdStationClient(ctx.http, ctx.settings.rdstation_api_base, token)
    event_email = ctx.event.contact.email if ctx.event and ctx.event.contact else None
    return sync_conversation(
        api,
        ctx.firestore,
        ctx.tenant_id,
        conversation_id,
        settings,
        now=ctx.now,
        event_email=event_email,
    )


def sync_conversation(
    api: CrmApi,
    client: Any,
    tenant_id: str,
    conversation_id: str,
    settings: CrmSettings,
    *,
    now: datetime,
    event_email: str | None = None,
    holder: str | None = None,
) -> AttemptResult:
    """Upsert the conversation's contact and deal, move its stage, mark won/lost once."""
    snapshot = conversation_ref(client, tenant_id, conversation_id).get()
    if not snapshot.exists:
        raise Discard(f"conversation {conversation_id} not found")
    conversation = Conversation.model_validate(snapshot.to_dict())
    contact_snapshot = contact_ref(client, tenant_id, conversation.contact_key).get()
    contact = (
        Contact.model_validate(contact_snapshot.to_dict()) if contact_snapshot.exists else None
    )
    lead = lead_of(conversation, contact, event_email)
    holder = holder or uuid.uuid4().hex
    try:
        link = _ensure_deal(api, client, tenant_id, conversation, lead, settings, now, holder)
        link = _sync_contact(api, client, tenant_id, link, lead, now)
        link = _sync_stage(api, client, tenant_id, link, settings, conversation, now)
        link = _sync_outcome(api, client, tenant_id, link, conversation, now)
    except _Busy as busy:
        return _failed(str(busy), retry_after_seconds=busy.seconds)
    except _StaleDeal:
        stale = read_crm_link(client, tenant_id, conversation_id)
        if stale is not None:
            _save(client, tenant_id, _without_deal(stale, now))
        return _failed("the deal is gone from RD Station; the next attempt makes a new one")
    except CrmRefused as error:
        if error.token_revoked:
            _mark_failing(client, tenant_id, str(error), now)
            return _failed(str(error), permanent=True, http_status=error.status)
        return _failed(str(error), permanent=True, http_status=error.status)
    except CrmUnavailable as error:
        return _failed(
            str(error), http_status=error.status, retry_after_seconds=error.retry_after_seconds
        )
    _touch(client, tenant_id, now)
    return AttemptResult(ok=True, http_status=200)


# What RD Station should show


def lead_of(conversation: Conversation, contact: Contact | None, event_email: str | None) -> Lead:
    """Return the lead as the CRM contact shows it (name, phone, e-mail, fields)."""
    phone = contact.phone if contact else None
    name = conversation.contact_name or (contact.name if contact else None) or phone or "Lead"
    email = next(
        (
            value.strip()
            for key, value in conversation.fields.items()
            if key.strip().lower() in EMAIL_FIELDS and "@" in value
        ),
        event_email,
    )
    fields = {k: v for k, v in conversation.fields.items() if k.strip().lower() not in EMAIL_FIELDS}
    return Lead(name=name.strip(), phone=phone, email=email, fields=fields)


def desired_outcome(conversation: Conversation) -> Outcome | None:
    """Return won or lost when the conversation ended so (a close that is not a sale is lost)."""
    if conversation.stage == "won" or conversation.close_reason == "won":
        return "won"
    if conversation.stage == "lost" or conversation.status is ConversationStatus.CLOSED:
        return "lost"
    return None


def deal_name(template: str, lead: Lead) -> str:
    """Return the deal's name from the tenant's template (``{nome}``, ``{telefone}``)."""
    name = template.replace("{nome}", lead.name).replace("{telefone}", lead.phone or "")
    return name.strip()[:200] or lead.name


def contact_body(lead: Lead) -> dict[str, Any]:
    """Return what Piloto writes on the contact (merged into what RD Station has)."""
    body: dict[str, Any] = {"name": lead.name}
    if lead.phone:
        body["phones"] = [{"phone": lead.phone, "type": "cellphone"}]
    if lead.email:
        body["emails"] = [{"email": lead.email}]
    if lead.fields:
        lines = [f"{key}: {value}" for key, value in sorted(lead.fields.items())]
        body["notes"] = "\n".join([NOTES_MARKER, *lines])
    return body


def merged_contact(existing: dict[str, Any], lead: Lead, deal_id: str) -> dict[str, Any]:
    """Return the update for a contact RD Station has: Piloto's values added, the seller's
    phones, e-mails, deals and own notes kept."""
    body = contact_body(lead)
    phones = [p for p in existing.get("phones") or [] if isinstance(p, dict)]
    if lead.phone and all(_digits(p.get("phone")) != _digits(lead.phone) for p in phones):
        phones.append({"phone": lead.phone, "type": "cellphone"})
    emails = [e for e in existing.get("emails") or [] if isinstance(e, dict)]
    if lead.email and all(str(e.get("email", "")).lower() != lead.email.lower() for e in emails):
        emails.append({"email": lead.email})
    body["phones"], body["emails"] = phones, emails
    notes = str(existing.get("notes") or "")
    if notes and not notes.startswith(NOTES_MARKER):
        body.pop("notes", None)
    body["deal_ids"] = sorted({*_deal_ids(existing), deal_id})
    return body


# The steps


def _ensure_deal(
    api: CrmApi,
    client: Any,
    tenant_id: str,
    conversation: Conversation,
    lead: Lead,
    settings: CrmSettings,
    now: datetime,
    holder: str,
) -> CrmLink:
    link, claimed = _claim(client, tenant_id, conversation.conversation_id, now, holder)
    if not claimed:
        return link
    try:
        stage_id = settings.stage_mapping.get(conversation.stage) or _first_stage(api, settings)
        deal = api.create_deal(name=deal_name(settings.deal_name, lead), stage_id=stage_id)
    except Exception:
        released = link.model_copy(update={"lease_holder": None, "lease_until": None})
        _save(client, tenant_id, released)
        raise
    stage = deal.get("deal_stage") if isinstance(deal.get("deal_stage"), dict) else {}
    created = link.model_copy(
        update={
            "deal_id": resource_id(deal),
            "deal_stage_id": stage_id or resource_id(stage or {}) or None,
            "outcome": None,
            "lease_holder": None,
            "lease_until": None,
            "updated_at": now,
        }
    )
    _save(client, tenant_id, created)
    logger.info(
        "crm deal created",
        extra={"tenant_id": tenant_id, "conversation_id": conversation.conversation_id},
    )
    return created


def _claim(
    client: Any, tenant_id: str, conversation_id: str, now: datetime, holder: str
) -> tuple[CrmLink, bool]:
    """Return the link and whether this attempt now holds the lease to create the deal."""
    reference = crm_link_ref(client, tenant_id, conversation_id)

    @firestore.transactional
    def claim(transaction: Any) -> tuple[CrmLink, bool]:
        link = read_crm_link(client, tenant_id, conversation_id, transaction)
        if link is not None and link.deal_id:
            return link, False
        if link is not None and link.lease_holder not in (None, holder) and link.lease_until:
            remaining = (link.lease_until - now).total_seconds()
            if remaining > 0:
                raise _Busy(max(1.0, remaining))
        base = link or CrmLink(conversation_id=conversation_id, updated_at=now)
        leased = base.model_copy(
            update={
                "lease_holder": holder,
                "lease_until": now + timedelta(seconds=LEASE_SECONDS),
                "updated_at": now,
            }
        )
        transaction.set(reference, leased.model_dump(mode="python"))
        return leased, True

    for attempt in range(6):
        try:
            return claim(client.transaction())  # type: ignore[no-any-return]
        except (Aborted, ValueError) as error:
            if not isinstance(error, Aborted) and not isinstance(error.__cause__, Aborted):
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311 (jitter)
    raise _Busy(1.0)


def _first_stage(api: CrmApi, settings: CrmSettings) -> str | None:
    """Return the first stage of the chosen funnel (None: RD Station's default funnel)."""
    if not settings.pipeline_id:
        return None
    for pipeline in api.pipelines():
        if pipeline.id == settings.pipeline_id and pipeline.stages:
            return pipeline.stages[0].id
    return None


def _sync_contact(
    api: CrmApi, client: Any, tenant_id: str, link: CrmLink, lead: Lead, now: datetime
) -> CrmLink:
    deal_id = link.deal_id or ""
    digest = _digest(contact_body(lead), deal_id)
    if link.contact_id and link.contact_digest == digest:
        return link
    existing: dict[str, Any] | None = None
    if link.contact_id:
        try:
            existing = api.get_contact(link.contact_id)
        except CrmRefused as error:
            if error.status != 404:
                raise
    if existing is None:
        existing = api.find_contact(phone=lead.phone, email=lead.email)
    if existing is None:
        created = api.create_contact({**contact_body(lead), "deal_ids": [deal_id]})
        contact_id = resource_id(created)
    else:
        contact_id = resource_id(existing)
        api.update_contact(contact_id, merged_contact(existing, lead, deal_id))
    synced = link.model_copy(
        update={"contact_id": contact_id, "contact_digest": digest, "updated_at": now}
    )
    _save(client, tenant_id, synced)
    return synced


def _sync_stage(
    api: CrmApi,
    client: Any,
    tenant_id: str,
    link: CrmLink,
    settings: CrmSettings,
    conversation: Conversation,
    now: datetime,
) -> CrmLink:
    target = settings.stage_mapping.get(conversation.stage)
    if not target or target == link.deal_stage_id or not link.deal_id:
        return link
    _on_deal(lambda: api.move_deal(link.deal_id or "", target))
    moved = link.model_copy(update={"deal_stage_id": target, "updated_at": now})
    _save(client, tenant_id, moved)
    return moved


def _sync_outcome(
    api: CrmApi,
    client: Any,
    tenant_id: str,
    link: CrmLink,
    conversation: Conversation,
    now: datetime,
) -> CrmLink:
    outcome = desired_outcome(conversation)
    if outcome is None or outcome == link.outcome or not link.deal_id:
        return link
    deal_id = link.deal_id
    if outcome == "won":
        _on_deal(lambda: api.mark_won(deal_id))
    else:
        note = LOST_NOTE.format(reason=conversation.close_reason or conversation.stage)
        try:
            _on_deal(lambda: api.mark_lost(deal_id, note=note))
        except CrmRefused as error:
            if error.status != 422:
                raise
            # The account requires a lost reason: the first one it offers.
            reasons = api.lost_reasons()
            if not reasons:
                raise
            reason_id = resource_id(reasons[0])
            _on_deal(lambda: api.mark_lost(deal_id, note=note, lost_reason_id=reason_id))
    closed = link.model_copy(update={"outcome": outcome, "updated_at": now})
    _save(client, tenant_id, closed)
    return closed


def _on_deal(call: Any) -> None:
    """Run a call on the linked deal; a 404 means the deal is gone (``_StaleDeal``)."""
    try:
        call()
    except CrmRefused as error:
        if error.status == 404:
            raise _StaleDeal from error
        raise


# Bookkeeping


def _save(client: Any, tenant_id: str, link: CrmLink) -> None:
    crm_link_ref(client, tenant_id, link.conversation_id).set(link.model_dump(mode="python"))


def _without_deal(link: CrmLink, now: datetime) -> CrmLink:
    return link.model_copy(
        update={
            "deal_id": None,
            "deal_stage_id": None,
            "outcome": None,
            "contact_digest": None,
            "lease_holder": None,
            "lease_until": None,
            "updated_at": now,
        }
    )


def _touch(client: Any, tenant_id: str, now: datetime) -> None:
    with contextlib.suppress(NotFound):  # disconnected meanwhile
        crm_settings_ref(client, tenant_id).update({"last_synced_at": now})


def _mark_failing(client: Any, tenant_id: str, error: str, now: datetime) -> None:
    """Mark the CRM failing (once) and tell the owners; a new token in the console fixes it."""
    reference = crm_settings_ref(client, tenant_id)

    @firestore.transactional
    def mark(transaction: Any) -> CrmSettings | None:
        settings = read_crm_settings(client, tenant_id, transaction)
        if settings is None or settings.status == "failing":
            return None
        transaction.update(reference, {"status": "failing", "error": error[:300]})
        return settings

    newly_failing = mark(client.transaction())
    if newly_failing is None:
        return
    logger.warning("crm token refused", extra={"tenant_id": tenant_id})
    try:
        from shared.notifications.plan import notify_owners

        notify_owners(
            client,
            tenant_id,
            kind="crm_failing",
            key=newly_failing.connected_at.strftime("%Y%m%d%H%M%S"),
            title="O RD Station CRM recusou o token do Piloto",
            body="As conversas deixaram de ir para o CRM. Gere um novo token no RD Station CRM "
            "(Perfil → Token da instância) e conecte de novo em Integrações.",
            link="/integracoes",
            now=now,
        )
    except Exception:  # the failing status is recorded; the notice is a courtesy
        logger.exception("notifying the owners of the CRM failure failed")


def _failed(
    error: str,
    permanent: bool = False,
    *,
    http_status: int | None = None,
    retry_after_seconds: float | None = None,
) -> AttemptResult:
    return AttemptResult(
        ok=False,
        error=error[:500],
        permanent=permanent,
        http_status=http_status,
        retry_after_seconds=retry_after_seconds,
    )


def _digest(body: dict[str, Any], deal_id: str) -> str:
    document = json.dumps({"contact": body, "deal": deal_id}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(document.encode()).hexdigest()[:32]


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _deal_ids(contact: dict[str, Any]) -> list[str]:
    ids = [str(i) for i in contact.get("deal_ids") or [] if i]
    ids += [resource_id(d) for d in contact.get("deals") or [] if isinstance(d, dict)]
    return [i for i in ids if i]
