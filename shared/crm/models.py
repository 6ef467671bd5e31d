"""How a tenant's conversations reach its CRM (``tenants/{t}/settings/crm``).

Piloto integrates natively with RD Station CRM: Brazilian, in Portuguese, with a free plan made
for small sales teams, and an API reached with one per-account token (no app review), which is
what Piloto's customers (clinics, course producers, small agencies) already use.

``tenants/{t}/crm_links/{conversation_id}``: ``CrmLink``, the CRM's ids for the conversation's
contact and deal, so a later event updates the same deal instead of creating another.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class CrmSettings(BaseModel):
    """The tenant's CRM connection and stage mapping."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["rdstation"] = "rdstation"
    enabled: bool = True
    token_ref: str = Field(description="Secret reference to the CRM API token; never the token.")
    token_hint: str = ""
    pipeline_id: str | None = Field(default=None, description="The CRM funnel deals go into.")
    stage_mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Piloto stage (new, qualifying, qualified, selling, scheduling, scheduled, "
        "closing, won, lost, handoff) → the CRM's deal stage id; unmapped stages move nothing.",
    )
    deal_name: str = Field(default="{nome} (WhatsApp)", max_length=200)
    connected_at: AwareDatetime
    connected_by: str | None = None
    status: Literal["connected", "failing"] = "connected"
    error: str | None = None
    last_synced_at: AwareDatetime | None = None


class CrmLink(BaseModel):
    """The CRM's records for one conversation."""

    model_config = ConfigDict(extra="ignore")

    conversation_id: str
    contact_id: str | None = None
    deal_id: str | None = None
    deal_stage_id: str | None = None
    outcome: Literal["won", "lost"] | None = None
    contact_digest: str | None = Field(
        default=None, description="What the contact was last written with (skip a same write)."
    )
    lease_holder: str | None = Field(
        default=None, description="The attempt creating the deal right now (one deal, ever)."
    )
    lease_until: AwareDatetime | None = None
    updated_at: AwareDatetime
