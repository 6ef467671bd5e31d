"""Insight agents as owners build them: the template library, the agents, and macro buttons.

Every agent write is one Firestore transaction that reads the tenant's agents, writes the agent,
rewrites ``settings/insights`` (``index_for``: the event types the active agents listen to, what
the hot paths check before publishing) and the audit entry, so the index never disagrees with
the agents. Deleting an agent keeps its insights. A new agent past the plan's insight agent
quota is refused (402), counted in that same transaction, so concurrent adds cannot overshoot.

A seller's press on an agent's button publishes ``MACRO_BUTTON_CLICKED`` naming the agent; the
insights function runs it (throttles apply) and the insight reaches the inbox's feed.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from google.cloud import firestore

from shared.admin.access import Membership
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.conversations import readable
from shared.admin.errors import ApiError, conflict, contended, invalid, not_found
from shared.admin.http import Request, Response
from shared.admin.schemas import (
    AgentActive,
    AgentList,
    AgentOut,
    FromTemplate,
    MacroPressed,
    TemplateList,
    TemplateOut,
)
from shared.billing.plans import load_catalogue
from shared.billing.quota import may_add
from shared.billing.stock import plan_for_tenant, quota_refusal
from shared.insights.models import (
    MAX_AGENTS,
    EventType,
    InsightAgent,
    InsightAgentSpec,
    index_for,
)
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.admin")

AGENTS = "insight_agents"
TRIGGER_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

Change = Callable[[InsightAgent | None, int], InsightAgent | None]
"""Given the stored agent (None: new) and how many the tenant has, return it after the write
(None: deleted), or refuse with an ApiError."""


def agents_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/insight_agents``."""
    return tenant_ref(client, tenant_id).collection(AGENTS)


def index_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/settings/insights`` (the ``InsightIndex``)."""
    return tenant_ref(client, tenant_id).collection("settings").document("insights")


def agent_out(agent: InsightAgent) -> AgentOut:
    """Return the API's view of an agent (with whether the inbox shows its button)."""
    macro = agent.active and any(
        trigger.event is EventType.MACRO_BUTTON_CLICKED for trigger in agent.triggers
    )
    return AgentOut(**agent.model_dump(), macro=macro)


def read_agent(client: Any, tenant_id: str, agent_id: str) -> InsightAgent | None:
    """Return one stored agent, or None."""
    snapshot = agents_ref(client, tenant_id).document(agent_id).get()
    return InsightAgent.model_validate(snapshot.to_dict()) if snapshot.exists else None


def list_insight_templates(request: Request, tenant_id: str) -> TemplateList:
    """Return the template library (one click adds an agent, editable afterwards)."""
    from shared.insights.templates import TEMPLATES

    return TemplateList(
        templates=[
            TemplateOut(
                key=template.key,
                name=template.name,
                icon=template.icon,
                description=template.description,
                spec=template.spec,
            )
            for template in TEMPLATES.values()
        ]
    )


def list_insight_agents(request: Request, tenant_id: str) -> AgentList:
    """Return the tenant's agents, oldest first (sellers need them for the macro buttons)."""
    agents = [
        InsightAgent.model_validate(snapshot.to_dict())
        for snapshot in agents_ref(request.services.firestore, tenant_id).stream()
    ]
    agents.sort(key=lambda agent: (agent.created_at, agent.agent_id))
    return AgentList(agents=[agent_out(agent) for agent in agents])


def get_insight_agent(request: Request, tenant_id: str, agent_id: str) -> AgentOut:
    """Return one agent."""
    agent = read_agent(request.services.firestore, tenant_id, agent_id)
    if agent is None:
        raise not_found("insight agent")
    return agent_out(agent)


def create_insight_agent(request: Request, tenant_id: str) -> Response:
    """Create an agent from the builder's definition."""
    return _create(request, tenant_id, request.body)


def create_insight_agent_from_template(request: Request, tenant_id: str) -> Response:
    """Add an agent from the template library (active; the same template may be added twice)."""
    from shared.insights.templates import TEMPLATES

    body: FromTemplate = request.body
    template = TEMPLATES.get(body.template)
    if template is None:
        raise not_found(f"template {body.template!r}")
    spec = template.spec.model_copy(update={"active": True, "template": template.key}, deep=True)
    return _create(request, tenant_id, spec)


def replace_insight_agent(request: Request, tenant_id: str, agent_id: str) -> AgentOut:
    """Replace an agent's definition (its id, creation and insights stay)."""
    spec = _checked(request.body)
    now = request.services.now()

    def change(current: InsightAgent | None, count: int) -> InsightAgent:
        if current is None:
            raise not_found("insight agent")
        return InsightAgent(
            **spec.model_dump(),
            agent_id=agent_id,
            tenant_id=tenant_id,
            created_at=current.created_at,
            created_by=current.created_by,
            updated_at=now,
        )

    after = _write(request, tenant_id, agent_id, change, "insight_agent.update")
    assert after is not None
    return agent_out(after)


def set_insight_agent_active(request: Request, tenant_id: str, agent_id: str) -> AgentOut:
    """Switch an agent on or off."""
    body: AgentActive = request.body
    now = request.services.now()

    def change(current: InsightAgent | None, count: int) -> InsightAgent:
        if current is None:
            raise not_found("insight agent")
        return current.model_copy(update={"active": body.active, "updated_at": now})

    after = _write(request, tenant_id, agent_id, change, "insight_agent.activate")
    assert after is not None
    return agent_out(after)


