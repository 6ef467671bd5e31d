"""Stripe webhooks end to end: the simulated Stripe's signed events, the billing function over
HTTP, subscriptions retrieved through the stripe library, billing accounts in Firestore."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from emulators.simulator.stripe_objects import DEFAULT_SECRET_KEY
from emulators.stack import free_port
from shared.billing.accounts import service_state
from shared.billing.plans import load_catalogue
from shared.store.conversations import tenant_ref
from tests.integration.billing.conftest import BillingStack, eventually, served_billing
from tests.support import stripe as stripe_events

CHECKOUT_EVENTS = ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]


def subscribed(billing: BillingStack, lookup_key: str = "piloto_starter_monthly") -> str:
    """Open an account, pay Checkout, wait until Stripe's events are applied; return its id."""
    account_id = billing.open_account()
    billing.subscribe(account_id, lookup_key)
    eventually(lambda: billing.account(account_id).status == "active", what="an active account")
    settled(billing, account_id)
    return account_id


def settled(billing: BillingStack, account_id: str) -> None:
    """Wait until every event Stripe made about the account is delivered and recorded."""
    customer_id = billing.account(account_id).stripe_customer_id
    assert customer_id is not None

    def recorded() -> bool:
        mine = [
            event
            for event in billing.events()
            if customer_id in str(event["event"]["data"]["object"]) and not event["held"]
        ]
        return bool(mine) and all(
            event["deliveries"] and billing.stripe_event(event["id"]) for event in mine
        )

    eventually(recorded, what=f"Stripe's events about {account_id} recorded")


def deliveries_of(billing: BillingStack, account: Any) -> dict[str, list[int | None]]:
    """Return the HTTP statuses of each of an account's events' deliveries, by event id."""
    subscription_id = account.stripe_subscription_id
    found = {}
    for event in billing.events():
        if subscription_id in str(event["event"]["data"]["object"]):
            found[event["id"]] = [item["status_code"] for item in event["deliveries"]]
    return found


def current_subscription(billing: BillingStack, subscription_id: str) -> dict[str, Any]:
    """Return the subscription as Stripe's API sends it (the JSON an event would carry)."""
    answer = billing.http.get(
        f"{billing.stripe_url}/v1/subscriptions/{subscription_id}",
        headers={"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"},
    )
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_a_paid_checkout_makes_the_account_active_on_the_plan(billing: BillingStack) -> None:
    account_id = billing.open_account(plan_id="pro")

    billing.subscribe(account_id, "piloto_starter_monthly")

    account = eventually(
        lambda: (found := billing.account(account_id)).status == "active" and found,
        what="the account made active by Stripe's events",
    )
    assert account.plan_id == "starter"
    assert account.stripe_customer_id and account.stripe_customer_id.startswith("cus_")
    assert account.stripe_subscription_id and account.stripe_subscription_id.startswith("sub_")
    assert account.trial_ends_at is None
    assert account.current_period_end is not None
    assert account.current_period_end > datetime.now(UTC)
    # Stripe delivered what it sends after a paid Checkout, each answered 200 and recorded once.
    events = [event for event in billing.events() if event["type"] in CHECKOUT_EVENTS]
    mine = [event for event in events if account.stripe_customer_id in str(event["event"]["data"])]
    assert sorted(event["type"] for event in mine) == sorted(CHECKOUT_EVENTS)
    for event in mine:
        eventually(lambda event=event: billing.stripe_event(event["id"]), what=event["type"])
        record = billing.stripe_event(event["id"])
        assert record is not None
        assert (record["account_id"], record["status"]) == (account_id, "applied")
    statuses = eventually(
        lambda: (found := deliveries_of(billing, account)) and all(found.values()) and found,
        what="deliveries",
    )
    assert all(codes == [200] for codes in statuses.values()), statuses
    assert account.stripe_event_created == max(event["created"] for event in mine)


def test_a_duplicate_delivery_changes_nothing(billing: BillingStack) -> None:
    account_id = subscribed(billing)
    [completed] = [
        event
        for event in billing.events("checkout.session.completed")
        if event["event"]["data"]["object"]["client_reference_id"] == account_id
    ]
    before = billing.account(account_id)
    record = billing.stripe_event(completed["id"])

    resent = billing.control("POST", f"events/{completed['id']}/resend")
    again = billing.post(completed["event"])  # and once more, signed now, to read the answer

    assert resent["status_code"] == 200
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert billing.account(account_id) == before
    assert billing.stripe_event(completed["id"]) == record


def test_events_out_of_order_end_in_stripes_current_state(billing: BillingStack) -> None:
    account_id = subscribed(billing)
    subscription_id = billing.account(account_id).stripe_subscription_id
    assert subscription_id is not None
    # Stripe moves the subscription to past_due; its own events are held back.
    billing.control("POST", "hold", hold=True)
    try:
        billing.control("POST", f"subscriptions/{subscription_id}", status="past_due")
    finally:
        billing.control("POST", "hold", hold=False)
    snapshot = current_subscription(billing, subscription_id)
    newest = billing.account(account_id).stripe_event_created
    updated = stripe_events.event(
        "customer.subscription.updated", snapshot, created=newest + 200, event_id=_event_id()
    )
    created = stripe_events.event(
        "customer.subscription.created",
        {**snapshot, "status": "active"},
        created=newest + 100,
        event_id=_event_id(),
    )

    first = billing.post(updated)  # the newer event arrives first
    late = billing.post(created)  # then the older one, whose payload still says active

    assert (first.status_code, first.json()["status"]) == (200, "applied")
    assert (late.status_code, late.json()["status"]) == (200, "stale")
    account = billing.account(account_id)
    assert (account.status, account.stripe_event_created) == ("past_due", newest + 200)
    assert account.past_due_since is not None
    stale = billing.stripe_event(created["id"])
    assert stale is not None and stale["status"] == "stale"


