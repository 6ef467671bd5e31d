"""Where the admin API puts the secrets users type in (provider tokens): never in Firestore.

- ``SecretManagerStore`` (production): one secret per channel and role, ``piloto-channel-{channel
  id}-{role}``; saving adds a version and returns that version's full resource name, so a new
  value is a new reference and no process serves a stale cached value.
- ``LocalSecretStore`` (local development): a JSON file readable only by its owner (``0600``) in
  the runtime directory, references ``local:NAME``; ``shared.secrets`` resolves them.

Both return references; channel documents store only those.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol

LOCAL_PREFIX = "local:"
LOCAL_FILE_VARIABLE = "PILOTO_LOCAL_SECRETS_FILE"
DEFAULT_LOCAL_FILE = ".piloto/secrets.json"


class SecretStore(Protocol):
    """Saves a secret value and returns the reference to store instead."""

    def put(self, name: str, value: str) -> str:
        """Save ``value`` under ``name``; return its reference."""

    def delete(self, name: str) -> None:
        """Forget the secret ``name`` (every version)."""


def channel_secret_name(channel_id: str, role: str) -> str:
    """Return the secret's name for one role of one channel."""
    return f"piloto-channel-{channel_id}-{role}"


def tenant_secret_name(tenant_id: str, purpose: str) -> str:
    """Return the secret's name for one of a tenant's integrations.

    ``purpose``: ``google-calendar`` (the OAuth refresh token), ``crm-token``,
    ``webhook-{endpoint_id}`` (a webhook endpoint's signing secret). One prefix, so Terraform
    can grant exactly the functions that use them access to these secrets and no others.
    """
    return f"piloto-tenant-{tenant_id}-{purpose}"


def local_secrets_path() -> Path:
    """Return the local secret file (``PILOTO_LOCAL_SECRETS_FILE``; .piloto/secrets.json)."""
    return Path(os.environ.get(LOCAL_FILE_VARIABLE) or DEFAULT_LOCAL_FILE)


def read_local_secret(name: str) -> str | None:
    """Return one secret of the local file, or None."""
    try:
        values = json.loads(local_secrets_path().read_text())
    except (OSError, ValueError):
        return None
    value = values.get(name) if isinstance(values, dict) else None
    return value if isinstance(value, str) else None


class LocalSecretStore:
    """Secrets in a local JSON file, for development and tests."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or local_secrets_path()
        self._lock = threading.Lock()

    def put(self, name: str, value: str) -> str:
        """Save ``value`` under ``name``; return ``local:NAME``."""
        with self._lock:
            values = self._read()
            values[name] = value
            self._write(values)
        return f"{LOCAL_PREFIX}{name}"

    def delete(self, name: str) -> None:
        """Forget ``name``."""
        with self._lock:
            values = self._read()
            if values.pop(name, None) is not None:
                self._write(values)

    def _read(self) -> dict[str, str]:
        try:
            values = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return values if isinstance(values, dict) else {}

    def _write(self, values: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(values, file, indent=2, sort_keys=True)
        os.replace(temporary, self.path)


class SecretManagerStore:
    """Secrets in Google Secret Manager (one secret per name, a version per save)."""

    def __init__(self, project_id: str, client: Any = None) -> None:
        self.project_id = project_id
        self._client = client

    @property
    def client(self) -> Any:
        """Return the Secret Manager client, created on first use."""
        if self._client is None:
            from google.cloud import secretmanager

            self._client = secretmanager.SecretManagerServiceClient()
        return self._client

    def put(self, name: str, value: str) -> str:
        """Add a version to ``name`` (creating the secret first); return the version's name."""
        from google.api_core.exceptions import AlreadyExists

        parent = f"projects/{self.project_id}"
        with contextlib.suppress(AlreadyExists):
            self.client.create_secret(
                request={
                    "parent": parent,
                    "secret_id": name,
                    "secret": {
                        "replication": {"automatic": {}},
                        "labels": {"managed-by": "piloto-admin"},
                    },
                }
            )
        version = self.client.add_secret_version(
            request={
                "parent": f"{parent}/secrets/{name}",
                "payload": {"data": value.encode("utf-8")},
            }
        )
        return str(version.name)

    def delete(self, name: str) -> None:
        """Delete the secret and all its versions (a missing one is fine)."""
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            self.client.delete_secret(
                request={"name": f"projects/{self.project_id}/secrets/{name}"}
            )
