"""Cloud Run function ``integrations``: Pub/Sub pushes each ``business-events`` message here.

functions-framework turns the raw Pub/Sub push into a CloudEvent; ``shared.integrations.
dispatch`` fans the event out into deliveries (matching webhook endpoints, the CRM, e-mail
notifications), each created once and put on Cloud Tasks for the ``delivery`` function. A
message that is not an event is logged and acknowledged; an exception makes Pub/Sub redeliver
(deliveries already made are found, not made twice).
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import functions_framework

from shared.integrations.dispatch import Dispatcher, build_dispatcher
from shared.logs import configure_logging
from shared.settings import get_settings

configure_logging()

_dispatcher: Dispatcher | None = None
_dispatcher_lock = threading.Lock()


def _get_dispatcher() -> Dispatcher:
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = build_dispatcher(get_settings())
        return _dispatcher


@functions_framework.cloud_event
def integrations(cloud_event: Any) -> None:
    """Fan one business event from Pub/Sub out into its deliveries."""
    message = (cloud_event.data or {}).get("message", {})
    try:
        data = base64.b64decode(message.get("data", ""), validate=True)
    except ValueError:
        data = b""
    _get_dispatcher().on_message(data)
