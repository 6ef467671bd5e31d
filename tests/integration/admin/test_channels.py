"""Channels: provider settings in Firestore, secret values only in the secret store.

A value typed in is never in an answer, in the channel document (only ``local:`` references),
or in the audit log; the local secret file has it, and ``shared.secrets`` resolves the references.
"""

from __future__ import annotations

import json
import stat
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from shared.models.channel import Channel
from shared.secrets import resolve_secret
from shared.store.channels import CHANNELS_COLLECTION
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User
from tests.integration.admin.test_validation import VALID_CHANNELS


@dataclass
class Owner:
    user: User
    tenant_id: str

    @property
    def channels(self) -> str:
        return f"/api/tenants/{self.tenant_id}/channels"


@pytest.fixture
def owner(admin: AdminStack) -> Owner:
    """A new workspace per test: the trial plan allows 5 channels, the tests make 10."""
    user = admin.auth.sign_up("owner", verified=True)
    return Owner(user, admin.tenant(user))


@pytest.fixture(autouse=True)
def local_secrets(admin: AdminStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve ``local:`` references in this process from the function's secret file."""
    monkeypatch.setenv("PILOTO_LOCAL_SECRETS_FILE", str(admin.secrets_file))


def _secret_values(provider: str) -> dict[str, str]:
    return {role: f"{role}-{uuid.uuid4().hex}" for role in VALID_CHANNELS[provider]["secrets"]}


def _stored(admin: AdminStack, channel_id: str) -> dict[str, Any] | None:
    snapshot = admin.db.collection(CHANNELS_COLLECTION).document(channel_id).get()
    return snapshot.to_dict() if snapshot.exists else None


def _audit_text(admin: AdminStack, tenant_id: str) -> str:
    return json.dumps(admin.audit(tenant_id), default=str)


@pytest.mark.parametrize("provider", sorted(VALID_CHANNELS))
def test_a_channel_keeps_its_secret_values_out_of_answers_firestore_and_the_audit_log(
    admin: AdminStack, owner: Owner, provider: str
) -> None:
    values = _secret_values(provider)
    body = {
        "provider": provider,
        "display_name": f"WhatsApp {provider}",
        "business_phone": "+5511999990000",
        "config": VALID_CHANNELS[provider]["config"],
        "secrets": values,
    }

    created = admin.api.post(owner.channels, owner.user, body)

    assert created.status_code == 201, created.text
    channel = created.json()
    channel_id = channel["channel_id"]
    assert channel_id.startswith(f"{provider}-")
    assert channel["provider"] == provider
    assert channel["enabled"] is True
    assert channel["display_name"] == f"WhatsApp {provider}"
    assert channel["secrets_set"] == sorted(values)
    assert channel["webhook_url"] == f"http://127.0.0.1:9/webhooks/{provider}/{channel_id}"
    for key, value in VALID_CHANNELS[provider]["config"].items():
        assert channel["config"][key] == value.rstrip("/")
    answers = [
        created.text,
        admin.api.get(owner.channels, owner.user).text,
        admin.api.get(f"{owner.channels}/{channel_id}", owner.user).text,
    ]
    document = _stored(admin, channel_id)
    assert document is not None
    audit = _audit_text(admin, owner.tenant_id)
    for value in values.values():
        for answer in answers:
            assert value not in answer
        assert value not in json.dumps(document, default=str)
        assert value not in audit
    assert document["tenant_id"] == owner.tenant_id
    assert document["secrets"] == {
        role: f"local:piloto-channel-{channel_id}-{role}" for role in values
    }
    secrets_file = json.loads(admin.secrets_file.read_text())
    for role, value in values.items():
        assert secrets_file[f"piloto-channel-{channel_id}-{role}"] == value
        assert resolve_secret(document["secrets"][role], admin.project_id) == value
    assert stat.S_IMODE(admin.secrets_file.stat().st_mode) == 0o600
    # What the webhook and the sender read: a valid channel record.
    record = Channel.from_document(channel_id, document)
    assert record.tenant_id == owner.tenant_id
    if provider == "twilio":
        assert record.config["webhook_url"] == channel["webhook_url"]
    entry = next(e for e in admin.audit(owner.tenant_id) if e["target"] == f"channels/{channel_id}")
    assert entry["action"] == "channel.create"
    assert entry["actor_uid"] == owner.user.uid
    assert entry["after"]["secrets"] == sorted(values)


def _create(admin: AdminStack, owner: Owner, provider: str = "zapi") -> tuple[str, dict[str, str]]:
    values = _secret_values(provider)
    body = {"provider": provider, "config": VALID_CHANNELS[provider]["config"], "secrets": values}
    created = admin.api.post(owner.channels, owner.user, body)
    assert created.status_code == 201, created.text
    return str(created.json()["channel_id"]), values


def test_changing_one_secret_changes_its_value_and_keeps_the_others(
    admin: AdminStack, owner: Owner
) -> None:
    channel_id, values = _create(admin, owner)
    new_value = f"rotated-{uuid.uuid4().hex}"

    changed = admin.api.patch(
        f"{owner.channels}/{channel_id}", owner.user, {"secrets": {"client_token": new_value}}
    )

    assert changed.status_code == 200, changed.text
    assert new_value not in changed.text
    assert changed.json()["secrets_set"] == ["client_token", "instance_token"]
    document = _stored(admin, channel_id)
    assert document is not None
    resolved = {
        role: resolve_secret(reference, admin.project_id)
        for role, reference in document["secrets"].items()
    }
    assert resolved == {"client_token": new_value, "instance_token": values["instance_token"]}
    entry = admin.audit(owner.tenant_id)[-1]
    assert entry["action"] == "channel.update"
    assert entry["after"] == {"secrets": ["client_token", "instance_token"]}
    assert new_value not in _audit_text(admin, owner.tenant_id)


def test_settings_change_and_the_channel_can_be_disabled(admin: AdminStack, owner: Owner) -> None:
    channel_id, _ = _create(admin, owner, "evolution")
    path = f"{owner.channels}/{channel_id}"

    renamed = admin.api.patch(
        path, owner.user, {"display_name": "Recepção", "config": {"instance": "recepcao"}}
    )
    assert renamed.status_code == 200
    assert renamed.json()["display_name"] == "Recepção"
    assert renamed.json()["config"] == {
        "instance": "recepcao",
        "api_base_url": "http://127.0.0.1:9",
    }

    disabled = admin.api.patch(path, owner.user, {"enabled": False})

    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    document = _stored(admin, channel_id)
    assert document is not None
    assert Channel.from_document(channel_id, document).enabled is False
    entry = admin.audit(owner.tenant_id)[-1]
    assert (entry["action"], entry["before"], entry["after"]) == (
        "channel.update",
        {"enabled": True},
        {"enabled": False},
    )


def test_a_null_enabled_does_not_corrupt_the_channel(admin: AdminStack, owner: Owner) -> None:
    channel_id, _ = _create(admin, owner)
    path = f"{owner.channels}/{channel_id}"

    answer = admin.api.patch(path, owner.user, {"enabled": None})

    assert answer.status_code in (200, 422), answer.text
    document = _stored(admin, channel_id)
    assert document is not None
    assert Channel.from_document(channel_id, document).enabled is True
    assert admin.api.get(path, owner.user).json()["enabled"] is True


def test_deleting_a_channel_removes_its_document_and_its_secrets(
    admin: AdminStack, owner: Owner
) -> None:
    channel_id, values = _create(admin, owner, "meta")
    other_id, other_values = _create(admin, owner, "zapi")

    deleted = admin.api.delete(f"{owner.channels}/{channel_id}", owner.user)

    assert deleted.status_code == 204
    assert _stored(admin, channel_id) is None
    secrets_file = json.loads(admin.secrets_file.read_text())
    assert not [name for name in secrets_file if channel_id in name]
    for value in values.values():
        assert value not in admin.secrets_file.read_text()
    for role, value in other_values.items():
        assert secrets_file[f"piloto-channel-{other_id}-{role}"] == value
    assert admin.api.get(f"{owner.channels}/{channel_id}", owner.user).status_code == 404
    listed = [c["channel_id"] for c in admin.api.get(owner.channels, owner.user).json()["channels"]]
    assert channel_id not in listed
    assert other_id in listed
    entry = admin.audit(owner.tenant_id)[-1]
    assert entry["action"] == "channel.delete"
    assert entry["before"]["secrets"] == sorted(values)
    assert admin.api.delete(f"{owner.channels}/{channel_id}", owner.user).status_code == 404


def test_an_admin_manages_channels_too(admin: AdminStack, owner: Owner) -> None:
    manager = admin.auth.sign_up("admin", verified=True)
    admin.join(owner.user, owner.tenant_id, manager, "admin")
    body = {"provider": "evolution", **VALID_CHANNELS["evolution"]}

    created = admin.api.post(owner.channels, manager, body)

    assert created.status_code == 201
    assert admin.audit(owner.tenant_id)[-1]["actor_uid"] == manager.uid
