"""The simulated Stripe under ``/stripe``: the API Piloto calls, hosted pages, signed webhooks.

Piloto's ``stripe`` library points at ``{simulator}/stripe`` (``PILOTO_STRIPE_API_BASE``) and
appends ``/v1/...``. The API answers as Stripe does (form-encoded nested parameters, the secret
key as Bearer or Basic auth, Stripe's error objects, ``Idempotency-Key`` replays) for what
Piloto uses:

- ``GET /v1/prices`` (``lookup_keys``, ``active``): one monthly price per plan of
  ``plans.yaml``, id ``price_sim_<plan_id>``, with the plan's lookup key;
- ``POST /v1/customers``, ``GET|DELETE /v1/customers/{id}``;
- ``POST /v1/checkout/sessions`` (``mode=subscription``), ``GET /v1/checkout/sessions/{id}``;
- ``POST /v1/billing_portal/sessions``;
- ``GET|POST|DELETE /v1/subscriptions/{id}`` (price change, ``cancel_at_period_end``,
  metadata; DELETE cancels now);
- ``GET /v1/invoices`` (``customer``, ``subscription``, ``status``), ``GET /v1/invoices/{id}``.

What a person does happens on hosted pages (``stripe_pages.py``): Checkout's "Assinar" creates
the subscription and a paid invoice; the portal cancels. The objects and the events their changes
make are in ``stripe_account.py``. Events are posted, signed (``Stripe-Signature:
t=...,v1=HMAC-SHA256(secret, "t.body")``), to the one registered endpoint in creation order from
a background thread; a failed delivery is recorded, not retried (resend it).

Test controls (JSON, no auth) under ``/stripe/_control``: ``webhook`` (the endpoint), ``hold``
(keep new events undelivered), ``deliver`` (post held events, in a given order), ``events``
(every event with its deliveries), ``events/{id}/resend`` (a duplicate delivery),
``subscriptions/{id}`` (past_due, active, unpaid, canceled) and ``DELETE /stripe/_control``
(forget everything but the endpoint). ``emulators/README.md`` describes them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx

from emulators.simulator import stripe_pages as pages
from emulators.simulator.routing import BadRequest, Request, Response, Router, json_response
from emulators.simulator.sends import same_secret
from emulators.simulator.stripe_account import StripeAccount, SubscriptionEnded
from emulators.simulator.stripe_objects import (
    API_VERSION,
    DEFAULT_SECRET_KEY,
    StripeInvalid,
    bool_param,
    decode_params,
    int_param,
    list_object,
    metadata_param,
    new_id,
    now_seconds,
    stripe_error,
    text_param,
    unknown_params,
)
from shared.billing.plans import load_catalogue

logger = logging.getLogger("piloto.simulator.stripe")

PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
_V1 = r"/stripe/v1"
_ID = r"(?P<id>[^/]+)"

ApiHandler = Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]]
"""Takes the decoded parameters and the path's; returns the object answered with 200."""


