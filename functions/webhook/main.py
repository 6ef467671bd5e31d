"""Cloud Run function ``webhook``: WhatsApp providers POST here; events go to Pub/Sub.

Routes: ``POST /webhooks/{provider}/{channel_id}`` and ``GET /webhooks/meta/{channel_id}``
(Meta's verification handshake). The work happens in ``shared.webhooks``; this module only
turns the Flask request into a ``WebhookRequest`` and the answer into a Flask response.
It must stay light: no LangGraph or LangChain import on this path (cold start).
"""

from __future__ import annotations

import threading
from typing import Any

import flask
import functions_framework

from shared.channels.base import WebhookRequest
from shared.events.publisher import PubSubEventPublisher
from shared.logs import bind_trace, configure_logging
from shared.settings import get_settings
from shared.store.channels import ChannelDirectory, read_channel
from shared.store.firestore import firestore_client
from shared.webhooks import WebhookHandler

configure_logging()

_handler: WebhookHandler | None = None
_handler_lock = threading.Lock()


def _get_handler() -> WebhookHandler:
    """Build the handler on first use, inside the serving process (gRPC clients and fork)."""
    global _handler
    with _handler_lock:
        if _handler is None:
            settings = get_settings()
            client = firestore_client(settings.project_id)
            directory = ChannelDirectory(
                lambda channel_id: read_channel(client, channel_id),
                ttl_seconds=settings.channel_cache_seconds,
                missing_ttl_seconds=settings.unknown_channel_cache_seconds,
            )
            _handler = WebhookHandler(
                project_id=settings.project_id,
                find_channel=directory.get,
                sink=PubSubEventPublisher(
                    settings.project_id, settings.events_topic, settings.publish_timeout_seconds
                ),
                max_body_bytes=settings.max_webhook_body_bytes,
            )
        return _handler


def to_webhook_request(request: flask.Request, max_body_bytes: int) -> WebhookRequest:
    """Copy what the adapters need from a Flask request, reading at most one byte past the limit."""
    settings = get_settings()
    declared = request.content_length
    oversized = declared is not None and declared > max_body_bytes
    body = b"" if oversized else request.stream.read(max_body_bytes + 1)
    url = request.url
    if settings.public_base_url:
        query = request.query_string.decode("latin-1")
        url = settings.public_base_url.rstrip("/") + request.path + (f"?{query}" if query else "")
    return WebhookRequest(
        method=request.method,
        url=url,
        body=body,
        headers={key.lower(): value for key, value in request.headers.items()},
        query=request.args.to_dict(flat=True),
        oversized=oversized or len(body) > max_body_bytes,
    )


@functions_framework.http
def webhook(request: flask.Request) -> Any:
    """Receive one provider webhook and answer once its events are safely on Pub/Sub."""
    settings = get_settings()
    bind_trace(request.headers.get("X-Cloud-Trace-Context"), settings.project_id)
    handler = _get_handler()
    answer = handler.handle(
        to_webhook_request(request, settings.max_webhook_body_bytes), request.path
    )
    return flask.Response(
        answer.body, status=answer.status, content_type=answer.content_type, headers=answer.headers
    )
