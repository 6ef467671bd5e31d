"""Stripe webhooks: signatures, the status mapping, one event applied once and in order."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.billing.accounts import BillingAccount, account_ref, new_trial_account
from shared.billing.plans import load_catalogue
from shared.billing.stripe_api import (
    StripeUnavailable,
    SubscriptionState,
    subscription_state,
)
from shared.billing.webhooks import (
    EVENTS_COLLECTION,
    BadStripeEvent,
    account_changes,
    event_refs,
    handle_event,
    verify_event,
)
from shared.store.conversations import tenant_ref
from shared.store.memory import MemoryFirestore
from tests.support import stripe as stripe_events

SECRET = "whsec_test_piloto_unit"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()


def state(status: str = "active", **changes: Any) -> SubscriptionState:
    base = SubscriptionState(
        subscription_id="sub_1",
        customer_id="cus_1",
        account_id="acme",
        status=status,
        lookup_key="piloto_starter_monthly",
        price_id="price_sim_starter",
        item_id="si_1",
        current_period_end=NOW + timedelta(days=30),
        cancel_at_period_end=False,
        canceled_at=None,
        trial_end=None,
    )
    return replace(base, **changes)


def account(**changes: Any) -> BillingAccount:
    trial = new_trial_account("acme", "uid-owner", NOW - timedelta(days=3), CATALOGUE)
    return trial.model_copy(update=changes)


# verify_event ------------------------------------------------------------------------------


def signed(document: dict[str, Any] | bytes, *, timestamp: int | None = None) -> tuple[bytes, str]:
    payload = document if isinstance(document, bytes) else stripe_events.body(document)
    return payload, stripe_events.sign(payload, SECRET, timestamp)


def a_event() -> dict[str, Any]:
    subscription = stripe_events.subscription("sub_1", customer="cus_1", account_id="acme")
    return stripe_events.event("customer.subscription.updated", subscription, created=1_700_000_000)


def test_a_correctly_signed_event_is_returned() -> None:
    document = a_event()
    payload, header = signed(document)

    assert verify_event(payload, header, SECRET, 300) == document


def test_one_valid_signature_among_several_v1_is_enough() -> None:
    payload, header = signed(a_event())
    timestamp, valid = header.split(",")
    header = f"{timestamp},v1={'0' * 64},{valid},v0=ignored"

    assert verify_event(payload, header, SECRET, 300)["id"]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda payload, header: (payload, None), "missing Stripe-Signature header"),
        (lambda payload, header: (payload, ""), "missing Stripe-Signature header"),
        (lambda payload, header: (payload + b" ", header), "does not match the body"),
        (
            lambda payload, header: (payload, header.replace("v1=", "v1=0")),
            "does not match the body",
        ),
        (lambda payload, header: (payload, "garbage"), "malformed Stripe-Signature"),
        (
            lambda payload, header: (payload, header.split(",")[0]),
            "malformed Stripe-Signature",
        ),
    ],
)
def test_a_bad_signature_is_refused_with_its_reason(mutate: Any, reason: str) -> None:
    payload, header = mutate(*signed(a_event()))

    with pytest.raises(BadStripeEvent, match=reason):
        verify_event(payload, header, SECRET, 300)


def test_another_endpoints_secret_does_not_verify() -> None:
    payload = stripe_events.body(a_event())
    header = stripe_events.sign(payload, "whsec_someone_else")

    with pytest.raises(BadStripeEvent, match="does not match"):
        verify_event(payload, header, SECRET, 300)


def test_a_replay_older_than_the_tolerance_is_refused() -> None:
    payload, header = signed(a_event(), timestamp=int(time.time()) - 301)

    with pytest.raises(BadStripeEvent, match="older than 300 seconds"):
        verify_event(payload, header, SECRET, 300)
    assert verify_event(payload, header, SECRET, 400)["object"] == "event"


def test_a_timestamp_beyond_the_tolerance_in_the_future_is_refused() -> None:
    payload, header = signed(a_event(), timestamp=int(time.time()) + 600)

    with pytest.raises(BadStripeEvent, match="in the future"):
        verify_event(payload, header, SECRET, 300)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'["an", "array"]', "not a Stripe event"),
        (json.dumps({"object": "customer", "id": "cus_1"}).encode(), "not a Stripe event"),
        (json.dumps({"object": "event", "id": "evt_1", "type": "x"}).encode(), "without id"),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(BadStripeEvent, match=reason):
        verify_event(*signed(payload), SECRET, 300)


# account_changes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("trialing", "trialing"),
        ("active", "active"),
        ("past_due", "past_due"),
        ("unpaid", "past_due"),
        ("canceled", "canceled"),
        ("incomplete_expired", "canceled"),
        ("paused", "canceled"),
    ],
)
def test_stripe_statuses_map_to_ours(stripe_status: str, ours: str) -> None:
    changes = account_changes(account(), state(stripe_status), CATALOGUE, NOW)

    assert changes["status"] == ours
    assert changes["plan_id"] == "starter"
    assert changes["stripe_customer_id"] == "cus_1"
    assert changes["stripe_subscription_id"] == "sub_1"
    assert changes["trial_ends_at"] is None
    assert changes["current_period_end"] == NOW + timedelta(days=30)
    assert changes["updated_at"] == NOW
    assert (changes["past_due_since"] is not None) == (ours == "past_due")
    assert (changes["canceled_at"] is not None) == (ours == "canceled")


def test_incomplete_keeps_status_and_plan() -> None:
    changes = account_changes(account(), state("incomplete"), CATALOGUE, NOW)

    assert changes == {"updated_at": NOW, "stripe_customer_id": "cus_1"}


def test_an_unknown_status_keeps_the_account_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    current = account(stripe_customer_id="cus_1")
    with caplog.at_level(logging.ERROR, logger="piloto.billing"):
        changes = account_changes(current, state("something_new"), CATALOGUE, NOW)

    assert changes == {"updated_at": NOW}
    assert "unknown Stripe subscription status" in caplog.text


def test_an_unknown_lookup_key_keeps_the_plan_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="piloto.billing"):
        changes = account_changes(
            account(), state(lookup_key="someone_elses_price"), CATALOGUE, NOW
        )

    assert changes["status"] == "active"
    assert "plan_id" not in changes
    assert "matches no plan" in caplog.text


def test_past_due_since_is_set_on_entry_kept_while_past_due_and_cleared_after() -> None:
    entered = account_changes(account(status="active"), state("past_due"), CATALOGUE, NOW)
    since = NOW - timedelta(days=2)
    still = account_changes(
        account(status="past_due", past_due_since=since, stripe_subscription_id="sub_1"),
        state("unpaid"),
        CATALOGUE,
        NOW,
    )
    paid = account_changes(
        account(status="past_due", past_due_since=since, stripe_subscription_id="sub_1"),
        state("active"),
        CATALOGUE,
        NOW,
    )

    assert entered["past_due_since"] == NOW
    assert still["past_due_since"] == since
    assert paid["past_due_since"] is None


def test_canceled_keeps_stripes_cancel_time_or_now() -> None:
    at = NOW - timedelta(hours=1)

    assert (
        account_changes(account(), state("canceled", canceled_at=at), CATALOGUE, NOW)["canceled_at"]
        == at
    )
    assert account_changes(account(), state("canceled"), CATALOGUE, NOW)["canceled_at"] == NOW


def test_a_stripe_trial_ends_at_its_period_or_trial_end() -> None:
    trial_end = NOW + timedelta(days=7)
    changes = account_changes(
        account(), state("trialing", current_period_end=None, trial_end=trial_end), CATALOGUE, NOW
    )

    assert changes["status"] == "trialing"
    assert changes["trial_ends_at"] is None
    assert changes["current_period_end"] == trial_end


def test_another_subscription_changes_the_account_only_when_live() -> None:
    current = account(status="active", stripe_subscription_id="sub_current")

    assert account_changes(current, state("canceled"), CATALOGUE, NOW) == {}
    assert account_changes(current, state("incomplete"), CATALOGUE, NOW) == {}
    replaced = account_changes(
        account(status="canceled", stripe_subscription_id="sub_old"),
        state("active"),
        CATALOGUE,
        NOW,
    )
    assert replaced["stripe_subscription_id"] == "sub_1"
    assert replaced["status"] == "active"


def test_cancel_at_period_end_is_kept() -> None:
    changes = account_changes(account(), state(cancel_at_period_end=True), CATALOGUE, NOW)

    assert changes["cancel_at_period_end"] is True
    assert changes["status"] == "active"


# event_refs --------------------------------------------------------------------------------


def test_each_handled_object_names_its_subscription_account_and_customer() -> None:
    session = stripe_events.checkout_session(
        "cs_1", customer="cus_1", subscription_id="sub_1", account_id="acme"
    )
    subscription = stripe_events.subscription("sub_1", customer="cus_1", account_id="acme")
    invoice = stripe_events.invoice(
        "in_1", customer="cus_1", subscription_id="sub_1", account_id="acme"
    )
    legacy = {"id": "in_2", "object": "invoice", "customer": "cus_1", "subscription": "sub_1"}

    for event_type, obj in [
        ("checkout.session.completed", session),
        ("customer.subscription.deleted", subscription),
        ("invoice.paid", invoice),
    ]:
        refs = event_refs(event_type, obj)
        assert (refs.subscription_id, refs.account_id, refs.customer_id) == (
            "sub_1",
            "acme",
            "cus_1",
        )
    refs = event_refs("invoice.payment_failed", legacy)
    assert (refs.subscription_id, refs.account_id) == ("sub_1", None)
    expanded = {**session, "subscription": {"id": "sub_9"}, "client_reference_id": None}
    assert event_refs("checkout.session.completed", expanded).subscription_id == "sub_9"


# handle_event on the in-process store ------------------------------------------------------


class FakeStripe:
    """Stripe's current subscriptions, as retrieve_subscription would answer."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.down = False
        self.retrieved: list[str] = []

    def retrieve(self, _client: Any, subscription_id: str) -> SubscriptionState:
        self.retrieved.append(subscription_id)
        if self.down:
            raise StripeUnavailable("Stripe is unavailable (retrieve a subscription)")
        return subscription_state(self.subscriptions[subscription_id])


