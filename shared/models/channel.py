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
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models.events import Provider


class Channel(BaseModel):
    """One WhatsApp number connected through one provider."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel_id: str
    tenant_id: str
    provider: Provider
    display_name: str | None = None
    business_phone: str | None = Field(default=None, description="The business number, E.164.")
    enabled: bool = True
    config: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Provider settings that are not secret: meta phone_number_id and api_base_url; "
            "twilio account_sid and webhook_url (the public URL Twilio signs); evolution "
            "instance and api_base_url; zapi instance_id and api_base_url."
        ),
    )
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Secret role -> secret reference (never the value)."
    )
