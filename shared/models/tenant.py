"""Tenants and their agent settings.

Firestore layout (all tenant data lives under ``tenants/{tenant_id}/``):

- ``tenants/{tenant_id}``: the tenant (name, locale, time zone).
- ``tenants/{tenant_id}/settings/agent``: the agent settings below.
- ``channels/{channel_id}`` (top level, see ``shared.models.channel``): the tenant's WhatsApp
  numbers, top level so the webhook finds the tenant from the URL alone.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DURATION = re.compile(r"^(\d+)([smhd])$")


class QuietHours(BaseModel):
    """Hours (tenant time zone) in which no proactive message is sent."""

    model_config = ConfigDict(extra="forbid")

    start: time = time(21, 0)
    end: time = time(8, 0)


class TemplateSpec(BaseModel):
    """An approved WhatsApp template (Meta template name or Twilio ContentSid)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="pt_BR", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    parameters: list[str] = Field(default_factory=list, max_length=10)


class AgentTemplates(BaseModel):
    """What may go out when WhatsApp's 24-hour window is closed (a channel's own win)."""

    model_config = ConfigDict(extra="forbid")

    followup: TemplateSpec | None = None
    reengagement: TemplateSpec | None = None
    reminder: TemplateSpec | None = Field(
        default=None,
        description="A meeting reminder when the window is closed; parameters may use "
        "{nome}, {data}, {hora}.",
    )


Intent = Literal["qualify", "sell", "schedule", "close", "handoff"]


class CopilotPromotion(BaseModel):
    """When the console proposes letting the agent answer an intent alone (the owner decides)."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.8, ge=0.5, le=1.0)
    min_samples: int = Field(default=20, ge=5, le=10_000)


class AgentSettings(BaseModel):
    """How a tenant's agent behaves: who it is, what it knows, and when it must stay silent."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["pilot", "copilot"] = "pilot"
    language: str = "pt-BR"
    persona: str = "Assistente comercial cordial e objetivo."
    instructions: str = ""
    business_facts: dict[str, str] = Field(default_factory=dict)
    qualification_fields: list[str] = Field(default_factory=list)
    debounce_seconds: int = Field(default=5, ge=0, le=300)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    followups: list[str] = Field(default_factory=lambda: ["1h", "1d", "3d"])
    max_unanswered: int = Field(default=3, ge=1, le=20)
    human_takeover_minutes: int = Field(default=30, ge=0)
    opt_out_acknowledgement: str | None = (
        "Tudo bem, não vamos mais enviar mensagens. Se mudar de ideia, é só escrever VOLTAR."
    )
    rejection_acknowledgement: str | None = (
        "Entendido! Obrigado pelo retorno. Se precisar, é só chamar por aqui."
    )
    handoff_acknowledgement: str | None = (
        "Claro! Vou chamar uma pessoa da nossa equipe para continuar com você."
    )
    templates: AgentTemplates = Field(default_factory=AgentTemplates)
    voice_replies: bool = Field(
        default=False,
        description="Answer a lead's voice note with a voice note (text-to-speech) when the "
        "deployment has one configured; otherwise, and on Twilio, the reply stays text.",
    )
    voice_name: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9-]+$",
        description="The synthetic voice (e.g. pt-BR-Neural2-B); None: the deployment's default. "
        "No voice cloning.",
    )
    pilot_intents: list[Intent] = Field(
        default_factory=list,
        description="In copilot mode, the intents the agent answers alone (promoted by the owner).",
    )
    copilot_promotion: CopilotPromotion = Field(default_factory=CopilotPromotion)

    @field_validator("followups")
    @classmethod
    def _durations(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _DURATION.match(value):
                raise ValueError(f"{value!r} is not a duration like 30m, 1h or 3d")
        return values


class Tenant(BaseModel):
    """A business using Piloto."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str
    timezone: str = "America/Sao_Paulo"
    locale: str = "pt-BR"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value