def test_held_events_delivered_newest_first_still_end_in_the_current_state(
    billing: BillingStack,
) -> None:
    account_id = subscribed(billing)
    subscription_id = billing.account(account_id).stripe_subscription_id
    billing.control("POST", "hold", hold=True)
    try:
        billing.control("POST", f"subscriptions/{subscription_id}", status="past_due")
        billing.control("POST", f"subscriptions/{subscription_id}", status="active")
    finally:
        billing.control("POST", "hold", hold=False)
    held = [
        event["id"]
        for event in billing.events()
        if event["held"] and subscription_id in str(event["event"]["data"]["object"])
    ]
    assert len(held) == 4  # payment_failed, updated (past_due), paid, updated (active)

    billing.control("POST", "deliver", event_ids=list(reversed(held)))

    for event_id in held:
        eventually(lambda event_id=event_id: billing.stripe_event(event_id), what=event_id)
    account = billing.account(account_id)
    assert (account.status, account.past_due_since) == ("active", None)


def test_bad_signatures_and_replays_are_refused_and_write_nothing(billing: BillingStack) -> None:
    account_id = subscribed(billing)
    before = billing.account(account_id)
    assert before.stripe_subscription_id is not None
    snapshot = current_subscription(billing, before.stripe_subscription_id)
    event = stripe_events.event(
        "customer.subscription.deleted",
        {**snapshot, "status": "canceled"},
        created=before.stripe_event_created + 10,
        event_id=_event_id(),
    )

    refusals = {
        "another secret": billing.post(event, secret="whsec_someone_else"),
        "no signature": billing.post(event, signature=""),
        "replay": billing.post(event, timestamp=int(time.time()) - 301),
        "tampered": billing.post(event, signature="t=1,v1=" + "0" * 64),
    }

    for why, answer in refusals.items():
        assert answer.status_code == 400, why
        assert answer.json()["error"], why
    assert "older than 300 seconds" in refusals["replay"].json()["error"]
    assert billing.stripe_event(event["id"]) is None
    assert billing.account(account_id) == before


def test_a_canceled_subscription_makes_the_workspace_read_only_with_the_agent_off(
    billing: BillingStack,
) -> None:
    account_id = subscribed(billing)
    subscription_id = billing.account(account_id).stripe_subscription_id

    billing.control("POST", f"subscriptions/{subscription_id}", status="canceled")

    account = eventually(
        lambda: (found := billing.account(account_id)).status == "canceled" and found,
        what="the canceled account",
    )
    assert account.canceled_at is not None
    state = service_state(account, load_catalogue(), datetime.now(UTC))
    assert (state.agent_on, state.read_only, state.reason) == (False, True, "canceled")
    notices = [
        (notice.id, (notice.to_dict() or {}).get("kind"))
        for notice in tenant_ref(billing.db, account_id).collection("notices").stream()
    ]
    assert [kind for notice_id, kind in notices if notice_id.startswith("service_stopped-")] == [
        "service_stopped"
    ]


def test_an_event_type_piloto_does_not_handle_is_acknowledged(billing: BillingStack) -> None:
    event = stripe_events.event(
        "customer.updated", {"id": "cus_x", "object": "customer"}, event_id=_event_id()
    )

    answer = billing.post(event)

    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert billing.stripe_event(event["id"]) is None


def test_stripe_unreachable_is_503_and_stripes_retry_applies(billing: BillingStack) -> None:
    account_id = subscribed(billing)
    before = billing.account(account_id)
    assert before.stripe_subscription_id is not None
    snapshot = current_subscription(billing, before.stripe_subscription_id)
    event = stripe_events.event(
        "customer.subscription.updated",
        snapshot,
        created=before.stripe_event_created + 10,
        event_id=_event_id(),
    )

    # An instance that cannot reach Stripe (nothing listens at its API base) answers 503...
    unreachable = f"http://127.0.0.1:{free_port()}/stripe"
    with served_billing(billing, PILOTO_STRIPE_API_BASE=unreachable) as cut_off:
        refused = billing.post(event, url=cut_off)
    # ... and Stripe's retry reaches one that can.
    unchanged = billing.account(account_id)
    nothing = billing.stripe_event(event["id"])
    retried = billing.post(event)

    assert refused.status_code == 503
    assert "retry later" in refused.json()["error"]
    assert (unchanged, nothing) == (before, None)
    assert (retried.status_code, retried.json()["status"]) == (200, "applied")
    record = billing.stripe_event(event["id"])
    assert record is not None and record["status"] == "applied"
    assert billing.account(account_id).stripe_event_created == before.stripe_event_created + 10


def _event_id() -> str:
    return stripe_events.event("x", {})["id"]
