"""The RD Station CRM API v1 calls Piloto makes (``https://crm.rdstation.com/api/v1``).

Every call carries the account's token as the ``token`` query parameter (RD Station CRM v1 has
no header auth) and goes to ``settings.rdstation_api_base`` (locally the provider simulator's
``/rdstation/api/v1``). Bodies follow the v1 reference: a contact is sent as
``{"contact": {...}}``, a deal as ``{"deal": {...}}``; moving a deal's stage sends
``deal_stage_id`` at the top level of the update body (inside ``deal`` RD answers 200 and moves
nothing, as its changelog notes); won and lost are ``deal.win`` true or false, a lost deal with
an optional ``deal_lost_reason_id`` and ``deal_lost_note``. Resources carry both ``id`` and
``_id``; ``resource_id`` reads either.

Failures come out as two kinds the callers act on:

- ``CrmUnavailable``: RD Station could not be reached, timed out, or answered 5xx or 429
  (``retry_after_seconds`` from its ``Retry-After``): try again later;
- ``CrmRefused``: RD Station answered another 4xx; ``token_revoked`` when it was a 401 (the
  token was revoked or regenerated in RD Station: only a new token fixes it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger("piloto.crm.rdstation")

TIMEOUT_SECONDS = 10.0
MAX_ERROR_CHARS = 300


class CrmUnavailable(RuntimeError):
    """RD Station could not be reached, or answered 5xx/429: the call may be tried again."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_seconds = retry_after_seconds


class CrmRefused(ValueError):
    """RD Station answered a 4xx other than 429: the same call would be refused again."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def token_revoked(self) -> bool:
        """Return whether RD Station refused the token itself (401)."""
        return self.status == 401


@dataclass(frozen=True)
class Stage:
    """One stage (etapa) of a sales funnel."""

    id: str
    name: str


@dataclass(frozen=True)
class Pipeline:
    """One sales funnel (funil de vendas) and its stages in order."""

    id: str
    name: str
    stages: tuple[Stage, ...]


def resource_id(resource: dict[str, Any]) -> str:
    """Return a resource's id (RD Station answers both ``id`` and ``_id``)."""
    return str(resource.get("id") or resource.get("_id") or "")


