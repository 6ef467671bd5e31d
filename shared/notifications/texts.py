"""What a notification says, in Brazilian Portuguese (the team reads it in the console and mail)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.integrations.models import BusinessEvent, BusinessEventType

DEFAULT_TIMEZONE = "America/Sao_Paulo"
_WEEKDAYS = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")

HANDOFF_REASONS: dict[str, str] = {
    "handoff_requested": "o lead pediu para falar com uma pessoa",
    "knowledge_gap": "o agente não encontrou a resposta para uma pergunta do lead",
    "model_error": "o agente teve um erro ao responder",
    "quota_exceeded": "o limite de respostas do plano foi atingido",
    "subscription_inactive": "a assinatura está inativa",
    "no_free_slots": "não há horários livres na agenda",
    "calendar_unavailable": "a agenda não respondeu",
    "media_not_understood": "o agente não entendeu um áudio, imagem ou documento do lead",
    "media_rejected": "o lead enviou uma mídia que o agente não aceita",
    "send_failed": "uma mensagem não pôde ser enviada",
    "unanswered_limit": "o lead não respondeu às últimas mensagens",
}


@dataclass(frozen=True)
class Text:
    """A notification's title, body and console link."""

    title: str
    body: str
    link: str | None


def lead_name(event: BusinessEvent, conversation: dict[str, Any] | None = None) -> str:
    """Return how the lead is called: the name, else the phone, else "um lead"."""
    contact = event.contact
    if contact is not None and contact.name:
        return contact.name
    if conversation and conversation.get("contact_name"):
        return str(conversation["contact_name"])
    if contact is not None and contact.phone:
        return contact.phone
    return "um lead"


def conversation_link(conversation_id: str | None) -> str | None:
    """Return the console path of a conversation."""
    return f"/conversas/{conversation_id}" if conversation_id else None


def when(value: Any, timezone: str) -> str | None:
    """Return a meeting time as people read it ("ter 24/11 às 09:00"), or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    local = value.astimezone(zone)
    return f"{_WEEKDAYS[local.weekday()]} {local:%d/%m} às {local:%H:%M}"


def handoff_reason(data: dict[str, Any]) -> str:
    """Return why the agent handed over, from the event's summary or reason codes."""
    summary = str(data.get("handoff_summary") or data.get("summary") or "").strip()
    if summary:
        return summary
    codes = data.get("reasons") or ([data["reason"]] if data.get("reason") else [])
    for code in codes:
        if str(code) in HANDOFF_REASONS:
            return HANDOFF_REASONS[str(code)]
    return "o agente passou a conversa para a equipe"


def event_text(
    event: BusinessEvent, conversation: dict[str, Any] | None, timezone: str
) -> Text | None:
    """Return what the team reads about an event, or None when it notifies nobody."""
    name = lead_name(event, conversation)
    link = conversation_link(event.conversation_id)
    data = event.data
    if event.type is BusinessEventType.HANDOFF:
        reason = handoff_reason(data)
        return Text(
            title=f"Conversa com {name} precisa de você",
            body=f"O agente passou a conversa para a equipe. Motivo: {reason}",
            link=link,
        )
    if event.type is BusinessEventType.INSIGHT_READY:
        insight = data.get("insight") or {}
        agent = str(insight.get("agent_name") or "Um agente de insights")
        summary = _insight_summary(insight.get("payload"))
        body = f"{agent} analisou a conversa com {name}."
        return Text(
            title=f"Novo insight sobre a conversa com {name}",
            body=f"{body} {summary}".strip(),
            link=link,
        )
    meeting_titles = {
        BusinessEventType.MEETING_BOOKED: ("Reunião marcada com {name}", "Marcada para {when}."),
        BusinessEventType.MEETING_RESCHEDULED: (
            "Reunião com {name} remarcada",
            "Nova data: {when}.",
        ),
        BusinessEventType.MEETING_CANCELED: (
            "Reunião com {name} cancelada",
            "A reunião de {when} foi cancelada.",
        ),
    }
    if event.type in meeting_titles:
        title, body = meeting_titles[event.type]
        meeting = data.get("meeting") or {}
        moment = when(meeting.get("start"), timezone) or "data a confirmar"
        location = meeting.get("location")
        text = body.format(when=moment)
        if location and event.type is not BusinessEventType.MEETING_CANCELED:
            text = f"{text} Local: {location}."
        return Text(title=title.format(name=name), body=text, link=link)
    return None


def _insight_summary(payload: Any) -> str:
    """Return a short line from an insight's payload (its summary or first text field)."""
    if isinstance(payload, str):
        return payload[:280]
    if not isinstance(payload, dict):
        return ""
    for key in ("summary", "resumo", "text", "message"):
        if isinstance(payload.get(key), str) and payload[key].strip():
            return str(payload[key]).strip()[:280]
    for value in payload.values():
        if isinstance(value, str) and value.strip():
            return value.strip()[:280]
    return ""


STOP_REASONS = {
    "trial_expired": "o período de teste terminou",
    "past_due_expired": "o pagamento está atrasado há mais tempo do que o plano permite",
    "canceled": "a assinatura foi cancelada",
}


def notice_text(kind: str, fields: dict[str, Any]) -> Text:
    """Return what the owners read about a billing notice (``tenants/{t}/notices``)."""
    used, limit = fields.get("used"), fields.get("limit")
    figures = f" ({used} de {limit} respostas do agente neste mês)" if used is not None else ""
    link = "/assinatura"
    if kind == "quota_warning":
        return Text(
            "Seu plano está perto do limite",
            f"O agente já usou boa parte das respostas do plano{figures}. "
            "Considere mudar de plano para não interromper o atendimento.",
            link,
        )
    if kind == "quota_reached":
        return Text(
            "Limite de respostas do plano atingido",
            f"O agente atingiu o limite de respostas do plano{figures}; a margem de tolerância "
            "está sendo usada. Mude de plano para continuar sem interrupção.",
            link,
        )
    if kind == "quota_exceeded":
        return Text(
            "Limite do plano ultrapassado: conversas vão para a equipe",
            f"O agente parou de responder{figures}. Novas mensagens são passadas para a equipe "
            "até o próximo mês ou até uma mudança de plano.",
            link,
        )
    if kind == "service_stopped":
        reason = STOP_REASONS.get(str(fields.get("reason")), "a assinatura não está ativa")
        return Text(
            "O agente foi pausado",
            f"O agente parou de responder porque {reason}. As conversas vão para a equipe. "
            "Reative a assinatura em Assinatura.",
            link,
        )
    return Text("Aviso da sua conta", "Há um aviso sobre a sua conta no Piloto.", link)
