"""Firestore query filters, spelled the way the client library prefers (``filter=``)."""

from __future__ import annotations

from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter


def equal(field_path: str, value: Any) -> FieldFilter:
    """Return the filter ``field_path == value`` (``None`` matches a stored null)."""
    return FieldFilter(field_path, "==", value)
