"""Notifications on the Firestore emulator, e-mailed for real: SMTP to the simulator's sink and
SendGrid's v3 API at the simulator, through the delivery runner's e-mail handler."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from emulators.simulator import ProviderSimulator
from emulators.simulator.mail import DEFAULT_SENDGRID_KEY
from emulators.stack import LocalStack
from shared.integrations.delivery import BACKOFF, AttemptContext, DeliveryRunner
from shared.integrations.dispatch import Dispatcher
from shared.integrations.models import (
    AttemptResult,
    BusinessEvent,
    BusinessEventType,
    Delivery,
    DeliveryTask,
    EventContact,
)
from shared.notifications.digest import send_digest
from shared.notifications.email import email_attempt
from shared.notifications.models import Notification
from shared.notifications.plan import plan_notifications, tell_owners_of_notice
from shared.secrets import resolve_secret
from shared.settings import Settings, load_settings
from shared.store.conversations import conversation_ref, tenant_ref

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
KEY_VARIABLE = "PILOTO_TEST_SENDGRID_KEY"


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    with ProviderSimulator([], smtp_port=0) as running:
        yield running


@pytest.fixture
def db(local_stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=local_stack.project_id)


def smtp_settings(simulator: ProviderSimulator) -> Settings:
    return load_settings(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "PILOTO_MAIL_TRANSPORT": "smtp",
            "PILOTO_SMTP_HOST": "127.0.0.1",
            "PILOTO_SMTP_PORT": str(simulator.smtp_port),
            "PILOTO_SMTP_SECURITY": "none",
            "PILOTO_CONSOLE_URL": "http://console.piloto.test",
        }
    )


def sendgrid_settings(simulator: ProviderSimulator) -> Settings:
    return load_settings(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "PILOTO_MAIL_TRANSPORT": "sendgrid",
            "PILOTO_MAIL_API_BASE": f"{simulator.url}/sendgrid",
            "PILOTO_MAIL_API_KEY": f"env:{KEY_VARIABLE}",
        }
    )


def new_tenant(db: firestore.Client, members: dict[str, str], **prefs: Any) -> str:
    """Create a tenant with members {uid: role} (e-mail uid@<tenant>.test)."""
    tenant_id = f"notif-{uuid.uuid4().hex[:8]}"
    tenant_ref(db, tenant_id).set({"tenant_id": tenant_id, "timezone": "America/Sao_Paulo"})
    for uid, role in members.items():
        record: dict[str, Any] = {"uid": uid, "role": role, "email": f"{uid}@{tenant_id}.test"}
        if uid in prefs:
            record["notifications"] = {"types": prefs[uid]}
        tenant_ref(db, tenant_id).collection("members").document(uid).set(record)
    return tenant_id


def handoff(db: firestore.Client, tenant_id: str, assignee: str | None) -> BusinessEvent:
    conversation_ref(db, tenant_id, "conv-1").set(
        {"conversation_id": "conv-1", "assignee_uid": assignee, "contact_name": "Ana"}
    )
    return BusinessEvent(
        event_id="dec-1.handoff",
        type=BusinessEventType.HANDOFF,
        tenant_id=tenant_id,
        occurred_at=NOW,
        conversation_id="conv-1",
        contact=EventContact(contact_key="wa:5511987654321", name="Ana"),
        data={"handoff_summary": "Quer falar sobre parcelamento"},
    )


def attempt(db: firestore.Client, settings: Settings, notification: Notification) -> AttemptResult:
    """Run the e-mail handler as the delivery runner does."""
    target = f"mail-{notification.notification_id}"
    with httpx.Client(timeout=10) as http:
        return email_attempt(
            AttemptContext(
                settings=settings,
                http=http,
                firestore=db,
                tenant_id=notification.tenant_id,
                delivery=Delivery(
                    delivery_id=f"{notification.event_id}~{target}",
                    kind="email",
                    event_id=str(notification.event_id),
                    event_type="conversation.handoff",
                    target_id=target,
                    created_at=NOW,
                    updated_at=NOW,
                ),
                event=None,
                now=NOW,
                resolve_secret=lambda reference: resolve_secret(reference, "p"),
            )
        )


def notification_doc(db: firestore.Client, tenant_id: str, notification_id: str) -> dict[str, Any]:
    snapshot = tenant_ref(db, tenant_id).collection("notifications").document(notification_id)
    return snapshot.get().to_dict() or {}


def test_a_handoff_reaches_its_seller_in_the_console_and_by_smtp(
    db: firestore.Client, simulator: ProviderSimulator
) -> None:
    tenant_id = new_tenant(db, {"owner-1": "owner", "seller-1": "seller"})
    settings = smtp_settings(simulator)

    emails = plan_notifications(db, handoff(db, tenant_id, "seller-1"), NOW)
    results = [attempt(db, settings, notification) for notification in emails]

    assert [n.recipient_uid for n in emails] == ["seller-1"] and results[0].ok
    sent = simulator.mail.messages(to=f"seller-1@{tenant_id}.test")
    assert [(m.transport, m.subject) for m in sent] == [
        ("smtp", "Conversa com Ana precisa de você")
    ]
    assert "Quer falar sobre parcelamento" in sent[0].text
    assert "http://console.piloto.test/conversas/conv-1" in sent[0].text
    stored = notification_doc(db, tenant_id, "dec-1.handoff~seller-1")
    assert stored["console"] is True and stored["email_status"] == "sent"
    assert simulator.mail.messages(to=f"owner-1@{tenant_id}.test") == []
    # a repeated attempt (a redelivered task) sends nothing more
    assert attempt(db, settings, emails[0]).ok
    assert len(simulator.mail.messages(to=f"seller-1@{tenant_id}.test")) == 1


def test_an_unassigned_handoff_reaches_every_member_who_wants_it(
    db: firestore.Client, simulator: ProviderSimulator
) -> None:
    off = {"handoff": {"email": False, "console": False}}
    tenant_id = new_tenant(
        db, {"owner-1": "owner", "seller-1": "seller", "seller-2": "seller"}, **{"seller-2": off}
    )
    settings = smtp_settings(simulator)

    emails = plan_notifications(db, handoff(db, tenant_id, None), NOW)
    for notification in emails:
        assert attempt(db, settings, notification).ok

    assert sorted(n.recipient_uid for n in emails) == ["owner-1", "seller-1"]
    assert len(simulator.mail.messages(to=f"seller-1@{tenant_id}.test")) == 1
    assert simulator.mail.messages(to=f"seller-2@{tenant_id}.test") == []
    assert notification_doc(db, tenant_id, "dec-1.handoff~seller-2") == {}


def test_an_email_turned_off_after_planning_is_not_sent(
    db: firestore.Client, simulator: ProviderSimulator
) -> None:
    tenant_id = new_tenant(db, {"seller-1": "seller"})
    emails = plan_notifications(db, handoff(db, tenant_id, "seller-1"), NOW)
    tenant_ref(db, tenant_id).collection("members").document("seller-1").update(
        {"notifications": {"types": {"handoff": {"email": False, "console": True}}}}
    )

    assert attempt(db, smtp_settings(simulator), emails[0]).ok

    assert simulator.mail.messages(to=f"seller-1@{tenant_id}.test") == []
    stored = notification_doc(db, tenant_id, "dec-1.handoff~seller-1")
    assert stored["email_status"] == "not_wanted"


def test_refused_recipients_fail_for_good_and_unavailable_ones_are_retried(
    db: firestore.Client, simulator: ProviderSimulator
) -> None:
    tenant_id = new_tenant(db, {"reject-me": "seller", "tempfail-me": "seller"})
    settings = smtp_settings(simulator)
    emails = plan_notifications(db, handoff(db, tenant_id, None), NOW)
    by_uid = {n.recipient_uid: n for n in emails}

    refused = attempt(db, settings, by_uid["reject-me"])
    later = attempt(db, settings, by_uid["tempfail-me"])

    assert (refused.ok, refused.permanent, refused.http_status) == (False, True, 550)
    assert (later.ok, later.permanent, later.http_status) == (False, False, 451)
    assert notification_doc(db, tenant_id, "dec-1.handoff~reject-me")["email_status"] == "failed"
    assert notification_doc(db, tenant_id, "dec-1.handoff~tempfail-me")["email_status"] == (
        "pending"
    )


def test_an_email_the_delivery_runner_gives_up_on_is_marked_failed(
    db: firestore.Client, simulator: ProviderSimulator
) -> None:
    tenant_id = new_tenant(db, {"tempfail-me": "seller"})
    scheduled: list[tuple[DeliveryTask, datetime]] = []
    Dispatcher(
        firestore=db,
        schedule=lambda task, at: scheduled.append((task, at)),
        plan_notifications=plan_notifications,
        now=lambda: NOW,
    ).on_event(handoff(db, tenant_id, None))
    clock = [NOW]
    with httpx.Client(timeout=10) as http:
        runner = DeliveryRunner(
            firestore=db,
            settings=smtp_settings(simulator),
            http=http,
            schedule=lambda task, at: scheduled.append((task, at)),
            resolve_secret=lambda reference: resolve_secret(reference, "p"),
            now=lambda: clock[0],
        )
        outcomes = []
        while scheduled:  # every retry at its time: the server keeps answering 451
            task, clock[0] = scheduled.pop(0)
            outcomes.append(runner.run(task).status)
            if outcomes[-1] == "retrying":
                assert (
                    notification_doc(db, tenant_id, "dec-1.handoff~tempfail-me")["email_status"]
                    == "pending"
                )

    assert outcomes == ["retrying"] * len(BACKOFF) + ["failed"]
    stored = notification_doc(db, tenant_id, "dec-1.handoff~tempfail-me")
    assert stored["email_status"] == "failed" and "451" in stored["email_error"]


def test_sendgrid_sends_and_refuses_like_sendgrid(
    db: firestore.Client, simulator: ProviderSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, DEFAULT_SENDGRID_KEY)
    tenant_id = new_tenant(db, {"seller-1": "seller", "reject-me": "seller"})
    settings = sendgrid_settings(simulator)
    emails = {n.recipient_uid: n for n in plan_notifications(db, handoff(db, tenant_id, None), NOW)}

    sent = attempt(db, settings, emails["seller-1"])
    refused = attempt(db, settings, emails["reject-me"])
    monkeypatch.setenv(KEY_VARIABLE, "SG.wrong")
    notification_ref = tenant_ref(db, tenant_id).collection("notifications")
    notification_ref.document("dec-1.handoff~seller-1").update({"email_status": "pending"})
    unauthorised = attempt(db, settings, emails["seller-1"])

    assert sent.ok
    [message] = simulator.mail.messages(to=f"seller-1@{tenant_id}.test")
    assert message.transport == "sendgrid" and message.subject.startswith("Conversa com Ana")
    assert (refused.ok, refused.permanent, refused.http_status) == (False, True, 400)
    assert "valid address" in str(refused.error)
    assert (unauthorised.ok, unauthorised.permanent, unauthorised.http_status) == (
        False,
        False,
        401,
    )


def test_a_billing_notice_emails_the_owners_through_the_delivery_runner(
    db: firestore.Client, simulator: ProviderSimulator
) -> None:
    tenant_id = new_tenant(db, {"owner-1": "owner", "owner-2": "owner", "seller-1": "seller"})
    tasks: list[DeliveryTask] = []
    fields = {"month": "2026-11", "quota": "agent_replies", "used": 4100, "limit": 5000}

    tell_owners_of_notice(
        db, tenant_id, "quota_warning", "2026-11", fields, NOW, lambda t, at: tasks.append(t)
    )
    tell_owners_of_notice(
        db, tenant_id, "quota_warning", "2026-11", fields, NOW, lambda t, at: tasks.append(t)
    )
    with httpx.Client(timeout=10) as http:
        runner = DeliveryRunner(
            firestore=db,
            settings=smtp_settings(simulator),
            http=http,
            schedule=lambda task, at: None,
            resolve_secret=lambda reference: resolve_secret(reference, "p"),
            now=lambda: NOW,
        )
        outcomes = [runner.run(task) for task in tasks]

    assert len(tasks) >= 2 and {t.delivery_id for t in tasks} == {
        f"notice.quota_warning-2026-11~mail-notice.quota_warning-2026-11~{uid}"
        for uid in ("owner-1", "owner-2")
    }
    assert sum(outcome.status == "succeeded" for outcome in outcomes) == 2
    for uid in ("owner-1", "owner-2"):
        [message] = simulator.mail.messages(to=f"{uid}@{tenant_id}.test")
        assert message.subject == "Seu plano está perto do limite"
        assert "4100 de 5000" in message.text
    assert simulator.mail.messages(to=f"seller-1@{tenant_id}.test") == []


def test_the_daily_digest_is_made_once_a_day(
    db: firestore.Client, simulator: ProviderSimulator
) -> None:
    tenant_id = new_tenant(db, {"owner-1": "owner", "seller-1": "seller"})
    day = date(2026, 11, 22)
    started = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    conversations = tenant_ref(db, tenant_id).collection("conversations")
    conversations.document("c1").set(
        {"created_at": started, "first_response_at": started, "silences": {"quiet_hours": 2}}
    )
    conversations.document("c2").set({"created_at": datetime(2026, 11, 21, 15, 0, tzinfo=UTC)})
    events = tenant_ref(db, tenant_id).collection("business_events")
    for number, kind in enumerate(("conversation.handoff", "conversation.won", "meeting.booked")):
        events.document(f"e{number}").set({"type": kind, "occurred_at": started})
    tenant_ref(db, tenant_id).collection("usage").document("2026-11-22").set({"agent_replies": 7})
    tasks: list[DeliveryTask] = []

    first = send_digest(db, tenant_id, day, NOW, schedule=lambda t, at: tasks.append(t))
    second = send_digest(db, tenant_id, day, NOW, schedule=lambda t, at: tasks.append(t))

    assert (first.status, first.notified, second.status) == ("sent", 1, "duplicate")
    [task] = tasks
    assert task.delivery_id.endswith("~mail-digest.2026-11-22~owner-1")
    stored = notification_doc(db, tenant_id, "digest.2026-11-22~owner-1")
    assert stored["title"] == "Resumo de ontem (22/11)"
    for line in (
        "Conversas iniciadas: 1",
        "Respostas do agente: 7",
        "Passadas para a equipe: 1",
        "Reuniões marcadas: 1",
        "Vendas ganhas: 1 · perdidas: 0",
        "horário de silêncio (2)",
    ):
        assert line in stored["body"], line
    digest = tenant_ref(db, tenant_id).collection("digests").document("2026-11-22").get()
    assert (digest.to_dict() or {})["notified"] is True
