"""Cloud Run function ``reminder``: Cloud Tasks delivers each meeting reminder here.

The body is a ``ReminderRequest`` (tenant, booking, the start it was scheduled for). A malformed
body is a 400 (Cloud Tasks stops retrying it); a failure (a publish too) is a 503 so Cloud
Tasks retries; the reminder itself is safe to repeat (one decision per booking and start,
created in the transaction that marks the booking reminded; a retry publishes it again).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import flask
import functions_framework

from shared.logs import configure_logging
from shared.scheduling.reminders import ReminderRequest, ReminderRunner, build_reminder_runner
from shared.settings import get_settings

configure_logging()
logger = logging.getLogger("piloto.reminder")

_runner: ReminderRunner | None = None
_runner_lock = threading.Lock()


def _get_runner() -> ReminderRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = build_reminder_runner(get_settings())
        return _runner


def _answer(http_status: int, **payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), status=http_status, content_type="application/json")


@functions_framework.http
def reminder(request: flask.Request) -> Any:
    """Run one due meeting reminder."""
    if request.method != "POST":
        return _answer(405, error="reminders are POSTed by Cloud Tasks")
    try:
        due = ReminderRequest.from_json(request.get_data(cache=False)[: 64 * 1024])
    except ValueError as error:
        logger.warning("reminder rejected: %s", error, extra={"status": 400})
        return _answer(400, error=str(error))
    try:
        result = _get_runner().run(due)
    except Exception:
        logger.exception("reminder failed", extra={"booking_id": due.booking_id})
        return _answer(503, error="reminder failed; Cloud Tasks will retry")
    decision = result.decision
    return _answer(
        200,
        status=result.status,
        reason=result.reason,
        decision_id=decision.decision_id if decision else None,
        action=decision.action if decision else None,
    )
