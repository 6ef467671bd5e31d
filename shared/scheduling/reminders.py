"""Meeting reminders: a Cloud Task per confirmed booking, run by function ``reminder``.

The task body is a ``ReminderRequest`` (tenant, booking, the start it was scheduled for). The
runner re-reads the booking and does nothing unless it is still confirmed at that start and not
yet reminded; it then records the reminder as a decision in the conversation's decision log and
hands its message to ``outbound-messages`` (the sender re-checks opt-out, window and quiet hours
at send time). The message is the ``meeting_reminder`` acknowledgement, so it still reaches a
conversation closed after the booking (closed as won, say).
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.models.channel import Channel
from shared.models.conversation import Conversation, Role, WindowMessage
from shared.models.decision import Action, Decision, OutboundMessage, Reason
from shared.models.tenant import AgentSettings
from shared.policy.windows import within_24h_window
from shared.scheduling.availability import slot_label
from shared.scheduling.bookings import booking_ref
from shared.scheduling.models import Booking, BookingStatus, CalendarSettings
from shared.settings import Settings
from shared.store.conversations import conversation_ref

logger = logging.getLogger("piloto.reminders")


@dataclass(frozen=True)
class ReminderRequest:
    """What a scheduled reminder needs to find and re-check its booking."""

    tenant_id: str
    booking_id: str
    start: datetime

    def to_json(self) -> bytes:
        """Serialise the task body."""
        return json.dumps(
            {
                "tenant_id": self.tenant_id,
                "booking_id": self.booking_id,
                "start": self.start.isoformat(),
            }
        ).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> ReminderRequest:
        """Parse a task body, or raise ValueError naming what is wrong."""
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ValueError(f"not a reminder request: {error}") from error
        if not isinstance(document, dict):
            raise ValueError("not a reminder request: the body is not a JSON object")
        problems = [
            f"{name} must be a non-empty string"
            for name in ("tenant_id", "booking_id", "start")
            if not isinstance(document.get(name), str) or not document[name]
        ]
        start: datetime | None = None
        if not problems:
            try:
                start = datetime.fromisoformat(document["start"])
            except ValueError:
                problems.append("start must be an ISO-8601 time")
            else:
                if start.tzinfo is None:
                    problems.append("start must carry its UTC offset")
        if problems or start is None:
            raise ValueError("not a reminder request: " + "; ".join(problems))
        return cls(tenant_id=document["tenant_id"], booking_id=document["booking_id"], start=start)


ReminderStatus = Literal["sent", "skipped", "recorded", "already_done"]


@dataclass(frozen=True)
class ReminderResult:
    """What a reminder task did, and why."""

    status: ReminderStatus
    reason: str | None = None
    decision: Decision | None = None


def reminder_decision_id(request: ReminderRequest) -> str:
    """Return the reminder's decision id: one per booking and start (a retry finds it)."""
    return f"reminder-{request.booking_id}-{request.start.astimezone(UTC):%Y%m%d%H%M}"


def reminder_text(
    conversation: Conversation, booking: Booking, location: str | None, timezone: str, now: datetime
) -> str:
    """Return the pt-BR reminder: ``Olá, Ana! Lembrando da sua reunião amanhã às 15:00 …``."""
    name = first_name(conversation, booking)
    greeting = f"Olá, {name}!" if name else "Olá!"
    where = f" — {location}" if location else ""
    return (
        f"{greeting} Lembrando da sua reunião {when_words(booking.start, timezone, now)} às "
        f"{booking.start.astimezone(ZoneInfo(timezone)):%H:%M}{where}. "
        "Se precisar remarcar, é só responder aqui."
    )


def when_words(start: datetime, timezone: str, now: datetime) -> str:
    """Return ``hoje``, ``amanhã`` or ``em ter 24/11`` for a meeting's day."""
    zone = ZoneInfo(timezone)
    days = (start.astimezone(zone).date() - now.astimezone(zone).date()).days
    if days == 0:
        return "hoje"
    if days == 1:
        return "amanhã"
    return "em " + slot_label(start, timezone).split(" às ")[0]


def first_name(conversation: Conversation, booking: Booking) -> str:
    """Return the lead's first name, or "" when unknown."""
    name = conversation.fields.get("nome") or conversation.contact_name or booking.contact_name
    return (name or "").strip().split(" ")[0]


