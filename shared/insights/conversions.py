"""Send a won conversation's purchase to Meta's Conversions API for Business Messaging.

When an applied insight marks a conversation won and the lead came from a click-to-WhatsApp
ad (the conversation's ``attribution.ctwa_clid``), the tenant's dataset gets one ``Purchase``:

``POST {graph}/{version}/{dataset_id}/events`` with the dataset's access token and::

    {"data": [{"event_name": "Purchase",
               "event_time": 1767225600,            # Unix seconds (GMT), at most 7 days old
               "action_source": "business_messaging",
               "messaging_channel": "whatsapp",
               "event_id": "<insight id>",          # Meta deduplicates on event_name + event_id
               "user_data": {"whatsapp_business_account_id": "<WABA id>",
                             "ctwa_clid": "<click id from the ad's referral>"},
               "custom_data": {"currency": "BRL", "value": 1500.0}}]}

Meta answers ``{"events_received": 1, "messages": [], "fbtrace_id": "..."}``; an error is a
Graph error object ``{"error": {"message", "type", "code", "error_subcode"?, "error_user_title"?,
"error_user_msg"?, "fbtrace_id"}}`` (an invalid token is ``OAuthException`` code 190; one bad
event fails the whole request). Meta requires ``currency`` and ``value`` for a Purchase:
``value`` is left out when unknown, and Meta then refuses the event (a ``failed`` result).

The token travels in ``Authorization: Bearer`` (Graph accepts it there as well as in an
``access_token`` parameter), so it is never part of a URL that a client library logs; it is
never logged and never appears in a result's reason.

The WhatsApp Business Account id is not in anything the webhook parses: a Meta channel keeps it
in ``config.waba_id`` (``waba_id_for``). It is sent when known; Meta's examples always carry it.

Sources: Meta, "Conversions API for Business Messaging"
(developers.facebook.com/docs/marketing-api/conversions-api/business-messaging/), and the
parameter references: main body (``data``, ``test_event_code``), server event (``event_name``,
``event_time`` "up to 7 days before you send", ``user_data`` required, ``event_id``,
``action_source``, ``messaging_channel``), customer information (``ctwa_clid``: Click to
WhatsApp ID, not hashed) and custom data (``currency`` and ``value`` required for Purchase),
under developers.facebook.com/docs/marketing-api/conversions-api/parameters/.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from shared.insights.models import ConversionResult
from shared.models.channel import Channel

logger = logging.getLogger("piloto.insights.conversions")

TIMEOUT_SECONDS = 10.0
ATTEMPTS = 2
"""One retry, on a transport error or a 5xx answer."""
RETRY_WAIT_SECONDS = 0.5
MAX_REASON_CHARS = 300


class _Transient(Exception):
    """A failure worth one more attempt (timeout, connection error, 5xx)."""

    def __init__(self, reason: str, response: httpx.Response | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response = response


def send_purchase(
    *,
    base_url: str,
    api_version: str,
    dataset_id: str,
    access_token: str,
    ctwa_clid: str,
    event_id: str,
    event_time: datetime | int,
    value: float | None,
    currency: str,
    waba_id: str | None,
    http: httpx.Client | None = None,
) -> ConversionResult:
    """Send one Purchase to the dataset and return what Meta said (never raises for API errors)."""
    url = f"{base_url.rstrip('/')}/{api_version}/{dataset_id}/events"
    body = {
        "data": [
            purchase_event(
                ctwa_clid=ctwa_clid,
                event_id=event_id,
                event_time=event_time,
                value=value,
                currency=currency,
                waba_id=waba_id,
            )
        ]
    }
    headers = {"Authorization": f"Bearer {access_token}"}
    client = http or httpx.Client(timeout=TIMEOUT_SECONDS)
    try:
        response = _post(client, url, body, headers)
    except _Transient as failure:
        if failure.response is None:
            return _failed(failure.reason, access_token, dataset_id, event_id)
        response = failure.response
    finally:
        if http is None:
            client.close()
    return _result(response, access_token, dataset_id, event_id)


def purchase_event(
    *,
    ctwa_clid: str,
    event_id: str,
    event_time: datetime | int,
    value: float | None,
    currency: str,
    waba_id: str | None,
) -> dict[str, Any]:
    """Return one business-messaging Purchase as the Conversions API takes it."""
    user_data: dict[str, Any] = {"ctwa_clid": ctwa_clid}
    if waba_id:
        user_data = {"whatsapp_business_account_id": waba_id, **user_data}
    custom_data: dict[str, Any] = {"currency": currency.upper()}
    if value is not None:
        custom_data["value"] = value
    return {
        "event_name": "Purchase",
        "event_time": _unix_seconds(event_time),
        "action_source": "business_messaging",
        "messaging_channel": "whatsapp",
        "event_id": event_id,
        "user_data": user_data,
        "custom_data": custom_data,
    }


def waba_id_for(channel: Channel) -> str | None:
    """Return the WhatsApp Business Account id of a channel (``config.waba_id``), if known."""
    value = channel.config.get("waba_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _post(
    client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_fixed(RETRY_WAIT_SECONDS),
        retry=retry_if_exception_type(_Transient),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            try:
                response = client.post(url, json=body, headers=headers, timeout=TIMEOUT_SECONDS)
            except httpx.TransportError as error:
                raise _Transient(f"Meta did not answer ({type(error).__name__})") from None
            if response.status_code >= 500:
                raise _Transient(f"HTTP {response.status_code}", response)
            return response
    raise AssertionError("unreachable: tenacity re-raises the last failure")


def _result(
    response: httpx.Response, access_token: str, dataset_id: str, event_id: str
) -> ConversionResult:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        document = {}
    if response.status_code >= 400 or "error" in document:
        return _graph_failure(response.status_code, document, access_token, dataset_id, event_id)
    received = document.get("events_received")
    fbtrace_id = _text(document.get("fbtrace_id"))
    if isinstance(received, bool) or not isinstance(received, int) or received < 1:
        reason = f"Meta answered HTTP {response.status_code} without receiving the event"
        return _failed(reason, access_token, dataset_id, event_id, fbtrace_id)
    logger.info(
        "purchase sent to the Conversions API",
        extra={
            "dataset_id": dataset_id,
            "event_id": event_id,
            "events_received": received,
            "fbtrace_id": fbtrace_id,
        },
    )
    return ConversionResult(
        status="sent",
        events_received=received,
        fbtrace_id=fbtrace_id,
        at=datetime.now(UTC),
    )


def _graph_failure(
    status: int, document: dict[str, Any], access_token: str, dataset_id: str, event_id: str
) -> ConversionResult:
    error = document.get("error")
    if not isinstance(error, dict):
        return _failed(f"HTTP {status}", access_token, dataset_id, event_id)
    code = error.get("code")
    subcode = error.get("error_subcode")
    label = f"Meta error {code}" if code is not None else f"Meta error (HTTP {status})"
    if subcode is not None:
        label += f"/{subcode}"
    message = _text(error.get("message")) or f"HTTP {status}"
    detail = _text(error.get("error_user_msg"))
    reason = f"{label}: {message}" + (f" ({detail})" if detail and detail != message else "")
    return _failed(reason, access_token, dataset_id, event_id, _text(error.get("fbtrace_id")))


def _failed(
    reason: str,
    access_token: str,
    dataset_id: str,
    event_id: str,
    fbtrace_id: str | None = None,
) -> ConversionResult:
    if access_token:
        reason = reason.replace(access_token, "[token]")
    reason = reason[:MAX_REASON_CHARS]
    logger.warning(
        "the Conversions API refused a purchase",
        extra={
            "dataset_id": dataset_id,
            "event_id": event_id,
            "reason": reason,
            "fbtrace_id": fbtrace_id,
        },
    )
    return ConversionResult(
        status="failed", reason=reason, fbtrace_id=fbtrace_id, at=datetime.now(UTC)
    )


def _unix_seconds(moment: datetime | int) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("event_time must be timezone-aware")
        return int(moment.timestamp())
    return int(moment)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
