"""Where the CRM integration keeps its state in Firestore (see ``shared.crm.models``)."""

from __future__ import annotations

from typing import Any

from shared.crm.models import CrmLink, CrmSettings
from shared.secret_store import tenant_secret_name
from shared.store.conversations import tenant_ref

PILOTO_STAGES: tuple[str, ...] = (
    "new",
    "qualifying",
    "qualified",
    "selling",
    "scheduling",
    "scheduled",
    "closing",
    "won",
    "lost",
    "handoff",
)
"""The conversation stages a mapping may name (the agent's ``Stage``)."""


def crm_settings_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/settings/crm``."""
    return tenant_ref(client, tenant_id).collection("settings").document("crm")


def crm_link_ref(client: Any, tenant_id: str, conversation_id: str) -> Any:
    """Return ``tenants/{t}/crm_links/{conversation_id}``."""
    return tenant_ref(client, tenant_id).collection("crm_links").document(conversation_id)


def crm_token_secret_name(tenant_id: str) -> str:
    """Return the secret that holds a tenant's RD Station CRM token."""
    return tenant_secret_name(tenant_id, "crm-token")


def read_crm_settings(client: Any, tenant_id: str, transaction: Any = None) -> CrmSettings | None:
    """Return the tenant's CRM settings, or None when no CRM is connected."""
    snapshot = crm_settings_ref(client, tenant_id).get(transaction=transaction)
    return CrmSettings.model_validate(snapshot.to_dict()) if snapshot.exists else None


def read_crm_link(
    client: Any, tenant_id: str, conversation_id: str, transaction: Any = None
) -> CrmLink | None:
    """Return the CRM's records for a conversation, or None before the first sync."""
    snapshot = crm_link_ref(client, tenant_id, conversation_id).get(transaction=transaction)
    return CrmLink.model_validate(snapshot.to_dict()) if snapshot.exists else None
