"""The simulated Stripe account: its objects, how they change, and the events the changes make.

``StripeAccount`` keeps prices (one per plan of ``plans.yaml``), customers, Checkout and portal
sessions, subscriptions and invoices behind one lock, and hands every event it makes to a
``publish`` callback (``emulators/simulator/stripe.py`` records and delivers them). It raises
``StripeInvalid`` for what the API refuses, ``KeyError`` / ``ValueError`` for test controls.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from emulators.simulator.stripe_objects import (
    StripeInvalid,
    add_month,
    customer_object,
    event_object,
    invoice_object,
    legacy_plan,
    merged_metadata,
    missing,
    new_id,
    now_seconds,
    seeded_prices,
    subscription_object,
)
from shared.billing.plans import Catalogue

CONTROL_STATUSES = ("past_due", "active", "unpaid", "canceled")
SESSION_SECONDS = 24 * 3600

Publish = Callable[[dict[str, Any], bool], None]
"""Called with each new event and whether to hold it (under the account's lock, in order)."""


class SubscriptionEnded(ValueError):
    """A canceled subscription cannot change status (Stripe's canceled is final)."""


class StripeAccount:
    """One Stripe test account's objects (thread-safe; answers are copies)."""

    def __init__(self, catalogue: Catalogue, base_url: Callable[[], str], publish: Publish) -> None:
        self._catalogue = catalogue
        self._base_url = base_url
        self._publish = publish
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every object but the seeded prices."""
        with self._lock:
            self._prices = seeded_prices(self._catalogue, now_seconds())
            self._customers: dict[str, dict[str, Any]] = {}
            self._sessions: dict[str, dict[str, Any]] = {}
            self._session_lines: dict[str, tuple[str, int, dict[str, str], int | None]] = {}
            """Per Checkout session: price id, quantity, subscription metadata, trial days."""
            self._portal_sessions: dict[str, dict[str, Any]] = {}
            self._subscriptions: dict[str, dict[str, Any]] = {}
            self._invoices: dict[str, dict[str, Any]] = {}

    # Prices and customers

    def prices(
        self,
        *,
        lookup_keys: Sequence[str] | None,
        active: bool | None,
        currency: str | None = None,
        product: str | None = None,
    ) -> list[dict[str, Any]]:
        """Return the prices matching every filter given."""
        with self._lock:
            return [
                copy.deepcopy(price)
                for price in self._prices.values()
                if (lookup_keys is None or price["lookup_key"] in lookup_keys)
                and (active is None or price["active"] is active)
                and currency in (None, price["currency"])
                and product in (None, price["product"])
            ]

    def create_customer(
        self, *, name: str | None, email: str | None, metadata: Mapping[str, str], **extra: Any
    ) -> dict[str, Any]:
        """Create a customer (``extra``: description, phone)."""
        customer_id = new_id("cus_", 14)
        customer = customer_object(
            customer_id, name=name, email=email, metadata=metadata, created=now_seconds()
        )
        customer.update(extra)
        with self._lock:
            self._customers[customer_id] = customer
            return copy.deepcopy(customer)

    def customer(self, customer_id: str, *, param: str = "id", status: int = 404) -> dict[str, Any]:
        """Return a customer (a deleted one is ``{"id", "object", "deleted": true}``)."""
        with self._lock:
            customer = self._customers.get(customer_id)
            if customer is None:
                raise missing("customer", customer_id, param, status)
            return copy.deepcopy(customer)

    def delete_customer(self, customer_id: str) -> dict[str, Any]:
        """Delete a customer."""
        with self._lock:
            if self.customer(customer_id).get("deleted"):
                raise missing("customer", customer_id)
            deleted = {"id": customer_id, "object": "customer", "deleted": True}
            self._customers[customer_id] = deleted
            return dict(deleted)

    def _live_customer(self, customer_id: str, param: str) -> dict[str, Any]:
        customer = self.customer(customer_id, param=param, status=400)
        if customer.get("deleted"):
            raise missing("customer", customer_id, param, 400)
        return customer

    def _price(self, price_id: str, param: str) -> dict[str, Any]:
        price = self._prices.get(price_id)
        if price is None:
            raise missing("price", price_id, param, 400)
        if not price["active"]:
            raise StripeInvalid(f"The price specified ({price_id}) is inactive.", param=param)
        return price

    # Checkout and the Customer Portal

    def create_checkout(
        self,
        *,
        price_id: str,
        quantity: int,
        customer_id: str | None,
        customer_email: str | None,
        fields: Mapping[str, Any],
        subscription_metadata: Mapping[str, str],
        trial_days: int | None,
    ) -> dict[str, Any]:
        """Open a subscription Checkout session (``fields``: the session's plain fields)."""
        with self._lock:
            price = self._price(price_id, "line_items[0][price]")
            if customer_id is not None:
                if customer_email is not None:
                    raise StripeInvalid(
                        "You may only specify one of these parameters: customer, customer_email.",
                        param="customer_email",
                    )
                customer_email = self._live_customer(customer_id, "customer")["email"]
            now = now_seconds()
            session_id = new_id("cs_test_a1", 58)
            amount = 0 if trial_days else price["unit_amount"] * quantity
            session: dict[str, Any] = {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": amount,
                "amount_total": amount,
                "automatic_tax": {"enabled": False, "liability": None, "status": None},
                "cancel_url": None,
                "client_reference_id": None,
                "created": now,
                "currency": price["currency"],
                "customer": customer_id,
                "customer_creation": None if customer_id else "always",
                "customer_email": customer_email,
                "expires_at": now + SESSION_SECONDS,
                "invoice": None,
                "livemode": False,
                "locale": None,
                "metadata": {},
                "mode": "subscription",
                "payment_method_types": ["card"],
                "payment_status": "unpaid",
                "status": "open",
                "subscription": None,
                "success_url": None,
                "ui_mode": "hosted",
                "url": f"{self._base_url()}/stripe/checkout/{session_id}",
                **fields,
            }
            self._sessions[session_id] = session
            self._session_lines[session_id] = (
                price_id,
                quantity,
                dict(subscription_metadata),
                trial_days,
            )
            return copy.deepcopy(session)

    def checkout(self, session_id: str) -> dict[str, Any]:
        """Return a Checkout session."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise missing("checkout.session", session_id, "session")
            return copy.deepcopy(session)

    def checkout_view(self, session_id: str) -> tuple[dict[str, Any], dict[str, Any], int] | None:
        """Return what Checkout's page shows: the session, its price and quantity."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            price_id, quantity, _, _ = self._session_lines[session_id]
            return copy.deepcopy(session), copy.deepcopy(self._prices[price_id]), quantity

    def pay(self, session_id: str, *, hold: bool = False) -> dict[str, Any]:
        """Complete an open Checkout session as a paying person would; return the session.

        Creates the customer (if the session had none), the subscription (active, or trialing)
        and its paid invoice, and sends ``checkout.session.completed``,
        ``customer.subscription.created`` and ``invoice.paid``. Paying twice changes nothing.
        """
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise KeyError(f"no Checkout session {session_id}")
            if session["status"] == "complete":
                return copy.deepcopy(session)
            now = now_seconds()
            if session["status"] != "open" or session["expires_at"] < now:
                raise ValueError(f"Checkout session {session_id} has expired")
            price_id, quantity, metadata, trial_days = self._session_lines[session_id]
            customer_id = session["customer"]
            if customer_id is None:
                customer_id = new_id("cus_", 14)
                self._customers[customer_id] = customer_object(
                    customer_id,
                    name=None,
                    email=session["customer_email"],
                    metadata={},
                    created=now,
                )
            subscription = subscription_object(
                customer_id=customer_id,
                price=self._prices[price_id],
                quantity=quantity,
                metadata=metadata,
                trial_days=trial_days,
                created=now,
            )
            self._subscriptions[subscription["id"]] = subscription
            invoice = self._new_invoice(subscription, "subscription_create", paid=True, at=now)
            session.update(
                status="complete",
                payment_status="no_payment_required" if trial_days else "paid",
                customer=customer_id,
                subscription=subscription["id"],
                invoice=invoice["id"],
            )
            self._emit("checkout.session.completed", session, now, hold=hold)
            self._emit("customer.subscription.created", subscription, now, hold=hold)
            self._emit("invoice.paid", invoice, now, hold=hold)
            return copy.deepcopy(session)

    def create_portal(
        self, *, customer_id: str, return_url: str | None, locale: str | None
    ) -> dict[str, Any]:
        """Open a Customer Portal session."""
        with self._lock:
            self._live_customer(customer_id, "customer")
            session_id = new_id("bps_1", 23)
            session = {
                "id": session_id,
                "object": "billing_portal.session",
                "configuration": "bpc_sim_default",
                "created": now_seconds(),
                "customer": customer_id,
                "flow": None,
                "livemode": False,
                "locale": locale,
                "on_behalf_of": None,
                "return_url": return_url,
                "url": f"{self._base_url()}/stripe/portal/{session_id}",
            }
            self._portal_sessions[session_id] = session
            return copy.deepcopy(session)

    def portal_view(
        self, session_id: str
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]] | None:
        """Return what the portal shows: session, customer, subscription, invoices (newest 1st)."""
        with self._lock:
            session = self._portal_sessions.get(session_id)
            if session is None:
                return None
            customer_id = session["customer"]
            subscription = self._current_subscription(customer_id)
            invoices = sorted(
                (i for i in self._invoices.values() if i["customer"] == customer_id),
                key=lambda invoice: invoice["created"],
                reverse=True,
            )
            return copy.deepcopy(
                (session, self._customers[customer_id], subscription, list(invoices))
            )

    def portal_cancel(self, session_id: str, *, hold: bool = False) -> bool:
        """Cancel the portal customer's live subscription now; return whether one was."""
        with self._lock:
            session = self._portal_sessions.get(session_id)
            if session is None:
                raise KeyError(f"no portal session {session_id}")
            subscription = self._current_subscription(session["customer"])
            if subscription is None or subscription["status"] == "canceled":
                return False
            self._cancel(subscription, now_seconds(), "cancellation_requested", hold=hold)
            return True

    def _current_subscription(self, customer_id: str) -> dict[str, Any] | None:
        """Return the customer's live subscription, else its latest one."""
        owned = sorted(
            (s for s in self._subscriptions.values() if s["customer"] == customer_id),
            key=lambda subscription: subscription["created"],
        )
        live = [s for s in owned if s["status"] != "canceled"]
        chosen = live or owned
        return chosen[-1] if chosen else None

    # Subscriptions and invoices

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        """Return a subscription."""
        with self._lock:
            return copy.deepcopy(self._subscription(subscription_id))

    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None:
            raise missing("subscription", subscription_id)
        return subscription

    def update_subscription(
        self,
        subscription_id: str,
        *,
        item_id: str | None,
        price_id: str | None,
        quantity: int | None,
        cancel_at_period_end: bool | None,
        metadata: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        """Change the one item, the end-of-period cancel or metadata; send what changed.

        The event is ``customer.subscription.updated`` with ``previous_attributes``; prorations
        are not invoiced.
        """
        with self._lock:
            subscription = self._subscription(subscription_id)
            changes_item = item_id is not None or price_id is not None or quantity is not None
            if subscription["status"] == "canceled" and (
                changes_item or cancel_at_period_end is not None
            ):
                raise StripeInvalid(
                    "A canceled subscription can only update its cancellation_details and metadata."
                )
            item = subscription["items"]["data"][0]
            if changes_item and item_id is None:
                raise StripeInvalid(
                    "Missing required param: items[0][id] (adding items is not simulated).",
                    param="items[0][id]",
                )
            if item_id is not None and item_id != item["id"]:
                raise missing("subscription_item", item_id, "items[0][id]", 400)
            price = self._price(price_id, "items[0][price]") if price_id is not None else None
            before = copy.deepcopy(subscription)
            if price is not None:
                item["price"] = copy.deepcopy(price)
                item["plan"] = legacy_plan(price)
            if quantity is not None:
                item["quantity"] = quantity
            if cancel_at_period_end is not None:
                subscription["cancel_at_period_end"] = cancel_at_period_end
                subscription["cancel_at"] = (
                    item["current_period_end"] if cancel_at_period_end else None
                )
            if metadata is not None:
                subscription["metadata"] = merged_metadata(subscription["metadata"], metadata)
            self._emit_updated(subscription, before, now_seconds())
            return copy.deepcopy(subscription)

    def cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        """Cancel a subscription now (``DELETE /v1/subscriptions/{id}``)."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            if subscription["status"] == "canceled":
                raise StripeInvalid(
                    f"No such subscription: '{subscription_id}' (it is already canceled)",
                    param="id",
                    code="resource_missing",
                    status=404,
                )
            self._cancel(subscription, now_seconds(), "cancellation_requested")
            return copy.deepcopy(subscription)

    def set_status(
        self, subscription_id: str, status: str, *, hold: bool = False
    ) -> dict[str, Any]:
        """Move a subscription as payments would, with the events Stripe sends; return it.

        past_due: an open invoice, ``invoice.payment_failed`` + ``customer.subscription.updated``;
        active: the open invoice paid (a trial ends: a new period and invoice), ``invoice.paid``
        + ``customer.subscription.updated``; unpaid: ``customer.subscription.updated``;
        canceled: ``customer.subscription.deleted``.
        """
        if status not in CONTROL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(CONTROL_STATUSES)}")
        with self._lock:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:
                raise KeyError(f"no subscription {subscription_id}")
            if subscription["status"] == "canceled":
                raise SubscriptionEnded(f"subscription {subscription_id} is canceled for good")
            before = copy.deepcopy(subscription)
            now = now_seconds()
            if status == "canceled":
                paying = before["status"] in ("active", "trialing")
                reason = "cancellation_requested" if paying else "payment_failed"
                self._cancel(subscription, now, reason, hold=hold)
            elif status == "past_due" and before["status"] != "past_due":
                invoice = self._new_invoice(subscription, "subscription_cycle", paid=False, at=now)
                subscription["status"] = "past_due"
                self._emit("invoice.payment_failed", invoice, now, hold=hold)
            elif status == "active" and before["status"] != "active":
                if before["status"] == "trialing":
                    self._end_trial(subscription, now)
                invoice = self._open_invoice(subscription) or self._new_invoice(
                    subscription, "subscription_cycle", paid=False, at=now
                )
                invoice.update(
                    status="paid",
                    amount_paid=invoice["amount_due"],
                    amount_remaining=0,
                    next_payment_attempt=None,
                    auto_advance=False,
                )
                invoice["status_transitions"]["paid_at"] = now
                subscription["status"] = "active"
                self._emit("invoice.paid", invoice, now, hold=hold)
            elif status == "unpaid":
                subscription["status"] = "unpaid"
            if status != "canceled":
                self._emit_updated(subscription, before, now, hold=hold)
            return copy.deepcopy(subscription)

    def invoices(
        self, *, customer: str | None, subscription: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        """Return the invoices matching every filter given, newest first."""
        with self._lock:
            return [
                copy.deepcopy(invoice)
                for invoice in sorted(
                    self._invoices.values(), key=lambda item: item["created"], reverse=True
                )
                if customer in (None, invoice["customer"])
                and subscription
                in (None, invoice["parent"]["subscription_details"]["subscription"])
                and status in (None, invoice["status"])
            ]

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        """Return an invoice."""
        with self._lock:
            invoice = self._invoices.get(invoice_id)
            if invoice is None:
                raise missing("invoice", invoice_id)
            return copy.deepcopy(invoice)

    # Changes (the lock is held)

    def _new_invoice(
        self, subscription: dict[str, Any], reason: str, *, paid: bool, at: int
    ) -> dict[str, Any]:
        customer = self._customers[subscription["customer"]]
        item = subscription["items"]["data"][0]
        trial_start = subscription["status"] == "trialing" and reason == "subscription_create"
        invoice = invoice_object(
            customer=customer,
            subscription=subscription,
            amount=0 if trial_start else item["price"]["unit_amount"] * item["quantity"],
            billing_reason=reason,
            paid=paid,
            created=at,
            hosted_base=self._base_url(),
        )
        customer["next_invoice_sequence"] += 1
        self._invoices[invoice["id"]] = invoice
        subscription["latest_invoice"] = invoice["id"]
        return invoice

    def _open_invoice(self, subscription: Mapping[str, Any]) -> dict[str, Any] | None:
        latest = self._invoices.get(subscription.get("latest_invoice") or "")
        return latest if latest is not None and latest["status"] == "open" else None

    def _end_trial(self, subscription: dict[str, Any], now: int) -> None:
        """End a trial now: a new monthly period starts."""
        item = subscription["items"]["data"][0]
        item["current_period_start"] = now
        item["current_period_end"] = add_month(now)
        subscription["trial_end"] = now
        subscription["billing_cycle_anchor"] = now

    def _cancel(
        self, subscription: dict[str, Any], now: int, reason: str, *, hold: bool = False
    ) -> None:
        subscription.update(status="canceled", canceled_at=now, ended_at=now, cancel_at=None)
        subscription["cancel_at_period_end"] = False
        subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}
        open_invoice = self._open_invoice(subscription)
        if open_invoice is not None:
            open_invoice.update(status="void", auto_advance=False, next_payment_attempt=None)
            open_invoice["status_transitions"]["voided_at"] = now
        self._emit("customer.subscription.deleted", subscription, now, hold=hold)

    def _emit_updated(
        self,
        subscription: dict[str, Any],
        before: Mapping[str, Any],
        now: int,
        *,
        hold: bool = False,
    ) -> None:
        changed = {
            key: copy.deepcopy(value)
            for key, value in before.items()
            if subscription.get(key) != value
        }
        if changed:
            self._emit(
                "customer.subscription.updated",
                subscription,
                now,
                previous_attributes=changed,
                hold=hold,
            )

    def _emit(
        self,
        event_type: str,
        data_object: Mapping[str, Any],
        now: int,
        *,
        previous_attributes: Mapping[str, Any] | None = None,
        hold: bool = False,
    ) -> None:
        event = event_object(
            event_type,
            copy.deepcopy(dict(data_object)),
            created=now,
            previous_attributes=previous_attributes,
        )
        self._publish(event, hold)
