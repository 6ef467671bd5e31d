"""Cloud Run function ``digest``: Cloud Scheduler POSTs it every hour.

An empty body (or ``{}``) sends yesterday's digest to the owners of every tenant whose local
hour is ``PILOTO_DIGEST_HOUR`` now; ``{"tenant_id": "...", "date": "YYYY-MM-DD"}`` sends one
tenant's digest of that day (tests and operations). Each digest is made once per tenant and day
(``digests/{date}``), so a repeated call notifies nobody twice. A malformed body is a 400, an
unknown tenant a 404, a failure a 503 (Cloud Scheduler retries).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import flask
import functions_framework
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.logs import configure_logging
from shared.notifications.digest import run_hour, send_digest
from shared.notifications.plan import ScheduleDelivery
from shared.settings import get_settings

configure_logging()
logger = logging.getLogger("piloto.digest")

_state: dict[str, Any] = {}
_lock = threading.Lock()


class DigestRequest(BaseModel):
    """One tenant's digest of one day."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=100)
    date: date


def _clients() -> tuple[Any, ScheduleDelivery | None]:
    with _lock:
        if not _state:
            from shared.integrations.dispatch import delivery_scheduler
            from shared.store.firestore import firestore_client

            settings = get_settings()
            _state["firestore"] = firestore_client(settings.project_id)
            _state["schedule"] = delivery_scheduler(settings)
        return _state["firestore"], _state["schedule"]


def _answer(http_status: int, **payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), status=http_status, content_type="application/json")


@functions_framework.http
def digest(request: flask.Request) -> Any:
    """Send the daily digests due this hour, or one tenant's digest of one day."""
    if request.method != "POST":
        return _answer(405, error="the digest is POSTed by Cloud Scheduler")
    raw = request.get_data(cache=False)[: 16 * 1024].strip()
    wanted: DigestRequest | None = None
    if raw and raw != b"{}":
        try:
            wanted = DigestRequest.model_validate_json(raw)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "body"
            logger.warning("digest request rejected", extra={"status": 400, "field": where})
            return _answer(400, error=f"{where}: {problem['msg']}", field=where)
    settings = get_settings()
    now = datetime.now(UTC)
    try:
        client, schedule = _clients()
        if wanted is not None:
            result = send_digest(
                client,
                wanted.tenant_id,
                wanted.date,
                now,
                plans_file=settings.plans_file,
                schedule=schedule,
            )
            return _answer(200, digests=[asdict(result)])
        results = run_hour(
            client,
            now,
            digest_hour=settings.digest_hour,
            plans_file=settings.plans_file,
            schedule=schedule,
        )
    except LookupError as error:
        return _answer(404, error=str(error))
    except Exception:
        logger.exception("digest run failed")
        return _answer(503, error="digest failed; Cloud Scheduler will retry")
    return _answer(200, digests=[asdict(result) for result in results])
