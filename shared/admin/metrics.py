"""The dashboard's figures: one query over the conversations started in the period.

Each conversation carries its own figures (silences by reason, first response, handoff, meeting,
follow-ups, suggestions; kept by the turn, intake and the console's actions in writes they make
anyway), so the dashboard costs one read per conversation of the period whatever their length.
The period is in the tenant's time zone, both ends included.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from google.cloud.firestore_v1.base_query import FieldFilter

from shared.admin.errors import ApiError
from shared.admin.http import Request
from shared.admin.schemas import DailyFigures, Metrics, MetricsQuery
from shared.models.conversation import Conversation
from shared.store.conversations import tenant_ref

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_CONVERSATIONS = 20_000
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


def metrics(request: Request, tenant_id: str) -> Metrics:
    """Return the tenant's figures for the period asked for (default: the last 30 days)."""
    query: MetricsQuery = request.query
    client = request.services.firestore
    tenant = tenant_ref(client, tenant_id).get().to_dict() or {}
    zone = ZoneInfo(tenant.get("timezone") or "America/Sao_Paulo")
    today = request.services.now().astimezone(zone).date()
    last = query.to or today
    first = query.from_ or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ApiError(400, "from must not be after to", "from")
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError(400, f"the period is at most {MAX_DAYS} days", "from")
    if first < EARLIEST or last > LATEST:  # beyond them a day's bounds may not exist in UTC
        raise ApiError(400, f"the period must lie between {EARLIEST} and {LATEST}", "from")
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    documents = (
        tenant_ref(client, tenant_id)
        .collection("conversations")
        .where(filter=FieldFilter("created_at", ">=", start))
        .where(filter=FieldFilter("created_at", "<", end))
        .limit(MAX_CONVERSATIONS)
        .stream()
    )
    conversations = [Conversation.model_validate(d.to_dict()) for d in documents]
    return figures(conversations, first, last, zone)


def figures(conversations: list[Conversation], first: date, last: date, zone: ZoneInfo) -> Metrics:
    """Return the dashboard's figures of these conversations."""
    silences: Counter[str] = Counter()
    daily: dict[date, dict[str, int]] = {
        first + timedelta(days=offset): Counter() for offset in range((last - first).days + 1)
    }
    response_seconds = []
    for conversation in conversations:
        silences.update(conversation.silences)
        day = daily.setdefault(conversation.created_at.astimezone(zone).date(), Counter())
        day["conversations_started"] += 1
        if conversation.first_response_at is not None:
            day["answered_by_agent"] += 1
            delay = conversation.first_response_at - conversation.created_at
            response_seconds.append(max(delay.total_seconds(), 0.0))
        day["handoffs"] += conversation.handed_off_at is not None
        day["meetings_booked"] += conversation.meeting_booked_at is not None

    def total(name: str) -> int:
        return sum(int(getattr(conversation, name)) for conversation in conversations)

    def days(name: str) -> int:
        return sum(counts[name] for counts in daily.values())

    return Metrics(
        from_=first,
        to=last,
        timezone=str(zone),
        conversations_started=len(conversations),
        answered_by_agent=days("answered_by_agent"),
        agent_messages=total("agent_messages") + total("followups_sent"),
        silences_by_reason=dict(silences.most_common()),
        handoffs=days("handoffs"),
        meetings_booked=days("meetings_booked"),
        followups_sent=total("followups_sent"),
        followups_answered=total("followups_answered"),
        median_first_response_seconds=round(statistics.median(response_seconds), 3)
        if response_seconds
        else None,
        suggestions_offered=total("suggestions_offered"),
        suggestions_accepted=total("suggestions_accepted"),
        daily=[
            DailyFigures(
                date=day,
                conversations_started=counts["conversations_started"],
                answered_by_agent=counts["answered_by_agent"],
                handoffs=counts["handoffs"],
                meetings_booked=counts["meetings_booked"],
            )
            for day, counts in sorted(daily.items())
            if first <= day <= last
        ],
    )
