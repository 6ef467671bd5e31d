"""The bell and the preferences over the admin API: each member sees and marks only their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.notifications.models import Notification, NotificationType
from shared.store.conversations import tenant_ref
from tests.integration.admin.conftest import AdminStack

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def seed(
    admin: AdminStack, tenant_id: str, notification_id: str, uid: str, **extra: object
) -> None:
    notification = Notification(
        notification_id=notification_id,
        tenant_id=tenant_id,
        recipient_uid=uid,
        type=NotificationType.HANDOFF,
        title=f"Conversa {notification_id}",
        body="Motivo: teste",
        link="/conversas/c1",
        conversation_id="c1",
        created_at=NOW + timedelta(minutes=len(notification_id)),
    )
    document = tenant_ref(admin.db, tenant_id).collection("notifications").document(notification_id)
    document.set({**notification.model_dump(mode="python"), **extra})


def test_each_member_lists_and_marks_only_their_own(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(owner, tenant_id, seller, "seller")
    base = f"/api/tenants/{tenant_id}"
    seed(admin, tenant_id, "a", seller.uid)
    seed(admin, tenant_id, "bb", seller.uid)
    seed(admin, tenant_id, "ccc", seller.uid, console=False)  # wanted by e-mail only
    seed(admin, tenant_id, "dddd", owner.uid)

    listed = admin.api.get(f"{base}/notifications", seller).json()
    assert [n["notification_id"] for n in listed["notifications"]] == ["bb", "a"]
    assert listed["unread"] == 2

    foreign = admin.api.post(f"{base}/notifications/read", seller, {"ids": ["a", "dddd"]})
    assert foreign.status_code == 404 and "dddd" in foreign.json()["error"]["message"]
    assert admin.api.get(f"{base}/notifications", seller).json()["unread"] == 2

    marked = admin.api.post(f"{base}/notifications/read", seller, {"ids": ["a"]})
    assert marked.status_code == 200 and marked.json() == {"unread": 1}
    unread = admin.api.get(f"{base}/notifications", seller, params={"unread": "true"}).json()
    assert [n["notification_id"] for n in unread["notifications"]] == ["bb"]

    assert admin.api.post(f"{base}/notifications/read", seller, {"all": True}).json() == {
        "unread": 0
    }
    assert admin.api.get(f"{base}/notifications", owner).json()["unread"] == 1
    bad = admin.api.post(f"{base}/notifications/read", seller, {"ids": ["a"], "all": True})
    assert bad.status_code == 422


def test_preferences_default_to_everything_and_are_saved_with_an_audit_entry(
    admin: AdminStack,
) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    path = f"/api/tenants/{tenant_id}/notification-preferences"

    defaults = admin.api.get(path, owner).json()
    assert defaults["email"] == owner.email and defaults["mail_enabled"] is False
    assert defaults["types"]["handoff"] == {"email": True, "console": True}
    assert set(defaults["types"]) == {t.value for t in NotificationType}

    body = {"types": {"daily_digest": {"email": False, "console": False}}}
    saved = admin.api.put(path, owner, body)

    assert saved.status_code == 200, saved.text
    assert saved.json()["types"]["daily_digest"] == {"email": False, "console": False}
    assert saved.json()["types"]["handoff"] == {"email": True, "console": True}
    assert admin.api.get(path, owner).json() == saved.json()
    entry = admin.audit(tenant_id)[-1]
    assert entry["action"] == "notifications.preferences"
    assert entry["before"]["types"]["daily_digest"] == {"email": True, "console": True}
    for refused in ({"types": {"sms": {"email": True, "console": True}}}, {"types": []}, {}):
        answer = admin.api.put(path, owner, refused)
        assert answer.status_code == 422, refused
    assert admin.api.get(path, owner).json() == saved.json()
