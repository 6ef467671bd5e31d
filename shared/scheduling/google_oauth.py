"""Connecting a Google Calendar: the OAuth 2.0 web server flow, the signed state, the tokens.

1. ``authorize_url`` sends the manager's browser to Google's consent page asking for offline
   access (a refresh token) to the calendar's events and free/busy, plus ``openid email`` to
   learn which account connected. ``prompt=consent`` makes Google hand out a refresh token
   again when the account connected before.
2. Google redirects to the admin API's callback with ``code`` and the ``state`` we gave it. The
   state is ``<payload>.<signature>``: the tenant, the manager's uid, when it was issued and a
   nonce, signed with HMAC-SHA256 under the ``oauth_state_secret`` key and valid for ten
   minutes, so a callback cannot be forged for another tenant or replayed later.
3. ``exchange_code`` trades the code at the token endpoint for the refresh token and reads the
   account's e-mail from the id_token's payload (it came straight from Google over TLS, so its
   signature need not be checked: OpenID Connect Core 3.1.3.7).

``refresh_access_token`` is the refresh_token grant the Calendar client uses; an
``invalid_grant`` there means the owner revoked the access (or it expired): the calendar is
disconnected until someone connects it again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as random_tokens
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    import httpx

    from shared.settings import Settings

CALENDAR_EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_FREEBUSY_SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"
SCOPES = ("openid", "email", CALENDAR_EVENTS_SCOPE, CALENDAR_FREEBUSY_SCOPE)
STATE_VALIDITY = timedelta(minutes=10)
AUTHORIZE_PATH = "/o/oauth2/v2/auth"
TOKEN_TIMEOUT_SECONDS = 10.0


class OAuthError(Exception):
    """Connecting or refreshing failed; ``reason`` is what the manager can be told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OAuthNotConfigured(OAuthError):
    """The deployment has no OAuth client (id, secret, state key) or console URL."""


class StateRejected(OAuthError):
    """The callback's state is missing, forged, malformed or older than ten minutes."""


class GrantRefused(OAuthError):
    """Google refused the code or the refresh token (``invalid_grant``: revoked or expired)."""

    def __init__(self, reason: str, *, error: str | None = None) -> None:
        super().__init__(reason)
        self.error = error

    @property
    def disconnected(self) -> bool:
        """Return whether the authorization is gone and someone must connect again."""
        return self.error in ("invalid_grant", "unauthorized_client")


class GoogleUnavailable(OAuthError):
    """Google's token endpoint could not be reached or failed (network, 5xx, 429)."""


@dataclass(frozen=True)
class OAuthState:
    """Who started the connection, for which tenant, and when."""

    tenant_id: str
    uid: str
    issued_at: datetime
    nonce: str


@dataclass(frozen=True)
class TokenGrant:
    """What the authorization code bought: the refresh token and whose calendar it opens."""

    refresh_token: str
    access_token: str
    expires_at: datetime
    account_email: str | None
    scopes: frozenset[str]


@dataclass(frozen=True)
class AccessToken:
    """A short-lived access token and when it stops working."""

    value: str
    expires_at: datetime


Resolve = Callable[[str], str]
"""Return the value of a secret reference (``env:``, ``local:``, ``sm:``...)."""


def default_resolver(settings: Settings) -> Resolve:
    """Return a resolver reading secret references in the settings' project."""
    from shared.secrets import resolve_secret

    return lambda reference: resolve_secret(reference, settings.project_id)


def oauth_configured(settings: Settings) -> bool:
    """Return whether the deployment can connect Google Calendars (the console's flag)."""
    return bool(
        settings.google_oauth_client_id
        and settings.google_oauth_client_secret
        and settings.oauth_state_secret
        and settings.console_url
    )


# The state


def sign_state(key: str, tenant_id: str, uid: str, now: datetime, nonce: str | None = None) -> str:
    """Return the signed state that ties Google's callback to this tenant and manager."""
    payload = {
        "t": tenant_id,
        "u": uid,
        "i": int(now.timestamp()),
        "n": nonce or random_tokens.token_urlsafe(12),
    }
    encoded = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{encoded}.{_b64(_mac(key, encoded))}"


def read_state(key: str, state: str | None, now: datetime) -> OAuthState:
    """Return the state's contents, or raise ``StateRejected`` (forged, malformed, expired)."""
    if not state or state.count(".") != 1:
        raise StateRejected("the connection request is missing or malformed; start again")
    encoded, signature = state.split(".")
    try:
        presented = _unb64(signature)
        payload = json.loads(_unb64(encoded))
    except (ValueError, binascii.Error) as error:
        raise StateRejected("the connection request is malformed; start again") from error
    if not hmac.compare_digest(presented, _mac(key, encoded)):
        raise StateRejected("the connection request was not issued by Piloto; start again")
    try:
        issued = datetime.fromtimestamp(int(payload["i"]), tz=now.tzinfo)
        found = OAuthState(str(payload["t"]), str(payload["u"]), issued, str(payload["n"]))
    except (KeyError, TypeError, ValueError) as error:
        raise StateRejected("the connection request is malformed; start again") from error
    if not found.tenant_id or not found.uid:
        raise StateRejected("the connection request is malformed; start again")
    if now - issued > STATE_VALIDITY or issued - now > timedelta(minutes=1):
        raise StateRejected("the connection request expired (10 minutes); start again")
    return found


