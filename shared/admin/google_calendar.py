"""Connecting a tenant's Google Calendar from the console (OAuth 2.0 web server flow).

- ``POST T/calendar/google/authorize`` (managers): the consent URL the console navigates to,
  with a state signed for this tenant and manager (shared.scheduling.google_oauth).
- ``GET /api/calendar/google/callback`` (public: Google redirects the browser here): checks the
  state, trades the code for a refresh token, saves it in the secret store
  (``piloto-tenant-{t}-google-calendar``) and the link in ``settings/calendar`` (provider
  google), then redirects to ``{console}/agenda?google=connected``. Anything wrong redirects
  with ``?google=error&reason=...`` and writes nothing; it never answers a 500.
- ``DELETE T/calendar/google`` (managers): back to the built-in calendar, the token deleted.

Connect and disconnect are audited (``calendar.google_connect``, ``calendar.google_disconnect``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from google.cloud import firestore
from pydantic import BaseModel, ConfigDict, Field

from shared.admin.access import MANAGERS, Membership, member_ref
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.calendar import CalendarOut, get_calendar
from shared.admin.errors import ApiError, not_found
from shared.admin.http import Request, Response
from shared.scheduling.google_oauth import (
    GoogleUnavailable,
    GrantRefused,
    OAuthError,
    StateRejected,
    authorize_url,
    exchange_code,
    oauth_configured,
    read_state,
    sign_state,
)
from shared.scheduling.models import GoogleCalendarLink
from shared.scheduling.service import read_calendar
from shared.secret_store import tenant_secret_name
from shared.settings import variable_name
from shared.store.conversations import tenant_ref

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger("piloto.admin.google_calendar")

CALLBACK_PATH = "/api/calendar/google/callback"
AGENDA_PAGE = "/agenda"
STORE_PURPOSE = "google-calendar"


class GoogleAuthorizeOut(BaseModel):
    """Where the console sends the manager to allow Piloto into their calendar."""

    url: str = Field(description="Google's consent page.")


class GoogleCallbackQuery(BaseModel):
    """What Google appends to the callback (every field optional: errors redirect, never 4xx)."""

    model_config = ConfigDict(extra="ignore")

    code: str | None = None
    state: str | None = None
    error: str | None = None
    scope: str | None = None


def calendar_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/settings/calendar``."""
    return tenant_ref(client, tenant_id).collection("settings").document("calendar")


def redirect_uri(settings: Settings) -> str:
    """Return the callback URL registered with the OAuth client (served by the console host)."""
    return f"{str(settings.console_url).rstrip('/')}{CALLBACK_PATH}"


def authorize(request: Request, tenant_id: str) -> GoogleAuthorizeOut:
    """Return Google's consent URL for this tenant (503 when the deployment cannot connect)."""
    settings = request.services.settings
    key = _state_key(settings)
    state = sign_state(key, tenant_id, request.member.uid, request.services.now())
    url = authorize_url(
        settings,
        state=state,
        redirect_uri=redirect_uri(settings),
        login_hint=request.member.email,
    )
    return GoogleAuthorizeOut(url=url)


def callback(request: Request) -> Response:
    """Finish the connection Google redirected back from; redirect to the console's agenda."""
    services = request.services
    settings = services.settings
    if not settings.console_url:
        raise ApiError(503, f"{variable_name('console_url')} is not set")
    query: GoogleCallbackQuery = request.query
    now = services.now()
    try:
        key = _state_key(settings)
    except ApiError as error:
        logger.error("google callback without configuration: %s", error.message)
        return _back(settings, error="a conexão com o Google não está configurada")
    try:
        state = read_state(key, query.state, now)
    except StateRejected as error:
        logger.warning("google callback with a bad state: %s", error.reason)
        return _back(settings, error="o pedido de conexão expirou ou é inválido; tente de novo")
    if query.error:
        reason = (
            "a permissão foi negada no Google"
            if query.error == "access_denied"
            else f"o Google recusou a conexão ({query.error})"
        )
        return _back(settings, error=reason)
    member = _manager(services.firestore, state.tenant_id, state.uid)
    if member is None:
        return _back(settings, error="só donos e administradores podem conectar a agenda")
    if not query.code:
        return _back(settings, error="o Google não devolveu a autorização; tente de novo")
    try:
        grant = exchange_code(services.http, settings, query.code, redirect_uri(settings), now=now)
    except GoogleUnavailable as error:
        logger.warning("google token endpoint failed: %s", error.reason)
        return _back(settings, error="o Google não respondeu; tente de novo em instantes")
    except GrantRefused as error:
        logger.warning("google refused the code: %s", error.reason)
        return _back(settings, error=_refusal_text(error))
    except OAuthError as error:
        return _back(settings, error=error.reason)
    except Exception:  # the client secret cannot be read: a deployment problem
        logger.exception("exchanging the Google code failed")
        return _back(settings, error="a conexão com o Google não está configurada")
    try:
        reference = services.secret_store.put(
            tenant_secret_name(state.tenant_id, STORE_PURPOSE), grant.refresh_token
        )
    except Exception:
        logger.exception("saving the Google Calendar token failed")
        return _back(settings, error="não foi possível guardar a autorização; tente de novo")
    _save_link(request, member, reference, grant.account_email)
    return _back(settings)


