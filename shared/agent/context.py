"""Per-run facts of one turn, passed as the LangGraph runtime context (``Runtime[TurnContext]``).

The graph never reads the clock, Firestore or the environment: the caller resolves the tenant,
the mode, the time and the chat model once and hands them in here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from langchain_core.language_models import BaseChatModel

if TYPE_CHECKING:
    from shared.scheduling.service import SlotLookup


@dataclass(frozen=True, kw_only=True)
class TurnContext:
    """Who, when and with which model one turn is decided."""

    tenant_id: str
    conversation_id: str
    decision_id: str
    now: datetime
    chat_model: BaseChatModel
    mode: Literal["pilot", "copilot"] = "pilot"
    timezone: str = "America/Sao_Paulo"
    triggering_events: tuple[str, ...] = field(default_factory=tuple)
    pilot_intents: frozenset[str] = frozenset()
    """In copilot mode, the intents (specialists) the owner let the agent answer alone."""
    slots: Callable[[], SlotLookup] | None = None
    """The tenant's calendar and free slots, looked up only when the turn schedules (None: no
    calendar wired, scheduling as a conversation only)."""

    def __post_init__(self) -> None:
        """Refuse a naive clock and an unknown time zone before any node runs."""
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("TurnContext.now must be timezone-aware")
        ZoneInfo(self.timezone)

    @property
    def local_now(self) -> datetime:
        """Return ``now`` in the tenant's time zone (what the prompt shows the model)."""
        return self.now.astimezone(ZoneInfo(self.timezone))
