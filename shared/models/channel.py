"""The channel record: one WhatsApp number of one tenant on one provider.

Stored at the top-level Firestore document ``channels/{channel_id}`` so the webhook can find the
tenant from the URL alone (``/webhooks/{provider}/{channel_id}``). Secrets are never stored here:
``secrets`` maps a secret's role to a reference (``env:NAME`` locally, a Secret Manager resource
name in production) that ``shared.secrets`` resolves.

Secret roles per provider:

- meta: ``app_secret`` (X-Hub-Signature-256), ``verify_token`` (GET handshake), ``access_token``.
- twilio: ``auth_token`` (X-Twilio-Signature and basic auth for sending).
- evolution: ``apikey`` (the header Evolution API sends and expects).
- zapi: ``client_token`` (the Client-Token header), ``instance_token`` (part of the send URL).

``config`` holds provider settings that are not secret: meta ``phone_number_id``,
``graph_version`` (default v21.0) and ``api_base_url``; twilio ``account_sid``, ``webhook_url``
(the public URL Twilio signs) and ``messaging_service_sid`` or ``business_phone`` to send from;
evolution ``instance`` and ``api_base_url`` (required: it is self-hosted); zapi ``instance_id``
and ``api_base_url``. ``api_base_url`` points sending at the provider simulator locally.

A plain dataclass, like the events, because the webhook reads it on its hot path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shared.models.events import PROVIDERS, Provider


class ChannelRecordInvalid(ValueError):
    """A stored channel document does not describe a valid channel."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Channel:
    """One WhatsApp number connected through one provider."""

    channel_id: str
    tenant_id: str
    provider: Provider
    display_name: str | None = None
    business_phone: str | None = None
    enabled: bool = True
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        """Return the Firestore document (the id is the document's name, not a field)."""
        document = asdict(self)
        del document["channel_id"]
        return document

    @classmethod
    def from_document(cls, channel_id: str, document: dict[str, Any]) -> Channel:
        """Validate a stored document, naming the first field that is wrong."""
        problems = []
        for name in ("tenant_id", "provider"):
            if not isinstance(document.get(name), str) or not document[name]:
                problems.append(f"{name} must be a non-empty string")
        if document.get("provider") not in PROVIDERS:
            problems.append(f"provider must be one of {', '.join(PROVIDERS)}")
        for name in ("display_name", "business_phone"):
            if document.get(name) is not None and not isinstance(document[name], str):
                problems.append(f"{name} must be a string")
        if not isinstance(document.get("enabled", True), bool):
            problems.append("enabled must be a boolean")
        config = document.get("config") or {}
        secrets = document.get("secrets") or {}
        if not isinstance(config, dict):
            problems.append("config must be a map")
        if not isinstance(secrets, dict) or not all(
            isinstance(value, str) for value in secrets.values()
        ):
            problems.append("secrets must map roles to reference strings")
        if problems:
            raise ChannelRecordInvalid(f"channel {channel_id} is invalid: {'; '.join(problems)}")
        return cls(
            channel_id=channel_id,
            tenant_id=document["tenant_id"],
            provider=document["provider"],
            display_name=document.get("display_name"),
            business_phone=document.get("business_phone"),
            enabled=document.get("enabled", True),
            config=dict(config),
            secrets=dict(secrets),
        )
