"""The simulated Google: the OAuth consent page, the token endpoint and Calendar API v3.

Under ``/google`` (so ``PILOTO_GOOGLE_OAUTH_BASE={simulator}/google``,
``PILOTO_GOOGLE_TOKEN_URL={simulator}/google/token``,
``PILOTO_GOOGLE_CALENDAR_API_BASE={simulator}/google/calendar/v3``):

- ``GET /google/o/oauth2/v2/auth``: the consent page (pt-BR) for the OAuth client
  ``CLIENT_ID``: the account (``login_hint`` or the simulator's account), the scopes asked,
  a button ``google-allow`` (redirects to ``redirect_uri`` with ``code``, ``state`` and
  ``scope``) and ``google-deny`` (``error=access_denied``). A wrong client or missing
  parameter shows Google's error page (400), never a redirect.
- ``POST /google/token``: ``authorization_code`` (the code once, with its ``redirect_uri``) and
  ``refresh_token`` grants; the client authenticates with ``client_id``/``client_secret`` in the
  form or HTTP Basic. Answers ``access_token``, ``expires_in``, ``refresh_token`` (code grant),
  ``scope``, ``token_type`` and an ``id_token`` (an unsigned JWT whose payload has the e-mail);
  errors are ``{"error", "error_description"}`` (``invalid_grant``, ``invalid_client``...).
- ``/google/calendar/v3``: ``POST /freeBusy`` and ``POST|GET /calendars/{id}/events``,
  ``GET|PATCH|DELETE /calendars/{id}/events/{eventId}`` with a Bearer access token; ``primary``
  or the account's e-mail name its calendar. Event ids are checked (base32hex, 5 to 1024
  characters; a taken one is 409 ``duplicate``), a deleted event is ``cancelled`` (GET still
  shows it, DELETE again is 410). Errors are Google's ``{"error": {"code", "message",
  "errors": [{"domain", "reason", "message"}], "status"}}``.
- ``/google/_control`` for tests: add busy time, list events and invitations, revoke the
  grants (the next refresh is ``invalid_grant``), expire access tokens, make the next calls
  fail, reset.
"""

from __future__ import annotations

import base64
import json
import re
import secrets as random_tokens
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from emulators.simulator.routing import BadRequest, Request, Response, Router, json_response

CLIENT_ID = "piloto-local.apps.googleusercontent.com"
CLIENT_SECRET = "piloto-local-google-oauth-secret"  # noqa: S105 (a local stand-in)
"""The local OAuth client the loop configures (PILOTO_GOOGLE_OAUTH_CLIENT_ID and the secret)."""
DEFAULT_ACCOUNT = "agenda@clinica-exemplo.com.br"
ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 600

_PREFIX = "/google"
_API = rf"{_PREFIX}/calendar/v3"
_CALENDAR = r"(?P<calendar_id>[^/]+)"
_EVENT = r"(?P<event_id>[^/]+)"
_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
_KNOWN_SCOPES = {
    "openid": "Saber quem você é no Google",
    "email": "Ver seu endereço de e-mail",
    "https://www.googleapis.com/auth/calendar.events": "Ver e editar eventos da sua agenda",
    "https://www.googleapis.com/auth/calendar.freebusy": "Ver a disponibilidade da sua agenda",
}


def google_error(status: int, message: str, reason: str, *, domain: str = "global") -> Response:
    """Return a Google API error: ``{"error": {"code", "message", "errors", "status"}}``."""
    statuses = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        410: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        503: "UNAVAILABLE",
    }
    error = {
        "code": status,
        "message": message,
        "errors": [{"domain": domain, "reason": reason, "message": message}],
        "status": statuses.get(status, "UNKNOWN"),
    }
    return json_response(status, {"error": error})


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


