"""Tests of insight agents; builders shared by the unit and integration insight tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.insights.models import EventType, InsightAgent, InsightAgentSpec, InsightEvent
from shared.models.conversation import Conversation, Role, WindowMessage

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
TENANT = "clinica"

LEAD_TALK = [
    (Role.LEAD, "Oi, vi o anúncio do clareamento. Quanto custa?"),
    (Role.AGENT, "Oi! O clareamento sai por R$ 800 em até 3x. Quer agendar uma avaliação?"),
    (Role.LEAD, "Hmm, achei caro. Vou pensar e te falo depois."),
    (Role.SELLER, "Entendo! Temos a avaliação gratuita para você conhecer a clínica."),
    (Role.LEAD, "Já paguei o sinal pelo Pix, segue o comprovante."),
]


def make_conversation(
    conversation_id: str = "conv-1", *, tenant_id: str = TENANT, **overrides: Any
) -> Conversation:
    """Return a copilot conversation where the lead hesitated, then paid (three lead messages)."""
    window = [
        WindowMessage(role=role, text=text, at=NOW - timedelta(minutes=10 * (5 - index)))
        for index, (role, text) in enumerate(LEAD_TALK)
    ]
    values: dict[str, Any] = {
        "conversation_id": conversation_id,
        "tenant_id": tenant_id,
        "channel_id": "chan-1",
        "contact_key": "5511987654321",
        "contact_name": "Ana Souza",
        "mode": "copilot",
        "stage": "closing",
        "inbound_count": 3,
        "outbound_count": 2,
        "window": window,
        "summary": "Ana chegou por um anúncio de clareamento.",
        "fields": {"nome": "Ana"},
        "created_at": NOW - timedelta(hours=2),
        "updated_at": NOW,
    }
    return Conversation(**{**values, **overrides})


def conversation_document(conversation: Conversation) -> dict[str, Any]:
    """Return the conversation as stored, with a click-to-WhatsApp attribution."""
    return {
        **conversation.model_dump(mode="python"),
        "attribution": {
            "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
            "source_id": "120211234567890",
            "source_type": "ad",
            "headline": "Clareamento em 3x",
        },
    }


def make_agent(agent_id: str = "agent-1", *, tenant_id: str = TENANT, **spec: Any) -> InsightAgent:
    """Return a stored agent: a closing coach on every lead message unless told otherwise."""
    values: dict[str, Any] = {
        "name": "Coach",
        "prompt": "Ajude o vendedor a fechar.",
        "triggers": [{"trigger_id": "t1", "event": "NEW_MESSAGE_RECEIVED"}],
        "fields": [
            {"name": "tip", "type": "string", "description": "Uma dica."},
            {"name": "score", "type": "number", "minimum": 0, "maximum": 10},
        ],
        **spec,
    }
    return InsightAgent(
        **InsightAgentSpec.model_validate(values).model_dump(),
        agent_id=agent_id,
        tenant_id=tenant_id,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
    )


def make_event(
    event_type: EventType = EventType.NEW_MESSAGE_RECEIVED,
    *,
    event_id: str | None = None,
    conversation_id: str = "conv-1",
    tenant_id: str = TENANT,
    **extra: Any,
) -> InsightEvent:
    """Return an insight event on the conversation."""
    if event_type is EventType.NEW_MESSAGE_RECEIVED:
        extra.setdefault("text", "Achei caro, vou pensar.")
    return InsightEvent(
        event_id=event_id or f"{event_type.value.lower()}:{conversation_id}:1",
        type=event_type,
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        occurred_at=NOW,
        **extra,
    )
