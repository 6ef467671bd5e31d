"""Cloud Run function ``sender``: Pub/Sub pushes each ``outbound-messages`` message here.

An HTTP function rather than a CloudEvent one, so the answer tells Pub/Sub what to do: 200 when
the message is done with (sent, a redelivery, held by the policy, or a recorded failure), 429
when the channel's send rate asks for later (Pub/Sub redelivers with backoff), 400 with the
reason when the push is not an outbound message (the dead-letter topic keeps it), 503 when
something failed before the message was claimed (redelivered; the ledger prevents a double
send).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from typing import Any

import flask
import functions_framework

from shared.logs import configure_logging
from shared.sender import OutboundJob, Sender, build_sender
from shared.settings import get_settings

configure_logging()
logger = logging.getLogger("piloto.sender")

MAX_BODY_BYTES = 256 * 1024
_sender: Sender | None = None
_sender_lock = threading.Lock()


def _get_sender() -> Sender:
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = build_sender(get_settings())
        return _sender


def _answer(http_status: int, **payload: object) -> flask.Response:
    return flask.Response(json.dumps(payload), status=http_status, content_type="application/json")


def parse_push(body: bytes) -> OutboundJob:
    """Return the job in a Pub/Sub push body, or raise ValueError naming what is wrong."""
    try:
        envelope = json.loads(body)
    except ValueError as error:
        raise ValueError(f"body is not JSON: {error}") from error
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise ValueError("not a Pub/Sub push: message.data is missing")
    try:
        data = base64.b64decode(message["data"], validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"message.data is not base64: {error}") from error
    return OutboundJob.from_json(data)


@functions_framework.http
def sender(request: flask.Request) -> Any:
    """Send one outbound message."""
    if request.method != "POST":
        return _answer(405, error="outbound messages are POSTed by Pub/Sub")
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, error=f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        job = parse_push(body)
    except ValueError as error:
        logger.warning("outbound message rejected: %s", error, extra={"status": 400})
        return _answer(400, error=str(error))
    try:
        outcome = _get_sender().handle(job)
    except Exception:
        logger.exception("send failed", extra={"outbound_key": job.key})
        return _answer(503, error="send failed; Pub/Sub will redeliver")
    if outcome.status == "deferred":
        return _answer(429, status=outcome.status, reasons=list(outcome.reasons))
    return _answer(
        200,
        status=outcome.status,
        reasons=list(outcome.reasons),
        provider_message_id=outcome.provider_message_id,
        error_code=outcome.error_code,
    )
