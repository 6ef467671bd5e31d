"""Who is notified of what, as their preferences allow, and what they read (pt-BR)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.admin.notifications import MarkRead
from shared.integrations.models import BusinessEvent, BusinessEventType, EventContact
from shared.notifications.digest import DigestFigures, digest_text, due_zones
from shared.notifications.email import compose
from shared.notifications.models import Notification, NotificationType
from shared.notifications.plan import notify_owners, plan_notifications
from shared.notifications.store import notification_ref
from shared.settings import load_settings
from shared.store.conversations import conversation_ref, tenant_ref
from shared.store.memory import MemoryFirestore

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
TENANT = "clinica-abc123"


def member(client: Any, uid: str, role: str, email: str | None = None, **prefs: Any) -> None:
    record: dict[str, Any] = {"uid": uid, "role": role, "email": email or f"{uid}@example.com"}
    if prefs:
        record["notifications"] = {"types": prefs}
    tenant_ref(client, TENANT).collection("members").document(uid).set(record)


@pytest.fixture
def client() -> MemoryFirestore:
    db = MemoryFirestore()
    tenant_ref(db, TENANT).set({"tenant_id": TENANT, "timezone": "America/Sao_Paulo"})
    member(db, "owner-1", "owner")
    member(db, "admin-1", "admin")
    member(db, "seller-1", "seller")
    member(db, "seller-2", "seller")
    return db


def conversation(client: Any, assignee: str | None) -> None:
    conversation_ref(client, TENANT, "conv-1").set(
        {"conversation_id": "conv-1", "assignee_uid": assignee, "contact_name": "Ana"}
    )


def event(kind: BusinessEventType, **data: Any) -> BusinessEvent:
    return BusinessEvent(
        event_id=f"dec-1.{kind.value.split('.')[-1]}",
        type=kind,
        tenant_id=TENANT,
        occurred_at=NOW,
        conversation_id="conv-1",
        contact=EventContact(contact_key="wa:5511987654321", phone="+5511987654321", name="Ana"),
        data=data,
    )


def stored(client: Any) -> dict[str, dict[str, Any]]:
    collection = tenant_ref(client, TENANT).collection("notifications")
    return {snapshot.id: snapshot.to_dict() or {} for snapshot in collection.stream()}


def test_a_handoff_goes_to_the_seller_of_the_conversation(client: MemoryFirestore) -> None:
    conversation(client, "seller-1")
    handoff = event(BusinessEventType.HANDOFF, handoff_summary="Quer negociar desconto")

    emails = plan_notifications(client, handoff, NOW)

    assert [n.recipient_uid for n in emails] == ["seller-1"]
    only = emails[0]
    assert only.notification_id == "dec-1.handoff~seller-1"
    assert only.title == "Conversa com Ana precisa de você"
    assert "Quer negociar desconto" in only.body
    assert only.link == "/conversas/conv-1"
    assert only.email_status == "pending"
    assert list(stored(client)) == ["dec-1.handoff~seller-1"]


def test_an_unassigned_handoff_goes_to_every_member(client: MemoryFirestore) -> None:
    conversation(client, None)

    emails = plan_notifications(client, event(BusinessEventType.HANDOFF), NOW)

    assert sorted(n.recipient_uid for n in emails) == ["admin-1", "owner-1", "seller-1", "seller-2"]
    assert "o agente passou a conversa para a equipe" in emails[0].body


def test_a_seller_who_left_is_replaced_by_the_team(client: MemoryFirestore) -> None:
    conversation(client, "gone-uid")

    emails = plan_notifications(client, event(BusinessEventType.INSIGHT_READY), NOW)

    assert sorted(n.recipient_uid for n in emails) == ["admin-1", "owner-1"]


def test_meetings_name_the_local_time(client: MemoryFirestore) -> None:
    conversation(client, None)
    booked = event(
        BusinessEventType.MEETING_BOOKED,
        meeting={"booking_id": "b1", "start": "2026-11-24T12:00:00+00:00", "location": "Sala 2"},
    )

    emails = plan_notifications(client, booked, NOW)

    assert emails[0].title == "Reunião marcada com Ana"
    assert emails[0].body == "Marcada para ter 24/11 às 09:00. Local: Sala 2."


def test_preferences_choose_the_media_and_can_silence_a_type(client: MemoryFirestore) -> None:
    conversation(client, None)
    member(client, "seller-1", "seller", handoff={"email": False, "console": True})
    member(client, "seller-2", "seller", handoff={"email": False, "console": False})
    member(client, "admin-1", "admin", handoff={"email": True, "console": False})

    emails = plan_notifications(client, event(BusinessEventType.HANDOFF), NOW)

    assert sorted(n.recipient_uid for n in emails) == ["admin-1", "owner-1"]
    documents = stored(client)
    assert sorted(documents) == [
        "dec-1.handoff~admin-1",
        "dec-1.handoff~owner-1",
        "dec-1.handoff~seller-1",
    ]
    assert documents["dec-1.handoff~admin-1"]["console"] is False
    assert documents["dec-1.handoff~seller-1"]["email_status"] == "not_wanted"


def test_a_redelivered_event_adds_nothing(client: MemoryFirestore) -> None:
    conversation(client, "seller-1")
    plan_notifications(client, event(BusinessEventType.HANDOFF), NOW)
    notification_ref(client, TENANT, "dec-1.handoff~seller-1").update({"read_at": NOW})

    again = plan_notifications(client, event(BusinessEventType.HANDOFF), NOW)

    assert [n.notification_id for n in again] == ["dec-1.handoff~seller-1"]
    assert len(stored(client)) == 1
    assert stored(client)["dec-1.handoff~seller-1"]["read_at"] is not None


def test_events_nobody_is_notified_of(client: MemoryFirestore) -> None:
    conversation(client, "seller-1")
    for kind in (BusinessEventType.STAGE_CHANGED, BusinessEventType.CONVERSATION_WON):
        assert plan_notifications(client, event(kind), NOW) == []
    assert stored(client) == {}


def test_account_notices_reach_the_owners_once_with_an_email_delivery(
    client: MemoryFirestore,
) -> None:
    scheduled: list[Any] = []

    def notify() -> list[Notification]:
        return notify_owners(
            client,
            TENANT,
            kind="quota_warning",
            key="2026-11",
            title="Seu plano está perto do limite",
            body="...",
            link="/assinatura",
            now=NOW,
            schedule=lambda task, at: scheduled.append((task, at)),
        )

    made = notify()
    notify()

    assert [n.recipient_uid for n in made] == ["owner-1"]
    assert made[0].type is NotificationType.ACCOUNT and made[0].notice == "quota_warning"
    assert [task.delivery_id for task, _ in scheduled][:1] == [
        "notice.quota_warning-2026-11~mail-notice.quota_warning-2026-11~owner-1"
    ]
    delivery = (
        tenant_ref(client, TENANT)
        .collection("event_deliveries")
        .document(scheduled[0][0].delivery_id)
    )
    assert (delivery.get().to_dict() or {})["kind"] == "email"
    assert len(stored(client)) == 1


def test_the_email_escapes_html_and_links_the_console() -> None:
    settings = load_settings(
        {"GOOGLE_CLOUD_PROJECT": "p", "PILOTO_CONSOLE_URL": "https://app.piloto.test/"}
    )
    notification = Notification(
        notification_id="n1",
        tenant_id=TENANT,
        recipient_uid="u",
        type=NotificationType.HANDOFF,
        title="Conversa com <Ana> precisa de você",
        body="Motivo: <script>x</script>",
        link="/conversas/conv-1",
        created_at=NOW,
    )

    message = compose(notification, "u@example.com", settings)

    assert message.subject == "Conversa com <Ana> precisa de você"
    assert "Abrir no Piloto: https://app.piloto.test/conversas/conv-1" in message.text
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert 'href="https://app.piloto.test/conversas/conv-1"' in message.html


def test_digest_hour_zones_and_text() -> None:
    zones = due_zones(datetime(2026, 11, 23, 11, 0, tzinfo=UTC), 8)
    assert "America/Sao_Paulo" in zones and "Europe/Lisbon" not in zones
    text = digest_text(
        DigestFigures(
            day="2026-11-22",
            conversations_started=4,
            won=1,
            silences_top=[{"reason": "quiet_hours", "count": 3}],
            quota_percent=42,
        )
    )
    assert text.title == "Resumo de ontem (22/11)"
    assert "Conversas iniciadas: 4" in text.body
    assert "horário de silêncio (3)" in text.body
    assert "Uso do plano no mês: 42%" in text.body


def test_marking_read_takes_ids_or_all_not_both() -> None:
    assert MarkRead.model_validate({"ids": ["a"]}).ids == ["a"]
    assert MarkRead.model_validate({"all": True}).all is True
    bodies: list[dict[str, Any]] = [{}, {"ids": ["a"], "all": True}, {"all": False}, {"ids": []}]
    for bad in bodies:
        with pytest.raises(ValueError):
            MarkRead.model_validate(bad)
