"""Scheduling through the admin API over real HTTP: calendar settings, the slots preview, the
bookings list and a seller's cancel (the time freed, the conversation updated, the
meeting.canceled event staged and published, the Google event's failure recorded)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import google.cloud.pubsub_v1 as pubsub_v1
import pytest

from shared.events.topology import BUSINESS_EVENTS
from shared.scheduling.bookings import booking_ref, day_ref
from shared.store.conversations import conversation_ref, tenant_ref
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User, seed_booking, seed_conversation

ZONE = ZoneInfo("America/Sao_Paulo")
HOURS = {
    "mon": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}],
    "sat": [{"start": "08:30", "end": "12:00"}],
}


@dataclass
class Office:
    tenant_id: str
    owner: User
    seller: User

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}"


@pytest.fixture(scope="module")
def office(admin: AdminStack) -> Office:
    owner = admin.auth.sign_up("dona", verified=True)
    tenant_id = admin.tenant(owner)
    seller = admin.auth.sign_up("vendedor", verified=True)
    admin.join(owner, tenant_id, seller, "seller")
    return Office(tenant_id, owner, seller)


@pytest.fixture
def fresh(admin: AdminStack) -> Office:
    """A tenant of its own, for tests that must start from the defaults."""
    owner = admin.auth.sign_up("dono", verified=True)
    tenant_id = admin.tenant(owner)
    seller = admin.auth.sign_up("vendedora", verified=True)
    admin.join(owner, tenant_id, seller, "seller")
    return Office(tenant_id, owner, seller)


@pytest.fixture(scope="module")
def business_events(admin: AdminStack) -> Iterator[tuple[Any, str]]:
    """A pull subscription on business-events (what the admin publishes after a commit)."""
    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(admin.project_id, f"calendar-tap-{uuid.uuid4().hex[:8]}")
    topic = f"projects/{admin.project_id}/topics/{BUSINESS_EVENTS}"
    subscriber.create_subscription(request={"name": name, "topic": topic})
    yield subscriber, name
    subscriber.delete_subscription(request={"subscription": name})


def _published_ids(tap: tuple[Any, str], wanted: str) -> set[str]:
    subscriber, name = tap
    seen: set[str] = set()
    deadline = time.monotonic() + 10
    while wanted not in seen and time.monotonic() < deadline:
        answer = subscriber.pull(
            request={"subscription": name, "max_messages": 50, "return_immediately": True},
            timeout=5,
        )
        received = list(answer.received_messages)
        if received:
            subscriber.acknowledge(
                request={"subscription": name, "ack_ids": [m.ack_id for m in received]}
            )
        seen |= {m.message.attributes.get("event_id", "") for m in received}
        if not received:
            time.sleep(0.1)
    return seen


def _local(days: int, hour: int, minute: int = 0) -> datetime:
    """Return a tenant-local time ``days`` from today."""
    day = datetime.now(ZONE).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return dict(answer.json()["error"])


def _starts(admin: AdminStack, office: Office, user: User) -> list[str]:
    preview = _ok(admin.api.get(f"{office.base}/calendar/slots", user))
    assert preview["error"] is None
    return [slot["start"] for slot in preview["slots"]]


def test_calendar_settings_round_trip_in_hh_mm_and_are_audited(
    admin: AdminStack, fresh: Office
) -> None:
    path = f"{fresh.base}/calendar"
    first = _ok(admin.api.get(path, fresh.seller))
    assert first["settings"]["enabled"] is False
    assert first["settings"]["business_hours"]["mon"] == [
        {"start": "09:00", "end": "12:00"},
        {"start": "13:00", "end": "18:00"},
    ]
    assert first["timezone"] == "America/Sao_Paulo"
    assert first["google"] == {
        "connected": False,
        "account_email": None,
        "calendar_id": None,
        "status": None,
        "error": None,
    }
    assert first["google_available"] is True  # the served admin has the simulated OAuth client
    wanted = {
        **first["settings"],
        "enabled": True,
        "business_hours": HOURS,
        "meeting_minutes": 45,
        "location": "Rua das Flores, 120 — Campinas",
        "reminder_minutes_before": 60,
    }

    saved = _ok(admin.api.put(path, fresh.owner, wanted))

    assert saved["settings"] == wanted
    assert _ok(admin.api.get(path, fresh.seller))["settings"] == wanted
    stored = admin.db.document(f"tenants/{fresh.tenant_id}/settings/calendar").get().to_dict()
    assert stored["business_hours"] == {
        "mon": [{"start": "09:00:00", "end": "12:00:00"}, {"start": "14:00:00", "end": "18:00:00"}],
        "sat": [{"start": "08:30:00", "end": "12:00:00"}],
    }  # a closed day is gone, not merged with the defaults
    entries = [e for e in admin.audit(fresh.tenant_id) if e["action"] == "calendar.update"]
    assert len(entries) == 1
    assert entries[0]["actor_uid"] == fresh.owner.uid
    assert set(entries[0]["after"]) == {
        "enabled",
        "business_hours",
        "meeting_minutes",
        "location",
        "reminder_minutes_before",
    }
    assert entries[0]["before"]["meeting_minutes"] == 30
    # the same settings again change nothing and log nothing
    assert _ok(admin.api.put(path, fresh.owner, wanted))["settings"] == wanted
    assert len([e for e in admin.audit(fresh.tenant_id) if e["action"] == "calendar.update"]) == 1


def test_a_connected_google_calendar_is_kept_and_shown_without_its_token(
    admin: AdminStack, fresh: Office
) -> None:
    link = {
        "calendar_id": "primary",
        "account_email": "agenda@clinica.com.br",
        "token_secret": f"local:piloto-tenant-{fresh.tenant_id}-google-calendar",
        "connected_at": datetime.now(UTC),
        "connected_by": fresh.owner.uid,
        "status": "connected",
    }
    document = admin.db.document(f"tenants/{fresh.tenant_id}/settings/calendar")
    document.set({"provider": "google", "google": link})
    path = f"{fresh.base}/calendar"
    current = _ok(admin.api.get(path, fresh.owner))

    saved = _ok(admin.api.put(path, fresh.owner, {**current["settings"], "meeting_minutes": 60}))

    assert saved["settings"]["provider"] == "google"
    assert saved["google"] == {
        "connected": True,
        "account_email": "agenda@clinica.com.br",
        "calendar_id": "primary",
        "status": "connected",
        "error": None,
    }
    assert "token_secret" not in str(saved) and "local:" not in str(saved)
    stored = document.get().to_dict()
    assert stored["google"]["token_secret"] == link["token_secret"]
    assert stored["meeting_minutes"] == 60


@pytest.mark.parametrize(
    ("changes", "status", "field", "words"),
    [
        ({"provider": "google"}, 409, "provider", "connect a Google Calendar"),
        (
            {
                "business_hours": {
                    "tue": [{"start": "09:00", "end": "12:00"}, {"start": "11:30", "end": "13:00"}]
                }
            },
            422,
            "business_hours.tue",
            "overlap on tue",
        ),
        (
            {"business_hours": {"wed": [{"start": "12:00", "end": "09:00"}]}},
            422,
            "business_hours.wed.0",
            "start must be before end",
        ),
        ({"business_hours": {"mon": [{"start": "9:00", "end": "12:00"}]}}, 422, None, "pattern"),
        ({"business_hours": {"someday": []}}, 422, None, ""),
        ({"meeting_minutes": 5}, 422, "meeting_minutes", ""),
        ({"google": {"token_secret": "sm:x"}}, 422, "google", ""),
    ],
    ids=["google-unconnected", "overlap", "backwards", "not-hh-mm", "no-such-day", "short", "link"],
)
def test_refused_settings_write_nothing(
    admin: AdminStack,
    office: Office,
    changes: dict[str, Any],
    status: int,
    field: str | None,
    words: str,
) -> None:
    path = f"{office.base}/calendar"
    current = _ok(admin.api.get(path, office.owner))["settings"]
    before = admin.tenant_state(office.tenant_id)

    error = _error(admin.api.put(path, office.owner, {**current, **changes}), status)

    if field is not None:
        assert error["field"] == field
    assert words in error["message"] or words in str(error["details"])
    assert admin.tenant_state(office.tenant_id) == before


def test_a_seller_reads_the_calendar_but_cannot_save_it(admin: AdminStack, office: Office) -> None:
    path = f"{office.base}/calendar"
    current = _ok(admin.api.get(path, office.seller))["settings"]
    before = admin.tenant_state(office.tenant_id)

    _error(admin.api.put(path, office.seller, {**current, "enabled": True}), 403)

    assert admin.tenant_state(office.tenant_id) == before


def test_the_slots_preview_leaves_out_a_confirmed_booking_and_a_cancel_frees_it(
    admin: AdminStack, office: Office, business_events: tuple[Any, str]
) -> None:
    path = f"{office.base}/calendar"
    settings = _ok(admin.api.get(path, office.owner))["settings"]
    _ok(admin.api.put(path, office.owner, {**settings, "enabled": True, "location": "Sala 2"}))
    first = _ok(admin.api.get(f"{path}/slots", office.seller))["slots"][0]
    start = datetime.fromisoformat(first["start"])
    assert start > datetime.now(UTC) + timedelta(minutes=119)  # min notice: 2 hours
    seeded = seed_conversation(admin.db, office.tenant_id, assignee_uid=office.seller.uid)
    booking = seed_booking(
        admin.db,
        office.tenant_id,
        start,
        booking_id=f"{seeded.id}-1",
        conversation_id=seeded.id,
    )
    conversation_ref(admin.db, office.tenant_id, seeded.id).update(
        {"booking_id": booking.booking_id, "booking_start": start, "booking_status": "confirmed"}
    )

    assert first["start"] not in _starts(admin, office, office.seller)
    listed = _ok(admin.api.get(f"{office.base}/bookings", office.seller))["bookings"]
    assert [b["booking_id"] for b in listed] == [booking.booking_id]

    canceled = _ok(
        admin.api.post(
            f"{office.base}/bookings/{booking.booking_id}/cancel",
            office.seller,
            {"reason": "A cliente pediu por telefone"},
        )
    )

    assert (canceled["booking_id"], canceled["status"]) == (booking.booking_id, "canceled")
    assert first["start"] in _starts(admin, office, office.owner)
    stored = booking_ref(admin.db, office.tenant_id, booking.booking_id).get().to_dict()
    assert (stored["status"], stored["canceled_reason"]) == (
        "canceled",
        "A cliente pediu por telefone",
    )
    day = day_ref(admin.db, office.tenant_id, stored["day"]).get().to_dict()
    assert booking.booking_id not in day["intervals"]
    conversation = conversation_ref(admin.db, office.tenant_id, seeded.id).get().to_dict()
    assert (conversation["booking_status"], conversation["offered_slots"]) == ("canceled", [])
    event_id = f"{booking.booking_id}.canceled"
    event = (
        tenant_ref(admin.db, office.tenant_id)
        .collection("business_events")
        .document(event_id)
        .get()
        .to_dict()
    )
    assert (event["type"], event["cause"], event["conversation_id"]) == (
        "meeting.canceled",
        booking.booking_id,
        seeded.id,
    )
    assert event["data"]["meeting"]["location"] == "Sala 2"
    assert event["data"]["reason"] == "A cliente pediu por telefone"
    assert event_id in _published_ids(business_events, event_id)
    audit = [e for e in admin.audit(office.tenant_id) if e["action"] == "booking.cancel"]
    assert [(e["actor_uid"], e["target"]) for e in audit] == [
        (office.seller.uid, f"bookings/{booking.booking_id}")
    ]
    assert _ok(admin.api.get(f"{office.base}/bookings", office.seller))["bookings"] == []
    # a second cancel is refused and changes nothing
    before = admin.tenant_state(office.tenant_id)
    again = admin.api.post(f"{office.base}/bookings/{booking.booking_id}/cancel", office.owner, {})
    assert "already canceled" in _error(again, 409)["message"]
    assert admin.tenant_state(office.tenant_id) == before


def test_the_bookings_list_filters_by_status_and_time(admin: AdminStack, fresh: Office) -> None:
    seed = lambda start, **fields: seed_booking(admin.db, fresh.tenant_id, start, **fields)  # noqa: E731
    later = seed(_local(40, 15))
    sooner = seed(_local(30, 10))
    canceled = seed(_local(31, 10), status="canceled")
    past = seed(_local(-3, 10))
    seed(_local(32, 10), status="held", held_at=datetime.now(UTC) - timedelta(minutes=20))
    held = seed(_local(33, 10), status="held")
    base = f"{fresh.base}/bookings"

    def ids(**params: str) -> list[str]:
        answer = _ok(admin.api.get(base, fresh.seller, params=params or None))
        return [booking["booking_id"] for booking in answer["bookings"]]

    assert ids() == [sooner.booking_id, held.booking_id, later.booking_id]
    assert ids(status="canceled") == [canceled.booking_id]
    assert ids(status="confirmed") == [sooner.booking_id, later.booking_id]
    since = _local(-5, 0).isoformat()
    assert ids(status="confirmed", **{"from": since}) == [
        past.booking_id,
        sooner.booking_id,
        later.booking_id,
    ]
    assert ids(to=_local(35, 0).isoformat()) == [sooner.booking_id, held.booking_id]
    shown = _ok(admin.api.get(base, fresh.owner, params={"status": "confirmed"}))["bookings"][0]
    assert shown["contact_name"] == "Maria Lead" and shown["source"] == "agent"
    _error(admin.api.get(base, fresh.owner, params={"status": "booked"}), 400)
    _error(admin.api.get(base, fresh.owner, params={"from": "2026-03-10T09:00:00"}), 400)
    # a meeting that already took place cannot be canceled
    before = admin.tenant_state(fresh.tenant_id)
    answer = admin.api.post(f"{base}/{past.booking_id}/cancel", fresh.seller, {})
    assert "passed" in _error(answer, 409)["message"]
    _error(admin.api.post(f"{base}/no-such-booking/cancel", fresh.seller, {}), 404)
    assert admin.tenant_state(fresh.tenant_id) == before


def test_a_failing_google_calendar_is_an_error_in_the_preview_and_on_the_booking(
    admin: AdminStack, fresh: Office
) -> None:
    admin.db.document(f"tenants/{fresh.tenant_id}/settings/calendar").set(
        {
            "enabled": True,
            "provider": "google",
            "google": {
                "calendar_id": "primary",
                "account_email": "agenda@clinica.com.br",
                "token_secret": f"local:piloto-tenant-{fresh.tenant_id}-never-stored",
                "connected_at": datetime.now(UTC),
            },
        }
    )

    preview = _ok(admin.api.get(f"{fresh.base}/calendar/slots", fresh.seller))

    assert preview["slots"] == [] and preview["error"]
    booking = seed_booking(
        admin.db, fresh.tenant_id, _local(20, 10), provider="google", google_event_id="evt1"
    )
    canceled = _ok(
        admin.api.post(f"{fresh.base}/bookings/{booking.booking_id}/cancel", fresh.owner, {})
    )
    assert canceled["status"] == "canceled"
    assert canceled["calendar_synced"] is False and canceled["sync_error"]


def test_another_tenant_neither_sees_nor_cancels_the_bookings(
    admin: AdminStack, office: Office, fresh: Office
) -> None:
    booking = seed_booking(admin.db, office.tenant_id, _local(45, 11))
    before = admin.tenant_state(office.tenant_id)

    assert admin.api.get(f"{office.base}/bookings", fresh.owner).status_code == 403
    stranger = admin.api.post(f"{office.base}/bookings/{booking.booking_id}/cancel", fresh.owner)
    assert stranger.status_code == 403
    own_path = admin.api.post(f"{fresh.base}/bookings/{booking.booking_id}/cancel", fresh.owner)
    assert own_path.status_code == 404
    listed = _ok(admin.api.get(f"{fresh.base}/bookings", fresh.owner))["bookings"]
    assert booking.booking_id not in [b["booking_id"] for b in listed]
    assert admin.tenant_state(office.tenant_id) == before
