"""Cloud Run function ``delivery``: Cloud Tasks delivers each delivery attempt here.

The body is a ``DeliveryTask`` (``{"tenant_id", "delivery_id", "attempt"}``). A malformed body is
a 400 with nothing written (Cloud Tasks stops retrying it). Otherwise the answer is 200 whatever
the target did (the runner records the attempt and schedules the next one itself), 429 while
another instance holds the same attempt, and 503 only when Firestore is unreachable.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import flask
import functions_framework
from google.api_core.exceptions import GoogleAPICallError, RetryError
from pydantic import ValidationError

from shared.integrations.delivery import DeliveryBusy, DeliveryRunner, build_delivery_runner
from shared.integrations.models import DeliveryTask
from shared.logs import configure_logging
from shared.settings import get_settings

configure_logging()
logger = logging.getLogger("piloto.delivery")

MAX_BODY_BYTES = 16 * 1024

_runner: DeliveryRunner | None = None
_runner_lock = threading.Lock()


def _get_runner() -> DeliveryRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = build_delivery_runner(get_settings())
        return _runner


def _answer(code: int, **payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), status=code, content_type="application/json")


def parse_task(body: bytes) -> DeliveryTask:
    """Parse a task body, or raise ValueError naming what is wrong."""
    try:
        return DeliveryTask.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValueError(f"not a delivery task: {problems}") from None


@functions_framework.http
def delivery(request: flask.Request) -> Any:
    """Run one due delivery attempt."""
    if request.method != "POST":
        return _answer(405, error="deliveries are POSTed by Cloud Tasks")
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        return _answer(400, error="not a delivery task: the body is too large")
    try:
        task = parse_task(body)
    except ValueError as error:
        logger.warning("delivery task rejected: %s", error, extra={"status": 400})
        return _answer(400, error=str(error))
    try:
        result = _get_runner().run(task)
    except DeliveryBusy:
        return _answer(429, error="this attempt is under way elsewhere; Cloud Tasks will retry")
    except (GoogleAPICallError, RetryError):
        logger.exception("delivery: Firestore unreachable", extra={"delivery_id": task.delivery_id})
        return _answer(503, error="Firestore unreachable; Cloud Tasks will retry")
    return _answer(
        200,
        status=result.status,
        delivery_id=result.delivery_id,
        attempt=result.attempt,
        http_status=result.http_status,
        error=result.error,
        next_attempt_at=result.next_attempt_at.isoformat() if result.next_attempt_at else None,
    )