def disconnect(request: Request, tenant_id: str) -> CalendarOut:
    """Go back to the built-in calendar and forget the Google token."""
    services = request.services
    client = services.firestore
    before = read_calendar(client, tenant_id)
    if before.google is None:
        raise not_found("a connected Google Calendar")
    now = services.now()
    batch = client.batch()
    batch.set(
        calendar_ref(client, tenant_id),
        {"provider": "builtin", "google": None},
        merge=True,
    )
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "calendar.google_disconnect",
            "settings/calendar",
            now,
            before=_audited(before.provider, before.google),
            after={"provider": "builtin", "google": None},
        ),
    )
    batch.commit()
    try:
        services.secret_store.delete(tenant_secret_name(tenant_id, STORE_PURPOSE))
    except Exception:  # the link is gone, so the token is no longer used
        logger.exception("deleting the Google Calendar token failed")
    return _calendar_out(request, tenant_id)


def _calendar_out(request: Request, tenant_id: str) -> CalendarOut:
    """Return the calendar as ``GET T/calendar`` shows it."""
    return get_calendar(request, tenant_id)


def _save_link(
    request: Request, member: Membership, reference: str, account_email: str | None
) -> None:
    """Store the link (provider google) with its audit entry in one transaction."""
    services = request.services
    client = services.firestore
    tenant_id = member.tenant_id
    now = services.now()
    link = GoogleCalendarLink(
        calendar_id="primary",
        account_email=account_email,
        token_secret=reference,
        connected_at=now,
        connected_by=member.uid,
    )

    @firestore.transactional
    def write(transaction: Any) -> None:
        snapshot = calendar_ref(client, tenant_id).get(transaction=transaction)
        previous = (snapshot.to_dict() or {}) if snapshot.exists else {}
        transaction.set(
            calendar_ref(client, tenant_id),
            {"provider": "google", "google": link.model_dump()},
            merge=True,
        )
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                member,
                "calendar.google_connect",
                "settings/calendar",
                now,
                before={
                    "provider": previous.get("provider", "builtin"),
                    "account_email": (previous.get("google") or {}).get("account_email"),
                },
                after={"provider": "google", "account_email": account_email},
            ),
        )

    write(client.transaction())


def _manager(client: Any, tenant_id: str, uid: str) -> Membership | None:
    """Return the state's manager if they still own or administer the tenant."""
    snapshot = member_ref(client, tenant_id, uid).get()
    record = (snapshot.to_dict() or {}) if snapshot.exists else {}
    role = record.get("role")
    if role not in MANAGERS:
        return None
    return Membership(tenant_id=tenant_id, uid=uid, email=record.get("email"), role=role)


def _state_key(settings: Settings) -> str:
    """Return the key that signs the state, or a 503 naming what is not configured."""
    if not oauth_configured(settings):
        missing = [
            variable_name(name)
            for name in (
                "google_oauth_client_id",
                "google_oauth_client_secret",
                "oauth_state_secret",
                "console_url",
            )
            if not getattr(settings, name)
        ]
        raise ApiError(503, f"Google Calendar is not configured: set {', '.join(missing)}")
    from shared.secrets import SecretUnavailable, resolve_secret

    try:
        return resolve_secret(str(settings.oauth_state_secret), settings.project_id)
    except SecretUnavailable as error:
        raise ApiError(503, f"the OAuth state key cannot be read: {error}") from None


def _refusal_text(error: GrantRefused) -> str:
    if error.error == "insufficient_scope":
        return "permita todas as permissões da agenda pedidas pelo Google"
    if error.error == "invalid_grant":
        return "a autorização do Google expirou ou já foi usada; tente de novo"
    return "o Google recusou a autorização; tente de novo"


def _back(settings: Settings, *, error: str | None = None) -> Response:
    """Return the redirect to the console's agenda, with the outcome in the query."""
    query = {"google": "connected"} if error is None else {"google": "error", "reason": error}
    console = str(settings.console_url).rstrip("/")
    return Response(302, None, {"Location": f"{console}{AGENDA_PAGE}?{urlencode(query)}"})


def _audited(provider: str, link: GoogleCalendarLink | None) -> dict[str, Any]:
    return {
        "provider": provider,
        "account_email": link.account_email if link is not None else None,
    }