@pytest.fixture
def store() -> MemoryFirestore:
    client = MemoryFirestore()
    account_ref(client, "acme").set(account(workspaces=["acme", "acme-client"]).model_dump())
    for tenant_id in ("acme", "acme-client"):
        tenant_ref(client, tenant_id).set({"name": tenant_id, "timezone": "America/Sao_Paulo"})
    return client


@pytest.fixture
def fake_stripe() -> FakeStripe:
    fake = FakeStripe()
    fake.subscriptions["sub_1"] = stripe_events.subscription(
        "sub_1", customer="cus_1", account_id="acme", lookup_key="piloto_agency_monthly"
    )
    return fake


def handle(store: MemoryFirestore, fake: FakeStripe, event: dict[str, Any]) -> Any:
    return handle_event(store, None, event, CATALOGUE, NOW, retrieve=fake.retrieve)


def stored_account(store: MemoryFirestore) -> BillingAccount:
    return BillingAccount.model_validate(account_ref(store, "acme").get().to_dict())


def subscription_event(
    event_type: str, fake: FakeStripe, created: int, event_id: str
) -> dict[str, Any]:
    return stripe_events.event(event_type, fake.subscriptions["sub_1"], created, event_id)


def test_checkout_completed_applies_the_retrieved_subscription(
    store: MemoryFirestore, fake_stripe: FakeStripe
) -> None:
    session = stripe_events.checkout_session(
        "cs_1", customer="cus_1", subscription_id="sub_1", account_id="acme"
    )
    result = handle(
        store, fake_stripe, stripe_events.event("checkout.session.completed", session, 100, "e1")
    )

    assert (result.status, result.account_id) == ("applied", "acme")
    saved = stored_account(store)
    assert (saved.status, saved.plan_id, saved.stripe_event_created) == ("active", "agency", 100)
    assert (saved.stripe_customer_id, saved.stripe_subscription_id) == ("cus_1", "sub_1")
    assert saved.trial_ends_at is None
    record = store.collection(EVENTS_COLLECTION).document("e1").get().to_dict()
    assert record is not None
    assert (record["status"], record["account_id"], record["type"]) == (
        "applied",
        "acme",
        "checkout.session.completed",
    )


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing(
    store: MemoryFirestore, fake_stripe: FakeStripe
) -> None:
    event = subscription_event("customer.subscription.created", fake_stripe, 100, "e1")
    assert handle(store, fake_stripe, event).status == "applied"
    before = account_ref(store, "acme").get().to_dict()
    fake_stripe.subscriptions["sub_1"]["status"] = "past_due"

    assert handle(store, fake_stripe, event).status == "duplicate"
    assert account_ref(store, "acme").get().to_dict() == before


