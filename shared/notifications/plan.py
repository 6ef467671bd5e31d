"""Who hears about what: notifications of business events and of account notices.

``plan_notifications`` is called by the integrations dispatcher for every business event: it
picks the recipients (a handoff goes to the conversation's seller, or to every member when it
is unassigned; an insight or a meeting to its seller, or to the owners and admins), keeps only
what each member's preferences let through, creates one ``Notification`` document per member
(``create()``: a redelivered event adds nothing) and returns those whose e-mail is wanted, for
the dispatcher to make a delivery ``mail-{notification_id}`` of each.

``notify_owners`` does the same for an account notice (billing, a disabled webhook endpoint, a
calendar or CRM that stopped working) and makes the e-mail deliveries itself, one Cloud Task
each (``schedule``; by default the delivery function's queue from the settings).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from google.api_core.exceptions import AlreadyExists

from shared.integrations.models import BusinessEvent, BusinessEventType, Delivery, DeliveryTask
from shared.notifications.models import Notification, NotificationType
from shared.notifications.store import (
    Recipient,
    notification_id,
    notification_ref,
    team_of,
)
from shared.notifications.texts import DEFAULT_TIMEZONE, Text, event_text
from shared.store.conversations import conversation_ref, tenant_ref

logger = logging.getLogger("piloto.notifications")

ScheduleDelivery = Callable[[DeliveryTask, datetime], None]
"""Put a delivery attempt on Cloud Tasks at a time (``shared.integrations.dispatch``'s type)."""

NOTIFIED_EVENTS: dict[BusinessEventType, NotificationType] = {
    BusinessEventType.HANDOFF: NotificationType.HANDOFF,
    BusinessEventType.INSIGHT_READY: NotificationType.INSIGHT,
    BusinessEventType.MEETING_BOOKED: NotificationType.MEETING,
    BusinessEventType.MEETING_RESCHEDULED: NotificationType.MEETING,
    BusinessEventType.MEETING_CANCELED: NotificationType.MEETING,
}
ACCOUNT_EVENT_TYPE = "account.notice"
MANAGER_ROLES = frozenset({"owner", "admin"})


def plan_notifications(client: Any, event: BusinessEvent, now: datetime) -> list[Notification]:
    """Create the team's notifications of one event; return those to e-mail (pending).

    Reads the conversation (its seller and lead), the tenant (time zone, meetings only) and the
    members; writes one document per member notified.
    """
    kind = NOTIFIED_EVENTS.get(event.type)
    if kind is None:
        return []
    conversation: dict[str, Any] | None = None
    if event.conversation_id:
        snapshot = conversation_ref(client, event.tenant_id, event.conversation_id).get()
        conversation = snapshot.to_dict() if snapshot.exists else None
    timezone = DEFAULT_TIMEZONE
    if kind is NotificationType.MEETING:
        tenant = tenant_ref(client, event.tenant_id).get().to_dict() or {}
        timezone = str(tenant.get("timezone") or DEFAULT_TIMEZONE)
    text = event_text(event, conversation, timezone)
    if text is None:
        return []
    assignee = (conversation or {}).get("assignee_uid") or event.data.get("assignee_uid")
    recipients = recipients_for(kind, assignee, team_of(client, event.tenant_id))
    made = create_notifications(
        client,
        event.tenant_id,
        event.event_id,
        kind,
        text,
        recipients,
        now,
        conversation_id=event.conversation_id,
    )
    return [notification for notification in made if notification.email_status == "pending"]


def recipients_for(
    kind: NotificationType, assignee_uid: str | None, team: list[Recipient]
) -> list[Recipient]:
    """Return who a notification of ``kind`` is for (before preferences).

    The conversation's seller when it has one who is still a member; otherwise every member for
    a handoff, the owners and admins for the rest; account notices and digests go to owners.
    """
    if kind in (NotificationType.ACCOUNT, NotificationType.DAILY_DIGEST):
        return [member for member in team if member.role == "owner"]
    assigned = [member for member in team if assignee_uid and member.uid == assignee_uid]
    if assigned:
        return assigned
    if kind is NotificationType.HANDOFF:
        return list(team)
    return [member for member in team if member.role in MANAGER_ROLES]


def create_notifications(
    client: Any,
    tenant_id: str,
    event_id: str,
    kind: NotificationType,
    text: Text,
    recipients: Iterable[Recipient],
    now: datetime,
    *,
    conversation_id: str | None = None,
    notice: str | None = None,
) -> list[Notification]:
    """Create each recipient's notification as their preferences allow; return them all.

    A member who wants neither medium gets nothing; one without an e-mail address gets the
    console only. A notification that already existed (a redelivery) is returned as stored.
    """
    made: list[Notification] = []
    for recipient in recipients:
        console = recipient.preferences.wants(kind, "console")
        email = recipient.preferences.wants(kind, "email") and bool(recipient.email)
        if not console and not email:
            continue
        identifier = notification_id(event_id, recipient.uid)
        notification = Notification(
            notification_id=identifier,
            tenant_id=tenant_id,
            recipient_uid=recipient.uid,
            type=kind,
            title=text.title,
            body=text.body,
            link=text.link,
            conversation_id=conversation_id,
            event_id=event_id,
            created_at=now,
            email_status="pending" if email else "not_wanted",
            console=console,
            notice=notice,
        )
        document = notification_ref(client, tenant_id, identifier)
        try:
            document.create(notification.model_dump(mode="python"))
        except AlreadyExists:
            stored = document.get().to_dict()
            if stored is None:
                continue
            notification = Notification.model_validate(stored)
        made.append(notification)
    return made


def notice_event_id(kind: str, key: str) -> str:
    """Return the event id standing for an account notice (``notice.{kind}-{key}``)."""
    return re.sub(r"[^A-Za-z0-9._:-]", "_", f"notice.{kind}-{key}")[:150]


def notify_owners(
    client: Any,
    tenant_id: str,
    *,
    kind: str,
    key: str,
    title: str,
    body: str,
    link: str | None,
    now: datetime,
    schedule: ScheduleDelivery | None = None,
) -> list[Notification]:
    """Tell the owners about an account notice (console, and e-mail through a delivery).

    ``kind`` and ``key`` name the notice (``quota_warning`` / ``2026-11``); calling again with
    the same pair notifies nobody twice. Each e-mail becomes a ``Delivery`` (kind email, target
    ``mail-{notification_id}``) whose first attempt ``schedule`` puts on Cloud Tasks (default:
    the delivery function's queue from the settings; without one the delivery stays pending and
    a warning is logged). Returns the owners' notifications.
    """
    event_id = notice_event_id(kind, key)
    owners = recipients_for(NotificationType.ACCOUNT, None, team_of(client, tenant_id))
    made = create_notifications(
        client,
        tenant_id,
        event_id,
        NotificationType.ACCOUNT,
        Text(title=title, body=body, link=link),
        owners,
        now,
        notice=kind,
    )
    schedule_emails(client, made, now, schedule)
    return made


def schedule_emails(
    client: Any,
    notifications: Iterable[Notification],
    now: datetime,
    schedule: ScheduleDelivery | None = None,
) -> int:
    """Make the e-mail delivery of each pending notification and schedule its first attempt.

    Without ``schedule`` the delivery function's queue from the settings is used; without one
    the deliveries stay pending (logged). Returns how many attempts were scheduled.
    """
    tasks = [
        task
        for notification in notifications
        if notification.email_status == "pending"
        and (task := _email_delivery(client, notification, now)) is not None
    ]
    if not tasks:
        return 0
    scheduler = schedule or default_delivery_scheduler()
    if scheduler is None:
        logger.warning(
            "no delivery queue configured: notification e-mails stay pending",
            extra={"deliveries": [task.delivery_id for task in tasks]},
        )
        return 0
    for task in tasks:
        scheduler(task, now)
    return len(tasks)


def email_delivery_id(notification: Notification) -> str:
    """Return the id of the e-mail delivery of a notification (``{event_id}~mail-{id}``)."""
    return f"{notification.event_id}~mail-{notification.notification_id}"


def _email_delivery(client: Any, notification: Notification, now: datetime) -> DeliveryTask | None:
    """Create the e-mail delivery of a notification; return its first task (None: under way)."""
    from shared.integrations.dispatch import deliveries

    delivery = Delivery(
        delivery_id=email_delivery_id(notification),
        kind="email",
        event_id=notification.event_id or notification.notification_id,
        event_type=ACCOUNT_EVENT_TYPE,
        target_id=f"mail-{notification.notification_id}",
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    document = deliveries(client, notification.tenant_id).document(delivery.delivery_id)
    try:
        document.create(delivery.model_dump(mode="python"))
    except AlreadyExists:
        stored = document.get().to_dict() or {}
        if stored.get("status") != "pending" or int(stored.get("attempts") or 0) != 0:
            return None  # its first attempt ran: the runner schedules the next ones
    return DeliveryTask(
        tenant_id=notification.tenant_id, delivery_id=delivery.delivery_id, attempt=1
    )


def default_delivery_scheduler() -> ScheduleDelivery | None:
    """Return what puts delivery tasks on the configured queue, or None without one."""
    from shared.integrations.dispatch import delivery_scheduler
    from shared.settings import SettingsError, get_settings

    try:
        return delivery_scheduler(get_settings())
    except SettingsError:
        logger.exception("settings unreadable: no delivery scheduler")
        return None


def tell_owners_of_notice(
    client: Any,
    tenant_id: str,
    kind: str,
    key: str,
    fields: dict[str, Any],
    now: datetime,
    schedule: ScheduleDelivery | None = None,
) -> None:
    """Notify the owners of a billing notice just created; never raises (logged instead)."""
    from shared.notifications.texts import notice_text

    text = notice_text(kind, fields)
    try:
        notify_owners(
            client,
            tenant_id,
            kind=kind,
            key=key,
            title=text.title,
            body=text.body,
            link=text.link,
            now=now,
            schedule=schedule,
        )
    except Exception:
        logger.exception(
            "owners not notified of a notice", extra={"tenant_id": tenant_id, "notice": kind}
        )
