"""OAuth access tokens for Google REST APIs, light enough for the webhook's cold start.

On the emulators no token is needed. On Cloud Run the token comes from the metadata server (one
small HTTP call, cached until shortly before it expires). Anywhere else Application Default
Credentials are used through ``google-auth`` (imported only then).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Protocol

from shared.gcp.http import HttpClient, HttpFailed

METADATA_TOKEN_URL = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"  # noqa: S105
)
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_REFRESH_MARGIN_SECONDS = 120.0


class Authorizer(Protocol):
    """Something that returns the value of an Authorization header for a Google API."""

    def authorization(self) -> str: ...


class AccessTokenUnavailable(RuntimeError):
    """No access token could be obtained (metadata server or credentials unavailable)."""


class AccessTokens:
    """Hand out a valid bearer token, refreshing it before it expires; thread-safe."""

    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._credentials: Any = None

    def authorization(self) -> str:
        """Return the value of the Authorization header for a Google API call."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, lifetime = self._fetch()
                self._expires_at = time.monotonic() + max(lifetime - _REFRESH_MARGIN_SECONDS, 1.0)
            return f"Bearer {self._token}"

    def _fetch(self) -> tuple[str, float]:
        if os.environ.get("K_SERVICE"):  # Cloud Run: the metadata server is local and fast
            try:
                answer = self._http.get(METADATA_TOKEN_URL, headers={"Metadata-Flavor": "Google"})
                if answer.status != 200:
                    raise HttpFailed(f"metadata server answered {answer.status}")
                body = answer.json()
                return str(body["access_token"]), float(body["expires_in"])
            except (HttpFailed, KeyError, ValueError) as error:
                raise AccessTokenUnavailable(f"metadata server token: {error}") from error
        return self._from_default_credentials()

    def _from_default_credentials(self) -> tuple[str, float]:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests

        try:
            if self._credentials is None:
                self._credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
            self._credentials.refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.GoogleAuthError as error:
            raise AccessTokenUnavailable(f"application default credentials: {error}") from error
        expiry = self._credentials.expiry
        lifetime = 3600.0
        if expiry is not None:
            from datetime import UTC, datetime

            lifetime = (expiry.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()
        return str(self._credentials.token), lifetime


class EmulatorTokens:
    """The emulators accept any token; Firestore's treats ``owner`` as an admin."""

    def authorization(self) -> str:
        """Return the admin bearer the Firestore emulator understands."""
        return "Bearer owner"
