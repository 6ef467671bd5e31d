"""The simulated Stripe driven only through the real ``stripe`` library (shared/billing/stripe_api).

The API calls go through ``stripe_client`` against ``{simulator}/stripe``; what a person does goes
through the hosted pages over HTTP; the events the simulator posts land on a tiny local receiver
and are checked with ``stripe.Webhook.construct_event`` (the library's own signature check). No
GCP emulator is needed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from emulators.simulator import ProviderSimulator
from shared.billing.plans import load_catalogue
from shared.billing.stripe_api import (
    StripeRefused,
    StripeUnavailable,
    change_subscription_price,
    create_checkout_session,
    create_portal_session,
    ensure_customer,
    price_id_for,
    retrieve_subscription,
    stripe_client,
)
from shared.settings import Settings

KEY = "sk_test_simulated_account_key_0001"
WEBHOOK_SECRET = "whsec_simulated_endpoint_secret"
ACCOUNT = "acme-clinica"
CONSOLE = "http://console.test"
SUCCESS = CONSOLE + "/assinatura?checkout=success&session={CHECKOUT_SESSION_ID}"
CANCEL = CONSOLE + "/assinatura?checkout=cancel"


@dataclass
class Receiver:
    """Stands in for Piloto's billing function: keeps every POST; answers ``status``."""

    url: str = ""
    status: int = 200
    received: list[tuple[str, bytes]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} events arrived")
                self.changed.wait(remaining)
            return list(self.received)

    def events(self, count: int) -> list[stripe.Event]:
        """Return the first ``count`` events, each verified as Piloto verifies them."""
        return [
            stripe.Webhook.construct_event(body, header, WEBHOOK_SECRET)
            for header, body in self.wait_for(count)[:count]
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with state.changed:
                state.received.append((self.headers.get("stripe-signature") or "", body))
                state.changed.notify_all()
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/billing"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def simulator(receiver: Receiver) -> Iterator[ProviderSimulator]:
    with ProviderSimulator([], stripe_secret_key=KEY) as running:
        answer = httpx.post(
            f"{running.url}/stripe/_control/webhook",
            json={"url": receiver.url, "secret": WEBHOOK_SECRET},
        )
        assert answer.status_code == 200
        yield running


@pytest.fixture
def client(simulator: ProviderSimulator, monkeypatch: pytest.MonkeyPatch) -> stripe.StripeClient:
    monkeypatch.setenv("TEST_STRIPE_KEY", KEY)
    settings = Settings(
        project_id="demo-piloto-test",
        stripe_secret_key="env:TEST_STRIPE_KEY",
        stripe_api_base=f"{simulator.url}/stripe",
    )
    return stripe_client(settings)


def subscribe(
    client: stripe.StripeClient, simulator: ProviderSimulator, *, hold: bool = False
) -> tuple[str, str]:
    """Start Checkout for Pro and pay on the hosted page; return the customer and session."""
    customer = ensure_customer(
        client, customer_id=None, account_id=ACCOUNT, email="dona@clinica.test", name="Clínica"
    )
    session_id, url = create_checkout_session(
        client,
        account_id=ACCOUNT,
        customer_id=customer,
        price_id=price_id_for(client, "piloto_pro_monthly"),
        success_url=SUCCESS,
        cancel_url=CANCEL,
    )
    paid = httpx.post(f"{url}/pay", data={"hold": "true"} if hold else {})
    assert paid.status_code == 303
    assert paid.headers["location"] == SUCCESS.replace("{CHECKOUT_SESSION_ID}", session_id)
    return customer, session_id


def paid_invoice_id(receiver: Receiver) -> str:
    """Return the id of the first invoice.paid event's invoice."""
    return str(next(e.data.object.id for e in receiver.events(3) if e.type == "invoice.paid"))


def control(simulator: ProviderSimulator, path: str, document: Any = None) -> httpx.Response:
    return httpx.post(f"{simulator.url}/stripe/_control/{path}", json=document)


def test_every_plan_has_a_price_by_lookup_key(client: stripe.StripeClient) -> None:
    for plan in load_catalogue().plans:
        assert price_id_for(client, plan.stripe_lookup_key) == f"price_sim_{plan.plan_id}"
    prices = client.v1.prices.list(params={"lookup_keys": ["piloto_agency_monthly"]}).data
    (price,) = prices
    assert (price.unit_amount, price.currency, price.lookup_key) == (
        149700,
        "brl",
        "piloto_agency_monthly",
    )
    assert price.to_dict()["recurring"]["interval"] == "month"
    with pytest.raises(StripeRefused) as refused:
        price_id_for(client, "piloto_enterprise_monthly")
    assert refused.value.code == "resource_missing"


def test_checkout_on_the_hosted_page_subscribes_and_posts_signed_events_in_order(
    client: stripe.StripeClient, simulator: ProviderSimulator, receiver: Receiver
) -> None:
    customer = ensure_customer(
        client, customer_id=None, account_id=ACCOUNT, email="dona@clinica.test", name="Clínica"
    )
    assert (
        ensure_customer(
            client, customer_id=customer, account_id=ACCOUNT, email=None, name="Clínica"
        )
        == customer
    )
    session_id, url = create_checkout_session(
        client,
        account_id=ACCOUNT,
        customer_id=customer,
        price_id=price_id_for(client, "piloto_pro_monthly"),
        success_url=SUCCESS,
        cancel_url=CANCEL,
    )
    assert url == f"{simulator.url}/stripe/checkout/{session_id}"
    page = httpx.get(url)
    assert page.status_code == 200
    assert "Pro" in page.text and "R$ 497,00" in page.text
    assert 'data-testid="stripe-pay"' in page.text and f'href="{CANCEL}"' in page.text
    assert receiver.received == []

    paid = httpx.post(f"{url}/pay")

    assert paid.status_code == 303
    assert paid.headers["location"].endswith(f"checkout=success&session={session_id}")
    completed, created, invoice_paid = receiver.events(3)
    assert [completed.type, created.type, invoice_paid.type] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    assert completed.api_version == stripe.api_version
    session = completed.data.object
    assert (session.id, session.client_reference_id, session.status) == (
        session_id,
        ACCOUNT,
        "complete",
    )
    subscription_id = session.subscription
    assert created.data.object.metadata["account_id"] == ACCOUNT
    invoice = invoice_paid.data.object
    assert invoice.status == "paid" and invoice.amount_paid == 49700
    assert invoice.parent.subscription_details.subscription == subscription_id
    state = retrieve_subscription(client, subscription_id)
    assert (state.customer_id, state.account_id, state.status, state.lookup_key) == (
        customer,
        ACCOUNT,
        "active",
        "piloto_pro_monthly",
    )
    assert state.current_period_end is not None
    days = (state.current_period_end - datetime.now(UTC)) / timedelta(days=1)
    assert 27 < days <= 31
    header, body = receiver.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, "whsec_another_endpoint")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"complete", b"open"), header, WEBHOOK_SECRET)
    again = httpx.post(f"{url}/pay")  # a second click changes nothing
    assert again.status_code == 303
    assert len(simulator.stripe.events()) == 3


