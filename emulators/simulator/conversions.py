"""The simulated Conversions API for Business Messaging (``POST /meta/{version}/{dataset}/events``).

It answers as Graph does for a dataset the simulator knows (``POST /datasets`` registers one
with its access token, as a tenant's Meta dataset and system-user token):

- the access token (``Authorization: Bearer``, the ``access_token`` query parameter or body
  field): missing 401 code 104, unknown 401 code 190 (``OAuthException``), valid for another
  dataset 400 code 100 subcode 33; the version must look like ``v21.0`` (400 code 2500);
- the body (JSON, or a form whose ``data`` field holds the JSON array, as Meta's curl examples
  send it): ``data`` holds 1 to 1000 events; each needs ``event_name`` (a business-messaging
  event, e.g. ``Purchase``, ``LeadSubmitted``), ``event_time`` (Unix seconds, at most 7 days
  old, not ahead of the clock by more than a minute), ``action_source`` = ``business_messaging``,
  ``messaging_channel`` = ``whatsapp``, ``user_data`` with ``ctwa_clid`` and
  ``whatsapp_business_account_id``, and for a ``Purchase`` ``custom_data`` with ``currency``
  (ISO 4217) and ``value``. One bad event refuses the whole request (400 code 100 with
  ``error_user_title`` and ``error_user_msg``) and nothing is recorded, as Meta processes no
  event of a request it refuses;
- success: ``{"events_received": n, "messages": [], "fbtrace_id": "..."}``.

Every accepted event is recorded (``GET /conversions``), flagged ``duplicate`` when the dataset
already received the same ``event_name`` and ``event_id`` (Meta would deduplicate it).
"""

from __future__ import annotations

import json
import re
import secrets as random_tokens
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emulators.simulator.meta import bearer_token, token_rejected
from emulators.simulator.routing import BadRequest, Request, Response, json_response
from emulators.simulator.sends import multipart_form, same_secret

EVENTS_ROUTE = r"/meta/(?P<version>[^/]+)/(?P<dataset_id>[^/]+)/events"
DATASETS_ROUTE = r"/datasets"
DATASET_ROUTE = r"/datasets/(?P<dataset_id>[^/]+)"
RECEIVED_ROUTE = r"/conversions"

