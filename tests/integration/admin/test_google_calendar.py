"""Connecting Google Calendar through the served admin API and the simulated Google: the consent
URL, the browser's trip through the consent page, the public callback saving the token and the
link (audited), every bad callback redirecting with a reason and writing nothing, roles, and
the disconnect."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emulators.simulator import ProviderSimulator
from shared.scheduling.google import google_backend_for
from shared.scheduling.models import CalendarSettings
from shared.settings import Settings
from tests.integration.admin.conftest import CONSOLE_URL, AdminStack, google_env
from tests.integration.admin.support import User

CALLBACK = "/api/calendar/google/callback"


class Office:
    def __init__(self, tenant_id: str, owner: User, seller: User) -> None:
        self.tenant_id, self.owner, self.seller = tenant_id, owner, seller
        self.base = f"/api/tenants/{tenant_id}"


@pytest.fixture(scope="module")
def office(admin: AdminStack) -> Office:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant = admin.tenant(owner)
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(owner, tenant, seller, "seller")
    return Office(tenant, owner, seller)


@pytest.fixture
def google(stripe_simulator: ProviderSimulator) -> ProviderSimulator:
    stripe_simulator.google.reset()
    return stripe_simulator


def consent(url: str, button: str = "google-allow") -> dict[str, str]:
    """Go through the consent page like the browser; return the callback's query."""
    with httpx.Client(timeout=5) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        forms = re.findall(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
        action, inner = next((a, f) for a, f in forms if f'data-testid="{button}"' in f)
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', inner))
        answer = browser.post(
            str(httpx.URL(url).join(action)), data={k: unescape(v) for k, v in fields.items()}
        )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CONSOLE_URL + CALLBACK
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def callback(admin: AdminStack, query: dict[str, str]) -> dict[str, str]:
    """Call the public callback as Google's redirect does; return the console redirect's query."""
    answer = admin.api.get(CALLBACK, params=query)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{CONSOLE_URL}/agenda"
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def calendar_doc(admin: AdminStack, office: Office) -> dict[str, Any]:
    snapshot = (
        admin.db.collection("tenants")
        .document(office.tenant_id)
        .collection("settings")
        .document("calendar")
        .get()
    )
    return snapshot.to_dict() or {}


def authorize(admin: AdminStack, office: Office) -> str:
    answer = admin.api.post(f"{office.base}/calendar/google/authorize", office.owner)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"])


def test_connect_saves_the_token_and_the_link(
    admin: AdminStack, office: Office, google: ProviderSimulator
) -> None:
    url = authorize(admin, office)
    asked = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{google.url}/google/o/oauth2/v2/auth?")
    assert asked["redirect_uri"] == [CONSOLE_URL + CALLBACK]
    assert asked["login_hint"] == [office.owner.email]
    assert asked["access_type"] == ["offline"]
    audited = len(admin.audit(office.tenant_id))

    query = consent(url)
    outcome = callback(admin, query)

    assert outcome == {"google": "connected"}
    stored = calendar_doc(admin, office)
    assert stored["provider"] == "google"
    link = stored["google"]
    assert link["account_email"] == office.owner.email
    assert link["connected_by"] == office.owner.uid
    assert link["token_secret"] == f"local:piloto-tenant-{office.tenant_id}-google-calendar"
    refresh_token = json.loads(admin.secrets_file.read_text())[
        link["token_secret"].removeprefix("local:")
    ]
    assert refresh_token.startswith("1//")
    assert refresh_token not in json.dumps(stored, default=str)
    [entry] = admin.audit(office.tenant_id)[audited:]
    assert entry["action"] == "calendar.google_connect"
    assert entry["after"] == {"provider": "google", "account_email": office.owner.email}
    assert entry["actor_uid"] == office.owner.uid

    # The saved token opens the calendar (the scheduler's backend).
    settings = Settings(project_id=admin.project_id, **_google_settings(google.url))
    secrets = {
        link["token_secret"]: refresh_token,
        "env:SECRET": "piloto-local-google-oauth-secret",
    }
    backend = google_backend_for(settings, httpx.Client(timeout=5), secrets.__getitem__)(
        office.tenant_id, CalendarSettings.model_validate(stored)
    )
    assert backend is not None
    start = datetime.now(UTC)
    google.google.add_busy(
        start + timedelta(hours=1), start + timedelta(hours=2), office.owner.email
    )
    assert len(backend.busy(start, start + timedelta(hours=3))) == 1

    # Google's redirect replayed: the code is spent; nothing changes.
    again = callback(admin, query)
    assert again["google"] == "error" and "expirou" in again["reason"]
    assert calendar_doc(admin, office) == stored
    assert len(admin.audit(office.tenant_id)) == audited + 1


def _google_settings(simulator_url: str) -> dict[str, str]:
    env = google_env(simulator_url)
    return {
        "google_oauth_client_id": env["PILOTO_GOOGLE_OAUTH_CLIENT_ID"],
        "google_oauth_client_secret": "env:SECRET",
        "google_oauth_base": env["PILOTO_GOOGLE_OAUTH_BASE"],
        "google_token_url": env["PILOTO_GOOGLE_TOKEN_URL"],
        "google_calendar_api_base": env["PILOTO_GOOGLE_CALENDAR_API_BASE"],
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda q: {**q, "state": q["state"][:-2] + "xx"}, "inválido"),
        (lambda q: {**q, "state": ""}, "inválido"),
        (lambda q: {"state": q["state"], "error": "access_denied"}, "negada"),
        (lambda q: {**q, "code": "4/0Aforged"}, "expirou"),
        (lambda q: {"state": q["state"]}, "não devolveu"),
    ],
)
def test_a_bad_callback_redirects_with_a_reason_and_writes_nothing(
    admin: AdminStack, office: Office, google: ProviderSimulator, change: Any, reason: str
) -> None:
    before = calendar_doc(admin, office)
    audited = len(admin.audit(office.tenant_id))
    query = consent(authorize(admin, office))

    outcome = callback(admin, change(query))

    assert outcome["google"] == "error"
    assert reason in outcome["reason"]
    assert calendar_doc(admin, office) == before
    assert len(admin.audit(office.tenant_id)) == audited


