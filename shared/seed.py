"""Load tenants, their agent settings and channels from a YAML file into Firestore.

The file format (see ``emulators/seed/demo.yaml``)::

    tenants:
      - tenant_id: demo-clinica
        name: Clínica Demo
        agent: {mode: pilot, debounce_seconds: 5}
        channels:
          - channel_id: demo-meta
            provider: meta
            config: {phone_number_id: "100000000000001"}
            secrets: {app_secret: "env:PILOTO_DEMO_META_APP_SECRET"}
        knowledge:
          - {entry_id: preco-limpeza, kind: price_list, title: Limpeza, content: "R$ 180"}
          - {entry_id: qa-gestante, kind: qa, title: Gestantes, question: ..., answer: ...}
        insight_agents:
          - {agent_id: demo-conversion-auditor, template: conversion_auditor}
        billing: {plan_id: pro, status: active}
        calendar: {enabled: true, provider: builtin, meeting_minutes: 30}

``calendar`` writes the tenant's calendar settings (``settings/calendar``,
``shared.scheduling.models.CalendarSettings``): the built-in calendar only (a Google Calendar is
connected in the console, through OAuth).

``billing`` writes the tenant's billing account (``billing_accounts/{tenant_id}``) on a plan of
the catalogue (``PILOTO_PLANS_FILE``, else the packaged one) with a status, without Stripe: a
trialing account gets the catalogue's trial days from the time of seeding. A tenant without it
has no account and is served on the trial plan's quotas.

Seeding is idempotent: documents are replaced, so running it twice leaves the same state.
Knowledge entries are chunked and embedded with the configured embedder (``PILOTO_EMBEDDINGS``).
Insight agents are added from the template library (``shared.insights.templates``) and the
tenant's insight index (``settings/insights``) is rebuilt from all its agents.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.billing.accounts import SubscriptionStatus, account_ref, new_trial_account
from shared.billing.plans import Catalogue, load_catalogue
from shared.models.channel import Channel
from shared.models.events import Provider
from shared.models.tenant import AgentSettings, Tenant
from shared.scheduling.models import CalendarSettings
from shared.settings import variable_name
from shared.store.channels import write_channel
from shared.yaml_files import load_yaml_model

if TYPE_CHECKING:
    from shared.knowledge.embeddings import Embedder


class SeedError(ValueError):
    """The seed file cannot be loaded; the message names the file and the field."""


class SeedChannel(BaseModel):
    """A channel as written in a seed file (the tenant comes from the enclosing tenant)."""

    model_config = ConfigDict(extra="forbid")

    channel_id: str = Field(pattern=r"^[A-Za-z0-9_-]{3,64}$")
    provider: Provider
    display_name: str | None = None
    business_phone: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)


class SeedKnowledge(BaseModel):
    """A knowledge entry as written in a seed file (qa: question and answer; others: content)."""

    model_config = ConfigDict(extra="forbid")

    entry_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")
    kind: Literal["qa", "fact", "price_list", "policy"]
    title: str = Field(min_length=1)
    question: str | None = None
    answer: str | None = None
    content: str | None = None

    @model_validator(mode="after")
    def _text(self) -> SeedKnowledge:
        if self.kind == "qa" and not (self.question and self.answer):
            raise ValueError("a qa entry needs question and answer")
        if self.kind != "qa" and not self.content:
            raise ValueError(f"a {self.kind} entry needs content")
        return self


class SeedInsightAgent(BaseModel):
    """An insight agent added from a template of the library, under a fixed id."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")
    template: str
    active: bool = True

    @model_validator(mode="after")
    def _known(self) -> SeedInsightAgent:
        from shared.insights.templates import TEMPLATES

        if self.template not in TEMPLATES:
            raise ValueError(
                f"unknown template {self.template!r} (one of {', '.join(sorted(TEMPLATES))})"
            )
        return self


