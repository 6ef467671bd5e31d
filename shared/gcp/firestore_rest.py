"""Read single Firestore documents over the REST API: the webhook's light, fast lookup.

The full ``google-cloud-firestore`` client costs ~150 ms to import, which the webhook pays at
every cold start; one document read does not need it. Everything that writes, queries or runs
transactions uses the official client (``shared.store.firestore``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.gcp.auth import Authorizer
from shared.gcp.http import HttpClient, HttpFailed


class FirestoreUnavailable(RuntimeError):
    """Firestore did not answer the read (network, permissions, quota)."""


def decode_value(value: dict[str, Any]) -> Any:
    """Turn one Firestore REST typed value into plain Python."""
    if "mapValue" in value:
        return decode_fields(value["mapValue"].get("fields", {}))
    if "arrayValue" in value:
        return [decode_value(item) for item in value["arrayValue"].get("values", [])]
    if "integerValue" in value:
        return int(value["integerValue"])
    if "nullValue" in value:
        return None
    for kind in ("stringValue", "booleanValue", "doubleValue", "timestampValue", "bytesValue"):
        if kind in value:
            return value[kind]
    if "referenceValue" in value:
        return value["referenceValue"]
    if "geoPointValue" in value:
        return dict(value["geoPointValue"])
    raise ValueError(f"unknown Firestore value type {sorted(value)}")


def decode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Turn a Firestore REST ``fields`` object into a plain dict."""
    return {name: decode_value(value) for name, value in fields.items()}


class FirestoreDocuments:
    """Get documents by path from one Firestore database."""

    def __init__(
        self,
        http: HttpClient,
        tokens: Authorizer,
        *,
        project_id: str,
        database: str = "(default)",
        base_url: str = "https://firestore.googleapis.com",
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._documents_url = (
            f"{base_url.rstrip('/')}/v1/projects/{project_id}/databases/{database}/documents"
        )

    def get(self, path: str) -> dict[str, Any] | None:
        """Return the document at ``collection/id[/...]`` as a dict, or None if it is missing."""
        url = f"{self._documents_url}/{quote(path, safe='/')}"
        try:
            answer = self._http.get(url, headers={"Authorization": self._tokens.authorization()})
        except HttpFailed as error:
            raise FirestoreUnavailable(f"GET {path}: {error}") from error
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise FirestoreUnavailable(f"GET {path}: {answer.status} {answer.body[:200]!r}")
        return decode_fields(answer.json().get("fields", {}))
