"""Cloud Run function ``turn``: Cloud Tasks delivers each debounced turn here.

The body is a ``TurnRequest`` (tenant, conversation, inbound sequence). A malformed body is a
400 (Cloud Tasks stops retrying it); a failure is a 503 so Cloud Tasks retries; the turn itself
is safe to repeat (a superseded or already-decided turn changes nothing it should not).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import flask
import functions_framework

from shared.engine import build_turn_runner
from shared.events.tasks import TurnRequest
from shared.logs import configure_logging
from shared.settings import get_settings
from shared.turns import TurnRunner

configure_logging()
logger = logging.getLogger("piloto.turn")

_runner: TurnRunner | None = None
_runner_lock = threading.Lock()


def _get_runner() -> TurnRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = build_turn_runner(get_settings())
        return _runner


def _answer(http_status: int, **payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), status=http_status, content_type="application/json")


@functions_framework.http
def turn(request: flask.Request) -> Any:
    """Run one due turn."""
    if request.method != "POST":
        return _answer(405, error="turns are POSTed by Cloud Tasks")
    try:
        due = TurnRequest.from_json(request.get_data(cache=False)[: 64 * 1024])
    except ValueError as error:
        logger.warning("turn rejected: %s", error, extra={"status": 400})
        return _answer(400, error=str(error))
    try:
        result = _get_runner().run(due)
    except Exception:
        logger.exception("turn failed", extra={"conversation_id": due.conversation_id})
        return _answer(503, error="turn failed; Cloud Tasks will retry")
    decision = result.decision
    return _answer(
        200,
        status=result.status,
        decision_id=decision.decision_id if decision else None,
        action=decision.action if decision else None,
    )