def test_an_older_event_after_a_newer_one_is_stale_and_recorded(
    store: MemoryFirestore, fake_stripe: FakeStripe
) -> None:
    fake_stripe.subscriptions["sub_1"]["status"] = "past_due"
    newer = subscription_event("customer.subscription.updated", fake_stripe, 200, "e-new")
    older = subscription_event("customer.subscription.created", fake_stripe, 100, "e-old")

    assert handle(store, fake_stripe, newer).status == "applied"
    result = handle(store, fake_stripe, older)

    assert result.status == "stale"
    saved = stored_account(store)
    assert (saved.status, saved.stripe_event_created, saved.past_due_since) == (
        "past_due",
        200,
        NOW,
    )
    record = store.collection(EVENTS_COLLECTION).document("e-old").get().to_dict()
    assert record is not None and record["status"] == "stale"


def test_cancellation_notifies_every_workspace_once(
    store: MemoryFirestore, fake_stripe: FakeStripe
) -> None:
    fake_stripe.subscriptions["sub_1"]["status"] = "canceled"
    first = subscription_event("customer.subscription.deleted", fake_stripe, 300, "e1")
    again = subscription_event("customer.subscription.updated", fake_stripe, 301, "e2")

    assert handle(store, fake_stripe, first).status == "applied"
    assert handle(store, fake_stripe, again).status == "applied"

    assert stored_account(store).status == "canceled"
    for tenant_id in ("acme", "acme-client"):
        notices = tenant_ref(store, tenant_id).collection("notices").stream()
        assert [(n.id, n.to_dict()["kind"]) for n in notices] == [
            ("service_stopped-canceled-2026-03-10", "service_stopped")
        ]


