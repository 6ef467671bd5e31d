"""The pooled HTTP client of the webhook's hot path, on the standard library's ``http.client``.

It costs nothing to import (Flask already loaded ``http.client``) and builds a TLS context only
when it first opens an https connection; httpx would add ~55 ms to every cold start (import
plus an eager TLS context) and urllib3 ~10 ms. Other functions use httpx.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_Origin = tuple[str, str, int]


class HttpFailed(RuntimeError):
    """The request did not get an answer (connection, timeout, TLS)."""


@dataclass(frozen=True)
class HttpAnswer:
    """Status and body of an answered request."""

    status: int
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body)


class HttpClient:
    """A thread-safe keep-alive connection pool with one timeout for every call."""

    def __init__(self, timeout_seconds: float, max_idle_per_origin: int = 64) -> None:
        self._timeout = timeout_seconds
        self._max_idle = max_idle_per_origin
        self._idle: dict[_Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def get(self, url: str, headers: dict[str, str]) -> HttpAnswer:
        """GET ``url``."""
        return self._call("GET", url, headers, None)

    def post_json(self, url: str, document: Any, headers: dict[str, str]) -> HttpAnswer:
        """POST ``document`` as JSON to ``url``."""
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return self._call("POST", url, {**headers, "Content-Type": "application/json"}, body)

    def _call(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> HttpAnswer:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpFailed(f"{method} {url}: not an http(s) URL")
        origin = (
            parts.scheme,
            parts.hostname,
            parts.port or (443 if parts.scheme == "https" else 80),
        )
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        while True:
            connection, reused = self._checkout(origin)
            try:
                connection.request(method, target, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if reused:  # the server closed an idle keep-alive connection: use a new one
                    continue
                raise HttpFailed(f"{method} {url}: {type(error).__name__}: {error}") from error
            if response.will_close:
                connection.close()
            else:
                self._checkin(origin, connection)
            return HttpAnswer(status=response.status, body=data)

    def _checkout(self, origin: _Origin) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(origin)
            if idle:
                return idle.pop(), True
        scheme, host, port = origin
        if scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self._timeout), False
        with self._lock:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            context = self._tls
        return http.client.HTTPSConnection(
            host, port, timeout=self._timeout, context=context
        ), False

    def _checkin(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()
