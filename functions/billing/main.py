"""Cloud Run function ``billing``: Stripe POSTs its webhook events here.

Public on purpose: the ``Stripe-Signature`` over the raw body is the authentication. The body
is read as raw bytes before anything parses it; ``shared.billing.webhooks.receive`` verifies
it, retrieves the subscription's current state from Stripe and applies it once, in order.
Answers: 200 {"status": applied|duplicate|stale|ignored|unknown_account}, 400 {"error"} for
bad input (nothing written), 405, 413, 503 when Stripe or Firestore cannot be used now
(Stripe delivers the event again).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import flask
import functions_framework

from shared.billing.webhooks import MAX_BODY_BYTES, BillingWebhook, build_billing_webhook, receive
from shared.logs import bind_trace, configure_logging
from shared.settings import get_settings

configure_logging()
logger = logging.getLogger("piloto.billing")

_webhook: BillingWebhook | None = None
_webhook_lock = threading.Lock()


def _get_webhook() -> BillingWebhook:
    """Build the wiring on first use, inside the serving process (after gunicorn's fork)."""
    global _webhook
    with _webhook_lock:
        if _webhook is None:
            _webhook = build_billing_webhook(get_settings())
        return _webhook


def _json(status: int, payload: dict[str, str], **headers: str) -> flask.Response:
    return flask.Response(
        json.dumps(payload), status=status, mimetype="application/json", headers=headers
    )


@functions_framework.http
def billing(request: flask.Request) -> Any:
    """Receive one Stripe webhook delivery."""
    settings = get_settings()
    bind_trace(request.headers.get("X-Cloud-Trace-Context"), settings.project_id)
    if request.method != "POST":
        return _json(
            405, {"error": f"{request.method} is not accepted; Stripe POSTs events"}, Allow="POST"
        )
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _json(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
    payload = request.stream.read(MAX_BODY_BYTES + 1)
    if len(payload) > MAX_BODY_BYTES:
        return _json(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
    try:
        webhook = _get_webhook()
    except Exception:  # plans file or Firestore client: a deployment problem, retried by Stripe
        logger.exception("billing webhook could not start")
        return _json(503, {"error": "the webhook is not configured; retry later"})
    status, answer = receive(webhook, payload, request.headers.get("Stripe-Signature"))
    return _json(status, answer)
