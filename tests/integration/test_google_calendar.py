"""Google Calendar over HTTP against the simulated Google (no GCP emulator needed).

The OAuth flow goes through the consent page like a browser (the form behind ``google-allow``),
the code is exchanged by ``exchange_code`` and the Calendar API is reached only through
``GoogleCalendarClient`` (shared/scheduling/google.py): freeBusy, events insert/patch/delete,
a 409 retry, the attendee invitation, a 401 refresh, invalid_grant and 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emulators.simulator import ProviderSimulator
from emulators.simulator.google import CLIENT_ID, CLIENT_SECRET, DEFAULT_ACCOUNT
from shared.scheduling.google import (
    CalendarRefused,
    GoogleCalendarClient,
    event_id_for,
    google_backend_for,
)
from shared.scheduling.google_oauth import (
    CALENDAR_EVENTS_SCOPE,
    GrantRefused,
    StateRejected,
    TokenGrant,
    authorize_url,
    exchange_code,
    read_state,
    sign_state,
)
from shared.scheduling.models import Booking, CalendarSettings, GoogleCalendarLink
from shared.scheduling.service import CalendarUnavailable
from shared.settings import Settings

REDIRECT = "http://console.test/api/calendar/google/callback"
STATE_KEY = "local-state-key"
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    with ProviderSimulator([]) as running:
        yield running


@pytest.fixture
def google(simulator: ProviderSimulator) -> Iterator[ProviderSimulator]:
    simulator.google.reset()
    yield simulator


@pytest.fixture
def settings(simulator: ProviderSimulator) -> Settings:
    return Settings(
        project_id="demo-piloto",
        google_oauth_client_id=CLIENT_ID,
        google_oauth_client_secret="env:UNUSED",
        google_oauth_base=f"{simulator.url}/google",
        google_token_url=f"{simulator.url}/google/token",
        google_calendar_api_base=f"{simulator.url}/google/calendar/v3",
        oauth_state_secret="env:UNUSED",
        console_url="http://console.test",
    )


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def resolve(reference: str) -> str:
    return CLIENT_SECRET


def consent(http: httpx.Client, url: str, button: str = "google-allow") -> dict[str, str]:
    """Open the consent page, submit the form behind ``button``, return the redirect's query."""
    page = http.get(url)
    assert page.status_code == 200, page.text
    forms = re.findall(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    action, inner = next((a, f) for a, f in forms if f'data-testid="{button}"' in f)
    fields = {
        name: unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', inner)
    }
    answer = http.post(str(httpx.URL(url).join(action)), data=fields)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def connect(http: httpx.Client, settings: Settings) -> TokenGrant:
    now = datetime.now(UTC)
    state = sign_state(STATE_KEY, "t-1", "uid-1", now)
    query = consent(http, authorize_url(settings, state=state, redirect_uri=REDIRECT))
    assert read_state(STATE_KEY, query["state"], now).tenant_id == "t-1"
    return exchange_code(http, settings, query["code"], REDIRECT, resolve=resolve, now=now)


def client_for(http: httpx.Client, settings: Settings, refresh_token: str) -> GoogleCalendarClient:
    return GoogleCalendarClient(
        http=http,
        settings=settings,
        tenant_id="t-1",
        refresh_token=lambda: refresh_token,
        resolve=resolve,
    )


def booking(email: str | None = None, start: datetime = START) -> Booking:
    return Booking(
        booking_id="conv-1-7",
        tenant_id="t-1",
        conversation_id="conv-1",
        contact_name="Ana Souza",
        phone="+5511988887777",
        email=email,
        start=start,
        end=start + timedelta(minutes=30),
        created_at=START,
        updated_at=START,
    )


def test_consent_gives_a_refresh_token_and_the_account(google, http, settings) -> None:
    grant = connect(http, settings)

    assert grant.refresh_token.startswith("1//")
    assert grant.account_email == DEFAULT_ACCOUNT
    assert CALENDAR_EVENTS_SCOPE in grant.scopes


def test_consent_page_shows_the_account_and_asks_offline_calendar_access(http, settings) -> None:
    url = authorize_url(settings, state="s", redirect_uri=REDIRECT, login_hint="dono@exemplo.com")
    query = parse_qs(urlsplit(url).query)
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert set(query["scope"][0].split()) >= {"openid", "email", CALENDAR_EVENTS_SCOPE}

    page = http.get(url)

    assert 'data-testid="google-account">dono@exemplo.com<' in page.text
    assert 'data-testid="google-allow"' in page.text


def test_denied_consent_and_reused_code(google, http, settings) -> None:
    state = sign_state(STATE_KEY, "t-1", "uid-1", datetime.now(UTC))
    url = authorize_url(settings, state=state, redirect_uri=REDIRECT)

    assert consent(http, url, "google-deny") == {"error": "access_denied", "state": state}

    query = consent(http, url)
    now = datetime.now(UTC)
    exchange_code(http, settings, query["code"], REDIRECT, resolve=resolve, now=now)
    with pytest.raises(GrantRefused) as refused:
        exchange_code(http, settings, query["code"], REDIRECT, resolve=resolve, now=now)
    assert refused.value.error == "invalid_grant"


def test_wrong_client_secret_is_refused(google, http, settings) -> None:
    state = sign_state(STATE_KEY, "t-1", "uid-1", datetime.now(UTC))
    query = consent(http, authorize_url(settings, state=state, redirect_uri=REDIRECT))

    with pytest.raises(GrantRefused) as refused:
        exchange_code(http, settings, query["code"], REDIRECT, resolve=lambda _: "wrong", now=START)
    assert refused.value.error == "invalid_client"


def test_state_is_signed_and_expires() -> None:
    now = datetime.now(UTC)
    state = sign_state(STATE_KEY, "t-1", "uid-1", now)

    assert read_state(STATE_KEY, state, now + timedelta(minutes=9)).uid == "uid-1"
    with pytest.raises(StateRejected, match="expired"):
        read_state(STATE_KEY, state, now + timedelta(minutes=11))
    with pytest.raises(StateRejected, match="not issued"):
        read_state("another-key", state, now)
    payload, signature = state.split(".")
    forged = sign_state(STATE_KEY, "t-2", "uid-1", now).split(".")[0]
    with pytest.raises(StateRejected):
        read_state(STATE_KEY, f"{forged}.{signature}", now)
    for broken in (None, "", "abc", "a.b.c", f"{payload}.!!"):
        with pytest.raises(StateRejected):
            read_state(STATE_KEY, broken, now)


def test_events_round_trip_with_invitation(google, http, settings) -> None:
    calendar = client_for(http, settings, connect(http, settings).refresh_token)
    lead = booking(email="ana@exemplo.com")

    event_id = calendar.create_event(lead, "Reunião com Ana", "Avaliação", "Rua A, 10")

    assert event_id == event_id_for("t-1", "conv-1-7")
    assert re.fullmatch(r"[a-v0-9]{5,1024}", event_id)
    [event] = google.google.events()
    assert event["summary"] == "Reunião com Ana"
    assert "Ana Souza" in event["description"] and "+5511988887777" in event["description"]
    assert event["attendees"][0]["email"] == "ana@exemplo.com"
    assert google.google.invitations() == [
        {"event_id": event_id, "email": "ana@exemplo.com", "change": "created"}
    ]
    assert calendar.busy(START - timedelta(hours=1), START + timedelta(hours=2)) == [
        (START, START + timedelta(minutes=30))
    ]

    # A retry after a lost answer finds the event: no duplicate.
    assert calendar.create_event(lead, "Reunião com Ana", "Avaliação", None) == event_id
    assert len(google.google.events()) == 1

    moved = booking(email="ana@exemplo.com", start=START + timedelta(days=1))
    calendar.move_event(event_id, moved)
    assert google.google.events()[0]["start"]["dateTime"] == moved.start.isoformat()

    calendar.cancel_event(event_id)
    calendar.cancel_event(event_id)  # already gone: fine
    assert google.google.events() == []
    assert calendar.busy(START, START + timedelta(days=2)) == []

    # The same booking booked again revives its cancelled event.
    assert calendar.create_event(lead, "Reunião com Ana", "", None) == event_id
    assert [e["status"] for e in google.google.events()] == ["confirmed"]


def test_add_attendee_and_no_invitation_without_email(google, http, settings) -> None:
    calendar = client_for(http, settings, connect(http, settings).refresh_token)
    event_id = calendar.create_event(booking(), "Reunião", "", None)
    assert google.google.invitations() == []

    calendar.add_attendee(event_id, "ana@exemplo.com")
    calendar.add_attendee(event_id, "ANA@exemplo.com")

    assert [a["email"] for a in google.google.events()[0]["attendees"]] == ["ana@exemplo.com"]
    assert len(google.google.invitations()) == 1


def test_owner_busy_time_is_reported(google, http, settings) -> None:
    calendar = client_for(http, settings, connect(http, settings).refresh_token)
    google.google.add_busy(START + timedelta(hours=1), START + timedelta(hours=2))

    assert calendar.busy(START, START + timedelta(hours=3)) == [
        (START + timedelta(hours=1), START + timedelta(hours=2))
    ]


def test_expired_access_token_is_refreshed_once(google, http, settings) -> None:
    calendar = client_for(http, settings, connect(http, settings).refresh_token)
    calendar.busy(START, START + timedelta(hours=1))
    google.google.expire_access_tokens()

    assert calendar.busy(START, START + timedelta(hours=1)) == []


def test_revoked_grant_is_disconnected(google, http, settings) -> None:
    calendar = client_for(http, settings, connect(http, settings).refresh_token)
    google.google.revoke()

    with pytest.raises(CalendarRefused) as refused:
        calendar.busy(START, START + timedelta(hours=1))
    assert refused.value.disconnected
    assert isinstance(refused.value, CalendarUnavailable)


def test_google_failures_are_unavailable_not_refused(google, http, settings) -> None:
    calendar = client_for(http, settings, connect(http, settings).refresh_token)
    google.google.fail_next(1, 503)

    with pytest.raises(CalendarUnavailable) as failure:
        calendar.busy(START, START + timedelta(hours=1))
    assert not isinstance(failure.value, CalendarRefused)

    unreachable = replace(settings, google_calendar_api_base="http://127.0.0.1:9/calendar/v3")
    with pytest.raises(CalendarUnavailable):
        client_for(http, unreachable, "1//x").busy(START, START + timedelta(hours=1))


def test_backend_for_only_a_connected_google_calendar(google, http, settings) -> None:
    grant = connect(http, settings)
    token_ref = "local:piloto-tenant-t-1-google-calendar"
    secrets = {token_ref: grant.refresh_token, "env:UNUSED": CLIENT_SECRET}
    backend_for = google_backend_for(settings, http, secrets.__getitem__)
    link = GoogleCalendarLink(token_secret=token_ref, connected_at=START)
    connected = CalendarSettings(provider="google", google=link)

    assert backend_for("t-1", CalendarSettings()) is None
    assert backend_for("t-1", CalendarSettings(google=link)) is None  # built-in chosen
    backend = backend_for("t-1", connected)
    assert backend is backend_for("t-1", connected)  # its access token stays cached
    assert backend is not None
    assert backend.busy(START, START + timedelta(hours=1)) == []

    gone = GoogleCalendarLink(token_secret="local:deleted", connected_at=START)
    orphan = backend_for("t-1", CalendarSettings(provider="google", google=gone))
    assert orphan is not None
    with pytest.raises(CalendarRefused) as refused:
        orphan.busy(START, START + timedelta(hours=1))
    assert refused.value.disconnected
