"""Producers of insight events in the engine: a lead's message, and the conversation attribution.

On the in-process store: NEW_MESSAGE_RECEIVED is published after intake (and the media
understanding) committed and the turn was scheduled, only for tenants whose insight agents
listen to it; a redelivery publishes the same event again; intake records the first ad that
brought the lead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.engine import Engine
from shared.events.tasks import TurnRequest
from shared.insights.events import IndexCache
from shared.insights.models import Attribution, EventType, InsightEvent
from shared.media.understand import MediaUnderstanding
from shared.models.conversation import Conversation
from shared.models.events import (
    AdReferral,
    ContactRef,
    LeadMessage,
    Media,
    MessageContent,
    MessageType,
)
from shared.models.tenant import AgentSettings
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from shared.store.memory import MemoryFirestore
from tests.support.events import LEAD_PHONE

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
REFERRAL = AdReferral(
    ctwa_clid="ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMXP-GUHZ8nN4gWmd6xl",
    source_id="120212345678900123",
    source_url="https://fb.me/3Xz7Ab",
    source_type="ad",
    headline="Limpeza de pele com 20% off",
    body="Agende hoje",
    media_type="image",
)


@dataclass
class World:
    """A tenant's engine on the in-process store; what it scheduled and published."""

    client: Any = field(default_factory=MemoryFirestore)
    tenant: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:8]}")
    now: datetime = NOW
    scheduled: list[TurnRequest] = field(default_factory=list)
    published: list[InsightEvent] = field(default_factory=list)
    understanding: MediaUnderstanding = field(
        default_factory=lambda: MediaUnderstanding(
            status="understood", text="Paguei, segue o comprovante do Pix", model="gemini"
        )
    )
    sequence: int = 0

    def __post_init__(self) -> None:
        self.engine = Engine(
            firestore=self.client,
            max_event_age=timedelta(hours=6),
            schedule_turn=lambda turn, at: self.scheduled.append(turn),
            load_agent=lambda tenant: AgentSettings(),
            now=lambda: self.now,
            understand_media=lambda event: self.understanding,
            insight_index=IndexCache(self.client, ttl_seconds=0),
            publish_insights=self.published.extend,
        )

    def listen(self, *events: str) -> None:
        tenant_ref(self.client, self.tenant).collection("settings").document("insights").set(
            {"events": list(events)}
        )

    def message(
        self,
        text: str | None = None,
        *,
        referral: AdReferral | None = None,
        media: MessageType | None = None,
    ) -> LeadMessage:
        self.sequence += 1
        message_id = f"wamid.{self.sequence}"
        content = MessageContent(message_type=MessageType.TEXT, text=text, referral=referral)
        if media is not None:
            content = MessageContent(
                message_type=media,
                media=Media(provider_media_id="771", mime_type="image/jpeg"),
                referral=referral,
            )
        return LeadMessage(
            event_id=f"meta:lead_message:{message_id}",
            provider="meta",
            tenant_id=self.tenant,
            channel_id="ch-meta",
            occurred_at=self.now,
            received_at=self.now,
            message_id=message_id,
            contact=ContactRef(phone=LEAD_PHONE, wa_id=LEAD_PHONE.lstrip("+"), profile_name="Ana"),
            content=content,
        )

    def conversation(self) -> Conversation:
        contact = contact_ref(self.client, self.tenant, LEAD_PHONE).get().to_dict() or {}
        reference = conversation_ref(self.client, self.tenant, contact["current_conversation_id"])
        return Conversation.model_validate(reference.get().to_dict())


