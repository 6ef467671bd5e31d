"""Tests of the turn graph; builders shared by the agent test modules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.language_models import BaseChatModel

from shared.agent.context import TurnContext
from shared.agent.offline import OfflineChatModel
from shared.models.conversation import Conversation, Role, WindowMessage
from shared.models.tenant import AgentSettings

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def make_settings(**overrides: Any) -> AgentSettings:
    """Return a clinic's agent settings with a priced consultation and two qualification fields."""
    values: dict[str, Any] = {
        "business_facts": {
            "preço da consulta": "R$ 200 a consulta de avaliação",
            "endereço": "Rua das Flores, 10, Campinas",
        },
        "qualification_fields": ["nome", "cidade"],
    }
    return AgentSettings(**{**values, **overrides})


def make_conversation(history: Sequence[tuple[Role, str]] = (), **overrides: Any) -> Conversation:
    """Return an open conversation whose window holds ``history``, a minute apart."""
    window = [
        WindowMessage(role=role, text=text, at=NOW - timedelta(minutes=len(history) - index))
        for index, (role, text) in enumerate(history)
    ]
    values: dict[str, Any] = {
        "conversation_id": "conv-1",
        "tenant_id": "clinica",
        "channel_id": "chan-1",
        "contact_key": "5511987654321",
        "window": window,
        "created_at": NOW - timedelta(days=1),
        "updated_at": NOW,
    }
    return Conversation(**{**values, **overrides})


def make_context(
    chat_model: BaseChatModel | None = None, *, decision_id: str = "dec-1", **overrides: Any
) -> TurnContext:
    """Return the per-run facts of a turn, with the offline model unless told otherwise."""
    values: dict[str, Any] = {
        "tenant_id": "clinica",
        "conversation_id": "conv-1",
        "decision_id": decision_id,
        "now": NOW,
        "chat_model": chat_model or OfflineChatModel(),
        "triggering_events": ("meta:lead_message:wamid.1",),
    }
    return TurnContext(**{**values, **overrides})
