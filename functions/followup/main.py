"""Cloud Run function ``followup``: Cloud Tasks delivers each follow-up step here.

The body is a ``FollowupRequest`` (tenant, conversation, cadence generation and step, the lead's
inbound sequence, and ``kind``: ``followup``, or ``inactivity`` for the check that records
INACTIVITY_2H and publishes it to ``insight-events``; ``seller_inactivity`` is read as
``inactivity``). A malformed body is a 400 (Cloud Tasks stops retrying it); a failure (a publish
too) is a 503 so Cloud Tasks retries; the step itself is safe to repeat (a task whose
conversation moved on, or whose step was taken, changes nothing; a recorded inactivity is
published again under the same event id).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import flask
import functions_framework

from shared.engine import build_followup_runner
from shared.events.tasks import FollowupRequest
from shared.followups import FollowupRunner
from shared.logs import configure_logging
from shared.settings import get_settings

configure_logging()
logger = logging.getLogger("piloto.followup")

_runner: FollowupRunner | None = None
_runner_lock = threading.Lock()


def _get_runner() -> FollowupRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = build_followup_runner(get_settings())
        return _runner


def _answer(http_status: int, **payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), status=http_status, content_type="application/json")


@functions_framework.http
def followup(request: flask.Request) -> Any:
    """Run one due follow-up step or inactivity check."""
    if request.method != "POST":
        return _answer(405, error="follow-ups are POSTed by Cloud Tasks")
    try:
        due = FollowupRequest.from_json(request.get_data(cache=False)[: 64 * 1024])
    except ValueError as error:
        logger.warning("follow-up rejected: %s", error, extra={"status": 400})
        return _answer(400, error=str(error))
    try:
        result = _get_runner().run(due)
    except Exception:
        logger.exception("follow-up failed", extra={"conversation_id": due.conversation_id})
        return _answer(503, error="follow-up failed; Cloud Tasks will retry")
    decision = result.decision
    return _answer(
        200,
        status=result.status,
        reason=result.reason,
        decision_id=decision.decision_id if decision else None,
        action=decision.action if decision else None,
        next_at=result.next_at.isoformat() if result.next_at else None,
    )
