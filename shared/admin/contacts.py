"""A contact's data under the LGPD: export all of it, or erase it everywhere.

Erasure deletes the contact record, every message and decision of their conversations, the send
ledger and delivery records, the follow-up trigger records, the insights agents produced about
them (``tenants/{t}/insights``), unmatched delivery statuses, the business events about them and
those events' deliveries (webhooks, CRM, e-mail: the payloads name the lead) and the sellers'
notifications about their conversations, and blanks the sellers' close notes the audit log kept
about those conversations; the conversations themselves stay as anonymous counters (no phone,
name, text, summary, extracted fields, ad click or close note) so the dashboard's past figures
hold, and their bookings stay as anonymous times (the calendar stays right). What already left
Piloto (a webhook received, the CRM's contact and deal, a Google Calendar invitation) is the
tenant's to erase there. The erasure is itself audited, naming the contact only by a one-way
hash.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import not_found
from shared.admin.http import Request
from shared.admin.query import equal
from shared.admin.schemas import ContactExport, Deleted
from shared.integrations.dispatch import DELIVERIES_COLLECTION
from shared.integrations.outbox import BUSINESS_EVENTS_COLLECTION
from shared.store.conversations import contact_ref, tenant_ref

BATCH_LIMIT = 400
ANONYMOUS_BOOKING = {"contact_key": None, "contact_name": None, "phone": None, "email": None}
"""What an erased contact's bookings keep: their times (the calendar), not who."""


def export_contact(request: Request, tenant_id: str, contact_key: str) -> ContactExport:
    """Return everything Piloto keeps about one contact."""
    client = request.services.firestore
    contact = contact_ref(client, tenant_id, contact_key).get()
    conversations = _conversations(client, tenant_id, contact_key)
    if not contact.exists and not conversations:
        raise not_found("contact")
    exported = []
    for snapshot in conversations:
        document = snapshot.reference
        exported.append(
            {
                **_jsonable(snapshot.to_dict() or {}),
                "messages": [
                    {"message_id": m.id, **_jsonable(m.to_dict() or {})}
                    for m in document.collection("messages").order_by("at").stream()
                ],
                "decisions": [
                    _jsonable(d.to_dict() or {})
                    for d in document.collection("decisions").order_by("decided_at").stream()
                ],
                "insights": [
                    _jsonable(i.to_dict() or {})
                    for i in tenant_ref(client, tenant_id)
                    .collection("insights")
                    .where(filter=equal("conversation_id", snapshot.id))
                    .stream()
                ],
                "bookings": [
                    _jsonable(b.to_dict() or {})
                    for b in tenant_ref(client, tenant_id)
                    .collection("bookings")
                    .where(filter=equal("conversation_id", snapshot.id))
                    .stream()
                ],
            }
        )
    return ContactExport(
        contact=_jsonable(contact.to_dict() or {})
        if contact.exists
        else {"contact_key": contact_key},
        conversations=exported,
        exported_at=request.services.now(),
    )


