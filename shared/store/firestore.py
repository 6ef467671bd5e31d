"""The Firestore client, created once per process (after any fork) and shared."""

from __future__ import annotations

import threading
from typing import Any

_client: Any = None
_lock = threading.Lock()


def firestore_client(project_id: str) -> Any:
    """Return the process-wide Firestore client (the emulator if FIRESTORE_EMULATOR_HOST is set)."""
    global _client
    with _lock:
        if _client is None:
            from google.cloud import firestore

            _client = firestore.Client(project=project_id)
        return _client