MAX_EVENTS = 1000
MAX_EVENT_AGE = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=1)
BUSINESS_MESSAGING_EVENTS = (
    "Purchase",
    "LeadSubmitted",
    "QualifiedLead",
    "InitiateCheckout",
    "AddToCart",
    "ViewContent",
    "OrderCreated",
    "OrderShipped",
    "OrderDelivered",
    "OrderCanceled",
    "OrderReturned",
    "CartAbandoned",
    "RatingProvided",
    "ReviewProvided",
)
_VERSION = re.compile(r"v\d+\.\d+")
_DATASET_ID = re.compile(r"[0-9]{1,32}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


class DatasetRejected(ValueError):
    """A dataset registration that cannot be accepted; the message says why."""


class DatasetConflict(ValueError):
    """The dataset id is already registered with another access token."""


class _Invalid(Exception):
    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


@dataclass(frozen=True)
class ReceivedConversion:
    """One event the simulated Conversions API accepted. ``index`` only grows."""

    index: int
    dataset_id: str
    event: Mapping[str, Any]
    """The event object as received."""
    received_at: datetime
    fbtrace_id: str
    duplicate: bool = False
    test_event_code: str | None = None

    @property
    def event_name(self) -> str:
        """Return the event name (``Purchase``...)."""
        return str(self.event["event_name"])

    @property
    def event_id(self) -> str | None:
        """Return the advertiser's event id, if any."""
        value = self.event.get("event_id")
        return str(value) if value is not None else None

    @property
    def ctwa_clid(self) -> str:
        """Return the click-to-WhatsApp click id."""
        return str(self.event["user_data"]["ctwa_clid"])

    @property
    def custom_data(self) -> Mapping[str, Any]:
        """Return the event's custom data (``currency``, ``value``...)."""
        custom = self.event.get("custom_data")
        return custom if isinstance(custom, Mapping) else {}

    def to_json(self) -> dict[str, Any]:
        """Return the record as ``GET /conversions`` lists it."""
        user_data = self.event["user_data"]
        return {
            "index": self.index,
            "dataset_id": self.dataset_id,
            "event_name": self.event_name,
            "event_id": self.event_id,
            "event_time": self.event["event_time"],
            "ctwa_clid": self.ctwa_clid,
            "whatsapp_business_account_id": str(user_data["whatsapp_business_account_id"]),
            "currency": self.custom_data.get("currency"),
            "value": self.custom_data.get("value"),
            "duplicate": self.duplicate,
            "test_event_code": self.test_event_code,
            "fbtrace_id": self.fbtrace_id,
            "received_at": self.received_at.isoformat(),
            "event": dict(self.event),
        }


class ConversionsApi:
    """The datasets the simulator knows and the events they received (thread-safe)."""

    def __init__(self) -> None:
        self._datasets: dict[str, str] = {}
        self._received: list[ReceivedConversion] = []
        self._next_index = 0
        self._changed = threading.Condition()

    # Python API

    def add_dataset(self, dataset_id: str, access_token: str) -> bool:
        """Accept events for ``dataset_id`` with ``access_token``; return whether it is new."""
        if not isinstance(dataset_id, str) or not _DATASET_ID.fullmatch(dataset_id):
            raise DatasetRejected("dataset_id must be the dataset's numeric id (digits)")
        if not isinstance(access_token, str) or not access_token.strip():
            raise DatasetRejected("access_token must be a non-empty string (the token itself)")
        with self._changed:
            known = self._datasets.get(dataset_id)
            if known is not None:
                if known == access_token:
                    return False
                raise DatasetConflict(
                    f"dataset {dataset_id} is already registered with another access token"
                )
            self._datasets[dataset_id] = access_token
        return True

    def remove_dataset(self, dataset_id: str) -> bool:
        """Forget a dataset (its events stay listed); return whether it was known."""
        with self._changed:
            return self._datasets.pop(dataset_id, None) is not None

    def dataset_ids(self) -> list[str]:
        """Return the registered dataset ids, sorted."""
        with self._changed:
            return sorted(self._datasets)

    def received(
        self, *, dataset_id: str | None = None, since: int = 0
    ) -> list[ReceivedConversion]:
        """Return the accepted events, oldest first, filtered by dataset and index."""
        with self._changed:
            snapshot = list(self._received)
        return [
            conversion
            for conversion in snapshot
            if conversion.index >= since
            and (dataset_id is None or conversion.dataset_id == dataset_id)
        ]

    def clear(self) -> None:
        """Forget the accepted events (indexes keep growing; datasets stay)."""
        with self._changed:
            self._received.clear()

    def wait_for(
        self, predicate: Callable[[ReceivedConversion], bool], timeout: float = 5.0
    ) -> ReceivedConversion:
        """Return the first accepted event matching ``predicate``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((item for item in self._received if predicate(item)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no conversion event matched within {timeout:.1f}s")
                self._changed.wait(remaining)

    # Routes

    def events(self, request: Request, params: Mapping[str, str]) -> Response:
        """Answer Graph's ``POST /{version}/{dataset_id}/events``."""
        dataset_id = params["dataset_id"]
        try:
            document = _body(request)
        except BadRequest as error:
            return _invalid("Invalid Request Body", str(error))
        presented = bearer_token(request) or _text(document.get("access_token"))
        rejected = self._authenticate(dataset_id, presented)
        if rejected is not None:
            return rejected
        if not _VERSION.fullmatch(params["version"]):
            return _graph_error(400, 2500, f"Unknown path components: /{params['version']}")
        now = datetime.now(UTC)
        try:
            events = _events(document.get("data"), now)
        except _Invalid as invalid:
            return _invalid(invalid.title, invalid.detail)
        fbtrace_id = _trace_id()
        self._record(dataset_id, events, now, fbtrace_id, _text(document.get("test_event_code")))
        return json_response(
            200, {"events_received": len(events), "messages": [], "fbtrace_id": fbtrace_id}
        )

    def register_dataset(self, request: Request, params: Mapping[str, str]) -> Response:
        """Answer ``POST /datasets`` ``{"dataset_id", "access_token"}``."""
        document = request.json_object()
        unknown = sorted(set(document) - {"dataset_id", "access_token"})
        if unknown:
            return json_response(400, {"error": f"unknown fields: {', '.join(unknown)}"})
        dataset_id = document.get("dataset_id")
        if isinstance(dataset_id, int) and not isinstance(dataset_id, bool):
            dataset_id = str(dataset_id)
        access_token = document.get("access_token")
        if not isinstance(dataset_id, str) or not isinstance(access_token, str):
            return json_response(400, {"error": "dataset_id and access_token must be strings"})
        try:
            created = self.add_dataset(dataset_id, access_token)
        except DatasetRejected as error:
            return json_response(400, {"error": str(error)})
        except DatasetConflict as error:
            return json_response(409, {"error": str(error)})
        return json_response(201 if created else 200, {"dataset_id": dataset_id})

    def list_datasets(self, request: Request, params: Mapping[str, str]) -> Response:
        """Answer ``GET /datasets``: the ids, never the tokens."""
        return json_response(200, [{"dataset_id": item} for item in self.dataset_ids()])

    def delete_dataset(self, request: Request, params: Mapping[str, str]) -> Response:
        """Answer ``DELETE /datasets/{dataset_id}``."""
        if not self.remove_dataset(params["dataset_id"]):
            return json_response(404, {"error": f"no dataset {params['dataset_id']}"})
        return Response(204)

    def list_received(self, request: Request, params: Mapping[str, str]) -> Response:
        """Answer ``GET /conversions?dataset_id=&since=``."""
        since = request.query.get("since", "0")
        if not since.isdigit():
            raise BadRequest("since must be a whole number")
        received = self.received(dataset_id=request.query.get("dataset_id"), since=int(since))
        return json_response(200, [conversion.to_json() for conversion in received])

    def clear_received(self, request: Request, params: Mapping[str, str]) -> Response:
        """Answer ``DELETE /conversions``."""
        self.clear()
        return Response(204)

    # Helpers

    def _authenticate(self, dataset_id: str, presented: str | None) -> Response | None:
        with self._changed:
            expected = self._datasets.get(dataset_id)
            tokens = list(self._datasets.values())
        if expected is not None and same_secret(expected, presented):
            return None
        if expected is None and any(same_secret(token, presented) for token in tokens):
            return _graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{dataset_id}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
            )
        return token_rejected(presented)

    def _record(
        self,
        dataset_id: str,
        events: list[dict[str, Any]],
        now: datetime,
        fbtrace_id: str,
        test_event_code: str | None,
    ) -> None:
        with self._changed:
            for event in events:
                key = (event["event_name"], event.get("event_id"))
                duplicate = key[1] is not None and any(
                    earlier.dataset_id == dataset_id
                    and (earlier.event_name, earlier.event_id) == key
                    for earlier in self._received
                )
                self._received.append(
                    ReceivedConversion(
                        index=self._next_index,
                        dataset_id=dataset_id,
                        event=event,
                        received_at=now,
                        fbtrace_id=fbtrace_id,
                        duplicate=duplicate,
                        test_event_code=test_event_code,
                    )
                )
                self._next_index += 1
            self._changed.notify_all()