@dataclass
class ReminderRunner:
    """Sends a confirmed meeting's reminder once, as a decision in the conversation's log."""

    firestore: Any
    load_settings: Callable[[str], tuple[AgentSettings, str]]
    find_channel: Callable[[str], Channel | None]
    deliver: Callable[[Conversation, Decision], None]
    load_calendar: Callable[[str], CalendarSettings]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self, request: ReminderRequest) -> ReminderResult:
        """Remind the lead of the meeting, or do nothing (and say why) when it moved on."""
        settings, timezone = self.load_settings(request.tenant_id)
        calendar = self.load_calendar(request.tenant_id)
        transaction = self.firestore.transaction(max_attempts=5)
        try:
            outcome: tuple[ReminderResult, Conversation | None] = _remind(
                transaction, self, request, settings, calendar, timezone
            )
        except AlreadyExists:  # recorded by an earlier delivery: publish its message again
            outcome = self._again(request)
        if outcome[0].status == "already_done":  # the publish after the commit may have failed
            outcome = self._again(request)
        result, conversation = outcome
        if conversation is not None and result.decision is not None and result.decision.messages:
            self.deliver(conversation, result.decision)
        logger.info(
            "reminder %s",
            result.status,
            extra={
                "tenant_id": request.tenant_id,
                "booking_id": request.booking_id,
                "reason": result.reason,
                "decision_id": result.decision.decision_id if result.decision else None,
            },
        )
        return result

    def message(
        self,
        conversation: Conversation,
        booking: Booking,
        settings: AgentSettings,
        calendar: CalendarSettings,
        timezone: str,
        now: datetime,
    ) -> OutboundMessage | None:
        """Return the reminder: free text inside the 24-hour window, else the template (or None)."""
        if within_24h_window(conversation.last_inbound_at, now):
            text = reminder_text(conversation, booking, calendar.location, timezone, now)
            return OutboundMessage(text=text, proactive=True, acknowledgement="meeting_reminder")
        local = booking.start.astimezone(ZoneInfo(timezone))
        values = {
            **conversation.fields,
            "nome": first_name(conversation, booking),
            "name": first_name(conversation, booking),
            "data": f"{local:%d/%m}",
            "hora": f"{local:%H:%M}",
        }
        channel = self.find_channel(conversation.channel_id)
        entry: Any = None
        if channel is not None:
            templates = channel.config.get("templates")
            entry = templates.get("reminder") if isinstance(templates, Mapping) else None
        if entry is None and settings.templates.reminder is not None:
            entry = settings.templates.reminder.model_dump()
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            return None
        return OutboundMessage(
            template=entry["name"],
            template_language=str(entry.get("language") or "pt_BR"),
            template_parameters=[
                _fill(str(item), values) for item in entry.get("parameters") or []
            ],
            proactive=True,
            acknowledgement="meeting_reminder",
        )

    def _again(self, request: ReminderRequest) -> tuple[ReminderResult, Conversation | None]:
        snapshot = booking_ref(self.firestore, request.tenant_id, request.booking_id).get()
        conversation_id = (
            (snapshot.to_dict() or {}).get("conversation_id") if snapshot.exists else None
        )
        if not conversation_id:
            return ReminderResult("already_done", "sent"), None
        document = conversation_ref(self.firestore, request.tenant_id, conversation_id)
        decision_snapshot = (
            document.collection("decisions").document(reminder_decision_id(request)).get()
        )
        conversation_snapshot = document.get()
        if not decision_snapshot.exists or not conversation_snapshot.exists:
            return ReminderResult("already_done", "sent"), None
        decision = Decision.model_validate(decision_snapshot.to_dict())
        conversation = Conversation.model_validate(conversation_snapshot.to_dict())
        return ReminderResult("already_done", "redelivered", decision), conversation


