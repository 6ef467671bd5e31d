"""Cloud Run function ``webhook``: WhatsApp providers POST here; events go to Pub/Sub.

Routes: ``POST /webhooks/{provider}/{channel_id}`` and ``GET /webhooks/meta/{channel_id}``
(Meta's verification handshake). The work happens in ``shared.webhooks``; this module only
turns the Flask request into a ``WebhookRequest`` and the answer into a Flask response.
It must stay light: no LangGraph, LangChain or gRPC client import on this path (cold start).
"""

from __future__ import annotations

import threading
from typing import Any

import flask
import functions_framework

from shared.channels.base import WebhookRequest
from shared.logs import bind_trace, configure_logging
from shared.settings import Settings, get_settings
from shared.webhooks import WebhookHandler, build_webhook_handler

configure_logging()

_handler: WebhookHandler | None = None
_handler_lock = threading.Lock()


def _get_handler() -> WebhookHandler:
    """Build the handler on first use, inside the serving process (after gunicorn's fork)."""
    global _handler
    with _handler_lock:
        if _handler is None:
            _handler = build_webhook_handler(get_settings())
        return _handler


def to_webhook_request(request: flask.Request, settings: Settings) -> WebhookRequest:
    """Copy what the adapters need, reading at most one byte past the body limit."""
    limit = settings.max_webhook_body_bytes
    declared = request.content_length
    oversized = declared is not None and declared > limit
    body = b"" if oversized else request.stream.read(limit + 1)
    url = request.url
    if settings.public_base_url:  # what the provider signed, not what Cloud Run sees
        query = request.query_string.decode("latin-1")
        url = settings.public_base_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    return WebhookRequest(
        method=request.method,
        url=url,
        body=body,
        headers={key.lower(): value for key, value in request.headers.items()},
        query=request.args.to_dict(flat=True),
        oversized=oversized or len(body) > limit,
    )


@functions_framework.http
def webhook(request: flask.Request) -> Any:
    """Receive one provider webhook and answer once its events are safely on Pub/Sub."""
    settings = get_settings()
    bind_trace(request.headers.get("X-Cloud-Trace-Context"), settings.project_id)
    answer = _get_handler().handle(to_webhook_request(request, settings), request.path)
    return flask.Response(
        answer.body, status=answer.status, content_type=answer.content_type, headers=answer.headers
    )