def _body(request: Request) -> dict[str, Any]:
    """Return the request parameters: a JSON object, or a form whose ``data`` is JSON text."""
    form: Mapping[str, str] | None = None
    if request.content_type == "application/x-www-form-urlencoded":
        form = request.form()
    elif request.content_type == "multipart/form-data":
        parts = multipart_form(request.header("content-type") or "", request.body)
        if parts is None:
            raise BadRequest("the multipart body cannot be read")
        form = {name: part.text for name, part in parts.items()}
    if form is None:
        return request.json_object()
    document: dict[str, Any] = dict(form)
    if "data" in form:
        try:
            document["data"] = json.loads(form["data"])
        except ValueError as error:
            raise BadRequest(f"data is not valid JSON: {error}") from error
    return document


def _events(data: object, now: datetime) -> list[dict[str, Any]]:
    if data is None:
        raise _Invalid("Missing Parameter", "The parameter data is required.")
    if not isinstance(data, list) or not data:
        raise _Invalid("Invalid Parameter", "data must be a non-empty array of server events.")
    if len(data) > MAX_EVENTS:
        raise _Invalid("Too Many Events", f"A request holds at most {MAX_EVENTS} events.")
    return [_event(event, f"data[{position}]", now) for position, event in enumerate(data)]


def _event(event: object, where: str, now: datetime) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise _Invalid("Invalid Parameter", f"{where} must be an object.")
    name = event.get("event_name")
    if not isinstance(name, str) or not name:
        raise _Invalid("Missing Event Name", f"{where}.event_name is required.")
    event_time = _event_time(event.get("event_time"), where, now)
    source = event.get("action_source")
    if source is None:
        raise _Invalid("Missing Action Source", f"{where}.action_source is required.")
    if source != "business_messaging":
        raise _Invalid(
            "Unsupported Action Source",
            f"{where}.action_source is {source!r}: the simulator stands in for "
            "business_messaging events only.",
        )
    channel = event.get("messaging_channel")
    if channel is None:
        raise _Invalid(
            "Missing Messaging Channel",
            f"{where}.messaging_channel is required for business_messaging events.",
        )
    if channel != "whatsapp":
        raise _Invalid(
            "Unsupported Messaging Channel",
            f"{where}.messaging_channel is {channel!r}: the simulator stands in for whatsapp.",
        )
    if name not in BUSINESS_MESSAGING_EVENTS:
        raise _Invalid(
            "Invalid Event Type",
            f"{where}.event_name {name!r} is not a business messaging event "
            f"({', '.join(BUSINESS_MESSAGING_EVENTS)}).",
        )
    _user_data(event.get("user_data"), where)
    _custom_data(event.get("custom_data"), name, where)
    event_id = event.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not event_id):
        raise _Invalid("Invalid Parameter", f"{where}.event_id must be a non-empty string.")
    return {**event, "event_time": event_time}