def test_an_unknown_account_records_only_the_event(
    store: MemoryFirestore, fake_stripe: FakeStripe
) -> None:
    fake_stripe.subscriptions["sub_2"] = stripe_events.subscription(
        "sub_2", customer="cus_2", account_id="nobody"
    )
    event = stripe_events.event(
        "customer.subscription.updated", fake_stripe.subscriptions["sub_2"], 100, "e1"
    )
    before = account_ref(store, "acme").get().to_dict()

    assert handle(store, fake_stripe, event).status == "unknown_account"
    assert account_ref(store, "acme").get().to_dict() == before
    record = store.collection(EVENTS_COLLECTION).document("e1").get().to_dict()
    assert record is not None and record["status"] == "unknown_account"


def test_unhandled_types_and_invoices_without_subscription_are_ignored(
    store: MemoryFirestore, fake_stripe: FakeStripe
) -> None:
    other = stripe_events.event("customer.created", {"id": "cus_1", "object": "customer"})
    one_off = stripe_events.event(
        "invoice.paid", stripe_events.invoice("in_1", customer="cus_1", subscription_id=None)
    )

    assert handle(store, fake_stripe, other).status == "ignored"
    assert handle(store, fake_stripe, one_off).status == "ignored"
    assert fake_stripe.retrieved == []
    assert store.collection(EVENTS_COLLECTION).stream() == []


def test_stripe_unavailable_writes_nothing_and_a_retry_applies(
    store: MemoryFirestore, fake_stripe: FakeStripe
) -> None:
    event = subscription_event("customer.subscription.updated", fake_stripe, 100, "e1")
    fake_stripe.down = True

    with pytest.raises(StripeUnavailable):
        handle(store, fake_stripe, event)
    assert store.collection(EVENTS_COLLECTION).stream() == []
    assert stored_account(store).status == "trialing"

    fake_stripe.down = False
    assert handle(store, fake_stripe, event).status == "applied"
    assert stored_account(store).status == "active"
