"""RD Station CRM API v1 under ``/rdstation/api/v1``: the subset Piloto's CRM sync calls.

In memory, one account per token (RD Station CRM v1 takes the token as the ``token`` query
parameter). ``DEFAULT_TOKEN`` is seeded at start with RD Station's default funnel ("Funil de
vendas": Sem contato, Contato feito, Identificação do interesse, Apresentação, Proposta,
Fechamento) and its lost reasons; tests make their own accounts with ``POST
/rdstation/_control/accounts`` so they never see each other's records.

Routes (v1 shapes: resources carry ``id`` and ``_id``; lists are ``{total, has_more, <name>}``
except ``/deal_pipelines``, a bare array): ``GET /token/check``, ``GET /deal_pipelines``,
``GET /deal_stages``, ``GET /deal_lost_reasons``, ``GET|POST /contacts``, ``GET|PUT
/contacts/{id}``, ``POST /deals``, ``GET|PUT /deals/{id}``. As in RD Station, a deal's stage
moves only with ``deal_stage_id`` at the top level of the update body (inside ``deal`` it is
answered 200 and ignored). Assumed where the reference is silent: a wrong token is 401
``{"error": ...}``; validation errors are 422 ``{"errors": {field: [messages]}}``; creations
answer 200.

Test controls (``/rdstation/_control``): ``POST accounts`` ``{"token"?, "require_lost_reason"?}``
makes a seeded account; ``GET accounts/{token}`` lists its contacts, deals and the API calls
it received; ``POST accounts/{token}/revoke`` makes its token answer 401; ``POST fail``
``{"status", "times"?, "retry_after"?, "token"?}`` fails the next calls; ``DELETE`` resets.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulators.simulator.routing import Request, Response, Router, json_response

API = "/rdstation/api/v1"
CONTROL = "/rdstation/_control"
DEFAULT_TOKEN = "5f3e9c1a7b2d4e6f8a0b1c2d"  # noqa: S105 (a local test account)
"""The local account's token (``make dev`` stores it as the tenants' CRM token reference)."""
FUNNEL_NAME = "Funil de vendas"
FUNNEL_STAGES = (
    "Sem contato",
    "Contato feito",
    "Identificação do interesse",
    "Apresentação",
    "Proposta",
    "Fechamento",
)
LOST_REASONS = ("Sem resposta", "Preço", "Comprou do concorrente")
_ID = r"(?P<id>[0-9a-f]{24})"

Handler = Callable[[Request, Mapping[str, str]], Response]


def _new_id() -> str:
    return secrets.token_hex(12)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Failure:
    """Answer the next ``times`` API calls (of one token, or any) with ``status``."""

    status: int
    times: int
    retry_after: float | None
    token: str | None


@dataclass
class Account:
    """One RD Station CRM account: its funnels, contacts, deals and the calls it received."""

    token: str
    require_lost_reason: bool = False
    revoked: bool = False
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    lost_reasons: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def stage(self, stage_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Return a stage and its funnel, or None."""
        for pipeline in self.pipelines:
            for stage in pipeline["deal_stages"]:
                if stage["id"] == stage_id:
                    return stage, pipeline
        return None


def seeded_account(token: str, *, require_lost_reason: bool = False) -> Account:
    """Return an account with RD Station's default funnel and a few lost reasons."""
    pipeline_id = _new_id()
    stages = [
        {"id": (sid := _new_id()), "_id": sid, "name": name, "nickname": name[:2].upper(),
         "order": order, "deal_pipeline_id": pipeline_id}
        for order, name in enumerate(FUNNEL_STAGES, start=1)
    ]  # fmt: skip
    pipeline = {"id": pipeline_id, "_id": pipeline_id, "name": FUNNEL_NAME, "order": 1,
                "deal_stages": stages}  # fmt: skip
    reasons = [{"id": (rid := _new_id()), "_id": rid, "name": name} for name in LOST_REASONS]
    return Account(
        token=token,
        require_lost_reason=require_lost_reason,
        pipelines=[pipeline],
        lost_reasons=reasons,
    )


