"""Cloud Run function ``agent``: Pub/Sub pushes each conversation event here.

functions-framework turns the raw Pub/Sub push into a CloudEvent; ``shared.engine`` takes the
event in exactly once and schedules the debounced turn. A lead's media (voice note, image,
video, document) is fetched from the provider and understood here first (``shared.media``), so
the push can take a few seconds (a push slower than the subscription's ack deadline is
redelivered, and the media work redone). An exception makes Pub/Sub redeliver (intake is
idempotent, and media left pending is redone); a message that is not an event is logged and
acknowledged.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import functions_framework

from shared.engine import Engine, build_engine
from shared.logs import configure_logging
from shared.settings import get_settings

configure_logging()

_engine: Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = build_engine(get_settings())
        return _engine


@functions_framework.cloud_event
def agent(cloud_event: Any) -> None:
    """Take in one conversation event from Pub/Sub."""
    message = (cloud_event.data or {}).get("message", {})
    try:
        data = base64.b64decode(message.get("data", ""), validate=True)
    except ValueError:
        data = b""
    _get_engine().on_event(data)
