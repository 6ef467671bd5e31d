"""The owners' daily digest: yesterday in figures, once a day at the tenant's ``digest_hour``.

Cloud Scheduler POSTs the digest function every hour. ``due_tenants`` finds the tenants whose
local hour is ``digest_hour`` now: one ``timezone in [...]`` query per 30 time zones at that
hour (usually one or two queries), so a tenant is read once a day, not every hour.

For each, ``send_digest`` reads the previous local day's figures:

- the conversations started that day (one read each): started, answered by the agent, silences
  by reason (their counters, as the dashboard counts them);
- the business events of the day (one read each): handoffs, meetings booked, won, lost;
- ``usage/{day}`` (one read): the agent's replies;
- with a billing account (two reads plus at most 31 day documents): the month's reply quota in
  per cent.

It creates ``digests/{day}`` with ``create()`` (a second run that day finds it and only finishes
notifying if the first stopped half-way), then notifies the owners who want ``DAILY_DIGEST``
(console and e-mail deliveries, ids ``digest.{day}~{uid}``: nothing is sent twice).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from google.api_core.exceptions import AlreadyExists
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.integrations.models import BusinessEventType
from shared.notifications.models import Notification, NotificationType
from shared.notifications.plan import (
    ScheduleDelivery,
    create_notifications,
    recipients_for,
    schedule_emails,
)
from shared.notifications.store import digest_ref, team_of
from shared.notifications.texts import DEFAULT_TIMEZONE, Text
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.notifications.digest")

IN_LIMIT = 30
"""Firestore's most values in one ``in`` filter."""
MAX_CONVERSATIONS = 5_000
MAX_EVENTS = 10_000
EVENT_COUNTS = {
    BusinessEventType.HANDOFF.value: "handoffs",
    BusinessEventType.MEETING_BOOKED.value: "meetings_booked",
    BusinessEventType.CONVERSATION_WON.value: "won",
    BusinessEventType.CONVERSATION_LOST.value: "lost",
}
SILENCE_LABELS = {
    "quiet_hours": "horário de silêncio",
    "human_active": "vendedor na conversa",
    "opted_out": "lead pediu para sair",
    "rejection": "lead recusou",
    "closed": "conversa encerrada",
    "outside_24h_window": "fora da janela de 24 h",
    "unanswered_limit": "sem resposta do lead",
    "debounced": "mensagens agrupadas",
    "duplicate": "mensagem repetida",
    "copilot_mode": "modo copiloto",
    "quota_exceeded": "limite do plano",
    "subscription_inactive": "assinatura inativa",
}


@dataclass
class DigestFigures:
    """What the owners read about one day."""

    day: str
    conversations_started: int = 0
    answered_by_agent: int = 0
    agent_replies: int = 0
    handoffs: int = 0
    meetings_booked: int = 0
    won: int = 0
    lost: int = 0
    silences_top: list[dict[str, Any]] = field(default_factory=list)
    """The three commonest silences: ``{"reason", "count"}``."""
    quota_percent: int | None = None
    reads: int = 0
    """Documents read to make it (the cost, for the log)."""


@dataclass(frozen=True)
class DigestResult:
    """What one tenant's digest run did."""

    tenant_id: str
    day: str
    status: str
    """sent (made now), finished (a half-done earlier run completed), duplicate (done before)."""
    notified: int = 0


def due_zones(now: datetime, digest_hour: int) -> list[str]:
    """Return the time zones whose local hour is ``digest_hour`` at ``now``."""
    return sorted(
        name
        for name in available_timezones()
        if _zone(name) is not None and now.astimezone(ZoneInfo(name)).hour == digest_hour
    )


def due_tenants(client: Any, now: datetime, digest_hour: int) -> list[tuple[str, str]]:
    """Return (tenant_id, timezone) of every tenant whose local hour is ``digest_hour``."""
    zones = due_zones(now, digest_hour)
    found: list[tuple[str, str]] = []
    for start in range(0, len(zones), IN_LIMIT):
        query = client.collection("tenants").where(
            filter=FieldFilter("timezone", "in", zones[start : start + IN_LIMIT])
        )
        for snapshot in query.stream():
            record = snapshot.to_dict() or {}
            found.append((snapshot.id, str(record.get("timezone") or DEFAULT_TIMEZONE)))
    return sorted(found)


def run_hour(
    client: Any,
    now: datetime,
    *,
    digest_hour: int,
    plans_file: str | None = None,
    schedule: ScheduleDelivery | None = None,
) -> list[DigestResult]:
    """Send yesterday's digest of every tenant at its digest hour (a failing tenant is logged)."""
    results = []
    for tenant_id, timezone in due_tenants(client, now, digest_hour):
        day = now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
        try:
            results.append(
                send_digest(client, tenant_id, day, now, plans_file=plans_file, schedule=schedule)
            )
        except Exception:
            logger.exception("digest failed", extra={"tenant_id": tenant_id, "day": str(day)})
    return results


