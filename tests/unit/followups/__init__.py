"""Follow-up cadences on the in-process store: scheduling from turns, and each step's outcome."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.agent.followup import followup_drafter
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.events.tasks import FollowupRequest, TurnRequest
from shared.followups import FollowupResult, FollowupRunner
from shared.insights.events import IndexCache
from shared.insights.models import InsightEvent
from shared.intake import IntakeRules, take_in
from shared.models.channel import Channel
from shared.models.conversation import Conversation
from shared.models.decision import Decision
from shared.models.events import ContactRef, MessageContent, MessageType, SellerMessage
from shared.models.tenant import AgentSettings
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from shared.store.memory import MemoryFirestore
from shared.turns import TurnResult, TurnRunner
from tests.support.events import LEAD_PHONE, lead_message

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 13:00 in São Paulo
TIMEZONE = "America/Sao_Paulo"
FACTS = {"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"}


@dataclass
class World:
    """A tenant on the in-process store with a clock; what was delivered and scheduled."""

    settings: AgentSettings = field(
        default_factory=lambda: AgentSettings(
            business_facts=FACTS, qualification_fields=["nome", "procedimento_de_interesse"]
        )
    )
    channel_config: dict[str, Any] = field(default_factory=dict)
    clock_speed: float = 1.0
    client: Any = field(default_factory=MemoryFirestore)
    tenant: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:8]}")
    now: datetime = NOW
    delivered: list[Decision] = field(default_factory=list)
    scheduled: list[tuple[FollowupRequest, datetime]] = field(default_factory=list)
    published: list[InsightEvent] = field(default_factory=list)
    """Insight events the follow-up runner published (for tenants listening, see ``listen``)."""
    sequence: int = 0

    def __post_init__(self) -> None:
        self.turns = TurnRunner(
            firestore=self.client,
            decide=graph_decider(OfflineChatModel(), lambda tenant: TIMEZONE),
            load_settings=lambda tenant: (self.settings, TIMEZONE),
            deliver=lambda conversation, decision: self.delivered.append(decision),
            now=lambda: self.now,
            schedule_followup=lambda request, at: self.scheduled.append((request, at)),
            clock_speed=self.clock_speed,
        )
        self.followups = FollowupRunner(
            firestore=self.client,
            draft=followup_drafter(OfflineChatModel()),
            load_settings=lambda tenant: (self.settings, TIMEZONE),
            find_channel=lambda channel_id: Channel(
                channel_id=channel_id,
                tenant_id=self.tenant,
                provider="meta",
                config=self.channel_config,
            ),
            deliver=lambda conversation, decision: self.delivered.append(decision),
            schedule=lambda request, at: self.scheduled.append((request, at)),
            clock_speed=self.clock_speed,
            now=lambda: self.now,
            insight_index=IndexCache(self.client, ttl_seconds=0),
            publish_insights=self.published.extend,
        )

    def listen(self, *events: str) -> None:
        """Give the tenant insight agents listening to these event types (its index)."""
        tenant_ref(self.client, self.tenant).collection("settings").document("insights").set(
            {"events": list(events)}
        )

    def rules(self) -> IntakeRules:
        return IntakeRules(
            max_event_age=timedelta(hours=6),
            human_takeover=timedelta(minutes=self.settings.human_takeover_minutes),
            mode=self.settings.mode,
        )

    def lead(self, text: str) -> TurnRequest:
        """Take in a lead message now; return the turn it makes due."""
        self.sequence += 1
        event = lead_message(self.tenant, f"wamid.{self.sequence}", text, self.now)
        outcome = take_in(self.client, event, now=self.now, rules=self.rules())
        assert outcome.conversation_id and outcome.inbound_seq
        return TurnRequest(self.tenant, outcome.conversation_id, outcome.inbound_seq)

    def seller(self, text: str) -> None:
        """Take in a message the seller wrote from the business phone, now."""
        self.sequence += 1
        event = SellerMessage(
            event_id=f"meta:seller_message:wamid.{self.sequence}",
            provider="meta",
            tenant_id=self.tenant,
            channel_id="ch-meta",
            occurred_at=self.now,
            received_at=self.now,
            message_id=f"wamid.{self.sequence}",
            contact=ContactRef(phone=LEAD_PHONE),
            content=MessageContent(message_type=MessageType.TEXT, text=text),
        )
        take_in(self.client, event, now=self.now, rules=self.rules())

    def answered(self, text: str = "Oi, quanto custa a limpeza de pele?") -> TurnResult:
        """A lead message and its turn, five seconds later."""
        turn = self.lead(text)
        self.now += timedelta(seconds=5)
        return self.turns.run(turn)

    def next_task(self) -> tuple[FollowupRequest, datetime]:
        """Pop the task scheduled last."""
        return self.scheduled.pop()

    def fire(self, request: FollowupRequest, at: datetime | None = None) -> FollowupResult:
        """Run a task at its time (or now)."""
        self.now = max(self.now, at or self.now)
        return self.followups.run(request)

    def current(self) -> Conversation:
        """Return the lead's current conversation."""
        contact = contact_ref(self.client, self.tenant, LEAD_PHONE).get()
        return self.conversation(str(contact.get("current_conversation_id")))

    def conversation(self, conversation_id: str) -> Conversation:
        document = conversation_ref(self.client, self.tenant, conversation_id).get()
        return Conversation.model_validate(document.to_dict())

    def set(self, conversation_id: str, **fields: Any) -> None:
        conversation_ref(self.client, self.tenant, conversation_id).update(fields)