class RdStationClient:
    """RD Station CRM v1 for one account token."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        token: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    # Account

    def check_token(self) -> dict[str, Any]:
        """Return what RD Station says about the token (``GET /token/check``); 401 refuses it."""
        return self._object("GET", "/token/check")

    def pipelines(self) -> list[Pipeline]:
        """Return the account's sales funnels with their stages (``GET /deal_pipelines``)."""
        answer = self._call("GET", "/deal_pipelines")
        items = answer if isinstance(answer, list) else (answer or {}).get("deal_pipelines", [])
        pipelines = []
        for item in items:
            if not isinstance(item, dict):
                continue
            stages = sorted(
                (s for s in item.get("deal_stages") or [] if isinstance(s, dict)),
                key=lambda stage: stage.get("order") or 0,
            )
            pipelines.append(
                Pipeline(
                    id=resource_id(item),
                    name=str(item.get("name") or ""),
                    stages=tuple(Stage(resource_id(s), str(s.get("name") or "")) for s in stages),
                )
            )
        return pipelines

    def lost_reasons(self) -> list[dict[str, Any]]:
        """Return the account's lost reasons (``GET /deal_lost_reasons``)."""
        answer = self._object("GET", "/deal_lost_reasons")
        return [r for r in answer.get("deal_lost_reasons") or [] if isinstance(r, dict)]

    # Contacts

    def find_contact(self, *, phone: str | None, email: str | None) -> dict[str, Any] | None:
        """Return the first contact with this phone, else with this e-mail, or None."""
        for name, value in (("phone", phone), ("email", email)):
            if not value:
                continue
            answer = self._object("GET", "/contacts", params={name: value, "limit": 1})
            contacts = [c for c in answer.get("contacts") or [] if isinstance(c, dict)]
            if contacts:
                return contacts[0]
        return None

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """Return one contact (``GET /contacts/{id}``), with its phones, e-mails and deals."""
        return self._object("GET", f"/contacts/{contact_id}")

    def create_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        """Create a contact (``POST /contacts``) and return it."""
        return self._object("POST", "/contacts", json={"contact": contact})

    def update_contact(self, contact_id: str, contact: dict[str, Any]) -> dict[str, Any]:
        """Change a contact (``PUT /contacts/{id}``) and return it."""
        return self._object("PUT", f"/contacts/{contact_id}", json={"contact": contact})

    # Deals

    def create_deal(self, *, name: str, stage_id: str | None) -> dict[str, Any]:
        """Create a deal in a stage (``POST /deals``; no stage: the account's first) and
        return it."""
        deal: dict[str, Any] = {"name": name}
        if stage_id:
            deal["deal_stage_id"] = stage_id
        return self._object("POST", "/deals", json={"deal": deal})

    def get_deal(self, deal_id: str) -> dict[str, Any]:
        """Return one deal (``GET /deals/{id}``)."""
        return self._object("GET", f"/deals/{deal_id}")

    def move_deal(self, deal_id: str, stage_id: str) -> dict[str, Any]:
        """Move a deal to a stage: ``deal_stage_id`` at the top level of the update body."""
        body = {"deal": {}, "deal_stage_id": stage_id}
        return self._object("PUT", f"/deals/{deal_id}", json=body)

    def mark_won(self, deal_id: str) -> dict[str, Any]:
        """Mark a deal won (``deal.win = true``)."""
        return self._object("PUT", f"/deals/{deal_id}", json={"deal": {"win": True}})

    def mark_lost(
        self, deal_id: str, *, note: str | None = None, lost_reason_id: str | None = None
    ) -> dict[str, Any]:
        """Mark a deal lost (``deal.win = false``), with a lost reason and note if given."""
        deal: dict[str, Any] = {"win": False}
        if lost_reason_id:
            deal["deal_lost_reason_id"] = lost_reason_id
        if note:
            deal["deal_lost_note"] = note
        return self._object("PUT", f"/deals/{deal_id}", json={"deal": deal})

    # Transport

    def _object(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        answer = self._call(method, path, params=params, json=json)
        if not isinstance(answer, dict):
            raise CrmUnavailable(f"RD Station answered {path} with an unexpected body")
        return answer

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        query = {"token": self._token, **(params or {})}
        try:
            response = self._http.request(
                method,
                f"{self._base}{path}",
                params=query,
                json=json,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as error:
            raise CrmUnavailable(
                f"RD Station could not be reached ({type(error).__name__})"
            ) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise CrmUnavailable(
                f"RD Station answered {status}: {_message(response)}",
                status=status,
                retry_after_seconds=_retry_after(response),
            )
        if status >= 400:
            raise CrmRefused(f"RD Station answered {status}: {_message(response)}", status=status)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise CrmUnavailable(f"RD Station answered {path} with a body not JSON") from None


def _message(response: httpx.Response) -> str:
    """Return RD Station's error text: ``{"error": ...}``, ``{"errors": {field: [..]}}``,
    ``{"errors": [{"error_message": ...}]}`` or the raw body, cut short."""
    try:
        document = response.json()
    except ValueError:
        return response.text[:MAX_ERROR_CHARS] or response.reason_phrase
    text = _error_text(document)
    return (text or response.reason_phrase)[:MAX_ERROR_CHARS]


def _error_text(document: Any) -> str:
    if isinstance(document, str):
        return document
    if isinstance(document, list):
        return "; ".join(filter(None, (_error_text(item) for item in document)))
    if not isinstance(document, dict):
        return ""
    for key in ("error_message", "message", "error"):
        if isinstance(document.get(key), str):
            return str(document[key])
    errors = document.get("errors")
    if isinstance(errors, dict):
        return "; ".join(f"{field}: {_error_text(problem)}" for field, problem in errors.items())
    return _error_text(errors) if errors is not None else ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