class RdStationSimulator:
    """RD Station CRM's API v1 subset, in memory, with test controls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {}
        self._failures: list[Failure] = []
        self.reset()

    def reset(self) -> None:
        """Forget every account and failure; seed ``DEFAULT_TOKEN`` again."""
        with self._lock:
            self._accounts = {DEFAULT_TOKEN: seeded_account(DEFAULT_TOKEN)}
            self._failures = []

    def add_account(self, token: str | None = None, *, require_lost_reason: bool = False) -> str:
        """Make a seeded account; return its token."""
        token = token or _new_id()
        with self._lock:
            self._accounts[token] = seeded_account(token, require_lost_reason=require_lost_reason)
        return token

    def account(self, token: str) -> Account | None:
        """Return the account of a token (tests read it directly)."""
        with self._lock:
            return self._accounts.get(token)

    def add_routes(self, router: Router) -> None:
        """Register the API and the test controls on ``router``."""
        api = self._api
        router.add("GET", rf"{API}/token/check", api(self._token_check))
        router.add("GET", rf"{API}/deal_pipelines", api(self._pipelines))
        router.add("GET", rf"{API}/deal_stages", api(self._stages))
        router.add("GET", rf"{API}/deal_lost_reasons", api(self._lost_reasons))
        router.add("GET", rf"{API}/contacts", api(self._list_contacts))
        router.add("POST", rf"{API}/contacts", api(self._create_contact))
        router.add("GET", rf"{API}/contacts/{_ID}", api(self._get_contact))
        router.add("PUT", rf"{API}/contacts/{_ID}", api(self._update_contact))
        router.add("POST", rf"{API}/deals", api(self._create_deal))
        router.add("GET", rf"{API}/deals/{_ID}", api(self._get_deal))
        router.add("PUT", rf"{API}/deals/{_ID}", api(self._update_deal))
        router.add("POST", rf"{CONTROL}/accounts", self._control_add)
        router.add("GET", rf"{CONTROL}/accounts/(?P<token>[^/]+)", self._control_state)
        router.add("POST", rf"{CONTROL}/accounts/(?P<token>[^/]+)/revoke", self._control_revoke)
        router.add("POST", rf"{CONTROL}/fail", self._control_fail)
        router.add("DELETE", CONTROL, self._control_reset)

    # The API

    def _api(self, handler: Callable[[Account, Request, Mapping[str, str]], Response]) -> Handler:
        def answer(request: Request, params: Mapping[str, str]) -> Response:
            token = request.query.get("token", "")
            with self._lock:
                failure = self._take_failure(token)
                if failure is not None:
                    headers = (
                        {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after else {}
                    )
                    return json_response(
                        failure.status, {"error": f"simulated failure {failure.status}"}, headers
                    )
                account = self._accounts.get(token)
                if account is None or account.revoked:
                    return json_response(401, {"error": "Token inválido ou expirado"})
                account.calls.append(
                    {"method": request.method, "path": request.path.removeprefix(API)}
                )
                return handler(account, request, params)

        return answer

    def _take_failure(self, token: str) -> Failure | None:
        for failure in self._failures:
            if failure.token in (None, token):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _token_check(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        return json_response(200, {"name": "Conta simulada", "token": account.token})

    def _pipelines(self, account: Account, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, account.pipelines)

    def _stages(self, account: Account, request: Request, params: Mapping[str, str]) -> Response:
        wanted = request.query.get("deal_pipeline_id")
        stages = [
            stage
            for pipeline in account.pipelines
            if wanted in (None, pipeline["id"])
            for stage in pipeline["deal_stages"]
        ]
        return json_response(200, {"total": len(stages), "has_more": False, "deal_stages": stages})

    def _lost_reasons(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        reasons = account.lost_reasons
        body = {"total": len(reasons), "has_more": False, "deal_lost_reasons": reasons}
        return json_response(200, body)

    def _list_contacts(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        phone = _digits(request.query.get("phone"))
        email = (request.query.get("email") or "").strip().lower()
        found = [
            self._contact_out(account, contact)
            for contact in account.contacts.values()
            if (not phone or any(_digits(p.get("phone")) == phone for p in contact["phones"]))
            and (not email or any(e.get("email", "").lower() == email for e in contact["emails"]))
        ]
        limit = _int(request.query.get("limit"), 20)
        body = {"total": len(found), "has_more": len(found) > limit, "contacts": found[:limit]}
        return json_response(200, body)

    def _create_contact(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        fields = request.json_object().get("contact")
        if not isinstance(fields, dict) or not str(fields.get("name") or "").strip():
            return _invalid("name", "não pode ficar em branco")
        contact_id = _new_id()
        contact: dict[str, Any] = {
            "id": contact_id, "_id": contact_id, "name": "", "phones": [], "emails": [],
            "notes": None, "deal_ids": [], "created_at": _now(),
        }  # fmt: skip
        problem = self._apply_contact(account, contact, fields)
        if problem is not None:
            return problem
        account.contacts[contact_id] = contact
        return json_response(200, self._contact_out(account, contact))

    def _get_contact(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        contact = account.contacts.get(params["id"])
        if contact is None:
            return json_response(404, {"error": "Contato não encontrado"})
        return json_response(200, self._contact_out(account, contact))

    def _update_contact(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        contact = account.contacts.get(params["id"])
        if contact is None:
            return json_response(404, {"error": "Contato não encontrado"})
        fields = request.json_object().get("contact")
        if not isinstance(fields, dict):
            return _invalid("contact", "é obrigatório")
        problem = self._apply_contact(account, contact, fields)
        if problem is not None:
            return problem
        return json_response(200, self._contact_out(account, contact))

    def _apply_contact(
        self, account: Account, contact: dict[str, Any], fields: dict[str, Any]
    ) -> Response | None:
        if "name" in fields:
            if not str(fields["name"] or "").strip():
                return _invalid("name", "não pode ficar em branco")
            contact["name"] = str(fields["name"]).strip()
        for key, item in (("phones", "phone"), ("emails", "email")):
            if key in fields:
                values = fields[key] or []
                if not isinstance(values, list) or any(
                    not isinstance(v, dict) or not str(v.get(item) or "").strip() for v in values
                ):
                    return _invalid(key, f"cada item precisa de {item}")
                contact[key] = [dict(v) for v in values]
        if "emails" in fields and any("@" not in e["email"] for e in contact["emails"]):
            return _invalid("emails", "e-mail inválido")
        if "notes" in fields:
            contact["notes"] = fields["notes"]
        if "deal_ids" in fields:
            deal_ids = [str(i) for i in fields["deal_ids"] or []]
            if any(i not in account.deals for i in deal_ids):
                return _invalid("deal_ids", "negociação não encontrada")
            contact["deal_ids"] = deal_ids
        contact["updated_at"] = _now()
        return None

    def _create_deal(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        body = request.json_object()
        fields = body.get("deal")
        if not isinstance(fields, dict) or not str(fields.get("name") or "").strip():
            return _invalid("name", "não pode ficar em branco")
        stage_id = fields.get("deal_stage_id") or account.pipelines[0]["deal_stages"][0]["id"]
        if account.stage(str(stage_id)) is None:
            return _invalid("deal_stage_id", "etapa não encontrada")
        deal_id = _new_id()
        deal = {"id": deal_id, "_id": deal_id, "name": str(fields["name"]).strip(),
                "deal_stage_id": str(stage_id), "win": None, "closed_at": None, "hold": None,
                "deal_lost_reason_id": None, "deal_lost_note": None, "created_at": _now(),
                "updated_at": _now()}  # fmt: skip
        account.deals[deal_id] = deal
        return json_response(200, self._deal_out(account, deal))

    def _get_deal(self, account: Account, request: Request, params: Mapping[str, str]) -> Response:
        deal = account.deals.get(params["id"])
        if deal is None:
            return json_response(404, {"error": "Negociação não encontrada"})
        return json_response(200, self._deal_out(account, deal))

    def _update_deal(
        self, account: Account, request: Request, params: Mapping[str, str]
    ) -> Response:
        deal = account.deals.get(params["id"])
        if deal is None:
            return json_response(404, {"error": "Negociação não encontrada"})
        body = request.json_object()
        fields: dict[str, Any] = body["deal"] if isinstance(body.get("deal"), dict) else {}
        stage_id = body.get("deal_stage_id")  # only at the top level moves the deal
        if stage_id is not None:
            if account.stage(str(stage_id)) is None:
                return _invalid("deal_stage_id", "etapa não encontrada")
            deal["deal_stage_id"] = str(stage_id)
        if "name" in fields and str(fields["name"] or "").strip():
            deal["name"] = str(fields["name"]).strip()
        if "win" in fields:
            win = fields["win"]
            reason_id = fields.get("deal_lost_reason_id")
            if win is False and account.require_lost_reason and not reason_id:
                return _invalid("deal_lost_reason_id", "é obrigatório para perder a negociação")
            if reason_id and all(r["id"] != reason_id for r in account.lost_reasons):
                return _invalid("deal_lost_reason_id", "motivo de perda não encontrado")
            deal["win"] = win
            deal["closed_at"] = _now() if win is not None else None
            deal["deal_lost_reason_id"] = reason_id if win is False else None
            deal["deal_lost_note"] = fields.get("deal_lost_note") if win is False else None
        deal["updated_at"] = _now()
        return json_response(200, self._deal_out(account, deal))

    def _contact_out(self, account: Account, contact: dict[str, Any]) -> dict[str, Any]:
        deals = [account.deals[i] for i in contact["deal_ids"] if i in account.deals]
        out = {key: value for key, value in contact.items() if key != "deal_ids"}
        out["deals"] = [
            {"id": d["id"], "_id": d["id"], "name": d["name"], "win": d["win"],
             "closed_at": d["closed_at"]}
            for d in deals
        ]  # fmt: skip
        return out

    def _deal_out(self, account: Account, deal: dict[str, Any]) -> dict[str, Any]:
        found = account.stage(deal["deal_stage_id"])
        stage, pipeline = found if found else ({}, {})
        reason = next(
            (r for r in account.lost_reasons if r["id"] == deal["deal_lost_reason_id"]), None
        )
        contacts = [
            {"id": c["id"], "_id": c["id"], "name": c["name"], "phones": c["phones"],
             "emails": c["emails"]}
            for c in account.contacts.values()
            if deal["id"] in c["deal_ids"]
        ]  # fmt: skip
        return {
            "id": deal["id"],
            "_id": deal["id"],
            "name": deal["name"],
            "win": deal["win"],
            "hold": deal["hold"],
            "closed_at": deal["closed_at"],
            "deal_stage": {k: stage[k] for k in ("id", "_id", "name", "nickname") if k in stage},
            "deal_pipeline": {"id": pipeline.get("id"), "name": pipeline.get("name")},
            "deal_lost_reason": reason,
            "deal_lost_note": deal["deal_lost_note"],
            "contacts": contacts,
            "created_at": deal["created_at"],
            "updated_at": deal["updated_at"],
        }

    # Test controls

    def _control_add(self, request: Request, params: Mapping[str, str]) -> Response:
        body = request.json_object() if request.body else {}
        token = self.add_account(
            str(body["token"]) if body.get("token") else None,
            require_lost_reason=bool(body.get("require_lost_reason")),
        )
        return json_response(201, {"token": token})

    def _control_state(self, request: Request, params: Mapping[str, str]) -> Response:
        with self._lock:
            account = self._accounts.get(params["token"])
            if account is None:
                return json_response(404, {"error": "no such account"})
            body = {
                "pipelines": account.pipelines,
                "lost_reasons": account.lost_reasons,
                "contacts": [self._contact_out(account, c) for c in account.contacts.values()],
                "deals": [self._deal_out(account, d) for d in account.deals.values()],
                "calls": list(account.calls),
                "revoked": account.revoked,
            }
        return json_response(200, body)

    def _control_revoke(self, request: Request, params: Mapping[str, str]) -> Response:
        with self._lock:
            account = self._accounts.get(params["token"])
            if account is None:
                return json_response(404, {"error": "no such account"})
            account.revoked = True
        return json_response(200, {"revoked": True})

    def _control_fail(self, request: Request, params: Mapping[str, str]) -> Response:
        body = request.json_object()
        status = _int(body.get("status"), 0)
        if not 400 <= status <= 599:
            return json_response(400, {"error": "status must be an HTTP error status"})
        retry_after = body.get("retry_after")
        failure = Failure(
            status=status,
            times=max(1, _int(body.get("times"), 1)),
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            token=str(body["token"]) if body.get("token") else None,
        )
        with self._lock:
            self._failures.append(failure)
        return json_response(201, {"status": failure.status, "times": failure.times})

    def _control_reset(self, request: Request, params: Mapping[str, str]) -> Response:
        self.reset()
        return json_response(200, {"reset": True})


def _invalid(field_name: str, message: str) -> Response:
    return json_response(422, {"errors": {field_name: [message]}})


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