def _event_time(value: object, where: str, now: datetime) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(
            "Missing Event Time", f"{where}.event_time is required (Unix seconds, an integer)."
        )
    moment = datetime.fromtimestamp(value, UTC)
    if moment < now - MAX_EVENT_AGE:
        raise _Invalid(
            "Event Timestamp Too Old",
            f"{where}.event_time is more than 7 days before the request; no event was processed.",
        )
    if moment > now + CLOCK_SKEW:
        raise _Invalid("Event Timestamp In Future", f"{where}.event_time is in the future.")
    return value


def _user_data(user_data: object, where: str) -> None:
    if not isinstance(user_data, dict):
        raise _Invalid("Missing User Data", f"{where}.user_data is required.")
    clid = user_data.get("ctwa_clid")
    if not isinstance(clid, str) or not clid.strip():
        raise _Invalid(
            "Missing Click ID",
            f"{where}.user_data.ctwa_clid is required for WhatsApp business messaging events.",
        )
    account = user_data.get("whatsapp_business_account_id")
    if isinstance(account, int) and not isinstance(account, bool):
        account = str(account)
    if not isinstance(account, str) or not account.isdigit():
        raise _Invalid(
            "Missing WhatsApp Business Account ID",
            f"{where}.user_data.whatsapp_business_account_id is required (the WABA's numeric id).",
        )


def _custom_data(custom: object, name: str, where: str) -> None:
    if custom is None and name != "Purchase":
        return
    if not isinstance(custom, dict):
        raise _Invalid(
            "Missing Custom Data", f"{where}.custom_data with currency and value is required."
        )
    currency = custom.get("currency")
    value = custom.get("value")
    if name == "Purchase" and (currency is None or value is None):
        raise _Invalid(
            "Missing Purchase Value",
            f"{where}.custom_data.currency and custom_data.value are required for Purchase.",
        )
    if currency is not None and (
        not isinstance(currency, str) or not _CURRENCY.fullmatch(currency)
    ):
        raise _Invalid(
            "Invalid Currency", f"{where}.custom_data.currency must be an ISO 4217 code (BRL)."
        )
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or value < 0
    ):
        raise _Invalid("Invalid Value", f"{where}.custom_data.value must be a non-negative number.")


def _invalid(title: str, detail: str) -> Response:
    return _graph_error(400, 100, "Invalid parameter", title=title, detail=detail)


def _graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    title: str | None = None,
    detail: str | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = False
    if title is not None:
        error["error_user_title"] = title
    if detail is not None:
        error["error_user_msg"] = detail
    error["fbtrace_id"] = _trace_id()
    return json_response(status, {"error": error})


def _trace_id() -> str:
    return "A" + random_tokens.token_urlsafe(16)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
