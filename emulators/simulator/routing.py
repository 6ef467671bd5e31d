"""The simulator's HTTP plumbing: requests, responses and a regex router over ``http.server``."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger("piloto.simulator")

MAX_BODY_BYTES = 10 * 1024 * 1024


class BadRequest(Exception):
    """The request body cannot be read as the route expects."""


@dataclass(frozen=True)
class Request:
    """One HTTP request: path, query, lower-cased headers and the raw body."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return a header by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        """Return the media type without parameters, lower-cased."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """Return the body parsed as JSON, or raise ``BadRequest``."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as error:
            raise BadRequest(f"body is not valid JSON: {error}") from error

    def json_object(self) -> dict[str, Any]:
        """Return the body as a JSON object, or raise ``BadRequest``."""
        document = self.json()
        if not isinstance(document, dict):
            raise BadRequest("body must be a JSON object")
        return document

    def form(self) -> dict[str, str]:
        """Return the body as an URL-encoded form (a repeated field keeps its first value)."""
        try:
            pairs = parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadRequest(f"body is not a valid form: {error}") from error
        form: dict[str, str] = {}
        for key, value in pairs:
            form.setdefault(key, value)
        return form


@dataclass(frozen=True)
class Response:
    """One HTTP answer."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(
    status: int, document: object, headers: Mapping[str, str] | None = None
) -> Response:
    """Return a JSON answer."""
    body = json.dumps(document, ensure_ascii=False).encode()
    return Response(status, body, "application/json", dict(headers or {}))


Handler = Callable[[Request, Mapping[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """A method and a full-path regular expression whose named groups become parameters."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Match a request to the first route whose pattern matches the whole path."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on paths matching ``pattern``."""
        self.routes.append(Route(method, re.compile(pattern), handler))

    def dispatch(self, request: Request) -> Response:
        """Answer the request: 404 when no path matches, 405 when no method does."""
        allowed: list[str] = []
        for route in self.routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            try:
                return route.handler(request, match.groupdict())
            except BadRequest as error:
                return json_response(400, {"error": str(error)})
        if allowed:
            return json_response(
                405,
                {"error": f"method {request.method} not allowed"},
                {"Allow": ", ".join(sorted(set(allowed)))},
            )
        return json_response(404, {"error": f"no route for {request.path}"})


class RoutedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose requests go to one ``Router``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], router: Router) -> None:
        self.router = router
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive answers otherwise wait ~40 ms for delayed ACKs
    server: RoutedHTTPServer

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(json_response(413, {"error": "body too large"}), close=True)
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.router.dispatch(request)
        except Exception:
            logger.exception("simulator route failed", extra={"path": request.path})
            response = json_response(500, {"error": "simulator bug: see its log"})
        self._write(response)

    def _write(self, response: Response, *, close: bool = False) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator request: " + format, *args)