def delete_insight_agent(request: Request, tenant_id: str, agent_id: str) -> None:
    """Delete an agent; the insights it produced stay."""

    def change(current: InsightAgent | None, count: int) -> None:
        if current is None:
            raise not_found("insight agent")

    _write(request, tenant_id, agent_id, change, "insight_agent.delete")


def press_macro(request: Request, tenant_id: str, conversation_id: str, agent_id: str) -> Response:
    """Run an agent on a conversation now (its button in the inbox): publish the event."""
    from shared.insights.events import macro_event

    readable(request, tenant_id, conversation_id)  # 404 unknown, 403 another seller's
    agent = read_agent(request.services.firestore, tenant_id, agent_id)
    if agent is None:
        raise not_found("insight agent")
    if not agent.active:
        raise conflict("this agent is switched off")
    if not any(trigger.event is EventType.MACRO_BUTTON_CLICKED for trigger in agent.triggers):
        raise conflict("this agent has no button: it has no MACRO_BUTTON_CLICKED trigger")
    event = macro_event(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        agent_id=agent_id,
        actor_uid=request.member.uid,
        occurred_at=request.services.now(),
    )
    try:
        request.services.publish_insights([event])
    except Exception as error:  # nothing happened: the seller may press again
        logger.exception("publishing a macro press failed")
        raise ApiError(
            503, f"the agent could not be started ({type(error).__name__}); try again"
        ) from None
    return Response(202, MacroPressed(event_id=event.event_id).model_dump(mode="json"))


def _create(request: Request, tenant_id: str, spec: InsightAgentSpec) -> Response:
    spec = _checked(spec)
    now = request.services.now()
    agent_id = f"ia-{secrets.token_hex(6)}"
    catalogue = load_catalogue(request.services.settings.plans_file)
    _, plan, _ = plan_for_tenant(request.services.firestore, tenant_id, catalogue, now)

    def change(current: InsightAgent | None, count: int) -> InsightAgent:
        if count >= MAX_AGENTS:
            raise conflict(f"a tenant has at most {MAX_AGENTS} insight agents; delete one first")
        if not may_add(count, plan.quotas.limit("insight_agents")):  # exact: counted in the
            raise quota_refusal(plan, "insight_agents")  # transaction that writes the agent
        return InsightAgent(
            **spec.model_dump(),
            agent_id=agent_id,
            tenant_id=tenant_id,
            created_at=now,
            updated_at=now,
            created_by=request.member.uid,
        )

    created = _write(request, tenant_id, agent_id, change, "insight_agent.create")
    assert created is not None
    return Response(201, agent_out(created).model_dump(mode="json"))


def _checked(spec: InsightAgentSpec) -> InsightAgentSpec:
    """Give empty trigger ids a short id and refuse what the model alone does not (422)."""
    from shared.insights.schema import payload_model

    triggers = []
    seen: set[str] = set()
    for index, trigger in enumerate(spec.triggers):
        trigger_id = trigger.trigger_id.strip() or f"t-{secrets.token_hex(3)}"
        if not TRIGGER_ID.match(trigger_id):
            raise invalid(
                f"triggers.{index}.trigger_id", "use only letters, digits, '-' and '_' (1-40)"
            )
        if trigger_id in seen:
            raise invalid(f"triggers.{index}.trigger_id", f"{trigger_id!r} repeats")
        seen.add(trigger_id)
        triggers.append(trigger.model_copy(update={"trigger_id": trigger_id}))
    try:
        payload_model(spec.fields)
    except Exception as error:  # a definition the model accepted but no payload model fits
        raise invalid("fields", str(error)) from None
    return spec.model_copy(update={"triggers": triggers})


def _write(
    request: Request, tenant_id: str, agent_id: str, change: Change, action: str
) -> InsightAgent | None:
    """Apply ``change`` to one agent with the index and the audit entry, in a transaction."""
    client = request.services.firestore
    member: Membership = request.member
    now = request.services.now()
    document = agents_ref(client, tenant_id).document(agent_id)

    @firestore.transactional
    def write(transaction: Any) -> InsightAgent | None:
        stored = {
            snapshot.id: InsightAgent.model_validate(snapshot.to_dict())
            for snapshot in agents_ref(client, tenant_id).stream(transaction=transaction)
        }
        current = stored.get(agent_id)
        after = change(current, len(stored))
        if after is None:
            stored.pop(agent_id, None)
            transaction.delete(document)
        else:
            stored[agent_id] = after
            transaction.set(document, after.model_dump(mode="python"))
        transaction.set(
            index_ref(client, tenant_id), index_for(list(stored.values())).model_dump(mode="json")
        )
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                member,
                action,
                f"{AGENTS}/{agent_id}",
                now,
                before=_audited(current, action),
                after=_audited(after, action),
            ),
        )
        return after

    result: InsightAgent | None = contended(lambda: write(client.transaction()))
    return result


def _audited(agent: InsightAgent | None, action: str) -> dict[str, Any] | None:
    """Return what the audit log keeps of an agent (a switch: only whether it is active)."""
    if agent is None:
        return None
    if action == "insight_agent.activate":
        return {"active": agent.active}
    return agent.model_dump(mode="json", exclude={"tenant_id", "created_at", "updated_at"})
