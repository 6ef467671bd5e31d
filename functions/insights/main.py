"""Cloud Run function ``insights``: Pub/Sub pushes each ``insight-events`` message here.

functions-framework turns the raw Pub/Sub push into a CloudEvent; ``shared.insights.runner``
runs the tenant's insight agents whose triggers match the event (throttled in a transaction)
and stores their insights. A message that is not an event is logged and acknowledged; an
exception makes Pub/Sub redeliver (a run admitted before is resumed, never counted twice).
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import functions_framework

from shared.insights.runner import InsightRunner, build_insight_runner
from shared.logs import configure_logging
from shared.settings import get_settings

configure_logging()

_runner: InsightRunner | None = None
_runner_lock = threading.Lock()


def _get_runner() -> InsightRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = build_insight_runner(get_settings())
        return _runner


@functions_framework.cloud_event
def insights(cloud_event: Any) -> None:
    """Run the insight agents of one insight event from Pub/Sub."""
    message = (cloud_event.data or {}).get("message", {})
    try:
        data = base64.b64decode(message.get("data", ""), validate=True)
    except ValueError:
        data = b""
    _get_runner().on_message(data)
