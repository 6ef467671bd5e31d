"""The plan catalogue: quotas per workspace and month, read from configuration (``plans.yaml``).

Quotas are per workspace (tenant). ``agent_replies`` is a monthly flow: a turn or follow-up in
which the model answered or drafted counts one, in the tenant's time zone's calendar month
(``shared.billing.usage``); the others are stock limits checked when something is added
(channels, seats = members + pending invitations, insight agents, knowledge text in MB, and the
client workspaces an agency's billing account may create). Only ``agent_replies`` has a grace
margin: a workspace over its limit keeps being answered until ``limit * (1 + grace_percent/100)``,
then conversations go to a human with reason ``quota_exceeded``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.yaml_files import load_yaml_model

PLANS_FILE = Path(__file__).with_name("plans.yaml")

QuotaName = Literal[
    "agent_replies", "channels", "seats", "insight_agents", "knowledge_mb", "workspaces"
]
QUOTA_NAMES: tuple[QuotaName, ...] = (
    "agent_replies",
    "channels",
    "seats",
    "insight_agents",
    "knowledge_mb",
    "workspaces",
)


class Quotas(BaseModel):
    """What one workspace may use: replies per month, and how many of each thing it may have."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_replies: int = Field(ge=0)
    channels: int = Field(ge=0)
    seats: int = Field(ge=1)
    insight_agents: int = Field(ge=0)
    knowledge_mb: int = Field(ge=0)
    workspaces: int = Field(default=0, ge=0)
    """Client workspaces the billing account may create besides its own (agencies)."""

    def limit(self, quota: QuotaName) -> int:
        """Return the limit of one quota."""
        return int(getattr(self, quota))


class Plan(BaseModel):
    """One plan of the catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan_id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")
    name: str = Field(min_length=1, max_length=60)
    price_cents: int = Field(ge=0)
    """The monthly price shown in the console (Stripe's price is what is charged)."""
    stripe_lookup_key: str = Field(min_length=1, max_length=200)
    grace_percent: int = Field(default=10, ge=0, le=100)
    quotas: Quotas

    def reply_ceiling(self) -> int:
        """Return the replies a month after which the agent hands over (limit plus grace)."""
        limit = self.quotas.agent_replies
        return limit + (limit * self.grace_percent) // 100


class Catalogue(BaseModel):
    """The plans and the rules around them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(default="brl", pattern=r"^[a-z]{3}$")
    trial_days: int = Field(default=14, ge=0, le=90)
    trial_plan: str
    past_due_grace_days: int = Field(default=7, ge=0, le=60)
    warning_percent: int = Field(default=80, ge=1, le=99)
    plans: tuple[Plan, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        ids = [plan.plan_id for plan in self.plans]
        if len(set(ids)) != len(ids):
            raise ValueError("plan ids must be unique")
        keys = [plan.stripe_lookup_key for plan in self.plans]
        if len(set(keys)) != len(keys):
            raise ValueError("stripe lookup keys must be unique")
        if self.trial_plan not in ids:
            raise ValueError(f"trial_plan {self.trial_plan!r} is not one of the plans")
        return self

    def plan(self, plan_id: str) -> Plan:
        """Return a plan by id, or raise KeyError."""
        for plan in self.plans:
            if plan.plan_id == plan_id:
                return plan
        raise KeyError(plan_id)

    def plan_for_lookup_key(self, lookup_key: str | None) -> Plan | None:
        """Return the plan whose Stripe price has this lookup key, or None."""
        return next((plan for plan in self.plans if plan.stripe_lookup_key == lookup_key), None)


class PlansError(ValueError):
    """The plans file cannot be loaded; the message names the file and the field."""


@lru_cache(maxsize=4)
def load_catalogue(path: str | None = None) -> Catalogue:
    """Load and validate the catalogue (``PILOTO_PLANS_FILE``, else the packaged ``plans.yaml``)."""
    return load_yaml_model(Path(path) if path else PLANS_FILE, Catalogue, PlansError)