def send_digest(
    client: Any,
    tenant_id: str,
    day: date,
    now: datetime,
    *,
    plans_file: str | None = None,
    schedule: ScheduleDelivery | None = None,
) -> DigestResult:
    """Make ``digests/{day}`` once and notify the owners of it (a repeat notifies nobody twice).

    Raises ``LookupError`` when the tenant does not exist.
    """
    key = day.isoformat()
    document = digest_ref(client, tenant_id, key)
    stored = document.get()
    if stored.exists and (stored.to_dict() or {}).get("notified"):
        return DigestResult(tenant_id, key, "duplicate")
    tenant = tenant_ref(client, tenant_id).get()
    if not tenant.exists:
        raise LookupError(f"tenant {tenant_id} does not exist")
    timezone = str((tenant.to_dict() or {}).get("timezone") or DEFAULT_TIMEZONE)
    status = "finished"
    if stored.exists:
        figures = _figures_of(stored.to_dict() or {}, key)
    else:
        figures = day_figures(client, tenant_id, day, timezone, plans_file=plans_file)
        try:
            document.create({**asdict(figures), "created_at": now, "notified": False})
            status = "sent"
        except AlreadyExists:  # another run made it meanwhile: it notifies
            return DigestResult(tenant_id, key, "duplicate")
    made = notify_digest(client, tenant_id, figures, now, schedule=schedule)
    document.update({"notified": True, "notified_at": now, "recipients": len(made)})
    logger.info(
        "daily digest",
        extra={
            "tenant_id": tenant_id,
            "day": key,
            "status": status,
            "reads": figures.reads,
            "recipients": len(made),
        },
    )
    return DigestResult(tenant_id, key, status, len(made))


def day_figures(
    client: Any, tenant_id: str, day: date, timezone: str, *, plans_file: str | None = None
) -> DigestFigures:
    """Read one tenant-local day's figures (see the module's docstring for the cost)."""
    zone = _zone(timezone) or ZoneInfo(DEFAULT_TIMEZONE)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    tenant = tenant_ref(client, tenant_id)
    figures = DigestFigures(day=day.isoformat(), reads=1)
    silences: Counter[str] = Counter()
    conversations = (
        tenant.collection("conversations")
        .where(filter=FieldFilter("created_at", ">=", start))
        .where(filter=FieldFilter("created_at", "<", end))
        .select(["first_response_at", "silences"])
        .limit(MAX_CONVERSATIONS)
    )
    for snapshot in conversations.stream():
        record = snapshot.to_dict() or {}
        figures.reads += 1
        figures.conversations_started += 1
        figures.answered_by_agent += record.get("first_response_at") is not None
        silences.update({str(k): int(v) for k, v in (record.get("silences") or {}).items()})
    figures.silences_top = [
        {"reason": reason, "count": count} for reason, count in silences.most_common(3)
    ]
    events = (
        tenant.collection("business_events")
        .where(filter=FieldFilter("occurred_at", ">=", start))
        .where(filter=FieldFilter("occurred_at", "<", end))
        .select(["type"])
        .limit(MAX_EVENTS)
    )
    for snapshot in events.stream():
        figures.reads += 1
        name = EVENT_COUNTS.get(str((snapshot.to_dict() or {}).get("type")))
        if name is not None:
            setattr(figures, name, getattr(figures, name) + 1)
    usage = tenant.collection("usage").document(day.isoformat()).get()
    figures.reads += 1
    figures.agent_replies = int((usage.to_dict() or {}).get("agent_replies") or 0)
    figures.quota_percent, reads = _quota_percent(client, tenant_id, day, plans_file)
    figures.reads += reads
    return figures


def _quota_percent(
    client: Any, tenant_id: str, day: date, plans_file: str | None
) -> tuple[int | None, int]:
    """Return the month's agent replies against the plan in per cent (None without billing)."""
    from shared.billing.accounts import account_of_tenant, plan_of
    from shared.billing.plans import load_catalogue
    from shared.billing.usage import month_replies

    account = account_of_tenant(client, tenant_id)
    if account is None:
        return None, 2
    limit = plan_of(account, load_catalogue(plans_file)).quotas.agent_replies
    used = month_replies(client, tenant_id, day.strftime("%Y-%m"))
    reads = 2 + day.day
    return (round(used * 100 / limit) if limit > 0 else None), reads


def digest_text(figures: DigestFigures) -> Text:
    """Return the digest as the owners read it (pt-BR)."""
    day = date.fromisoformat(figures.day)
    lines = [
        f"Conversas iniciadas: {figures.conversations_started}",
        f"Respostas do agente: {figures.agent_replies}",
        f"Passadas para a equipe: {figures.handoffs}",
        f"Reuniões marcadas: {figures.meetings_booked}",
        f"Vendas ganhas: {figures.won} · perdidas: {figures.lost}",
    ]
    if figures.silences_top:
        top = ", ".join(
            f"{SILENCE_LABELS.get(item['reason'], item['reason'])} ({item['count']})"
            for item in figures.silences_top
        )
        lines.append(f"Silêncios mais comuns: {top}")
    if figures.quota_percent is not None:
        lines.append(f"Uso do plano no mês: {figures.quota_percent}% das respostas")
    return Text(title=f"Resumo de ontem ({day:%d/%m})", body="\n".join(lines), link="/painel")


def notify_digest(
    client: Any,
    tenant_id: str,
    figures: DigestFigures,
    now: datetime,
    *,
    schedule: ScheduleDelivery | None = None,
) -> list[Notification]:
    """Create the owners' digest notifications and their e-mail deliveries."""
    owners = recipients_for(NotificationType.DAILY_DIGEST, None, team_of(client, tenant_id))
    made = create_notifications(
        client,
        tenant_id,
        f"digest.{figures.day}",
        NotificationType.DAILY_DIGEST,
        digest_text(figures),
        owners,
        now,
    )
    schedule_emails(client, made, now, schedule)
    return made


def _figures_of(record: dict[str, Any], day: str) -> DigestFigures:
    names = set(DigestFigures.__dataclass_fields__) - {"day"}
    return DigestFigures(day=day, **{k: v for k, v in record.items() if k in names})


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
