"""Cloud Run function ``outbox``: Cloud Scheduler POSTs it every five minutes.

It publishes again, on ``business-events``, every business event still unpublished a few minutes
after it happened (``shared.integrations.outbox.sweep_outbox``): the change that caused it
committed, but its publish failed after the commit (an admin action that had already answered,
an instance that stopped). Consumers drop duplicates by event id, so a repeated run is harmless.
The body must be empty or ``{}`` (anything else is a 400); a failure is a 503 (Cloud Scheduler
retries).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework

from shared.integrations.outbox import PublishEvents, sweep_outbox
from shared.logs import configure_logging
from shared.settings import get_settings

configure_logging()
logger = logging.getLogger("piloto.outbox")

_state: dict[str, Any] = {}
_lock = threading.Lock()


def _clients() -> tuple[Any, PublishEvents]:
    with _lock:
        if not _state:
            from shared.integrations.publish import business_event_publisher
            from shared.store.firestore import firestore_client

            settings = get_settings()
            _state["firestore"] = firestore_client(settings.project_id)
            _state["publish"] = business_event_publisher(settings)
        return _state["firestore"], _state["publish"]


def _answer(http_status: int, **payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), status=http_status, content_type="application/json")


@functions_framework.http
def outbox(request: flask.Request) -> Any:
    """Publish again the business events whose publish failed after their commit."""
    if request.method != "POST":
        return _answer(405, error="the outbox sweep is POSTed by Cloud Scheduler")
    raw = request.get_data(cache=False)[:1024].strip()
    if raw and raw != b"{}":
        logger.warning("outbox sweep request rejected", extra={"status": 400})
        return _answer(400, error="the body must be empty or {}")
    try:
        client, publish = _clients()
        result = sweep_outbox(client, publish, datetime.now(UTC))
    except Exception:
        logger.exception("outbox sweep failed")
        return _answer(503, error="outbox sweep failed; Cloud Scheduler will retry")
    return _answer(200, **asdict(result))
