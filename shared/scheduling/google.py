"""Google Calendar as a tenant's external calendar (the ``CalendarBackend`` of shared.scheduling).

``GoogleCalendarClient`` speaks the Calendar API v3 under ``google_calendar_api_base`` with an
access token it gets from the tenant's refresh token (cached until a minute before it expires;
a 401 refreshes it once and retries):

- ``busy``: ``POST /freeBusy`` with ``timeMin``/``timeMax``/``items`` → the busy intervals;
- ``create_event``: ``POST /calendars/{id}/events`` with an event id derived from the booking
  (base32hex, so a retry answered 409 finds the event it already made and reuses it), the lead
  as attendee and ``sendUpdates=all`` when the booking has an e-mail (Google sends the
  invitation), the lead's name and phone in the description;
- ``move_event`` / ``add_attendee``: ``PATCH``; ``cancel_event``: ``DELETE`` (404/410: gone).

Errors: ``CalendarUnavailable`` when Google cannot answer now (network, timeouts, 5xx, 429, a
403 rate limit) and ``CalendarRefused`` (a ``CalendarUnavailable`` too, so the scheduler's
handling covers both) when it refuses the call; ``disconnected`` on it means the refresh token
was revoked or expired (``invalid_grant``) and the caller marks the link failing.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.scheduling.google_oauth import (
    AccessToken,
    GoogleUnavailable,
    GrantRefused,
    OAuthNotConfigured,
    Resolve,
    default_resolver,
    refresh_access_token,
)
from shared.scheduling.models import Booking, CalendarSettings
from shared.scheduling.service import CalendarBackend, CalendarUnavailable

if TYPE_CHECKING:
    import httpx

    from shared.settings import Settings

logger = logging.getLogger("piloto.scheduling.google")

CALL_TIMEOUT_SECONDS = 10.0
TOKEN_MARGIN = timedelta(seconds=60)
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


class CalendarRefused(CalendarUnavailable):
    """Google refused the call (4xx); ``disconnected``: the authorization is gone."""

    def __init__(self, reason: str, *, status: int | None = None, disconnected: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.disconnected = disconnected


def event_id_for(tenant_id: str, booking_id: str) -> str:
    """Return the booking's Google event id: base32hex (``a-v0-9``), stable across retries."""
    digest = hashlib.sha256(f"piloto/{tenant_id}/{booking_id}".encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def event_description(booking: Booking, description: str) -> str:
    """Return the event's description: the tenant's text plus who the lead is and how to reach."""
    lines = [description.strip()] if description.strip() else []
    details = [
        ("Lead", booking.contact_name),
        ("WhatsApp", booking.phone),
        ("E-mail", booking.email),
    ]
    lead = [f"{label}: {value}" for label, value in details if value and value not in description]
    if lead:
        lines.append("\n".join(lead))
    lines.append("Agendado pelo Piloto.")
    return "\n\n".join(lines)


@dataclass
class GoogleCalendarClient:
    """One tenant's Google Calendar, reached with its refresh token (thread-safe)."""

    http: httpx.Client
    settings: Settings
    tenant_id: str
    refresh_token: Callable[[], str]
    """Return the refresh token (resolved from the secret store on first use)."""
    calendar_id: str = "primary"
    resolve: Resolve | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _token: AccessToken | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # The CalendarBackend protocol

    def busy(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Return the busy intervals of the calendar between ``start`` and ``end``."""
        document = self._call(
            "POST",
            "/freeBusy",
            json={
                "timeMin": _rfc3339(start),
                "timeMax": _rfc3339(end),
                "items": [{"id": self.calendar_id}],
            },
        )
        calendars = document.get("calendars") if isinstance(document, dict) else None
        calendars = calendars if isinstance(calendars, dict) else {}
        entry = calendars.get(self.calendar_id)
        if entry is None and len(calendars) == 1:
            entry = next(iter(calendars.values()))
        if not isinstance(entry, dict):
            raise CalendarUnavailable("Google's free/busy answer left the calendar out")
        errors = entry.get("errors")
        if errors:
            reasons = ", ".join(
                str(item.get("reason")) for item in errors if isinstance(item, dict)
            )
            raise CalendarRefused(f"Google could not read the calendar's free/busy ({reasons})")
        intervals: list[tuple[datetime, datetime]] = []
        for item in entry.get("busy") or []:
            try:
                intervals.append((_parse(item["start"]), _parse(item["end"])))
            except (KeyError, TypeError, ValueError) as error:
                raise CalendarUnavailable(
                    f"unreadable busy interval from Google: {item}"
                ) from error
        return intervals

    def create_event(
        self, booking: Booking, title: str, description: str, location: str | None
    ) -> str:
        """Create the booking's event, or accept the one a lost answer already created."""
        event_id = event_id_for(self.tenant_id, booking.booking_id)
        body: dict[str, Any] = {
            "id": event_id,
            "summary": title,
            "description": event_description(booking, description),
            "start": {"dateTime": _rfc3339(booking.start)},
            "end": {"dateTime": _rfc3339(booking.end)},
            "extendedProperties": {
                "private": {
                    "piloto_booking_id": booking.booking_id,
                    "piloto_tenant": self.tenant_id,
                }
            },
        }
        if location:
            body["location"] = location
        if booking.email:
            body["attendees"] = [{"email": booking.email, "displayName": booking.contact_name}]
        try:
            self._call("POST", self._events(), json=body, params=_updates(booking.email))
        except CalendarRefused as refused:
            if refused.status != 409:
                raise
            existing = self._call("GET", self._events(event_id))
            if isinstance(existing, dict) and existing.get("status") == "cancelled":
                body.pop("id")
                body["status"] = "confirmed"
                self._call("PATCH", self._events(event_id), json=body, params=_updates(None))
            logger.info("google event already there", extra={"booking_id": booking.booking_id})
        return event_id

    def move_event(self, event_id: str, booking: Booking) -> None:
        """Move the event to the booking's start and end (attendees are told)."""
        self._call(
            "PATCH",
            self._events(event_id),
            json={
                "start": {"dateTime": _rfc3339(booking.start)},
                "end": {"dateTime": _rfc3339(booking.end)},
                "status": "confirmed",
            },
            params=_updates(booking.email),
        )

    def cancel_event(self, event_id: str) -> None:
        """Delete the event (already gone is fine); attendees are told."""
        try:
            self._call("DELETE", self._events(event_id), params={"sendUpdates": "all"})
        except CalendarRefused as refused:
            if refused.status not in (404, 410):
                raise

    def add_attendee(self, event_id: str, email: str) -> None:
        """Invite ``email`` to the event (Google sends the invitation)."""
        event = self._call("GET", self._events(event_id))
        attendees = list(event.get("attendees") or []) if isinstance(event, dict) else []
        if any(str(item.get("email", "")).lower() == email.lower() for item in attendees):
            return
        attendees.append({"email": email})
        self._call(
            "PATCH",
            self._events(event_id),
            json={"attendees": attendees},
            params={"sendUpdates": "all"},
        )

    # HTTP

    def _events(self, event_id: str | None = None) -> str:
        path = f"/calendars/{quote(self.calendar_id, safe='')}/events"
        return f"{path}/{event_id}" if event_id else path

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Call the API with a valid access token; refresh once on 401; map failures."""
        import httpx

        url = f"{self.settings.google_calendar_api_base.rstrip('/')}{path}"
        for attempt in (1, 2):
            token = self._access_token(force=attempt == 2)
            try:
                response = self.http.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=CALL_TIMEOUT_SECONDS,
                )
            except httpx.HTTPError as error:
                raise CalendarUnavailable(f"Google Calendar is unreachable ({error})") from error
            if response.status_code == 401 and attempt == 1:
                continue
            return _answer(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _access_token(self, *, force: bool) -> str:
        with self._lock:
            now = self.now()
            if (
                not force
                and self._token is not None
                and self._token.expires_at - TOKEN_MARGIN > now
            ):
                return self._token.value
            try:
                refresh_token = self.refresh_token()
            except Exception as error:  # the secret is gone: nothing to refresh with
                raise CalendarRefused(
                    f"the Google Calendar token could not be read ({error}); connect again",
                    disconnected=True,
                ) from error
            try:
                self._token = refresh_access_token(
                    self.http, self.settings, refresh_token, resolve=self.resolve, now=now
                )
            except GrantRefused as refused:
                raise CalendarRefused(
                    "Google no longer accepts this calendar's authorization; connect it again"
                    if refused.disconnected
                    else refused.reason,
                    disconnected=refused.disconnected,
                ) from refused
            except OAuthNotConfigured as missing:
                raise CalendarRefused(missing.reason) from missing
            except GoogleUnavailable as unavailable:
                raise CalendarUnavailable(unavailable.reason) from unavailable
            return self._token.value


def google_backend_for(
    settings: Settings, http: httpx.Client, resolve: Resolve | None = None
) -> Callable[[str, CalendarSettings], CalendarBackend | None]:
    """Return the scheduler's ``backend_for``: a (cached) client for a connected calendar."""
    resolver = resolve or default_resolver(settings)
    clients: dict[tuple[str, str, str], GoogleCalendarClient] = {}
    lock = threading.Lock()

    def backend_for(tenant_id: str, calendar: CalendarSettings) -> CalendarBackend | None:
        link = calendar.google
        if calendar.provider != "google" or link is None:
            return None
        key = (tenant_id, link.token_secret, link.calendar_id)
        with lock:
            client = clients.get(key)
            if client is None:
                reference = link.token_secret
                client = GoogleCalendarClient(
                    http=http,
                    settings=settings,
                    tenant_id=tenant_id,
                    refresh_token=lambda: resolver(reference),
                    calendar_id=link.calendar_id,
                    resolve=resolver,
                )
                clients[key] = client
        return client

    return backend_for


def _answer(response: httpx.Response) -> Any:
    """Return the JSON of a success, or raise what Google's error means."""
    if response.is_success:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError as error:
            raise CalendarUnavailable("Google Calendar answered with unreadable JSON") from error
    status = response.status_code
    message, reasons = _error_of(response)
    reason = f"Google Calendar HTTP {status}: {message}"
    if status == 429 or status >= 500 or (status == 403 and reasons & _RATE_LIMIT_REASONS):
        raise CalendarUnavailable(reason)
    raise CalendarRefused(reason, status=status, disconnected=status == 401)


def _error_of(response: httpx.Response) -> tuple[str, set[str]]:
    """Read ``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}``."""
    try:
        document = response.json()
    except ValueError:
        return response.reason_phrase, set()
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return response.reason_phrase, set()
    reasons = {
        str(item.get("reason"))
        for item in error.get("errors") or []
        if isinstance(item, dict) and item.get("reason")
    }
    return str(error.get("message") or response.reason_phrase), reasons


def _updates(email: str | None) -> dict[str, str]:
    return {"sendUpdates": "all" if email else "none"}


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("calendar times must be timezone-aware")
    return moment.isoformat()


def _parse(value: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError("a time must be a string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a time without offset")
    return moment
