"""Build canonical events for tests, as the Meta adapter would produce them."""

from __future__ import annotations

from datetime import datetime

from shared.models.events import ContactRef, LeadMessage, MessageContent, MessageType

LEAD_PHONE = "+5511987654321"


def lead_message(
    tenant_id: str,
    message_id: str,
    text: str,
    at: datetime,
    *,
    phone: str = LEAD_PHONE,
    name: str | None = "Mariana",
    channel_id: str = "ch-meta",
) -> LeadMessage:
    """Return a text message from a lead, received when it was sent."""
    return LeadMessage(
        event_id=f"meta:lead_message:{message_id}",
        provider="meta",
        tenant_id=tenant_id,
        channel_id=channel_id,
        occurred_at=at,
        received_at=at,
        message_id=message_id,
        contact=ContactRef(phone=phone, wa_id=phone.lstrip("+"), profile_name=name),
        content=MessageContent(message_type=MessageType.TEXT, text=text),
    )