def test_a_trial_checkout_starts_trialing_with_a_free_invoice(
    client: stripe.StripeClient, simulator: ProviderSimulator, receiver: Receiver
) -> None:
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": "price_sim_starter", "quantity": 1}],
            "customer_email": "novo@clinica.test",
            "success_url": SUCCESS,
            "subscription_data": {"trial_period_days": 14, "metadata": {"account_id": ACCOUNT}},
        }
    )
    assert httpx.post(f"{session.url}/pay").status_code == 303
    _, created, invoice_paid = receiver.events(3)
    state = retrieve_subscription(client, created.data.object.id)
    assert state.status == "trialing" and state.lookup_key == "piloto_starter_monthly"
    assert state.trial_end is not None and state.trial_end == state.current_period_end
    assert invoice_paid.data.object.amount_paid == 0


def test_a_price_change_reports_what_changed(
    client: stripe.StripeClient, simulator: ProviderSimulator, receiver: Receiver
) -> None:
    _, session_id = subscribe(client, simulator)
    subscription_id = client.v1.checkout.sessions.retrieve(session_id).subscription
    assert isinstance(subscription_id, str)
    before = retrieve_subscription(client, subscription_id)
    assert before.item_id is not None

    after = change_subscription_price(
        client,
        subscription_id=subscription_id,
        item_id=before.item_id,
        price_id=price_id_for(client, "piloto_agency_monthly"),
    )

    assert (after.lookup_key, after.price_id, after.item_id) == (
        "piloto_agency_monthly",
        "price_sim_agency",
        before.item_id,
    )
    assert after.current_period_end == before.current_period_end
    updated = receiver.events(4)[3]
    assert updated.type == "customer.subscription.updated"
    previous = updated.data.to_dict()["previous_attributes"]["items"]["data"][0]["price"]
    assert previous["lookup_key"] == "piloto_pro_monthly"
    with pytest.raises(StripeRefused) as refused:
        change_subscription_price(
            client, subscription_id=subscription_id, item_id="si_unknown", price_id="price_sim_pro"
        )
    assert refused.value.param == "items[0][id]"


