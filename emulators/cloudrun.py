"""A local stand-in for the one Cloud Run Admin API call the Firebase Hosting emulator makes.

The production ``firebase.json`` rewrites ``/api/**`` to the Cloud Run service ``piloto-admin``
(``{"run": {"serviceId": "piloto-admin", "region": "southamerica-east1"}}``). The Hosting emulator
(firebase-tools, ``lib/hosting/cloudRunProxy.js``) resolves such a rewrite by asking the Cloud Run
Admin API ``GET {CLOUD_RUN_API_URL}/v1/projects/{project}/locations/{region}/services/{service}``
for ``status.url``, then proxies the request there with its path, method, headers and body. When
``CLOUD_RUN_API_URL`` is an ``http://`` URL it sends ``Authorization: Bearer owner`` instead of a
Google access token, so pointing it at this server makes the unchanged ``firebase.json`` reach a
function served on this machine, with no Google login and no network.

The registry maps a service id to a URL, whatever the project and region asked for, and can be
changed while the server runs (``register``, ``unregister``). The Hosting emulator caches the
URL it looked up (per region and service) for its whole lifetime, so register a service before
the first request that goes through its rewrite; pointing it elsewhere later needs a new Hosting
emulator. An unknown service gets Cloud Run's 404 in the Google API error shape, which the
emulator turns into a 500 for that request without caching anything.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
_SERVICE_PATH = re.compile(
    r"/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/services/(?P<service>[^/?]+)"
)
_SERVICE_ID = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
"""Cloud Run service names: lower-case letters, digits and hyphens, starting with a letter."""


@dataclass(frozen=True)
class ServiceLookup:
    """One ``GET .../services/{service}`` the stand-in answered, and the URL it gave (or None)."""

    project: str
    region: str
    service_id: str
    url: str | None


class LocalCloudRunApi:
    """Answer Cloud Run Admin API v1 ``services.get`` from a registry of local URLs; thread-safe."""

    def __init__(self, port: int = 0) -> None:
        self.requested_port = port
        self._services: dict[str, str] = {}
        self._lookups: list[ServiceLookup] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind 127.0.0.1 (port 0: a free one) and serve from a background thread."""
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer((LOOPBACK_HOST, self.requested_port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-cloud-run-api",
            daemon=True,
        )
        self._thread.start()
        logger.info("local Cloud Run Admin API listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving (stopping twice is harmless)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Return the bound port (the server must be started)."""
        if self._server is None:
            raise RuntimeError("the local Cloud Run Admin API is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the value for ``CLOUD_RUN_API_URL``, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{LOOPBACK_HOST}:{self.port}"

    def register(self, service_id: str, url: str) -> None:
        """Answer lookups of ``service_id`` with ``url`` (an origin such as http://127.0.0.1:8006)."""
        if not _SERVICE_ID.fullmatch(service_id):
            raise ValueError(
                f"{service_id!r} is not a Cloud Run service id (lower-case letters, digits and "
                "hyphens, starting with a letter, at most 63 characters)"
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} must be an http:// or https:// URL")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(
                f"{url!r} must be an origin without a path (Hosting appends the request's path, "
                "as Cloud Run's status.url has none)"
            )
        with self._lock:
            self._services[service_id] = f"{parts.scheme}://{parts.netloc}"

    def unregister(self, service_id: str) -> bool:
        """Forget ``service_id``; return whether it was registered."""
        with self._lock:
            return self._services.pop(service_id, None) is not None

    def services(self) -> dict[str, str]:
        """Return the registry: service id → URL."""
        with self._lock:
            return dict(self._services)

    def lookups(self) -> list[ServiceLookup]:
        """Return the service lookups answered so far, oldest first."""
        with self._lock:
            return list(self._lookups)

    def describe(self, project: str, region: str, service_id: str) -> tuple[int, dict[str, Any]]:
        """Return the status and JSON body of ``services.get`` for one service."""
        with self._lock:
            url = self._services.get(service_id)
            self._lookups.append(ServiceLookup(project, region, service_id, url))
        if url is None:
            return _google_error(
                HTTPStatus.NOT_FOUND,
                f"Resource '{service_id}' of kind 'SERVICE' in region '{region}' in project "
                f"'{project}' does not exist. Register it with LocalCloudRunApi.register.",
            )
        return HTTPStatus.OK, {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {
                "name": service_id,
                "namespace": project,
                "labels": {"cloud.googleapis.com/location": region},
            },
            "status": {
                "url": url,
                "address": {"url": url},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }


def _google_error(status: HTTPStatus, message: str) -> tuple[int, dict[str, Any]]:
    google_status = {
        HTTPStatus.NOT_FOUND: "NOT_FOUND",
        HTTPStatus.METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
    }.get(status, "UNKNOWN")
    return status, {"error": {"code": int(status), "message": message, "status": google_status}}


def _handler_for(api: LocalCloudRunApi) -> type[BaseHTTPRequestHandler]:
    class CloudRunApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            match = _SERVICE_PATH.fullmatch(urlsplit(self.path).path)
            if match is None:
                self._answer(
                    *_google_error(
                        HTTPStatus.NOT_FOUND,
                        f"{self.path} is not served here: only GET "
                        "/v1/projects/{project}/locations/{region}/services/{service}",
                    )
                )
                return
            self._answer(*api.describe(match["project"], match["region"], match["service"]))

        def do_POST(self) -> None:
            self._refuse()

        def do_PUT(self) -> None:
            self._refuse()

        def do_PATCH(self) -> None:
            self._refuse()

        def do_DELETE(self) -> None:
            self._refuse()

        def _refuse(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            self._answer(
                *_google_error(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    f"{self.command} is not served here: the stand-in only looks services up",
                )
            )

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("local Cloud Run Admin API: " + format, *args)

    return CloudRunApiHandler
