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

Seeding is idempotent: documents are replaced, so running it twice leaves the same state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models.channel import Channel
from shared.models.events import Provider
from shared.models.tenant import AgentSettings, Tenant
from shared.store.channels import write_channel
from shared.yaml_files import load_yaml_model


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


class SeedTenant(Tenant):
    """A tenant with its agent settings and channels."""

    agent: AgentSettings = Field(default_factory=AgentSettings)
    channels: list[SeedChannel] = Field(default_factory=list)


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
    return seed


def apply_seed(client: Any, seed: SeedFile) -> dict[str, int]:
    """Write every tenant, agent settings document and channel; return what was written."""
    counts = {"tenants": 0, "channels": 0}
    for tenant in seed.tenants:
        tenant_ref = client.collection("tenants").document(tenant.tenant_id)
        tenant_ref.set(tenant.model_dump(mode="json", exclude={"agent", "channels"}))
        tenant_ref.collection("settings").document("agent").set(
            tenant.agent.model_dump(mode="json")
        )
        counts["tenants"] += 1
        for seed_channel in tenant.channels:
            write_channel(
                client,
                Channel(tenant_id=tenant.tenant_id, **seed_channel.model_dump()),
            )
            counts["channels"] += 1
    return counts