def test_the_portal_lists_invoices_and_cancels_now(
    client: stripe.StripeClient, simulator: ProviderSimulator, receiver: Receiver
) -> None:
    customer, session_id = subscribe(client, simulator)
    subscription_id = client.v1.checkout.sessions.retrieve(session_id).subscription
    assert isinstance(subscription_id, str)
    url = create_portal_session(client, customer_id=customer, return_url=CONSOLE + "/assinatura")

    page = httpx.get(url)

    assert page.status_code == 200
    assert 'data-testid="stripe-portal-invoice"' in page.text and "R$ 497,00" in page.text
    assert f'data-testid="stripe-portal-return" href="{CONSOLE}/assinatura"' in page.text
    invoices = client.v1.invoices.list(params={"customer": customer}).data
    assert [invoice.status for invoice in invoices] == ["paid"]
    assert httpx.get(str(invoices[0].hosted_invoice_url)).status_code == 200
    canceled = httpx.post(f"{url}/cancel")
    assert canceled.status_code == 303
    deleted = receiver.events(4)[3]
    assert deleted.type == "customer.subscription.deleted"
    state = retrieve_subscription(client, subscription_id)
    assert state.status == "canceled" and state.canceled_at is not None
    assert "Cancelar assinatura" not in httpx.get(url).text


def test_payment_controls_send_what_stripe_sends(
    client: stripe.StripeClient, simulator: ProviderSimulator, receiver: Receiver
) -> None:
    _, session_id = subscribe(client, simulator)
    subscription_id = client.v1.checkout.sessions.retrieve(session_id).subscription

    assert control(simulator, f"subscriptions/{subscription_id}", {"status": "past_due"}).is_success
    failed, past_due = receiver.events(5)[3:]
    assert control(simulator, f"subscriptions/{subscription_id}", {"status": "active"}).is_success
    paid, active = receiver.events(7)[5:]
    assert control(simulator, f"subscriptions/{subscription_id}", {"status": "canceled"}).is_success
    deleted = receiver.events(8)[7]

    assert failed.type == "invoice.payment_failed" and failed.data.object.status == "open"
    assert past_due.type == "customer.subscription.updated"
    assert past_due.data.object.status == "past_due"
    assert past_due.data.to_dict()["previous_attributes"] == {
        "status": "active",
        "latest_invoice": paid_invoice_id(receiver),
    }
    assert (paid.type, paid.data.object.id) == ("invoice.paid", failed.data.object.id)
    assert active.data.object.status == "active"
    assert deleted.type == "customer.subscription.deleted"
    assert retrieve_subscription(client, str(subscription_id)).status == "canceled"
    again = control(simulator, f"subscriptions/{subscription_id}", {"status": "active"})
    assert again.status_code == 409
    assert (
        control(simulator, f"subscriptions/{subscription_id}", {"status": "paused"}).status_code
        == 400
    )
    assert control(simulator, "subscriptions/sub_unknown", {"status": "active"}).status_code == 404