def delete_contact(request: Request, tenant_id: str, contact_key: str) -> Deleted:
    """Erase a contact's messages and personal fields everywhere (and log that it was done)."""
    client = request.services.firestore
    now = request.services.now()
    contact = contact_ref(client, tenant_id, contact_key)
    conversations = _conversations(client, tenant_id, contact_key)
    if not contact.get().exists and not conversations:
        raise not_found("contact")
    tenant = tenant_ref(client, tenant_id)
    counts: Counter[str] = Counter()
    doomed: list[Any] = []
    for snapshot in conversations:
        for name in ("messages", "decisions"):
            found = list(snapshot.reference.collection(name).list_documents())
            doomed += found
            counts[name] += len(found)
        for name in ("deliveries", "trigger_events", "insights", "notifications"):
            query = tenant.collection(name).where(filter=equal("conversation_id", snapshot.id))
            found = [each.reference for each in query.stream()]
            doomed += found
            counts[name] += len(found)
    events = _about(tenant, BUSINESS_EVENTS_COLLECTION, "", contact_key, conversations)
    doomed += events
    counts["business_events"] = len(events)
    sent = _about(tenant, DELIVERIES_COLLECTION, "event.", contact_key, conversations)
    doomed += sent
    counts["event_deliveries"] = len(sent)
    ledger = [
        s.reference
        for s in tenant.collection("outbound")
        .where(filter=equal("contact_key", contact_key))
        .stream()
    ]
    doomed += ledger
    counts["outbound"] = len(ledger)
    statuses = tenant.collection("unmatched_statuses").where(
        filter=equal("contact.key", contact_key)
    )
    unmatched = [each.reference for each in statuses.stream()]
    doomed += unmatched
    counts["unmatched_statuses"] = len(unmatched)
    _delete_all(client, doomed)
    counts["audit_notes_erased"] = _erase_close_notes(client, tenant, conversations)
    digest = hashlib.sha256(f"{tenant_id}:{contact_key}".encode()).hexdigest()[:16]
    batch = client.batch()
    for snapshot in conversations:
        batch.update(snapshot.reference, _anonymous(digest, now))
    counts["conversations_anonymised"] = len(conversations)
    bookings = [
        each.reference
        for snapshot in conversations
        for each in tenant.collection("bookings")
        .where(filter=equal("conversation_id", snapshot.id))
        .stream()
    ]
    for booking in bookings:
        batch.update(booking, {**ANONYMOUS_BOOKING, "updated_at": now})
    counts["bookings_anonymised"] = len(bookings)
    batch.delete(contact)
    counts["contacts"] = 1
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member, "contact.delete", f"contacts/sha256:{digest}", now, after=dict(counts)
        ),
    )
    batch.commit()
    return Deleted(deleted=dict(counts))


def _about(
    tenant: Any, collection: str, prefix: str, contact_key: str, conversations: list[Any]
) -> list[Any]:
    """Return the documents of ``collection`` naming the contact or one of their conversations
    (``prefix``: where the event sits in the document, ``event.`` for a delivery)."""
    queries = [
        tenant.collection(collection).where(
            filter=equal(f"{prefix}contact.contact_key", contact_key)
        )
    ] + [
        tenant.collection(collection).where(filter=equal(f"{prefix}conversation_id", snapshot.id))
        for snapshot in conversations
    ]
    found: dict[str, Any] = {}
    for query in queries:
        for each in query.stream():
            found[each.reference.path] = each.reference
    return list(found.values())


def _erase_close_notes(client: Any, tenant: Any, conversations: list[Any]) -> int:
    """Blank the seller's free-text close notes the audit log kept about these conversations."""
    erased = 0
    for snapshot in conversations:
        target = f"conversations/{snapshot.id}"
        for entry in tenant.collection("audit").where(filter=equal("target", target)).stream():
            record = entry.to_dict() or {}
            changes = {
                f"{side}.close_note": None
                for side in ("before", "after")
                if isinstance(record.get(side), dict) and record[side].get("close_note")
            }
            if changes:
                entry.reference.update(changes)
                erased += 1
    return erased


def _conversations(client: Any, tenant_id: str, contact_key: str) -> list[Any]:
    query = tenant_ref(client, tenant_id).collection("conversations")
    return list(query.where(filter=equal("contact_key", contact_key)).stream())


def _anonymous(digest: str, now: datetime) -> dict[str, Any]:
    return {
        "contact_key": f"erased:{digest}",
        "contact_name": None,
        "window": [],
        "summary": "",
        "fields": {},
        "attention_reason": None,
        "close_note": None,  # the seller's words about the lead
        "attribution": None,  # the ad click that identifies the lead to Meta
        "erased_at": now,
        "updated_at": now,
    }


def _delete_all(client: Any, references: Iterable[Any]) -> None:
    batch, pending = client.batch(), 0
    for reference in references:
        batch.delete(reference)
        pending += 1
        if pending == BATCH_LIMIT:
            batch.commit()
            batch, pending = client.batch(), 0
    if pending:
        batch.commit()


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    """Return a Firestore record as JSON-ready data (datetimes as ISO strings)."""
    converted: dict[str, Any] = to_jsonable_python(record)
    return converted
