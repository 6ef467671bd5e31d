"""The billing function served over real HTTP, with Firestore's emulator and the simulated Stripe.

One billing function and one provider simulator per module: the simulator's ``/stripe`` answers
Piloto's ``stripe`` library (``PILOTO_STRIPE_API_BASE``) and posts its signed events to the
function, registered as Stripe's webhook endpoint. Each test opens its own billing account.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import stripe
from google.cloud import firestore

from emulators.loop import serve_function, stop_process, wait_for_function
from emulators.simulator import ProviderSimulator
from emulators.simulator.stripe_objects import DEFAULT_SECRET_KEY
from emulators.stack import LocalStack, free_port
from shared.billing.accounts import BillingAccount, account_ref, new_trial_account
from shared.billing.plans import load_catalogue
from shared.billing.stripe_api import (
    create_checkout_session,
    ensure_customer,
    price_id_for,
    stripe_client,
)
from shared.settings import Settings
from shared.store.conversations import tenant_ref
from tests.support import stripe as stripe_events

WEBHOOK_SECRET = "whsec_piloto_integration_test_secret"
KEY_VARIABLE = "PILOTO_TEST_STRIPE_SECRET_KEY"
WEBHOOK_SECRET_VARIABLE = "PILOTO_TEST_STRIPE_WEBHOOK_SECRET"
T = TypeVar("T")


@dataclass
class BillingStack:
    """The served billing function, the simulated Stripe and Firestore."""

    url: str
    simulator: ProviderSimulator
    db: firestore.Client
    http: httpx.Client
    stripe: stripe.StripeClient
    env: dict[str, str]
    """The served function's environment (another instance may be served with changes)."""
    runtime: Path

    @property
    def stripe_url(self) -> str:
        """Return the simulated Stripe's origin (``/stripe``)."""
        return f"{self.simulator.url}/stripe"

    def open_account(self, plan_id: str = "pro") -> str:
        """Create a workspace and its trial billing account (as sign-up does); return its id."""
        account_id = f"acct-{uuid.uuid4().hex[:10]}"
        now = datetime.now(UTC)
        tenant_ref(self.db, account_id).set(
            {"name": f"Clínica {account_id}", "timezone": "America/Sao_Paulo", "locale": "pt-BR"}
        )
        account = new_trial_account(account_id, "uid-owner", now, load_catalogue())
        account_ref(self.db, account_id).set(
            account.model_copy(update={"plan_id": plan_id}).model_dump()
        )
        return account_id

    def account(self, account_id: str) -> BillingAccount:
        """Read a billing account."""
        document = account_ref(self.db, account_id).get().to_dict()
        assert document is not None, f"no billing account {account_id}"
        return BillingAccount.model_validate(document)

    def subscribe(self, account_id: str, lookup_key: str) -> str:
        """Start Checkout with the stripe library and pay on the hosted page; return the session."""
        customer = ensure_customer(
            self.stripe, customer_id=None, account_id=account_id, email=None, name=account_id
        )
        session_id, url = create_checkout_session(
            self.stripe,
            account_id=account_id,
            customer_id=customer,
            price_id=price_id_for(self.stripe, lookup_key),
            success_url="http://console.test/assinatura?checkout=success",
            cancel_url="http://console.test/assinatura?checkout=cancel",
        )
        assert url.startswith(f"{self.stripe_url}/checkout/")
        paid = self.http.post(f"{url}/pay")
        assert paid.status_code == 303, paid.text
        assert paid.headers["location"].endswith("checkout=success")
        return session_id

    def control(self, method: str, path: str, **json: Any) -> Any:
        """Call one of the simulated Stripe's test controls."""
        answer = self.http.request(method, f"{self.stripe_url}/_control/{path}", json=json or None)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Return the simulated Stripe's events (with their deliveries), oldest first."""
        found = self.control("GET", "events")
        listed = found["events"] if isinstance(found, dict) else found
        return [event for event in listed if event_type is None or event["type"] == event_type]

    def post(
        self,
        event: dict[str, Any],
        *,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        signature: str | None = None,
        url: str | None = None,
    ) -> httpx.Response:
        """POST one event to the billing function as Stripe does (signed over the raw body)."""
        body = stripe_events.body(event)
        header = signature if signature is not None else stripe_events.sign(body, secret, timestamp)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if url is not None:  # another instance: no keep-alive to hold its shutdown
            headers["Connection"] = "close"
        if header:
            headers["Stripe-Signature"] = header
        return self.http.post(url or self.url, content=body, headers=headers)

    def stripe_event(self, event_id: str) -> dict[str, Any] | None:
        """Return ``stripe_events/{event_id}``, or None."""
        return self.db.collection("stripe_events").document(event_id).get().to_dict()


@contextmanager
def served_billing(stack: BillingStack, **changes: str) -> Iterator[str]:
    """Serve another billing function instance with a changed environment; yield its URL."""
    port = free_port()
    process = serve_function("billing", "http", port, {**stack.env, **changes}, stack.runtime)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_function(url, process, "billing")
        yield url
    finally:
        stop_process(process)


def eventually(check: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``check`` every 50 ms until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def billing(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BillingStack]:
    """Serve functions/billing against the emulators and a simulated Stripe posting to it."""
    project = local_stack.project_id
    runtime = tmp_path_factory.mktemp("billing")
    simulator = ProviderSimulator([]).start()
    stripe_base = f"{simulator.url}/stripe"
    env = {
        **os.environ,
        **local_stack.env(),
        "GOOGLE_CLOUD_PROJECT": project,
        "PILOTO_ENVIRONMENT": "test",
        "PILOTO_STRIPE_API_BASE": stripe_base,
        "PILOTO_STRIPE_SECRET_KEY": f"env:{KEY_VARIABLE}",
        "PILOTO_STRIPE_WEBHOOK_SECRET": f"env:{WEBHOOK_SECRET_VARIABLE}",
        KEY_VARIABLE: DEFAULT_SECRET_KEY,
        WEBHOOK_SECRET_VARIABLE: WEBHOOK_SECRET,
    }
    port = free_port()
    process = serve_function("billing", "http", port, env, runtime)
    url = f"http://127.0.0.1:{port}/"
    http = httpx.Client(timeout=15, trust_env=False)
    environment = pytest.MonkeyPatch()
    environment.setenv(KEY_VARIABLE, DEFAULT_SECRET_KEY)  # the tests' own Stripe calls
    try:
        client = stripe_client(
            Settings(
                project_id=project,
                stripe_api_base=stripe_base,
                stripe_secret_key=f"env:{KEY_VARIABLE}",
            )
        )
        wait_for_function(url, process, "billing")
        stack = BillingStack(
            url=url,
            simulator=simulator,
            db=firestore.Client(project=project),
            http=http,
            stripe=client,
            env=env,
            runtime=runtime,
        )
        stack.control("POST", "webhook", url=url, secret=WEBHOOK_SECRET)
        yield stack
    finally:
        http.close()  # first: gunicorn waits for open keep-alive connections before it stops
        simulator.stop()
        stop_process(process)
        environment.undo()
