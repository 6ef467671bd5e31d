"""The tenant's agent settings, as the console edits them (``tenants/{t}/settings/agent``)."""

from __future__ import annotations

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.http import Request
from shared.models.tenant import AgentSettings
from shared.store.conversations import tenant_ref


def get_agent(request: Request, tenant_id: str) -> AgentSettings:
    """Return the agent settings (the defaults when none were saved)."""
    document = tenant_ref(request.services.firestore, tenant_id).collection("settings")
    return AgentSettings.model_validate(document.document("agent").get().to_dict() or {})


def put_agent(request: Request, tenant_id: str) -> AgentSettings:
    """Replace the agent settings; the audit log keeps what changed, before and after."""
    client = request.services.firestore
    settings: AgentSettings = request.body
    document = tenant_ref(client, tenant_id).collection("settings").document("agent")
    before = AgentSettings.model_validate(document.get().to_dict() or {}).model_dump(mode="json")
    after = settings.model_dump(mode="json")
    changed = sorted(name for name in after if after[name] != before.get(name))
    if changed:
        now = request.services.now()
        batch = client.batch()
        batch.set(document, after)
        batch.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                "agent.update",
                "settings/agent",
                now,
                before={name: before.get(name) for name in changed},
                after={name: after[name] for name in changed},
            ),
        )
        batch.commit()
    return settings
