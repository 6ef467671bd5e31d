"""Resolve secret references: never store a secret's value, only where to find it.

References take two forms:

- ``env:NAME``: the value of environment variable NAME (local development, ``.env``).
- ``local:NAME``: a secret the admin API saved in the local secret file (local development,
  ``shared.secret_store.LocalSecretStore``).
- ``projects/P/secrets/S/versions/V`` or ``sm:S`` (latest version in the current project):
  Google Secret Manager.
"""

from __future__ import annotations

import os
import threading
from typing import Any


class SecretUnavailable(RuntimeError):
    """A referenced secret has no value: a configuration problem, not bad input."""


_cache: dict[str, str] = {}
_lock = threading.Lock()
_client: Any = None


def resolve_secret(reference: str, project_id: str) -> str:
    """Return the value a secret reference points to, cached per process."""
    if reference.startswith("env:"):
        name = reference.removeprefix("env:")
        value = os.environ.get(name)
        if not value:
            raise SecretUnavailable(f"environment variable {name} is not set")
        return value
    if reference.startswith("local:"):
        from shared.secret_store import local_secrets_path, read_local_secret

        local = read_local_secret(reference.removeprefix("local:"))
        if local is None:
            raise SecretUnavailable(f"{reference} is not in {local_secrets_path()}")
        return local
    with _lock:
        if reference in _cache:
            return _cache[reference]
    value = _read_secret_manager(_secret_version_name(reference, project_id))
    with _lock:
        _cache[reference] = value
    return value


def _secret_version_name(reference: str, project_id: str) -> str:
    if reference.startswith("sm:"):
        return f"projects/{project_id}/secrets/{reference.removeprefix('sm:')}/versions/latest"
    if reference.startswith("projects/") and "/secrets/" in reference:
        return reference if "/versions/" in reference else f"{reference}/versions/latest"
    raise SecretUnavailable(f"unsupported secret reference {reference!r}")


def _read_secret_manager(version_name: str) -> str:
    global _client
    from google.api_core import exceptions as google_exceptions
    from google.cloud import secretmanager

    if _client is None:
        _client = secretmanager.SecretManagerServiceClient()
    try:
        response = _client.access_secret_version(name=version_name)
    except google_exceptions.GoogleAPICallError as error:
        raise SecretUnavailable(f"cannot read {version_name}: {error}") from error
    return str(response.payload.data.decode("utf-8"))
