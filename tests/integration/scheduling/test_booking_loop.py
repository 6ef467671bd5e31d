"""Meetings booked on the whole local stack: offer, pick, race, move and cancel over WhatsApp.

A workspace copied from the demo clinic, its built-in calendar on (every day, all day, so the
test finds free slots at any hour), and the offline model. Leads write through the provider
simulator's Meta channel: an offer arrives as an interactive list ("Ver horários"), a tap on a
row books it without a model call, two leads tapping the same row at once get one booking and
one new offer (SLOT_TAKEN), and a booked lead moves then cancels the meeting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import time
from typing import Any

import pytest
from google.cloud import firestore

from emulators.loop import PilotoLoop
from emulators.simulator import ProviderSimulator
from emulators.simulator.outbox import OutboxMessage
from emulators.stack import LocalStack
from shared.scheduling.models import WEEKDAYS, CalendarSettings, TimeRange
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from tests.integration.insights.support import demo_copy, loop_with
from tests.integration.test_e2e import new_phone, wait_until

TENANT = "it-booking-clinic"
CHANNEL = "it-booking-meta"
CALENDAR = CalendarSettings(
    enabled=True,
    business_hours={day: [TimeRange(start=time(0), end=time(23, 59))] for day in WEEKDAYS},
    meeting_minutes=30,
    buffer_after_minutes=0,
    min_notice_minutes=60,
    horizon_days=3,
    slots_offered=5,
    location="Rua das Flores, 10",
)
TIMEOUT = 40


@pytest.fixture(scope="module")
def loop(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PilotoLoop]:
    """The demo seed plus a clinic whose calendar is on (written before any turn reads it)."""
    clinic = demo_copy(
        TENANT,
        "Clínica com agenda (teste)",
        [
            {
                "provider": "meta",
                "channel_id": CHANNEL,
                "business_phone": "+5511990000081",
                "config": {"phone_number_id": "100000000000081"},  # its own, for the outbox
            }
        ],
    )
    with loop_with(local_stack, tmp_path_factory.mktemp("booking"), [clinic]) as running:
        client = firestore.Client(project=running.project_id)
        settings = tenant_ref(client, TENANT).collection("settings").document("calendar")
        settings.set(CALENDAR.model_dump(mode="json"))
        yield running


@pytest.fixture
def simulator(loop: PilotoLoop) -> ProviderSimulator:
    assert loop.simulator is not None
    return loop.simulator


@pytest.fixture
def client(loop: PilotoLoop) -> Any:
    return firestore.Client(project=loop.project_id)


def next_message(simulator: ProviderSimulator, phone: str, after: int) -> OutboxMessage:
    """Return the first message sent to ``phone`` after outbox index ``after``."""
    return simulator.wait_for(
        lambda message: message.to == phone and message.index > after, timeout=TIMEOUT
    )


def asked(simulator: ProviderSimulator, phone: str, text: str) -> OutboxMessage:
    """Post the lead's text and return the agent's answer."""
    after = max((m.index for m in simulator.outbox()), default=-1)
    simulator.send_lead_message(CHANNEL, phone, text)
    return next_message(simulator, phone, after)


def state(client: Any, phone: str) -> dict[str, Any]:
    """Return the lead's conversation document."""
    contact = contact_ref(client, TENANT, phone).get().to_dict() or {}
    document = conversation_ref(client, TENANT, contact["current_conversation_id"]).get()
    return document.to_dict() or {}


def booking(client: Any, booking_id: str) -> dict[str, Any]:
    return tenant_ref(client, TENANT).collection("bookings").document(booking_id).get().to_dict()


def latest_decision(client: Any, phone: str) -> dict[str, Any]:
    conversation = state(client, phone)
    decisions = conversation_ref(client, TENANT, conversation["conversation_id"]).collection(
        "decisions"
    )
    return max((d.to_dict() for d in decisions.stream()), key=lambda d: d["decided_at"])


def rows(message: OutboxMessage) -> list[str]:
    """Return the titles of a list's rows."""
    return [row["title"] for row in message.content.buttons]


def test_two_leads_tap_the_same_slot_one_books_it_the_other_gets_a_new_offer(
    simulator: ProviderSimulator, client: Any
) -> None:
    first, second = new_phone(), new_phone()
    offers = [asked(simulator, phone, "Oi, quero agendar uma reunião") for phone in (first, second)]
    for offer in offers:
        assert offer.kind == "list" and len(rows(offer)) == 5
        assert offer.request["interactive"]["action"]["button"] == "Ver horários"
    assert rows(offers[0]) == rows(offers[1])
    wanted = rows(offers[0])[1]
    after = max(m.index for m in simulator.outbox())

    taps = [
        threading.Thread(target=simulator.tap_choice, args=(CHANNEL, phone), kwargs={"index": 2})
        for phone in (first, second)
    ]
    for tap in taps:
        tap.start()
    for tap in taps:
        tap.join()
    answers = {phone: next_message(simulator, phone, after) for phone in (first, second)}

    confirmed = [p for p, m in answers.items() if m.text and "confirmada" in m.text]
    assert len(confirmed) == 1, {p: m.text for p, m in answers.items()}
    [winner] = confirmed
    [loser] = [p for p in answers if p != winner]
    confirmation = answers[winner].text or ""
    for detail in (wanted.split(" às ")[1], "30 minutos", "Rua das Flores, 10"):
        assert detail in confirmation
    won = state(client, winner)
    assert won["booking_status"] == "confirmed" and won["offered_slots"] == []
    assert booking(client, won["booking_id"])["status"] == "confirmed"
    pick = latest_decision(client, winner)
    assert pick["reasons"][0] == "meeting_booked"
    assert (pick["prompt_tokens"], pick["model"]) == (0, None)  # no model call for the pick
    new_offer = answers[loser]
    assert new_offer.kind == "list" and wanted not in rows(new_offer)
    assert "slot_taken" in latest_decision(client, loser)["reasons"]
    lost = state(client, loser)
    assert lost.get("booking_id") is None and len(lost["offered_slots"]) == len(rows(new_offer))


def test_a_booked_lead_moves_the_meeting_then_cancels_it(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()
    offer = asked(simulator, phone, "Queria marcar uma reunião")
    booked = asked(simulator, phone, "1")  # the numbered answer books too
    assert booked.text and "confirmada" in booked.text
    booking_id = state(client, phone)["booking_id"]

    new_offer = asked(simulator, phone, "Preciso remarcar")
    assert new_offer.kind == "list" and rows(offer)[0] not in rows(new_offer)
    after = max(m.index for m in simulator.outbox())
    simulator.tap_choice(CHANNEL, phone, index=3)
    moved = next_message(simulator, phone, after)
    assert moved.text and "remarquei" in moved.text
    conversation = state(client, phone)
    assert conversation["booking_id"] == booking_id  # the same booking, at its new time
    stored = booking(client, booking_id)
    assert stored["status"] == "confirmed" and stored["start"] == conversation["booking_start"]

    canceled = asked(simulator, phone, "Quero cancelar a reunião")
    assert canceled.text and "cancelei" in canceled.text
    assert state(client, phone)["booking_status"] == "canceled"
    wait_until(
        lambda: booking(client, booking_id)["status"] == "canceled", what="the canceled booking"
    )