@dataclass(frozen=True)
class Delivery:
    """One POST of an event to the endpoint, and how it answered."""

    event_id: str
    event_type: str
    url: str
    status_code: int | None
    error: str | None
    delivered_at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the delivery as the control routes list it."""
        return {
            "event_id": self.event_id,
            "type": self.event_type,
            "url": self.url,
            "status_code": self.status_code,
            "error": self.error,
            "delivered_at": self.delivered_at.isoformat(),
        }


@dataclass
class _Event:
    event: dict[str, Any]
    held: bool
    deliveries: list[Delivery] = field(default_factory=list)


class StripeSimulator:
    """Stripe's API, hosted pages and webhook deliveries for one simulated test account."""

    def __init__(
        self,
        base_url: Callable[[], str],
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        plans_file: str | None = None,
        webhook_timeout_seconds: float = 10.0,
    ) -> None:
        self.secret_key = secret_key
        self.account = StripeAccount(load_catalogue(plans_file), base_url, self._record)
        self._calls = threading.Lock()
        """One API call at a time, so an idempotency key's first answer is the one replayed."""
        self._idempotent: dict[str, tuple[str, Response]] = {}
        self._events_changed = threading.Condition()
        self._events: dict[str, _Event] = {}
        self._holding = False
        self._webhook_url: str | None = None
        self._webhook_secret: str | None = None
        if webhook_url is not None:
            self.register_webhook(webhook_url, webhook_secret)
        self._timeout = webhook_timeout_seconds
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._http = httpx.Client(timeout=webhook_timeout_seconds)

    # Life cycle

    def start(self) -> None:
        """Start delivering events."""
        if self._worker is None:
            if self._http.is_closed:
                self._http = httpx.Client(timeout=self._timeout)
            self._worker = threading.Thread(
                target=self._deliver_queued, name="simulator-stripe-webhooks", daemon=True
            )
            self._worker.start()

    def stop(self) -> None:
        """Stop delivering (events still queued stay undelivered)."""
        if self._worker is None:
            return
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put(None)
        self._worker.join(timeout=15)
        self._worker = None
        self._http.close()

    # Python API (the control routes call these)

    def register_webhook(self, url: str | None, secret: str | None) -> None:
        """Post events from now on to ``url``, signed with ``secret`` (None: post none)."""
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        if url is not None and not secret:
            raise ValueError("a webhook endpoint needs its signing secret")
        with self._events_changed:
            self._webhook_url, self._webhook_secret = url, secret
        logger.info("stripe webhook endpoint registered", extra={"url": url})

    @property
    def webhook_url(self) -> str | None:
        """Return where events are posted."""
        return self._webhook_url

    def hold(self, holding: bool) -> None:
        """Keep the events made from now on undelivered until ``deliver`` (or stop holding)."""
        with self._events_changed:
            self._holding = holding

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Return the events, oldest first, each with ``held`` and its ``deliveries``."""
        with self._events_changed:
            return [
                {
                    "id": stored.event["id"],
                    "type": stored.event["type"],
                    "created": stored.event["created"],
                    "held": stored.held,
                    "deliveries": [delivery.to_json() for delivery in stored.deliveries],
                    "event": copy.deepcopy(stored.event),
                }
                for stored in self._events.values()
                if event_type is None or stored.event["type"] == event_type
            ]

    def deliveries(self) -> list[Delivery]:
        """Return every delivery made, oldest first."""
        with self._events_changed:
            made = [delivery for stored in self._events.values() for delivery in stored.deliveries]
        return sorted(made, key=lambda delivery: delivery.delivered_at)

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Return the first ``count`` deliveries, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._events_changed:
            while True:
                made = self.deliveries()
                if len(made) >= count:
                    return made[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(made)} of {count} Stripe deliveries were made")
                self._events_changed.wait(remaining)

    def deliver(self, event_ids: Iterable[str] | None = None) -> list[Delivery]:
        """Post events now, in this order (default: every held event, oldest first)."""
        with self._events_changed:
            if event_ids is None:
                chosen = [event_id for event_id, stored in self._events.items() if stored.held]
            else:
                chosen = list(event_ids)
                unknown = [event_id for event_id in chosen if event_id not in self._events]
                if unknown:
                    raise KeyError(f"no event {', '.join(unknown)}")
            for event_id in chosen:
                self._events[event_id].held = False
        return [self._post(event_id) for event_id in chosen]

    def resend(self, event_id: str) -> Delivery:
        """Post an event again (as Stripe does when it retries or duplicates a delivery)."""
        return self.deliver([event_id])[0]

    def reset(self) -> None:
        """Forget objects, events and idempotency keys (keep the endpoint)."""
        with self._calls:
            self.account.reset()
        with self._events_changed:
            self._idempotent.clear()
            self._events.clear()
            self._holding = False

    # Routes

    def add_routes(self, router: Router) -> None:
        """Register the API, the hosted pages and the test controls on ``router``."""
        api = self._api
        router.add("GET", rf"{_V1}/prices", api(self._list_prices))
        router.add("POST", rf"{_V1}/customers", api(self._create_customer))
        router.add("GET", rf"{_V1}/customers/{_ID}", api(self._get_customer))
        router.add("DELETE", rf"{_V1}/customers/{_ID}", api(self._delete_customer))
        router.add("POST", rf"{_V1}/checkout/sessions", api(self._create_checkout))
        router.add("GET", rf"{_V1}/checkout/sessions/{_ID}", api(self._get_checkout))
        router.add("POST", rf"{_V1}/billing_portal/sessions", api(self._create_portal))
        router.add("GET", rf"{_V1}/subscriptions/{_ID}", api(self._get_subscription))
        router.add("POST", rf"{_V1}/subscriptions/{_ID}", api(self._update_subscription))
        router.add("DELETE", rf"{_V1}/subscriptions/{_ID}", api(self._cancel_subscription))
        router.add("GET", rf"{_V1}/invoices", api(self._list_invoices))
        router.add("GET", rf"{_V1}/invoices/{_ID}", api(self._get_invoice))
        for method in ("GET", "POST", "DELETE"):
            router.add(method, rf"{_V1}/.*", self._unrecognized)
        router.add("GET", rf"/stripe/checkout/{_ID}", self._checkout_page)
        router.add("POST", rf"/stripe/checkout/{_ID}/pay", self._pay)
        router.add("GET", rf"/stripe/portal/{_ID}", self._portal_page)
        router.add("POST", rf"/stripe/portal/{_ID}/cancel", self._portal_cancel)
        router.add("GET", rf"/stripe/invoices/{_ID}", self._invoice_page)
        router.add("GET", r"/stripe/_control/webhook", self._get_webhook)
        router.add("POST", r"/stripe/_control/webhook", self._set_webhook)
        router.add("POST", r"/stripe/_control/hold", self._set_hold)
        router.add("GET", r"/stripe/_control/events", self._list_events)
        router.add("POST", rf"/stripe/_control/events/{_ID}/resend", self._resend)
        router.add("POST", r"/stripe/_control/deliver", self._deliver)
        router.add("POST", rf"/stripe/_control/subscriptions/{_ID}", self._set_status)
        router.add("DELETE", r"/stripe/_control", self._reset)

    def _api(self, handler: ApiHandler) -> Callable[[Request, Mapping[str, str]], Response]:
        """Wrap an API handler: the key, the parameters, idempotent replays, Stripe's errors."""

        def handle(request: Request, params: Mapping[str, str]) -> Response:
            request_id = new_id("req_", 14)
            refused = self._authenticate(request, request_id)
            if refused is not None:
                return refused
            key = request.header("idempotency-key") if request.method == "POST" else None
            fingerprint = f"{request.path} {request.body.decode(errors='replace')}"
            with self._calls:
                if key is not None and key in self._idempotent:
                    return self._replay(key, fingerprint, request_id)
                try:
                    document = handler(_params(request), params)
                except StripeInvalid as invalid:
                    return invalid.response(request_id)
                answer = json_response(
                    200,
                    document,
                    {
                        "Request-Id": request_id,
                        "Stripe-Version": request.header("stripe-version") or API_VERSION,
                    },
                )
                if key is not None:
                    self._idempotent[key] = (fingerprint, answer)
                return answer

        return handle

    def _replay(self, key: str, fingerprint: str, request_id: str) -> Response:
        first, answer = self._idempotent[key]
        if first != fingerprint:
            return stripe_error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                kind="idempotency_error",
                request_id=request_id,
            )
        headers = {**answer.headers, "Idempotent-Replayed": "true"}
        return Response(answer.status, answer.body, answer.content_type, headers)

    def _authenticate(self, request: Request, request_id: str) -> Response | None:
        scheme, _, credentials = (request.header("authorization") or "").partition(" ")
        presented = ""
        if scheme.lower() == "bearer":
            presented = credentials.strip()
        elif scheme.lower() == "basic":  # curl -u sk_test_...:
            try:
                presented = base64.b64decode(credentials).decode().split(":", 1)[0]
            except ValueError:
                presented = ""
        if not presented:
            return stripe_error(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.",
                request_id=request_id,
            )
        if not same_secret(self.secret_key, presented):
            return stripe_error(
                401, f"Invalid API Key provided: {_masked(presented)}", request_id=request_id
            )
        return None

    def _unrecognized(self, request: Request, params: Mapping[str, str]) -> Response:
        path = request.path.removeprefix("/stripe")
        return stripe_error(
            404,
            f"Unrecognized request URL ({request.method}: {path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    # API handlers: parameters in, account calls out

    def _list_prices(self, query: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        unknown_params(query, ("lookup_keys", "active", "limit", "type", "currency", "product"))
        keys = query.get("lookup_keys")
        if keys is not None and not (
            isinstance(keys, list) and all(isinstance(key, str) for key in keys)
        ):
            raise StripeInvalid("Invalid array: lookup_keys must be a list", param="lookup_keys")
        prices = self.account.prices(
            lookup_keys=keys,
            active=bool_param(query, "active"),
            currency=text_param(query, "currency"),
            product=text_param(query, "product"),
        )
        limit = int_param(query, "limit", minimum=1, maximum=100) or 10
        return list_object("/v1/prices", prices[:limit])

    def _create_customer(self, body: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        unknown_params(body, ("name", "email", "metadata", "description", "phone"))
        email = text_param(body, "email")
        if email is not None and "@" not in email:
            raise StripeInvalid(
                f"Invalid email address: {email}", param="email", code="email_invalid"
            )
        return self.account.create_customer(
            name=text_param(body, "name"),
            email=email,
            metadata=metadata_param(body),
            description=text_param(body, "description"),
            phone=text_param(body, "phone"),
        )

    def _get_customer(self, query: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        return self.account.customer(params["id"])

    def _delete_customer(self, query: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        return self.account.delete_customer(params["id"])

    def _create_checkout(self, body: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        plain = ("client_reference_id", "success_url", "cancel_url", "locale")
        unknown_params(
            body,
            (
                *plain,
                "mode",
                "line_items",
                "customer",
                "customer_email",
                "metadata",
                "subscription_data",
                "ui_mode",
                "payment_method_types",
                "allow_promotion_codes",
                "billing_address_collection",
            ),
        )
        mode = text_param(body, "mode", required=True)
        if mode != "subscription":
            raise StripeInvalid(
                f"Invalid mode: {mode!r} (the simulator takes subscription Checkout only)",
                param="mode",
            )
        if text_param(body, "ui_mode") not in (None, "hosted"):
            raise StripeInvalid("Invalid ui_mode: the simulator hosts Checkout", param="ui_mode")
        price_id, quantity = _one_line_item(body.get("line_items"))
        fields: dict[str, Any] = {name: text_param(body, name) for name in plain}
        if len(fields["client_reference_id"] or "") > 200:
            raise StripeInvalid(
                "client_reference_id must be at most 200 characters", param="client_reference_id"
            )
        fields["metadata"] = metadata_param(body)
        subscription_data = body.get("subscription_data") or {}
        if not isinstance(subscription_data, dict):
            raise StripeInvalid("Invalid object", param="subscription_data")
        unknown_params(
            subscription_data, ("metadata", "trial_period_days", "description"), "subscription_data"
        )
        return self.account.create_checkout(
            price_id=price_id,
            quantity=quantity,
            customer_id=text_param(body, "customer"),
            customer_email=text_param(body, "customer_email"),
            fields=fields,
            subscription_metadata=metadata_param(subscription_data),
            trial_days=int_param(
                subscription_data,
                "trial_period_days",
                minimum=1,
                maximum=730,
                param="subscription_data[trial_period_days]",
            ),
        )

    def _get_checkout(self, query: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        return self.account.checkout(params["id"])

    def _create_portal(self, body: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        unknown_params(body, ("customer", "return_url", "locale", "configuration"))
        return self.account.create_portal(
            customer_id=text_param(body, "customer", required=True) or "",
            return_url=text_param(body, "return_url"),
            locale=text_param(body, "locale"),
        )

    def _get_subscription(self, query: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        return self.account.subscription(params["id"])

    def _update_subscription(
        self, body: dict[str, Any], params: Mapping[str, str]
    ) -> dict[str, Any]:
        unknown_params(body, ("items", "proration_behavior", "cancel_at_period_end", "metadata"))
        behavior = text_param(body, "proration_behavior")
        if behavior not in (None, *PRORATION_BEHAVIORS):
            raise StripeInvalid(
                f"Invalid proration_behavior: must be one of {', '.join(PRORATION_BEHAVIORS)}",
                param="proration_behavior",
            )
        item: dict[str, Any] = {}
        items = body.get("items")
        if items is not None:
            if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
                raise StripeInvalid(
                    "items must hold one item (the simulator's subscriptions have one)",
                    param="items",
                )
            item = items[0]
            unknown_params(item, ("id", "price", "quantity"), "items[0]")
        return self.account.update_subscription(
            params["id"],
            item_id=text_param(item, "id"),
            price_id=text_param(item, "price"),
            quantity=int_param(
                item, "quantity", minimum=1, maximum=999999, param="items[0][quantity]"
            ),
            cancel_at_period_end=bool_param(body, "cancel_at_period_end"),
            metadata=metadata_param(body) if "metadata" in body else None,
        )

    def _cancel_subscription(
        self, query: dict[str, Any], params: Mapping[str, str]
    ) -> dict[str, Any]:
        unknown_params(query, ("invoice_now", "prorate", "cancellation_details"))
        return self.account.cancel_subscription(params["id"])

    def _list_invoices(self, query: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        unknown_params(query, ("customer", "subscription", "status", "limit"))
        invoices = self.account.invoices(
            customer=text_param(query, "customer"),
            subscription=text_param(query, "subscription"),
            status=text_param(query, "status"),
        )
        limit = int_param(query, "limit", minimum=1, maximum=100) or 10
        return list_object("/v1/invoices", invoices[:limit])

    def _get_invoice(self, query: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
        return self.account.invoice(params["id"])

    # Hosted pages

    def _checkout_page(self, request: Request, params: Mapping[str, str]) -> Response:
        view = self.account.checkout_view(params["id"])
        if view is None:
            return pages.not_found_page("Sessão de pagamento não encontrada")
        session, price, quantity = view
        if session["status"] == "complete":
            target = _success_url(session)
            return _see_other(target) if target else pages.checkout_done_page(session)
        if session["status"] != "open" or session["expires_at"] < now_seconds():
            return pages.not_found_page("Esta sessão de pagamento expirou")
        return pages.checkout_page(session, price, quantity)

    def _pay(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            session = self.account.pay(params["id"], hold=_hold_requested(request))
        except KeyError:
            return pages.not_found_page("Sessão de pagamento não encontrada")
        except ValueError:
            return pages.not_found_page("Esta sessão de pagamento expirou")
        target = _success_url(session)
        return _see_other(target) if target else pages.checkout_done_page(session)

    def _portal_page(self, request: Request, params: Mapping[str, str]) -> Response:
        view = self.account.portal_view(params["id"])
        if view is None:
            return pages.not_found_page("Sessão do portal não encontrada")
        return pages.portal_page(*view)

    def _portal_cancel(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            self.account.portal_cancel(params["id"], hold=_hold_requested(request))
        except KeyError:
            return pages.not_found_page("Sessão do portal não encontrada")
        return _see_other(f"/stripe/portal/{params['id']}")

    def _invoice_page(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            invoice = self.account.invoice(params["id"])
        except StripeInvalid:
            return pages.not_found_page("Fatura não encontrada")
        return pages.invoice_page(invoice)

    # Test controls

    def _get_webhook(self, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, {"url": self._webhook_url, "hold": self._holding})

    def _set_webhook(self, request: Request, params: Mapping[str, str]) -> Response:
        document = request.json_object()
        unknown = sorted(set(document) - {"url", "secret"})
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(unknown)}")
        url, secret = document.get("url"), document.get("secret")
        if not isinstance(url, str | None) or not isinstance(secret, str | None):
            raise BadRequest("url and secret must be strings (url null: post no events)")
        try:
            self.register_webhook(url, secret)
        except ValueError as error:
            raise BadRequest(str(error)) from error
        return json_response(200, {"url": url})

    def _set_hold(self, request: Request, params: Mapping[str, str]) -> Response:
        holding = request.json_object().get("hold")
        if not isinstance(holding, bool):
            raise BadRequest("hold must be true or false")
        self.hold(holding)
        return json_response(200, {"hold": holding})

    def _list_events(self, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, self.events(request.query.get("type")))

    def _resend(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            delivery = self.resend(params["id"])
        except KeyError as error:
            return json_response(404, {"error": str(error.args[0])})
        return json_response(200, delivery.to_json())

    def _deliver(self, request: Request, params: Mapping[str, str]) -> Response:
        event_ids = (request.json_object() if request.body else {}).get("event_ids")
        if event_ids is not None and not (
            isinstance(event_ids, list) and all(isinstance(item, str) for item in event_ids)
        ):
            raise BadRequest("event_ids must be a list of event ids")
        try:
            made = self.deliver(event_ids)
        except KeyError as error:
            return json_response(404, {"error": str(error.args[0])})
        return json_response(200, {"deliveries": [delivery.to_json() for delivery in made]})

    def _set_status(self, request: Request, params: Mapping[str, str]) -> Response:
        document = request.json_object()
        unknown = sorted(set(document) - {"status", "hold"})
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(unknown)}")
        hold = document.get("hold", False)
        if not isinstance(hold, bool):
            raise BadRequest("hold must be true or false")
        try:
            subscription = self.account.set_status(
                params["id"], str(document.get("status")), hold=hold
            )
        except KeyError as error:
            return json_response(404, {"error": str(error.args[0])})
        except SubscriptionEnded as error:
            return json_response(409, {"error": str(error)})
        except ValueError as error:
            return json_response(400, {"error": str(error)})
        return json_response(200, subscription)

    def _reset(self, request: Request, params: Mapping[str, str]) -> Response:
        self.reset()
        return Response(204)

    # Events and their delivery

    def _record(self, event: dict[str, Any], hold: bool) -> None:
        """Keep an event the account made and queue it for the endpoint (unless held)."""
        with self._events_changed:
            registered = self._webhook_url is not None
            held = registered and (hold or self._holding)
            if not registered:
                event["pending_webhooks"] = 0
            self._events[event["id"]] = _Event(event, held=held)
            if registered and not held:
                self._queue.put(event["id"])
        logger.info("stripe event", extra={"event_id": event["id"], "type": event["type"]})

    def _deliver_queued(self) -> None:
        while True:
            event_id = self._queue.get()
            if event_id is None:
                return
            with self._events_changed:
                known = event_id in self._events
            if known:
                self._post(event_id)

    def _post(self, event_id: str) -> Delivery:
        """Post one event, signed, to the endpoint and record how it answered."""
        with self._events_changed:
            stored = self._events[event_id]
            url, secret = self._webhook_url, self._webhook_secret
            body = json.dumps(stored.event, indent=2, ensure_ascii=False).encode()
        status_code: int | None = None
        error: str | None = None
        if url is None or secret is None:
            error = "no webhook endpoint registered"
        else:
            timestamp = now_seconds()
            signed = f"{timestamp}.".encode() + body
            signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": f"t={timestamp},v1={signature}",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            try:
                status_code = self._http.post(url, content=body, headers=headers).status_code
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__}: {failure}"
                logger.warning("stripe webhook failed", extra={"url": url, "error": error})
        delivery = Delivery(
            event_id, stored.event["type"], url or "", status_code, error, datetime.now(UTC)
        )
        with self._events_changed:
            stored.deliveries.append(delivery)
            self._events_changed.notify_all()
        return delivery


def _params(request: Request) -> dict[str, Any]:
    """Return the request's parameters: the query string, and a POST's form body."""
    pairs = list(request.query.items())
    if request.method == "POST" and request.body:
        try:
            pairs += parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError) as error:
            raise StripeInvalid(f"Invalid request body: {error}") from error
    return decode_params(pairs)


def _one_line_item(line_items: object) -> tuple[str, int]:
    """Return the price and quantity of a session's one line item."""
    if line_items is None:
        raise StripeInvalid(
            "Missing required param: line_items. In subscription mode, line_items is required.",
            param="line_items",
        )
    if not isinstance(line_items, list) or len(line_items) != 1:
        raise StripeInvalid(
            "line_items must hold one item (the simulator sells one plan per session)",
            param="line_items",
        )
    line = line_items[0]
    if not isinstance(line, dict):
        raise StripeInvalid("Invalid object", param="line_items[0]")
    unknown_params(line, ("price", "quantity"), "line_items[0]")
    price_id = text_param(line, "price")
    if price_id is None:
        raise StripeInvalid(
            "Missing required param: line_items[0][price].", param="line_items[0][price]"
        )
    quantity = int_param(
        line, "quantity", minimum=1, maximum=999999, param="line_items[0][quantity]"
    )
    return price_id, quantity or 1


def _success_url(session: Mapping[str, Any]) -> str | None:
    url = session.get("success_url")
    return url.replace("{CHECKOUT_SESSION_ID}", session["id"]) if url else None


def _see_other(location: str) -> Response:
    return Response(303, b"", "text/plain", {"Location": location})


def _hold_requested(request: Request) -> bool:
    """Return whether a hosted-page POST asks to hold its events (``hold=true``, for tests)."""
    if request.query.get("hold") == "true":
        return True
    try:
        return request.form().get("hold") == "true"
    except BadRequest:
        return False


def _masked(key: str) -> str:
    """Return a key as Stripe quotes a wrong one: its prefix and last four characters."""
    if len(key) < 12:
        return "****"
    prefix = key.rsplit("_", 1)[0] + "_" if "_" in key else ""
    return f"{prefix}****{key[-4:]}"