class SeedBilling(BaseModel):
    """A billing account without Stripe: a plan of the catalogue and a subscription status."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str
    status: SubscriptionStatus = "active"


class SeedTenant(Tenant):
    """A tenant with its agent settings, channels, knowledge, insight agents and billing."""

    agent: AgentSettings = Field(default_factory=AgentSettings)
    channels: list[SeedChannel] = Field(default_factory=list)
    knowledge: list[SeedKnowledge] = Field(default_factory=list)
    insight_agents: list[SeedInsightAgent] = Field(default_factory=list)
    billing: SeedBilling | None = None
    calendar: CalendarSettings | None = None

    @model_validator(mode="after")
    def _builtin_calendar(self) -> SeedTenant:
        if self.calendar is not None and self.calendar.provider != "builtin":
            raise ValueError("calendar: a seed sets the built-in calendar only")
        return self


class SeedFile(BaseModel):
    """The whole seed file."""

    model_config = ConfigDict(extra="forbid")

    tenants: list[SeedTenant]


def load_seed_file(path: Path) -> SeedFile:
    """Read and validate a seed file, or raise SeedError naming what is wrong."""
    seed = load_yaml_model(path, SeedFile, SeedError)
    for tenant in seed.tenants:
        for channel in tenant.channels:
            for role, reference in channel.secrets.items():
                if not reference.startswith(("env:", "sm:", "projects/")):
                    raise SeedError(
                        f"{path}: tenants.{tenant.tenant_id}.channels.{channel.channel_id}."
                        f"secrets.{role}: must be a reference (env:NAME, sm:NAME or a Secret "
                        "Manager resource name), never a secret value"
                    )
        if tenant.billing is not None:
            catalogue = _catalogue()
            try:
                catalogue.plan(tenant.billing.plan_id)
            except KeyError:
                raise SeedError(
                    f"{path}: tenants.{tenant.tenant_id}.billing.plan_id: unknown plan "
                    f"{tenant.billing.plan_id!r} (one of "
                    f"{', '.join(plan.plan_id for plan in catalogue.plans)})"
                ) from None
    return seed


def apply_seed(client: Any, seed: SeedFile, *, embedder: Embedder | None = None) -> dict[str, int]:
    """Write every tenant, agent settings document, channel, knowledge entry and insight agent;
    return what was written. Knowledge is embedded with ``embedder`` (default: the
    environment's)."""
    counts = {"tenants": 0, "channels": 0, "knowledge": 0, "insight_agents": 0}
    for tenant in seed.tenants:
        tenant_ref = client.collection("tenants").document(tenant.tenant_id)
        record = tenant.model_dump(
            mode="json",
            exclude={"agent", "channels", "knowledge", "insight_agents", "billing", "calendar"},
        )
        if tenant.billing is not None:
            record["billing_account_id"] = _seed_billing(client, tenant, tenant.billing)
        tenant_ref.set(record)
        tenant_ref.collection("settings").document("agent").set(
            tenant.agent.model_dump(mode="json")
        )
        if tenant.calendar is not None:
            tenant_ref.collection("settings").document("calendar").set(
                tenant.calendar.model_dump(mode="json")
            )
        counts["tenants"] += 1
        for seed_channel in tenant.channels:
            write_channel(
                client,
                Channel(tenant_id=tenant.tenant_id, **seed_channel.model_dump()),
            )
            counts["channels"] += 1
        if tenant.knowledge:
            embedder = embedder or _environment_embedder()
            counts["knowledge"] += _seed_knowledge(client, tenant, embedder)
        if tenant.insight_agents:
            counts["insight_agents"] += _seed_insight_agents(client, tenant)
    return counts


def _catalogue() -> Catalogue:
    """Return the plan catalogue the environment configures (``PILOTO_PLANS_FILE``)."""
    return load_catalogue(os.environ.get(variable_name("plans_file")) or None)


def _seed_billing(client: Any, tenant: SeedTenant, billing: SeedBilling) -> str:
    """Write the tenant's billing account (no Stripe ids); return its id."""
    now = datetime.now(UTC)
    catalogue = _catalogue()
    account = new_trial_account(tenant.tenant_id, None, now, catalogue).model_copy(
        update={"plan_id": billing.plan_id, "status": billing.status}
    )
    if billing.status != "trialing":
        account = account.model_copy(update={"trial_ends_at": None})
    if billing.status == "past_due":
        account = account.model_copy(update={"past_due_since": now})
    if billing.status == "canceled":
        account = account.model_copy(update={"canceled_at": now})
    account_ref(client, account.account_id).set(account.model_dump(mode="python"))
    return account.account_id


def _seed_insight_agents(client: Any, tenant: SeedTenant) -> int:
    """Write the tenant's insight agents from their templates, then its insight index."""
    from shared.insights.models import InsightAgent, index_for
    from shared.insights.templates import TEMPLATES

    now = datetime.now(UTC)
    agents = client.collection("tenants").document(tenant.tenant_id).collection("insight_agents")
    for item in tenant.insight_agents:
        spec = TEMPLATES[item.template].spec.model_copy(update={"active": item.active})
        agent = InsightAgent(
            **spec.model_dump(),
            agent_id=item.agent_id,
            tenant_id=tenant.tenant_id,
            created_at=now,
            updated_at=now,
        )
        agents.document(item.agent_id).set(agent.model_dump(mode="python"))
    stored = []
    for snapshot in agents.stream():  # the tenant's other agents count in its index too
        try:
            stored.append(InsightAgent.model_validate(snapshot.to_dict()))
        except ValidationError:
            continue  # an unreadable agent never runs (the runner skips it too)
    client.collection("tenants").document(tenant.tenant_id).collection("settings").document(
        "insights"
    ).set(index_for(stored).model_dump(mode="json"))
    return len(tenant.insight_agents)


def _seed_knowledge(client: Any, tenant: SeedTenant, embedder: Embedder) -> int:
    from shared.knowledge.models import KnowledgeEntry, qa_content
    from shared.knowledge.store import save_entry

    now = datetime.now(UTC)
    for item in tenant.knowledge:
        content = item.content
        if item.kind == "qa":
            assert item.question and item.answer  # checked when the file was loaded
            content = qa_content(item.question, item.answer)
        entry = KnowledgeEntry(
            **item.model_dump(exclude={"content"}),
            content=content or "",
            source="manual",
            created_at=now,
            updated_at=now,
        )
        save_entry(client, tenant.tenant_id, entry, embedder)
    return len(tenant.knowledge)


def _environment_embedder() -> Embedder:
    """Return the embedder the environment configures (offline unless it says vertex)."""
    from shared.knowledge.embeddings import embedder_from_settings
    from shared.settings import load_settings

    environ = {"GOOGLE_CLOUD_PROJECT": "local", **os.environ}
    return embedder_from_settings(load_settings(environ))