@firestore.transactional
def _remind(
    transaction: Any,
    runner: ReminderRunner,
    request: ReminderRequest,
    settings: AgentSettings,
    calendar: CalendarSettings,
    timezone: str,
) -> tuple[ReminderResult, Conversation | None]:
    client = runner.firestore
    now = runner.now()
    booking_doc = booking_ref(client, request.tenant_id, request.booking_id)
    snapshot = booking_doc.get(transaction=transaction)
    if not snapshot.exists:
        return ReminderResult("skipped", "missing"), None
    booking = Booking.model_validate(snapshot.to_dict())
    if booking.status != BookingStatus.CONFIRMED:
        return ReminderResult("skipped", booking.status.value), None
    if booking.start != request.start:
        return ReminderResult("skipped", "rescheduled"), None
    if booking.reminder_sent_at is not None:
        return ReminderResult("already_done", "sent"), None
    if booking.start <= now or not booking.conversation_id:
        return ReminderResult(
            "skipped", "past" if booking.start <= now else "no_conversation"
        ), None
    document = conversation_ref(client, request.tenant_id, booking.conversation_id)
    conversation_snapshot = document.get(transaction=transaction)
    if not conversation_snapshot.exists:
        return ReminderResult("skipped", "no_conversation"), None
    conversation = Conversation.model_validate(conversation_snapshot.to_dict())
    decision_doc = document.collection("decisions").document(reminder_decision_id(request))
    message = None
    if conversation.contact_opted_out:
        reasons = [Reason.MEETING_REMINDER, Reason.OPTED_OUT]
    else:
        message = runner.message(conversation, booking, settings, calendar, timezone, now)
        reasons = [Reason.MEETING_REMINDER] + ([] if message else [Reason.OUTSIDE_24H_WINDOW])
    decision = Decision(
        decision_id=reminder_decision_id(request),
        action=Action.SPEAK if message is not None else Action.STAY_SILENT,
        reasons=reasons,
        messages=[message] if message is not None else [],
        specialist="reminder",
        decided_at=now,
    )
    transaction.create(decision_doc, decision.model_dump(mode="python"))
    if message is None:
        transaction.update(booking_doc, {"reminder_skipped": reasons[-1].value, "updated_at": now})
        return ReminderResult("recorded", reasons[-1].value, decision), None
    text = message.text or f"[template {message.template}]"
    changes: dict[str, Any] = {
        **conversation.with_messages(
            WindowMessage(role=Role.AGENT, text=text, at=now, proactive=True)
        ),
        "outbound_count": conversation.outbound_count + 1,
        "last_outbound_at": now,
    }
    updated = conversation.model_copy(update={**changes, "updated_at": now})
    transaction.update(
        document, updated.model_dump(mode="python", include={*changes, "updated_at"})
    )
    transaction.update(booking_doc, {"reminder_sent_at": now, "updated_at": now})
    return ReminderResult("sent", "template" if message.template else "text", decision), updated


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(pattern: str, values: Mapping[str, str]) -> str:
    try:
        return string.Formatter().vformat(pattern, (), _Blank(values)).strip()
    except (ValueError, IndexError):
        return pattern


def build_reminder_runner(settings: Settings) -> ReminderRunner:
    """Wire reminders to Firestore, tenant settings, channels and outbound-messages."""
    from shared.engine import TenantSettingsCache, channel_directory, outbound_publisher
    from shared.scheduling.service import read_calendar
    from shared.store.firestore import firestore_client

    client = firestore_client(settings.project_id)
    tenants = TenantSettingsCache(client)

    channels = channel_directory(settings, client, "reminder")
    return ReminderRunner(
        firestore=client,
        load_settings=tenants.get,
        find_channel=channels.get,
        deliver=outbound_publisher(settings),
        load_calendar=lambda tenant_id: read_calendar(client, tenant_id),
    )


def reminder_scheduler(settings: Settings) -> Callable[[ReminderRequest, datetime], None] | None:
    """Return what puts reminder tasks on Cloud Tasks, or None without a URL or queue."""
    from shared.events.tasks import TaskScheduler

    queue = settings.followup_queue or settings.tasks_queue
    url = settings.reminder_url
    if not queue or not url:
        return None
    scheduler = TaskScheduler(
        queue_path=queue,
        emulator_host=settings.tasks_emulator_host,
        service_account_email=settings.tasks_service_account,
    )

    def schedule_reminder(request: ReminderRequest, at: datetime) -> None:
        scheduler.schedule(url, request.to_json(), at)

    return schedule_reminder
