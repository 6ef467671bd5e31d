"""Dispatch one HTTP request through the admin API's route table, and describe it as OpenAPI.

Every route declares its method, path, who may call it, and the pydantic models of its query,
body and response. Dispatch checks in this order, each failure a 4xx that changes nothing:
route and method, token (401), membership and role in the path's tenant (403), path ids no
document can have (404), a change to a read-only workspace (402: its subscription is canceled
or its trial ended; billing routes stay open), query and body (400 malformed, 413 too large,
422 invalid with the field), then the handler runs.

Public API routes (access ``api_key``, ``/api/v1/...``) authenticate a tenant's API key instead
of a Firebase token (``shared.admin.api_keys.authenticate``: 401 missing, unknown or revoked,
403 without the route's scope, 429 over the key's rate); the key names the tenant.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from shared.admin.access import Membership, Role, membership_of
from shared.admin.auth import Caller, bearer_token
from shared.admin.errors import ApiError, from_validation_error
from shared.billing.accounts import BillingAccount, account_of_tenant, service_state
from shared.billing.plans import load_catalogue

logger = logging.getLogger("piloto.admin")

MAX_BODY_BYTES = 256 * 1024
MAX_ID_BYTES = 1024  # Firestore allows 1,500 bytes; invitations prefix the tenant id
READ_ONLY_CACHE_SECONDS = 10.0
"""How long an instance trusts a workspace's billing account for the read-only gate (at most
``billing_cache_seconds``)."""
READ_ONLY_REASONS = {
    "canceled": "its subscription is canceled; subscribe again on the billing page",
    "trial_expired": "its trial ended; subscribe on the billing page",
}

Access = Literal["public", "user", "member", "api_key"]
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Route:
    """One endpoint: where, who, what goes in and what comes out."""

    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    access: Access = "member"
    roles: frozenset[Role] = frozenset({"owner", "admin", "seller"})
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    tag: str = "admin"
    max_body_bytes: int = MAX_BODY_BYTES
    billing: bool = False
    """A billing route (Checkout, portal, plan): open while the workspace is read-only."""
    while_read_only: bool = False
    """A route that stays open while the workspace is read-only although its method is not
    GET (it changes nothing the subscription pays for, or the law requires it)."""
    scope: str | None = None
    """For access ``api_key``: the scope the key must carry (``contacts``, ``conversations``...)."""
    also: tuple[int, ...] = ()
    """Other success statuses answering with the response model (200 for an upsert's update)."""

    @property
    def gated(self) -> bool:
        """Return whether a read-only workspace (subscription canceled, trial ended) refuses it."""
        return (
            self.access in ("member", "api_key")
            and self.method in MUTATING_METHODS
            and not self.billing
            and not self.while_read_only
        )

    @property
    def openapi_path(self) -> str:
        """Return the path with ``{name}`` parameters (OpenAPI's form of ``<name>``)."""
        return self.path.replace("<", "{").replace(">", "}")


@dataclass
class Request:
    """What a handler gets: the caller, their membership, the parsed input and the services."""

    services: Any
    caller: Caller | None = None
    membership: Membership | None = None
    query: Any = None
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    api_key: Any = None
    """For access ``api_key``: the caller's ``ApiKey`` (its tenant is the request's)."""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def user(self) -> Caller:
        """Return the signed-in caller (routes with access user or member have one)."""
        assert self.caller is not None
        return self.caller

    @property
    def member(self) -> Membership:
        """Return the caller's membership in the path's tenant (member routes have one)."""
        assert self.membership is not None
        return self.membership


@dataclass(frozen=True)
class Response:
    """A handler's answer when it is not the route's plain 200 model."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Router:
    """Matches requests to routes and runs them."""

    def __init__(
        self, routes: Iterable[Route], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.routes = list(routes)
        self._clock = clock
        self._accounts: dict[tuple[int, str], tuple[float, BillingAccount | None]] = {}
        self._accounts_lock = threading.Lock()
        self._map = Map(
            [
                Rule(route.path, methods=[route.method], endpoint=index)
                for index, route in enumerate(self.routes)
            ],
            strict_slashes=False,
            merge_slashes=False,
        )

    def body_limit(self, method: str, path: str) -> int:
        """Return the largest body the matching route takes (the default when none matches)."""
        try:
            index, _ = self._map.bind("admin", path_info=path).match(method=method)
        except (NotFound, MethodNotAllowed):
            return MAX_BODY_BYTES
        return self.routes[int(index)].max_body_bytes

    def dispatch(
        self,
        services: Any,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        """Answer one request; every refusal is an ApiError turned into its 4xx."""
        try:
            return self._dispatch(services, method, path, query, headers, body)
        except ApiError as error:
            if error.status >= 500:
                logger.error("admin request failed: %s", error.message)
            return Response(error.status, error.body(), getattr(error, "headers", None) or {})

    def _dispatch(
        self,
        services: Any,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        adapter = self._map.bind("admin", path_info=path)
        try:
            index, params = adapter.match(method=method)
        except NotFound:
            raise ApiError(404, f"no such endpoint: {path}") from None
        except MethodNotAllowed as error:
            allowed = ", ".join(sorted(error.valid_methods or ()))
            raise ApiError(405, f"{method} is not allowed here (allowed: {allowed})") from None
        route = self.routes[index]
        request = Request(services=services, params=dict(params), headers=headers)
        if route.access == "api_key":
            from shared.admin.api_keys import authenticate  # it imports this module

            request.api_key = authenticate(services, headers.get("Authorization"), route.scope)
        elif route.access != "public":
            request.caller = services.verify_token(bearer_token(headers.get("Authorization")))
        if route.access == "member":
            tenant_id = params["tenant_id"]
            request.membership = membership_of(services.firestore, tenant_id, request.user)
            if request.member.role not in route.roles:
                raise ApiError(
                    403, f"the {request.member.role} role may not do this ({route.summary})"
                )
        for name, value in params.items():
            if not _is_document_id(value):  # no such document can exist: Firestore refuses it
                raise ApiError(404, f"{name} not found")
        if route.gated:
            tenant_id = params.get("tenant_id") or request.api_key.tenant_id
            self._refuse_if_read_only(services, tenant_id)
        if route.query is not None:
            request.query = _parse(route.query, dict(query), "query")
        if route.body is not None:
            request.body = _parse(route.body, _json_body(body, route.max_body_bytes), "")
        result = route.handler(request, **params)
        return _answer(route, result, headers)

    def _refuse_if_read_only(self, services: Any, tenant_id: str) -> None:
        """Refuse a change with a 402 while the workspace's subscription keeps it read-only."""
        account = self._account(services, tenant_id)
        catalogue = load_catalogue(services.settings.plans_file)
        state = service_state(account, catalogue, services.now())
        if state.read_only:
            why = READ_ONLY_REASONS.get(state.reason or "canceled", READ_ONLY_REASONS["canceled"])
            raise ApiError(402, f"this workspace is read-only: {why}")

    def _account(self, services: Any, tenant_id: str) -> BillingAccount | None:
        """Return the workspace's billing account, read at most once per tenant per
        ``READ_ONLY_CACHE_SECONDS`` on this instance (two reads: the tenant, the account);
        a subscription that changes is seen by the gate that much later."""
        key = (id(services.firestore), tenant_id)
        now = self._clock()
        with self._accounts_lock:
            cached = self._accounts.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        account = account_of_tenant(services.firestore, tenant_id)
        with self._accounts_lock:
            if len(self._accounts) >= 10_000:  # many tenants on one instance: drop the expired
                self._accounts = {k: v for k, v in self._accounts.items() if v[0] > now}
            ttl = min(READ_ONLY_CACHE_SECONDS, services.settings.billing_cache_seconds)
            self._accounts[key] = (now + ttl, account)
        return account


def _is_document_id(value: str) -> bool:
    """Return whether Firestore accepts ``value`` in a document id (path ids are used as such)."""
    return (
        value not in ("", ".", "..")
        and "/" not in value
        and not (value.startswith("__") and value.endswith("__"))
        and len(value.encode()) <= MAX_ID_BYTES
    )


def _json_body(body: bytes, limit: int = MAX_BODY_BYTES) -> Any:
    if len(body) > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise ApiError(400, "the body is not valid JSON: nested too deeply") from None


def _parse(model: type[BaseModel], data: Any, prefix: str) -> BaseModel:
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        api_error = from_validation_error(error, prefix)
        if prefix == "query":
            api_error.status = 400
        raise api_error from None


def _answer(route: Route, result: Any, headers: Mapping[str, str]) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(204)
    if isinstance(result, BaseModel):
        payload = result.model_dump(mode="json", by_alias=True)
    else:
        payload = result
    if route.method == "GET":
        # Polling: an unchanged answer is a 304 with no body.
        etag = '"' + hashlib.sha256(_canonical(payload)).hexdigest()[:32] + '"'
        if headers.get("If-None-Match") == etag:
            return Response(304, None, {"ETag": etag})
        return Response(route.status, payload, {"ETag": etag})
    return Response(route.status, payload)


def _canonical(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def openapi_document(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the routes (schemas from their pydantic models)."""
    from pydantic.json_schema import models_json_schema

    from shared.admin.schemas import ErrorBody

    routes = list(routes)
    models: dict[tuple[type[BaseModel], str], None] = {(ErrorBody, "serialization"): None}
    for route in routes:
        if route.body is not None:
            models[(route.body, "validation")] = None
        if route.response is not None:
            models[(route.response, "serialization")] = None
    refs, top = models_json_schema(
        [(model, mode) for model, mode in models],  # type: ignore[misc]
        ref_template="#/components/schemas/{model}",
    )

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "tags": [route.tag],
            "parameters": _parameters(route),
            "responses": _responses(route, refs),
        }
        if route.access == "api_key":
            operation["security"] = [{"apiKey": []}]
            operation["description"] = f"API key scope: {route.scope}."
        elif route.access != "public":
            operation["security"] = [{"firebase": []}]
            roles = ", ".join(sorted(route.roles)) if route.access == "member" else "signed in"
            operation["description"] = f"Who may call it: {roles}."
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
            }
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "firebase": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "Firebase Auth ID token",
                },
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "API key (pk_live_…), made by an owner in the console",
                },
            },
        },
    }


def _parameters(route: Route) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_names(route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, definition in schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": definition}
            )
    return parameters


def _path_names(path: str) -> list[str]:
    return [part[1:-1].split(":")[-1] for part in path.split("/") if part.startswith("<")]


def _responses(route: Route, refs: Mapping[Any, Any]) -> dict[str, Any]:
    from shared.admin.schemas import ErrorBody

    error_content = {
        "application/json": {"schema": refs[(ErrorBody, "serialization")]},
    }
    responses: dict[str, Any] = {}
    if route.status == 204:
        responses[str(route.status)] = {"description": "done"}
    elif route.status == 302:  # a browser redirect (Location), e.g. an OAuth callback
        responses[str(route.status)] = {"description": "redirect to the Location header"}
    else:
        schema = (
            refs[(route.response, "serialization")]
            if route.response is not None
            else {"type": "object"}
        )
        for status in (route.status, *route.also):
            responses[str(status)] = {
                "description": "ok",
                "content": {"application/json": {"schema": schema}},
            }
    if route.method == "GET":
        responses["304"] = {"description": "unchanged since the ETag in If-None-Match"}
    codes = ["400", "422"] if route.body or route.query else ["400"]
    if route.body is not None:
        codes += ["413"]
    if route.access != "public":
        codes += ["401"]
    if route.access == "member" or (route.access == "user" and _path_names(route.path)):
        codes += ["403", "404"]
    if route.method != "GET" and route.access != "public":
        codes += ["409"]
    if route.gated:  # read-only workspace, or a stock quota of the plan used up
        codes += ["402"]
    if route.access == "api_key":  # a missing scope, the key's rate
        codes += ["403", "404", "429"]
    for code in codes:
        responses[code] = {"description": "refused", "content": error_content}
    return responses