def test_a_lead_message_is_published_once_taken_in_for_a_listening_tenant() -> None:
    world = World()
    world.listen("NEW_MESSAGE_RECEIVED")
    event = world.message("paguei, segue o comprovante")

    outcome = world.engine.take_in_event(event)

    assert outcome.status == "recorded"
    conversation_id = world.conversation().conversation_id
    assert world.published == [
        InsightEvent(
            event_id=f"msg:{conversation_id}:1",
            type=EventType.NEW_MESSAGE_RECEIVED,
            tenant_id=world.tenant,
            conversation_id=conversation_id,
            occurred_at=NOW,
            message_id="wamid.1",
            text="paguei, segue o comprovante",
        )
    ]
    assert world.scheduled == [TurnRequest(world.tenant, conversation_id, 1)]


def test_nothing_is_published_for_a_tenant_without_agents_for_messages() -> None:
    world = World()
    world.listen("TICKET_WON", "INACTIVITY_2H")

    world.engine.take_in_event(world.message("oi"))
    other = World()
    other.engine.take_in_event(other.message("oi"))  # no index at all

    assert world.published == [] and other.published == []
    assert len(world.scheduled) == len(other.scheduled) == 1  # the turns are not affected


def test_a_redelivered_message_publishes_the_same_event_again() -> None:
    world = World()
    world.listen("NEW_MESSAGE_RECEIVED")
    event = world.message("segue o comprovante")

    world.engine.take_in_event(event)
    again = world.engine.take_in_event(event)

    assert again.status == "duplicate"
    first, second = world.published
    assert first == second  # same id: the insights runner runs it once
    assert world.conversation().inbound_count == 1
    assert len(world.scheduled) == 1  # no second turn


def test_a_failed_publish_raises_after_the_turn_was_scheduled_and_the_retry_publishes() -> None:
    world = World()
    world.listen("NEW_MESSAGE_RECEIVED")
    event = world.message("paguei")

    def unavailable(events: object) -> None:
        raise RuntimeError("pubsub unavailable")

    world.engine.publish_insights = unavailable
    with pytest.raises(RuntimeError, match="pubsub unavailable"):
        world.engine.take_in_event(event)
    assert len(world.scheduled) == 1  # the message and its turn are safe before the publish

    world.engine.publish_insights = world.published.extend
    world.engine.take_in_event(event)  # Pub/Sub redelivers

    [published] = world.published
    assert (published.event_id, published.text) == (
        f"msg:{world.conversation().conversation_id}:1",
        "paguei",
    )
    assert len(world.scheduled) == 1


def test_media_is_published_with_what_it_was_understood_to_say() -> None:
    world = World()
    world.listen("NEW_MESSAGE_RECEIVED")

    world.engine.take_in_event(world.message(media=MessageType.IMAGE))

    [published] = world.published
    assert published.text is not None
    assert "Paguei, segue o comprovante do Pix" in published.text
    assert world.conversation().window[0].text == published.text  # what the agent reads too


def test_the_first_ad_that_brought_the_lead_is_the_conversation_attribution() -> None:
    world = World()
    world.engine.take_in_event(world.message("quero saber da promoção", referral=REFERRAL))
    world.now += timedelta(minutes=1)
    later = AdReferral(ctwa_clid="another-click", source_id="999", headline="Outro anúncio")
    world.engine.take_in_event(world.message("e o preço?", referral=later))

    assert world.conversation().attribution == Attribution(
        ctwa_clid=REFERRAL.ctwa_clid,
        source_id="120212345678900123",
        source_url="https://fb.me/3Xz7Ab",
        source_type="ad",
        headline="Limpeza de pele com 20% off",
    )


def test_a_conversation_without_an_ad_has_no_attribution_until_a_referral_comes() -> None:
    world = World()
    world.engine.take_in_event(world.message("oi"))
    assert world.conversation().attribution is None
    world.engine.take_in_event(world.message(referral=AdReferral(), media=None, text="oi de novo"))
    assert world.conversation().attribution is None  # an empty referral says nothing

    world.engine.take_in_event(world.message("vi o anúncio", referral=REFERRAL))

    attribution = world.conversation().attribution
    assert attribution is not None and attribution.ctwa_clid == REFERRAL.ctwa_clid
