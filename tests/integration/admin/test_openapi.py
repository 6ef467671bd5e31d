"""The published OpenAPI document: valid 3.1, the same operations as the route table, and usable.

The contract checker the other admin tests use (``support.OpenApiContract``) is itself checked
here: it must refuse answers the document does not allow.
"""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate

from shared.admin.routes import ROUTES
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import ContractViolation, OpenApiContract


def test_the_document_is_valid_openapi_3_1(admin: AdminStack) -> None:
    answer = admin.api.get("/api/openapi.json")

    document = answer.json()
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document["components"]["securitySchemes"]["firebase"]["scheme"] == "bearer"


def test_every_route_is_documented_and_every_documented_operation_is_routed(
    admin: AdminStack,
) -> None:
    document = admin.api.get("/api/openapi.json").json()

    documented = {
        (method.upper(), path)
        for path, entry in document["paths"].items()
        for method in entry
        if method in ("get", "post", "put", "patch", "delete")
    }
    routed = {(route.method, route.openapi_path) for route in ROUTES}
    assert documented == routed
    assert len(routed) == len(ROUTES), "two routes share a method and path"


def test_authenticated_operations_declare_the_bearer_scheme_and_public_ones_do_not(
    admin: AdminStack,
) -> None:
    document = admin.api.get("/api/openapi.json").json()

    for route in ROUTES:
        operation = document["paths"][route.openapi_path][route.method.lower()]
        if route.access == "public":
            assert "security" not in operation, route.path
        elif route.access == "api_key":  # the public API (H6): a tenant's API key
            assert operation["security"] == [{"apiKey": []}], route.path
            assert operation["tags"] == ["public-api"], route.path
            assert {"401", "403", "429"} <= set(operation["responses"]), route.path
        else:
            assert operation["security"] == [{"firebase": []}], route.path
            assert "401" in operation["responses"], route.path
        if route.body is not None:
            assert operation["requestBody"]["required"] is True
            assert "422" in operation["responses"], route.path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/health", {"status": "ok"}),
        ("/api/providers", None),
        ("/api/config", None),
    ],
)
def test_public_endpoints_answer_without_a_token(
    admin: AdminStack, path: str, expected: dict[str, str] | None
) -> None:
    answer = admin.api.get(path)

    assert answer.status_code == 200
    if expected is not None:
        assert answer.json() == expected


def test_the_console_config_points_at_the_auth_emulator(admin: AdminStack) -> None:
    config = admin.api.get("/api/config").json()

    assert config["firebase"]["project_id"] == admin.project_id
    assert config["auth_emulator_url"] == f"http://{admin.auth.base.split('/')[2]}"


def test_providers_list_every_provider_with_its_required_fields(admin: AdminStack) -> None:
    providers = {p["provider"]: p for p in admin.api.get("/api/providers").json()["providers"]}

    assert set(providers) == {"meta", "twilio", "evolution", "zapi"}
    required = {
        name: sorted(f["name"] for f in spec["secret_fields"] if f["required"])
        for name, spec in providers.items()
    }
    assert required["meta"] == ["access_token", "app_secret", "verify_token"]
    assert required["evolution"] == ["apikey"]


def _response(status: int, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": content_type})


def test_the_contract_checker_refuses_what_the_document_does_not_allow(
    admin: AdminStack,
) -> None:
    contract = OpenApiContract(admin.api.get("/api/openapi.json").json())
    tenant_path = "/api/tenants/acme-123456/agent"

    contract.check("GET", "/api/health", _response(200, b'{"status": "ok"}'))
    with pytest.raises(ContractViolation, match="does not match"):
        contract.check("GET", "/api/health", _response(200, b'{"status": "down"}'))
    with pytest.raises(ContractViolation, match="server error"):
        contract.check("GET", "/api/health", _response(500, b"{}"))
    conflict = b'{"error": {"code": "conflict", "message": "m", "field": null, "details": []}}'
    with pytest.raises(ContractViolation, match="not documented"):
        contract.check("GET", "/api/health", _response(409, conflict))
    with pytest.raises(ContractViolation, match="does not match"):
        contract.check("GET", tenant_path, _response(200, b'{"mode": "autopilot"}'))
    with pytest.raises(ContractViolation, match="error shape"):
        contract.check("GET", tenant_path, _response(403, b'{"error": "no"}'))
    with pytest.raises(ContractViolation, match="error code"):
        error = b'{"error": {"code": "nope", "message": "m", "field": null, "details": []}}'
        contract.check("GET", tenant_path, _response(403, error))
    with pytest.raises(ContractViolation, match="date-time"):
        bad_time = (
            b'{"entries": [{"id": "1", "at": "yesterday", "actor_uid": "u", '
            b'"actor_email": null, "action": "a", "target": "t", "before": null, '
            b'"after": null}]}'
        )
        contract.check("GET", "/api/tenants/acme-123456/audit", _response(200, bad_time))
