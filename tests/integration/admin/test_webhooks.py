"""Outbound webhook endpoints over real HTTP: the secret shown once and kept in the secret store,
URL rules, the ten-endpoint limit, test events and redeliveries reaching Cloud Tasks (the
emulator dispatches them to a local sink standing in for the delivery function)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from shared.integrations.dispatch import deliveries
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User

EVENTS = ["conversation.handoff", "meeting.booked"]


def base(tenant_id: str) -> str:
    return f"/api/tenants/{tenant_id}/webhooks"


@pytest.fixture(scope="module")
def owner_and_tenant(admin: AdminStack) -> tuple[User, str]:
    owner = admin.auth.sign_up("owner", verified=True)
    return owner, admin.tenant(owner)


def wait_for_task(admin: AdminStack, delivery_id: str, attempt: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for task in admin.delivery_tasks:
            if task.get("delivery_id") == delivery_id and task.get("attempt") == attempt:
                return task
        time.sleep(0.1)
    raise AssertionError(f"no task for {delivery_id} attempt {attempt}: {admin.delivery_tasks}")


def test_an_endpoint_is_made_tested_redelivered_rotated_and_deleted(
    admin: AdminStack, owner_and_tenant: tuple[User, str]
) -> None:
    owner, tenant_id = owner_and_tenant
    made = admin.api.post(
        base(tenant_id), owner, {"url": "http://127.0.0.1:9/hook", "events": EVENTS}
    )
    assert made.status_code == 201, made.text
    secret, endpoint = made.json()["secret"], made.json()["endpoint"]
    endpoint_id = endpoint["endpoint_id"]
    assert secret.startswith("whsec_") and len(secret) == 38
    assert endpoint["secret_hint"] == secret[-4:]
    stored = json.loads(admin.secrets_file.read_text())
    assert stored[f"piloto-tenant-{tenant_id}-webhook-{endpoint_id}"] == secret
    listed = admin.api.get(base(tenant_id), owner).json()
    assert [e["endpoint_id"] for e in listed["endpoints"]] == [endpoint_id]
    assert "webhook.test" not in {kind["type"] for kind in listed["event_types"]}

    tested = admin.api.post(f"{base(tenant_id)}/{endpoint_id}/test", owner)
    assert tested.status_code == 202, tested.text
    delivery_id = tested.json()["delivery_id"]
    assert wait_for_task(admin, delivery_id, 1)["tenant_id"] == tenant_id
    [row] = admin.api.get(f"{base(tenant_id)}/{endpoint_id}/deliveries", owner).json()["deliveries"]
    assert (row["delivery_id"], row["status"], row["payload"]["type"]) == (
        delivery_id,
        "pending",
        "webhook.test",
    )
    redeliver = f"{base(tenant_id)}/{endpoint_id}/deliveries/{delivery_id}/redeliver"
    assert admin.api.post(redeliver, owner).status_code == 409  # still being attempted
    deliveries(admin.db, tenant_id).document(delivery_id).update(
        {"status": "failed", "attempts": 9}
    )
    again = admin.api.post(redeliver, owner)
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    wait_for_task(admin, delivery_id, 10)

    rotated = admin.api.post(f"{base(tenant_id)}/{endpoint_id}/secret", owner)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != secret
    assert rotated.json()["endpoint"]["secret_hint"] == new_secret[-4:]
    off = admin.api.patch(f"{base(tenant_id)}/{endpoint_id}", owner, {"enabled": False})
    assert (off.status_code, off.json()["enabled"]) == (200, False)
    on = admin.api.patch(
        f"{base(tenant_id)}/{endpoint_id}", owner, {"enabled": True, "events": ["meeting.booked"]}
    )
    assert (on.json()["enabled"], on.json()["events"], on.json()["disabled_at"]) == (
        True,
        ["meeting.booked"],
        None,
    )

    deleted = admin.api.delete(f"{base(tenant_id)}/{endpoint_id}", owner)
    assert deleted.json() == {"deleted": True}
    assert f"webhook-{endpoint_id}" not in admin.secrets_file.read_text()
    audit = json.dumps(admin.audit(tenant_id), default=str)
    assert secret not in audit and new_secret not in audit
    actions = [entry["action"] for entry in admin.audit(tenant_id)]
    for action in ("webhook.create", "webhook.test", "webhook.redeliver", "webhook.delete"):
        assert action in actions


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://example.com/hook", "events": EVENTS}, "url"),
        ({"url": "https://user:senha@example.com/hook", "events": EVENTS}, "url"),
        ({"url": "ftp://example.com/hook", "events": EVENTS}, "url"),
        ({"url": "https://example.com/" + "a" * 2100, "events": EVENTS}, "url"),
        ({"url": "https://example.com/hook", "events": []}, "events"),
        ({"url": "https://example.com/hook", "events": ["webhook.test"]}, "events.0"),
    ],
)
def test_bad_endpoints_are_refused_with_nothing_written(
    admin: AdminStack, owner_and_tenant: tuple[User, str], body: dict[str, Any], field: str
) -> None:
    owner, tenant_id = owner_and_tenant
    before = admin.tenant_state(tenant_id)

    answer = admin.api.post(base(tenant_id), owner, body)

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert admin.tenant_state(tenant_id) == before


def test_a_tenant_has_at_most_ten_endpoints(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    body = {"url": "https://example.com/hook", "events": EVENTS}
    for _ in range(10):
        assert admin.api.post(base(tenant_id), owner, body).status_code == 201
    before = admin.tenant_state(tenant_id)

    answer = admin.api.post(base(tenant_id), owner, body)

    assert answer.status_code == 409
    assert admin.tenant_state(tenant_id) == before


def test_sellers_manage_no_endpoints_and_owners_only_make_keys(
    admin: AdminStack, owner_and_tenant: tuple[User, str]
) -> None:
    owner, tenant_id = owner_and_tenant
    seller = admin.auth.sign_up("seller", verified=True)
    manager = admin.auth.sign_up("admin", verified=True)
    admin.join(owner, tenant_id, seller, "seller")
    admin.join(owner, tenant_id, manager, "admin")

    assert admin.api.get(base(tenant_id), seller).status_code == 403
    assert admin.api.get(base(tenant_id), manager).status_code == 200
    assert admin.api.get(f"/api/tenants/{tenant_id}/api-keys", manager).status_code == 403
    made = admin.api.post(f"/api/tenants/{tenant_id}/api-keys", owner, {"name": "n8n"})
    assert made.status_code == 201
    listed = admin.api.get(f"/api/tenants/{tenant_id}/api-keys", owner).json()["keys"]
    assert made.json()["secret"] not in json.dumps(listed)
    assert listed[0]["prefix"] == made.json()["secret"][:12]
