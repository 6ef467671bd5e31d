"""The channels the simulator stands in for, with their credentials resolved.

The simulator checks what Piloto presents (Meta's access token, Twilio's auth token, the
Evolution ``apikey``, Z-API's instance and client tokens) and signs its webhooks with the
same secrets Piloto's webhook verifies, so it needs the values, not the references.
``channels_from_seed`` reads them from a seed file, resolving ``env:NAME`` references through
``shared.secrets`` (in local development the environment holds ``.env.example``'s values);
``channel_from_registration`` checks one registered at runtime (``POST /channels``), with the
secret values themselves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.channels.phones import to_e164
from shared.models.channel import Channel
from shared.models.events import PROVIDERS, Provider
from shared.secrets import SecretUnavailable, resolve_secret
from shared.seed import load_seed_file

ACCOUNT_KEYS: Mapping[Provider, str] = {
    "meta": "phone_number_id",
    "twilio": "account_sid",
    "evolution": "instance",
    "zapi": "instance_id",
}
"""The config key that tells the provider which channel a send is for."""
REQUIRED_SECRETS: Mapping[Provider, tuple[str, ...]] = {
    "meta": ("app_secret", "access_token"),
    "twilio": ("auth_token",),
    "evolution": ("apikey",),
    "zapi": ("client_token", "instance_token"),
}
"""The secrets the simulator needs: to check what Piloto presents and to sign its webhooks."""
OPTIONAL_SECRETS: Mapping[Provider, tuple[str, ...]] = {"meta": ("verify_token",)}
REGISTRATION_FIELDS = frozenset({"channel_id", "provider", "business_phone", "config", "secrets"})
_CHANNEL_ID = re.compile(r"[A-Za-z0-9_-]{3,64}")  # as in seed files and webhook URLs


class ChannelRejected(ValueError):
    """A channel registration is invalid; the message says what is wrong."""


class ChannelConflict(Exception):
    """A channel registration clashes with a channel the simulator already has."""


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


def channel_from_registration(document: object) -> SimulatedChannel:
    """Check a runtime registration and return the channel, or raise ``ChannelRejected``.

    ``{"channel_id", "provider", "business_phone"?, "config": {...}, "secrets": {role: value}}``
    with the config key that identifies the account (``ACCOUNT_KEYS``) and the secrets the
    simulator needs (``REQUIRED_SECRETS``); ``business_phone`` is kept in E.164.
    """
    if not isinstance(document, Mapping):
        raise ChannelRejected("the channel must be a JSON object")
    unknown = sorted(set(document) - REGISTRATION_FIELDS)
    if unknown:
        raise ChannelRejected(f"unknown fields: {', '.join(map(str, unknown))}")
    channel_id = document.get("channel_id")
    if not isinstance(channel_id, str) or not _CHANNEL_ID.fullmatch(channel_id):
        raise ChannelRejected("channel_id must be 3 to 64 letters, digits, '-' or '_'")
    provider = next((name for name in PROVIDERS if name == document.get("provider")), None)
    if provider is None:
        raise ChannelRejected(f"provider must be one of {', '.join(PROVIDERS)}")
    business_phone = document.get("business_phone")
    if business_phone is not None:
        normalized = to_e164(business_phone) if isinstance(business_phone, str) else None
        if normalized is None:
            raise ChannelRejected("business_phone must be a phone number, e.g. +5511990000001")
        business_phone = normalized
    config = document.get("config")
    if not isinstance(config, Mapping) or not all(isinstance(key, str) for key in config):
        raise ChannelRejected("config must be an object")
    account_key = ACCOUNT_KEYS[provider]
    account = config.get(account_key)
    if not isinstance(account, str) or not account.strip():
        raise ChannelRejected(f"a {provider} channel needs config.{account_key} (a string)")
    secrets = document.get("secrets")
    if not isinstance(secrets, Mapping):
        raise ChannelRejected("secrets must be an object of role: value")
    known_roles = REQUIRED_SECRETS[provider] + OPTIONAL_SECRETS.get(provider, ())
    unknown_roles = sorted(set(secrets) - set(known_roles))
    if unknown_roles:
        raise ChannelRejected(
            f"unknown {provider} secret roles: {', '.join(map(str, unknown_roles))} "
            f"(known: {', '.join(known_roles)})"
        )
    for role, value in secrets.items():
        if not isinstance(value, str) or not value:
            raise ChannelRejected(f"secrets.{role} must be a non-empty string (the value itself)")
    missing = [role for role in REQUIRED_SECRETS[provider] if role not in secrets]
    if missing:
        raise ChannelRejected(f"a {provider} channel needs the secrets {', '.join(missing)}")
    return simulated_channel(
        channel_id,
        provider,
        config=dict(config),
        secrets=dict(secrets),
        business_phone=business_phone,
    )


def same_settings(first: SimulatedChannel, second: SimulatedChannel) -> bool:
    """Return whether two channels are the same registration (provider, phone, config, secrets)."""

    def settings(channel: SimulatedChannel) -> tuple[object, ...]:
        phone = channel.channel.business_phone
        return (
            channel.provider,
            to_e164(phone) if phone else None,
            channel.channel.config,
            dict(channel.secrets),
        )

    return settings(first) == settings(second)


def clash(channel: SimulatedChannel, others: Iterable[SimulatedChannel]) -> str | None:
    """Return why ``channel`` cannot sit beside ``others`` (sends would be ambiguous), or None."""
    for other in others:
        if other.channel_id == channel.channel_id or other.provider != channel.provider:
            continue
        key = ACCOUNT_KEYS[channel.provider]
        if channel.provider != "twilio":
            if other.config_text(key) == channel.config_text(key):
                return f"{key} {channel.config_text(key)} belongs to channel {other.channel_id}"
            continue
        # One Twilio account has many senders: the sender (number or service) tells them apart.
        if other.config_text(key) != channel.config_text(key):
            continue
        service = channel.config_text("messaging_service_sid")
        if service and other.config_text("messaging_service_sid") == service:
            return f"messaging_service_sid {service} belongs to channel {other.channel_id}"
        phone = _sender_phone(channel)
        if phone and _sender_phone(other) == phone:
            return f"business_phone {phone} belongs to channel {other.channel_id}"
    return None


def channel_json(channel: SimulatedChannel) -> dict[str, Any]:
    """Return the channel as the simulator's API shows it: secret roles, never their values."""
    return {
        "channel_id": channel.channel_id,
        "provider": channel.provider,
        "business_phone": channel.channel.business_phone,
        "config": dict(channel.channel.config),
        "secret_roles": sorted(channel.secrets),
    }


def _sender_phone(channel: SimulatedChannel) -> str | None:
    phone = channel.channel.business_phone or channel.config_text("business_phone")
    return to_e164(phone) if phone else None


def index_channels(channels: Iterable[SimulatedChannel]) -> dict[str, SimulatedChannel]:
    """Index channels by id, refusing two with the same id."""
    indexed: dict[str, SimulatedChannel] = {}
    for channel in channels:
        if channel.channel_id in indexed:
            raise ValueError(f"channel {channel.channel_id} is listed twice")
        indexed[channel.channel_id] = channel
    return indexed