def test_held_events_go_in_the_order_asked_and_a_resend_is_a_duplicate(
    client: stripe.StripeClient, simulator: ProviderSimulator, receiver: Receiver
) -> None:
    subscribe(client, simulator, hold=True)
    listed = httpx.get(f"{simulator.url}/stripe/_control/events").json()
    assert [(event["held"], event["deliveries"]) for event in listed] == [(True, [])] * 3
    reversed_ids = [event["id"] for event in reversed(listed)]

    delivered = control(simulator, "deliver", {"event_ids": reversed_ids})

    assert [item["status_code"] for item in delivered.json()["deliveries"]] == [200] * 3
    assert [event.id for event in receiver.events(3)] == reversed_ids
    receiver.status = 500
    resent = control(simulator, f"events/{reversed_ids[0]}/resend")
    assert resent.json()["status_code"] == 500
    duplicate = receiver.events(4)[3]
    assert duplicate.id == reversed_ids[0]
    listed = {
        event["id"]: event for event in httpx.get(f"{simulator.url}/stripe/_control/events").json()
    }
    assert [d["status_code"] for d in listed[reversed_ids[0]]["deliveries"]] == [200, 500]
    assert control(simulator, "deliver", {"event_ids": ["evt_unknown"]}).status_code == 404


def test_a_deleted_or_unknown_customer_is_replaced(client: stripe.StripeClient) -> None:
    first = ensure_customer(client, customer_id=None, account_id=ACCOUNT, email=None, name="A")
    client.v1.customers.delete(first)

    second = ensure_customer(client, customer_id=first, account_id=ACCOUNT, email=None, name="A")
    third = ensure_customer(
        client, customer_id="cus_gone", account_id=ACCOUNT, email=None, name="A"
    )

    assert len({first, second, third}) == 3
    created = client.v1.customers.retrieve(third)
    assert (created.name, created.to_dict()["metadata"]) == ("A", {"account_id": ACCOUNT})


def test_stripe_errors_come_out_as_refused_or_unavailable(
    client: stripe.StripeClient, simulator: ProviderSimulator
) -> None:
    with pytest.raises(StripeRefused) as unknown:
        retrieve_subscription(client, "sub_unknown")
    assert (unknown.value.code, unknown.value.http_status) == ("resource_missing", 404)
    with pytest.raises(StripeRefused) as missing_customer:
        create_portal_session(client, customer_id="cus_unknown", return_url=CONSOLE)
    assert missing_customer.value.param == "customer"
    wrong_key = stripe.StripeClient(
        "sk_test_not_the_simulators_key", base_addresses={"api": f"{simulator.url}/stripe"}
    )
    with pytest.raises(StripeRefused) as refused:
        price_id_for(wrong_key, "piloto_pro_monthly")
    assert refused.value.http_status == 401
    assert "sk_test_not_the_simulators_key" not in str(refused.value)
    customer = ensure_customer(client, customer_id=None, account_id=ACCOUNT, email=None, name="A")
    checkout: dict[str, Any] = {
        "account_id": ACCOUNT,
        "customer_id": customer,
        "price_id": "price_sim_pro",
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        "idempotency_key": "checkout-acme-1",
    }
    first = create_checkout_session(client, **checkout)
    assert create_checkout_session(client, **checkout) == first  # replayed, not a new session
    with pytest.raises(StripeRefused) as reused:
        create_checkout_session(client, **{**checkout, "price_id": "price_sim_agency"})
    assert "idempotent" in str(reused.value)
    with pytest.raises(StripeRefused) as bad_price:
        create_checkout_session(
            client, **{**checkout, "price_id": "price_x", "idempotency_key": None}
        )
    assert bad_price.value.param == "line_items[0][price]"


def test_a_stopped_stripe_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TEST_STRIPE_KEY", KEY)
    settings = Settings(
        project_id="demo-piloto-test",
        stripe_secret_key="env:TEST_STRIPE_KEY",
        stripe_api_base=f"http://127.0.0.1:{port}/stripe",
    )
    with pytest.raises(StripeUnavailable):
        retrieve_subscription(stripe_client(settings), "sub_any")
