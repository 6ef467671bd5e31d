"""Where channel secrets go: the local file (development) or Secret Manager (production)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists, NotFound

from shared.secret_store import (
    LocalSecretStore,
    SecretManagerStore,
    channel_secret_name,
    read_local_secret,
)
from shared.secrets import SecretUnavailable, resolve_secret


def test_the_local_store_keeps_values_in_an_owner_only_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "runtime" / "secrets.json"
    monkeypatch.setenv("PILOTO_LOCAL_SECRETS_FILE", str(path))
    store = LocalSecretStore()

    reference = store.put(channel_secret_name("zapi-1", "client_token"), "s3cr3t")
    store.put("other", "x")

    assert reference == "local:piloto-channel-zapi-1-client_token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "other": "x",
        "piloto-channel-zapi-1-client_token": "s3cr3t",
    }
    assert resolve_secret(reference, "demo-p") == "s3cr3t"
    store.put("other", "y")
    assert read_local_secret("other") == "y"


def test_a_deleted_local_secret_no_longer_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PILOTO_LOCAL_SECRETS_FILE", str(tmp_path / "secrets.json"))
    store = LocalSecretStore()
    reference = store.put("gone", "v")

    store.delete("gone")
    store.delete("never-there")

    with pytest.raises(SecretUnavailable, match="local:gone"):
        resolve_secret(reference, "demo-p")


def test_a_corrupt_local_file_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text("{not json")
    store = LocalSecretStore(path)

    store.put("a", "1")

    assert json.loads(path.read_text()) == {"a": "1"}


class FakeSecretManager:
    def __init__(self) -> None:
        self.secrets: dict[str, list[bytes]] = {}
        self.calls: list[str] = []

    def create_secret(self, request: dict[str, Any]) -> None:
        self.calls.append("create")
        name = f"{request['parent']}/secrets/{request['secret_id']}"
        if name in self.secrets:
            raise AlreadyExists("exists")
        assert request["secret"]["replication"] == {"automatic": {}}
        self.secrets[name] = []

    def add_secret_version(self, request: dict[str, Any]) -> SimpleNamespace:
        self.calls.append("add")
        versions = self.secrets[request["parent"]]
        versions.append(request["payload"]["data"])
        return SimpleNamespace(name=f"{request['parent']}/versions/{len(versions)}")

    def delete_secret(self, request: dict[str, Any]) -> None:
        self.calls.append("delete")
        if request["name"] not in self.secrets:
            raise NotFound("missing")
        del self.secrets[request["name"]]


def test_secret_manager_adds_a_version_per_save_and_returns_its_name() -> None:
    client = FakeSecretManager()
    store = SecretManagerStore("prod-p", client)

    first = store.put("piloto-channel-meta-1-access_token", "v1")
    second = store.put("piloto-channel-meta-1-access_token", "v2")

    secret = "projects/prod-p/secrets/piloto-channel-meta-1-access_token"
    assert first == f"{secret}/versions/1"
    assert second == f"{secret}/versions/2"
    assert client.secrets[secret] == [b"v1", b"v2"]
    store.delete("piloto-channel-meta-1-access_token")
    store.delete("piloto-channel-meta-1-access_token")
    assert client.secrets == {}