def _mac(key: str, encoded: str) -> bytes:
    return hmac.new(key.encode(), encoded.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# The flow


def authorize_url(
    settings: Settings, *, state: str, redirect_uri: str, login_hint: str | None = None
) -> str:
    """Return Google's consent page URL for an offline grant of the calendar scopes."""
    if not settings.google_oauth_client_id:
        raise OAuthNotConfigured("the deployment has no Google OAuth client")
    query = {
        "client_id": settings.google_oauth_client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
    }
    if login_hint:
        query["login_hint"] = login_hint
    return f"{settings.google_oauth_base.rstrip('/')}{AUTHORIZE_PATH}?{urlencode(query)}"


def exchange_code(
    http: httpx.Client,
    settings: Settings,
    code: str,
    redirect_uri: str,
    *,
    resolve: Resolve | None = None,
    now: datetime,
) -> TokenGrant:
    """Trade the callback's code for a refresh token and the account's e-mail."""
    document = _token_call(
        http,
        settings,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        resolve,
    )
    refresh_token = document.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise GrantRefused(
            "Google gave no refresh token (offline access was not granted); connect again"
        )
    scopes = frozenset(str(document.get("scope") or "").split())
    missing = {CALENDAR_EVENTS_SCOPE, CALENDAR_FREEBUSY_SCOPE} - scopes
    if scopes and missing:
        raise GrantRefused(
            "the calendar permissions were not granted; connect again and allow them all",
            error="insufficient_scope",
        )
    access = _access_token(document, now)
    return TokenGrant(
        refresh_token=refresh_token,
        access_token=access.value,
        expires_at=access.expires_at,
        account_email=id_token_email(document.get("id_token")),
        scopes=scopes,
    )


def refresh_access_token(
    http: httpx.Client,
    settings: Settings,
    refresh_token: str,
    *,
    resolve: Resolve | None = None,
    now: datetime,
) -> AccessToken:
    """Return a fresh access token for the refresh token (``GrantRefused`` when revoked)."""
    document = _token_call(
        http, settings, {"grant_type": "refresh_token", "refresh_token": refresh_token}, resolve
    )
    return _access_token(document, now)


def id_token_email(id_token: object) -> str | None:
    """Return the ``email`` claim of an id_token's payload (None when absent or unreadable)."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    try:
        claims = json.loads(_unb64(id_token.split(".")[1]))
    except (ValueError, binascii.Error):
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return email if isinstance(email, str) and "@" in email else None


def _token_call(
    http: httpx.Client, settings: Settings, form: dict[str, str], resolve: Resolve | None
) -> dict[str, Any]:
    """POST to the token endpoint with the client's credentials; map its errors."""
    import httpx

    client_id = settings.google_oauth_client_id
    secret_reference = settings.google_oauth_client_secret
    if not client_id or not secret_reference:
        raise OAuthNotConfigured("the deployment has no Google OAuth client")
    client_secret = (resolve or default_resolver(settings))(secret_reference)
    body = {**form, "client_id": client_id, "client_secret": client_secret}
    try:
        response = http.post(
            settings.google_token_url,
            data=body,
            headers={"Accept": "application/json"},
            timeout=TOKEN_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as error:
        raise GoogleUnavailable(f"Google's token endpoint is unreachable ({error})") from error
    try:
        document = response.json()
    except ValueError:
        document = {}
    document = document if isinstance(document, dict) else {}
    if response.status_code == 429 or response.status_code >= 500:
        raise GoogleUnavailable(f"Google's token endpoint failed (HTTP {response.status_code})")
    if not response.is_success:
        code = str(document.get("error") or f"http_{response.status_code}")
        description = document.get("error_description")
        detail = f"{code}: {description}" if description else code
        raise GrantRefused(f"Google refused the authorization ({detail})", error=code)
    if not isinstance(document.get("access_token"), str):
        raise GoogleUnavailable("Google's token endpoint answered without an access token")
    return document


def _access_token(document: dict[str, Any], now: datetime) -> AccessToken:
    try:
        seconds = int(document.get("expires_in") or 3600)
    except (TypeError, ValueError):
        seconds = 3600
    return AccessToken(str(document["access_token"]), now + timedelta(seconds=seconds))
