"""The channels the simulator stands in for, with their credentials resolved.

The simulator checks what Piloto presents (Meta's access token, Twilio's auth token, the
Evolution ``apikey``, Z-API's instance and client tokens) and signs its webhooks with the
same secrets Piloto's webhook verifies, so it needs the values, not the references.
``channels_from_seed`` reads them from a seed file, resolving ``env:NAME`` references through
``shared.secrets`` (in local development the environment holds ``.env.example``'s values).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.models.channel import Channel
from shared.models.events import Provider
from shared.secrets import SecretUnavailable, resolve_secret
from shared.seed import load_seed_file


@dataclass(frozen=True)
class SimulatedChannel:
    """One channel as the provider knows it: the Piloto channel record plus secret values."""

    channel: Channel
    secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def channel_id(self) -> str:
        """Return the channel id (the last part of Piloto's webhook URL)."""
        return self.channel.channel_id

    @property
    def provider(self) -> Provider:
        """Return the provider name."""
        return self.channel.provider

    def config_text(self, key: str) -> str | None:
        """Return a non-empty config value as text, or None."""
        value = self.channel.config.get(key)
        return str(value) if value not in (None, "") else None

    def secret(self, role: str) -> str | None:
        """Return the secret value for ``role``, or None when the channel has none."""
        return self.secrets.get(role) or None


def simulated_channel(
    channel_id: str,
    provider: Provider,
    *,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    business_phone: str | None = None,
    tenant_id: str = "simulator",
) -> SimulatedChannel:
    """Build a channel for tests: config as in a channel record, secrets as plain values."""
    channel = Channel(
        channel_id=channel_id,
        tenant_id=tenant_id,
        provider=provider,
        business_phone=business_phone,
        config=dict(config or {}),
    )
    return SimulatedChannel(channel=channel, secrets=dict(secrets or {}))


def channels_from_seed(
    path: Path,
    project_id: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> list[SimulatedChannel]:
    """Return every channel of a seed file with its secret references resolved.

    ``env:NAME`` references are looked up in ``environment`` first (e.g. the values
    ``emulators/dev.py`` read from ``.env``), then through ``shared.secrets``. A reference that
    cannot be resolved raises ``SecretUnavailable`` naming the channel and the role: the
    simulator would otherwise reject everything Piloto sends on that channel.
    """
    seed = load_seed_file(path)
    project = project_id or os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-piloto")
    channels: list[SimulatedChannel] = []
    for tenant in seed.tenants:
        for seeded in tenant.channels:
            resolved: dict[str, str] = {}
            for role, reference in seeded.secrets.items():
                name = reference.removeprefix("env:")
                if reference.startswith("env:") and environment and environment.get(name):
                    resolved[role] = environment[name]
                    continue
                try:
                    resolved[role] = resolve_secret(reference, project)
                except SecretUnavailable as error:
                    raise SecretUnavailable(
                        f"{path}: channel {seeded.channel_id}, secret {role}: {error}"
                    ) from error
            channel = Channel(tenant_id=tenant.tenant_id, **seeded.model_dump(exclude={"secrets"}))
            channels.append(SimulatedChannel(channel=channel, secrets=resolved))
    return channels


def index_channels(channels: Iterable[SimulatedChannel]) -> dict[str, SimulatedChannel]:
    """Index channels by id, refusing two with the same id."""
    indexed: dict[str, SimulatedChannel] = {}
    for channel in channels:
        if channel.channel_id in indexed:
            raise ValueError(f"channel {channel.channel_id} is listed twice")
        indexed[channel.channel_id] = channel
    return indexed