def test_denied_consent_redirects_with_the_error(
    admin: AdminStack, office: Office, google: ProviderSimulator
) -> None:
    query = consent(authorize(admin, office), "google-deny")

    assert query["error"] == "access_denied"
    assert callback(admin, query)["reason"] == "a permissão foi negada no Google"


def test_only_managers_connect(admin: AdminStack, office: Office) -> None:
    refused = admin.api.post(f"{office.base}/calendar/google/authorize", office.seller)
    disconnect = admin.api.delete(f"{office.base}/calendar/google", office.seller)

    assert refused.status_code == 403
    assert disconnect.status_code == 403


def test_a_manager_demoted_before_the_callback_connects_nothing(
    admin: AdminStack, google: ProviderSimulator
) -> None:
    owner = admin.auth.sign_up("owner2", verified=True)
    tenant = admin.tenant(owner, "Outra")
    manager = admin.auth.sign_up("manager", verified=True)
    admin.join(owner, tenant, manager, "admin")
    answer = admin.api.post(f"/api/tenants/{tenant}/calendar/google/authorize", manager)
    query = consent(answer.json()["url"])
    admin.api.patch(f"/api/tenants/{tenant}/members/{manager.uid}", owner, {"role": "seller"})

    outcome = callback(admin, query)

    assert outcome["google"] == "error" and "donos e administradores" in outcome["reason"]
    office = Office(tenant, owner, manager)
    assert "google" not in calendar_doc(admin, office)


def test_disconnect_goes_back_to_the_builtin_calendar(
    admin: AdminStack, office: Office, google: ProviderSimulator
) -> None:
    if calendar_doc(admin, office).get("google") is None:
        assert callback(admin, consent(authorize(admin, office))) == {"google": "connected"}
    reference = calendar_doc(admin, office)["google"]["token_secret"].removeprefix("local:")
    audited = len(admin.audit(office.tenant_id))

    answer = admin.api.delete(f"{office.base}/calendar/google", office.owner)

    assert answer.status_code == 200, answer.text
    assert answer.json()["google"]["connected"] is False
    stored = calendar_doc(admin, office)
    assert (stored["provider"], stored["google"]) == ("builtin", None)
    assert reference not in json.loads(admin.secrets_file.read_text())
    [entry] = admin.audit(office.tenant_id)[audited:]
    assert entry["action"] == "calendar.google_disconnect"
    assert entry["before"]["account_email"] == office.owner.email
    again = admin.api.delete(f"{office.base}/calendar/google", office.owner)
    assert again.status_code == 404
