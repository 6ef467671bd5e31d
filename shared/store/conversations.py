"""Firestore paths of a tenant's conversation data (see ``shared.models.conversation``)."""

from __future__ import annotations

from typing import Any


def tenant_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{tenant_id}``."""
    return client.collection("tenants").document(tenant_id)


def event_ref(client: Any, tenant_id: str, event_id: str) -> Any:
    """Return the dedupe record of one provider event: ``tenants/{t}/events/{event_id}``."""
    return tenant_ref(client, tenant_id).collection("events").document(_safe_id(event_id))


def contact_ref(client: Any, tenant_id: str, contact_key: str) -> Any:
    """Return ``tenants/{t}/contacts/{contact_key}``."""
    return tenant_ref(client, tenant_id).collection("contacts").document(_safe_id(contact_key))


def conversation_ref(client: Any, tenant_id: str, conversation_id: str) -> Any:
    """Return ``tenants/{t}/conversations/{conversation_id}``."""
    return tenant_ref(client, tenant_id).collection("conversations").document(conversation_id)


def message_ref(client: Any, tenant_id: str, conversation_id: str, message_id: str) -> Any:
    """Return ``tenants/{t}/conversations/{c}/messages/{message_id}``."""
    return (
        conversation_ref(client, tenant_id, conversation_id)
        .collection("messages")
        .document(_safe_id(message_id))
    )


def delivery_ref(client: Any, tenant_id: str, provider: str, message_id: str) -> Any:
    """Return the delivery status of a message the business sent, by provider message id."""
    return (
        tenant_ref(client, tenant_id)
        .collection("deliveries")
        .document(_safe_id(f"{provider}:{message_id}"))
    )


def outbound_ledger_ref(client: Any, tenant_id: str, key: str) -> Any:
    """Return the sender's ledger record of one outbound message: ``tenants/{t}/outbound/{key}``."""
    return tenant_ref(client, tenant_id).collection("outbound").document(_safe_id(key))


def unmatched_status_ref(client: Any, tenant_id: str, event_id: str) -> Any:
    """Return where a status for a message Piloto does not know is recorded (and ignored)."""
    return (
        tenant_ref(client, tenant_id).collection("unmatched_statuses").document(_safe_id(event_id))
    )


def _safe_id(value: str) -> str:
    """Make a provider id usable as a Firestore document id ("/" is a path separator)."""
    return value.replace("/", "%2F")[:1500]