@dataclass
class _Grant:
    account: str
    scopes: tuple[str, ...]
    redirect_uri: str = ""
    expires_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class GoogleSimulator:
    """Google's OAuth and Calendar API for one OAuth client, in memory (thread-safe)."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    account_email: str = DEFAULT_ACCOUNT
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _refresh_tokens: dict[str, _Grant] = field(default_factory=dict)
    _access_tokens: dict[str, _Grant] = field(default_factory=dict)
    _events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    _invitations: list[dict[str, Any]] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_routes(self, router: Router) -> None:
        """Register the consent page, the token endpoint, the Calendar API and the controls."""
        router.add("GET", rf"{_PREFIX}/o/oauth2/v2/auth", self._consent_page)
        router.add("POST", rf"{_PREFIX}/o/oauth2/v2/auth/allow", self._allow)
        router.add("POST", rf"{_PREFIX}/o/oauth2/v2/auth/deny", self._deny)
        router.add("POST", rf"{_PREFIX}/token", self._token)
        router.add("POST", rf"{_API}/freeBusy", self._api(self._free_busy))
        router.add("POST", rf"{_API}/calendars/{_CALENDAR}/events", self._api(self._insert))
        router.add("GET", rf"{_API}/calendars/{_CALENDAR}/events", self._api(self._list))
        event = rf"{_API}/calendars/{_CALENDAR}/events/{_EVENT}"
        router.add("GET", event, self._api(self._get))
        router.add("PATCH", event, self._api(self._patch))
        router.add("DELETE", event, self._api(self._delete))
        router.add("GET", rf"{_PREFIX}/_control/events", self._control_events)
        router.add("POST", rf"{_PREFIX}/_control/busy", self._control_busy)
        router.add("POST", rf"{_PREFIX}/_control/revoke", self._control_revoke)
        router.add("POST", rf"{_PREFIX}/_control/expire", self._control_expire)
        router.add("POST", rf"{_PREFIX}/_control/fail", self._control_fail)
        router.add("DELETE", rf"{_PREFIX}/_control", self._control_reset)

    # Python API for tests

    def events(
        self, account: str | None = None, *, cancelled: bool = False
    ) -> list[dict[str, Any]]:
        """Return the account's events (oldest start first), without cancelled ones by default."""
        with self._lock:
            found = list(self._events.get(account or self.account_email, {}).values())
        found = [event for event in found if cancelled or event["status"] != "cancelled"]
        return sorted(found, key=lambda event: event["start"]["dateTime"])

    def invitations(self) -> list[dict[str, Any]]:
        """Return the e-mails Google would have sent (``sendUpdates``), oldest first."""
        with self._lock:
            return list(self._invitations)

    def add_busy(self, start: datetime, end: datetime, account: str | None = None) -> None:
        """Mark time busy in the account's calendar (an event the owner made elsewhere)."""
        if start.tzinfo is None or end <= start:
            raise ValueError("busy time needs aware start before end")
        with self._lock:
            self._busy.setdefault(account or self.account_email, []).append((start, end))

    def revoke(self) -> None:
        """Revoke every grant: refreshing is ``invalid_grant``, access tokens stop working."""
        with self._lock:
            self._refresh_tokens.clear()
            self._access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Make every access token answer 401 (the client must refresh)."""
        with self._lock:
            self._access_tokens.clear()

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` Calendar API calls with ``status``."""
        with self._lock:
            self._failures.extend([status] * count)

    def reset(self) -> None:
        """Forget grants, events, busy time, invitations and failures."""
        with self._lock:
            for store in (self._codes, self._refresh_tokens, self._access_tokens):
                store.clear()
            self._events.clear()
            self._busy.clear()
            self._invitations.clear()
            self._failures.clear()

    # OAuth

    def _consent_page(self, request: Request, params: Mapping[str, str]) -> Response:
        query = request.query
        problem = self._authorization_problem(query)
        if problem is not None:
            return _page(
                "Erro 400: invalid_request",
                f'<h1>Acesso bloqueado</h1><p data-testid="google-error">{escape(problem)}</p>',
                status=400,
            )
        account = query.get("login_hint") or self.account_email
        scopes = query["scope"].split()
        items = "".join(f"<li>{escape(_KNOWN_SCOPES.get(s, s))}</li>" for s in scopes)
        host = urlsplit(query["redirect_uri"]).netloc
        hidden = "".join(
            f'<input type="hidden" name="{escape(name)}" value="{escape(query.get(name, ""))}">'
            for name in ("client_id", "redirect_uri", "scope", "state")
        )
        hidden += f'<input type="hidden" name="account" value="{escape(account)}">'
        body = f"""
<h1>Fazer login com o Google</h1>
<p data-testid="google-account">{escape(account)}</p>
<p><strong>Piloto</strong> ({escape(host)}) quer acessar sua Conta do Google:</p>
<ul>{items}</ul>
<form method="post" action="{_PREFIX}/o/oauth2/v2/auth/allow">{hidden}
  <button type="submit" data-testid="google-allow">Permitir</button>
</form>
<form method="post" action="{_PREFIX}/o/oauth2/v2/auth/deny">{hidden}
  <button type="submit" data-testid="google-deny">Cancelar</button>
</form>
<p>Simulador: nenhuma conta real do Google é usada.</p>"""
        return _page("Fazer login - Contas do Google (simulador)", body)

    def _authorization_problem(self, query: Mapping[str, str]) -> str | None:
        if query.get("client_id") != self.client_id:
            return "The OAuth client was not found. (invalid_client)"
        if query.get("response_type") != "code":
            return "Required parameter is missing or invalid: response_type"
        redirect_uri = query.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://", "https://")):
            return "Required parameter is missing: redirect_uri"
        if not query.get("scope", "").split():
            return "Missing required parameter: scope"
        return None

    def _allow(self, request: Request, params: Mapping[str, str]) -> Response:
        form = request.form()
        problem = self._authorization_problem({**form, "response_type": "code"})
        if problem is not None:
            return json_response(400, {"error": problem})
        code = "4/0A" + random_tokens.token_urlsafe(30)
        scopes = tuple(form["scope"].split())
        account = form.get("account") or self.account_email
        with self._lock:
            self._codes[code] = _Grant(
                account,
                scopes,
                form["redirect_uri"],
                datetime.now(UTC) + timedelta(seconds=CODE_SECONDS),
            )
        answer = {"code": code, "scope": " ".join(scopes)}
        if form.get("state"):
            answer["state"] = form["state"]
        return _redirect(form["redirect_uri"], answer)

    def _deny(self, request: Request, params: Mapping[str, str]) -> Response:
        form = request.form()
        if self._authorization_problem({**form, "response_type": "code"}) is not None:
            return json_response(400, {"error": "invalid_request"})
        answer = {"error": "access_denied"}
        if form.get("state"):
            answer["state"] = form["state"]
        return _redirect(form["redirect_uri"], answer)

    def _token(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            form = request.form()
        except BadRequest:
            return _oauth_error(400, "invalid_request", "body must be a form")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = _basic_credentials(request)
        if basic is not None:
            client_id, client_secret = basic
        if client_id != self.client_id or client_secret != self.client_secret:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type")
        now = datetime.now(UTC)
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code") or "", None)
                if grant is None or grant.expires_at < now:
                    return _oauth_error(400, "invalid_grant", "Malformed auth code.")
                if form.get("redirect_uri") != grant.redirect_uri:
                    return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
                refresh_token = "1//0g" + random_tokens.token_urlsafe(40)
                self._refresh_tokens[refresh_token] = grant
            elif grant_type == "refresh_token":
                refresh_token = form.get("refresh_token") or ""
                found = self._refresh_tokens.get(refresh_token)
                if found is None:
                    return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
                grant = found
            else:
                return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type")
            access_token = "ya29.a0" + random_tokens.token_urlsafe(40)
            self._access_tokens[access_token] = _Grant(
                grant.account,
                grant.scopes,
                expires_at=now + timedelta(seconds=ACCESS_TOKEN_SECONDS),
            )
        answer: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }
        if grant_type == "authorization_code":
            answer["refresh_token"] = refresh_token
        if "openid" in grant.scopes:
            answer["id_token"] = self._id_token(grant.account, now)
        return json_response(200, answer)

    def _id_token(self, account: str, now: datetime) -> str:
        header = {"alg": "none", "typ": "JWT"}
        claims = {
            "iss": "https://accounts.google.com",
            "aud": self.client_id,
            "sub": str(int.from_bytes(account.encode()[:8].ljust(8, b"0"), "big")),
            "email": account,
            "email_verified": True,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + ACCESS_TOKEN_SECONDS,
        }
        parts = [_b64url(json.dumps(part).encode()) for part in (header, claims)]
        return ".".join([*parts, _b64url(b"simulator-unsigned")])

    # Calendar API v3

    def _api(self, handler: Any) -> Any:
        def authorized(request: Request, params: Mapping[str, str]) -> Response:
            scheme, _, token = (request.header("authorization") or "").partition(" ")
            now = datetime.now(UTC)
            with self._lock:
                if self._failures:
                    status = self._failures.pop(0)
                    return google_error(status, "Simulated failure.", "backendError")
                grant = self._access_tokens.get(token.strip()) if scheme == "Bearer" else None
                if grant is None or grant.expires_at < now:
                    return google_error(
                        401,
                        "Request had invalid authentication credentials. Expected OAuth 2 access "
                        "token, login cookie or other valid authentication credential.",
                        "authError",
                    )
                if params.get("calendar_id") not in (None, "primary", grant.account):
                    return google_error(404, "Not Found", "notFound")
                try:
                    result: Response = handler(request, params, grant.account)
                except BadRequest as error:
                    return google_error(400, str(error), "invalid")
                return result

        return authorized

    def _free_busy(self, request: Request, params: Mapping[str, str], account: str) -> Response:
        document = request.json_object()
        start, end = (
            _time(document.get("timeMin"), "timeMin"),
            _time(document.get("timeMax"), "timeMax"),
        )
        if end <= start:
            return google_error(400, "The specified time range is empty.", "timeRangeEmpty")
        calendars: dict[str, Any] = {}
        for item in document.get("items") or []:
            calendar_id = item.get("id") if isinstance(item, dict) else None
            if calendar_id in ("primary", account):
                calendars[calendar_id] = {"busy": self._busy_between(account, start, end)}
            elif isinstance(calendar_id, str):
                calendars[calendar_id] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
        return json_response(
            200,
            {
                "kind": "calendar#freeBusy",
                "timeMin": _format(start),
                "timeMax": _format(end),
                "calendars": calendars,
            },
        )

    def _busy_between(self, account: str, start: datetime, end: datetime) -> list[dict[str, str]]:
        intervals = list(self._busy.get(account, []))
        for event in self._events.get(account, {}).values():
            if event["status"] != "cancelled" and event.get("transparency") != "transparent":
                intervals.append(
                    (
                        _time(event["start"]["dateTime"], "start"),
                        _time(event["end"]["dateTime"], "end"),
                    )
                )
        found = sorted((max(a, start), min(b, end)) for a, b in intervals if a < end and b > start)
        return [{"start": _format(a), "end": _format(b)} for a, b in found]

    def _insert(self, request: Request, params: Mapping[str, str], account: str) -> Response:
        document = request.json_object()
        calendar = self._events.setdefault(account, {})
        event_id = document.get("id") or random_tokens.token_hex(13)
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            return google_error(400, "Invalid resource id value.", "invalid")
        if event_id in calendar:
            return google_error(409, "The requested identifier already exists.", "duplicate")
        now = _format(datetime.now(UTC))
        event = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": now,
            "updated": now,
            "creator": {"email": account, "self": True},
            "organizer": {"email": account, "self": True},
            "sequence": 0,
        }
        self._apply(event, document)
        calendar[event_id] = event
        self._notify(request, event, "created")
        return json_response(200, event)

    def _list(self, request: Request, params: Mapping[str, str], account: str) -> Response:
        show_deleted = request.query.get("showDeleted") == "true"
        items = [
            event
            for event in self._events.get(account, {}).values()
            if show_deleted or event["status"] != "cancelled"
        ]
        return json_response(200, {"kind": "calendar#events", "items": items})

    def _get(self, request: Request, params: Mapping[str, str], account: str) -> Response:
        event = self._events.get(account, {}).get(params["event_id"])
        if event is None:
            return google_error(404, "Not Found", "notFound")
        return json_response(200, event)

    def _patch(self, request: Request, params: Mapping[str, str], account: str) -> Response:
        event = self._events.get(account, {}).get(params["event_id"])
        if event is None:
            return google_error(404, "Not Found", "notFound")
        document = request.json_object()
        if "id" in document and document["id"] != event["id"]:
            return google_error(400, "Invalid resource id value.", "invalid")
        updated = json.loads(json.dumps(event))
        self._apply(updated, document)
        updated["sequence"] = int(event.get("sequence", 0)) + 1
        updated["updated"] = _format(datetime.now(UTC))
        self._events[account][event["id"]] = updated
        self._notify(request, updated, "updated")
        return json_response(200, updated)

    def _delete(self, request: Request, params: Mapping[str, str], account: str) -> Response:
        event = self._events.get(account, {}).get(params["event_id"])
        if event is None:
            return google_error(404, "Not Found", "notFound")
        if event["status"] == "cancelled":
            return google_error(410, "Resource has been deleted", "deleted")
        event["status"] = "cancelled"
        event["updated"] = _format(datetime.now(UTC))
        self._notify(request, event, "cancelled")
        return Response(204)

    def _apply(self, event: dict[str, Any], document: Mapping[str, Any]) -> None:
        """Copy the writable fields of ``document`` onto ``event`` after checking them."""
        for name in ("summary", "description", "location", "transparency"):
            if name in document:
                if document[name] is not None and not isinstance(document[name], str):
                    raise BadRequest(f"{name} must be a string")
                event[name] = document[name]
        if "status" in document:
            if document["status"] not in ("confirmed", "tentative", "cancelled"):
                raise BadRequest("Invalid value for: status")
            event["status"] = document["status"]
        for name in ("start", "end"):
            if name in document:
                value = document[name]
                moment = value.get("dateTime") if isinstance(value, dict) else None
                _time(moment, f"{name}.dateTime")
                event[name] = dict(value)
        if "start" not in event or "end" not in event:
            raise BadRequest("Missing time: start and end are required.")
        if _time(event["end"]["dateTime"], "end") <= _time(event["start"]["dateTime"], "start"):
            raise BadRequest("The specified time range is empty.")
        if "attendees" in document:
            attendees = document["attendees"] or []
            if not isinstance(attendees, list):
                raise BadRequest("attendees must be a list")
            found: list[dict[str, Any]] = []
            for attendee in attendees:
                email = attendee.get("email") if isinstance(attendee, dict) else None
                if not isinstance(email, str) or "@" not in email:
                    raise BadRequest("Invalid attendee email.")
                found.append({"responseStatus": "needsAction", **attendee})
            event["attendees"] = found
        for name in ("extendedProperties", "reminders", "conferenceData"):
            if name in document:
                event[name] = document[name]

    def _notify(self, request: Request, event: Mapping[str, Any], change: str) -> None:
        """Record the e-mails ``sendUpdates=all`` makes Google send to the attendees."""
        if request.query.get("sendUpdates", "none") not in ("all", "externalOnly"):
            return
        for attendee in event.get("attendees") or []:
            self._invitations.append(
                {"event_id": event["id"], "email": attendee["email"], "change": change}
            )

    # Test controls

    def _control_events(self, request: Request, params: Mapping[str, str]) -> Response:
        cancelled = request.query.get("cancelled") == "true"
        return json_response(
            200,
            {
                "events": self.events(request.query.get("account"), cancelled=cancelled),
                "invitations": self.invitations(),
            },
        )

    def _control_busy(self, request: Request, params: Mapping[str, str]) -> Response:
        document = request.json_object()
        start, end = _time(document.get("start"), "start"), _time(document.get("end"), "end")
        account = document.get("account")
        try:
            self.add_busy(start, end, account if isinstance(account, str) else None)
        except ValueError as error:
            raise BadRequest(str(error)) from error
        return json_response(201, {"start": _format(start), "end": _format(end)})

    def _control_revoke(self, request: Request, params: Mapping[str, str]) -> Response:
        self.revoke()
        return Response(204)

    def _control_expire(self, request: Request, params: Mapping[str, str]) -> Response:
        self.expire_access_tokens()
        return Response(204)

    def _control_fail(self, request: Request, params: Mapping[str, str]) -> Response:
        document = request.json_object()
        count, status = document.get("count", 1), document.get("status", 503)
        if not isinstance(count, int) or not isinstance(status, int) or not 400 <= status <= 599:
            raise BadRequest("count must be a whole number and status an HTTP error status")
        self.fail_next(count, status)
        return Response(204)

    def _control_reset(self, request: Request, params: Mapping[str, str]) -> Response:
        self.reset()
        return Response(204)


def _time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise BadRequest(f"Missing {name}.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise BadRequest(f"Bad Request: {name} is not RFC 3339") from error
    if moment.tzinfo is None:
        raise BadRequest(f"Bad Request: {name} needs a time zone offset")
    return moment


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _redirect(url: str, query: Mapping[str, str]) -> Response:
    separator = "&" if "?" in url else "?"
    return Response(302, b"", "text/plain", {"Location": f"{url}{separator}{urlencode(query)}"})


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        '<!doctype html><html lang="pt-BR"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{body}</body></html>"
    )
    return Response(status, html.encode(), "text/html; charset=utf-8")
