"""Bad input gets a clear 4xx naming the field, and changes nothing; nothing is ever a 500."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User

# A complete, valid connection per provider; each test removes one required field.
VALID_CHANNELS: dict[str, dict[str, Any]] = {
    "meta": {
        "config": {"phone_number_id": "100000000000001"},
        "secrets": {"app_secret": "a", "verify_token": "v", "access_token": "t"},
    },
    "twilio": {
        "config": {"account_sid": "AC" + "a" * 32},
        "secrets": {"auth_token": "t"},
    },
    "evolution": {
        "config": {"instance": "clinica", "api_base_url": "http://127.0.0.1:9"},
        "secrets": {"apikey": "k"},
    },
    "zapi": {
        "config": {"instance_id": "3C0TEST"},
        "secrets": {"client_token": "c", "instance_token": "i"},
    },
}


@dataclass
class Owner:
    user: User
    tenant_id: str

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}"


@pytest.fixture(scope="module")
def owner(admin: AdminStack) -> Owner:
    user = admin.auth.sign_up("owner", verified=True)
    return Owner(user, admin.tenant(user))


def _error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return dict(answer.json()["error"])


@pytest.mark.parametrize(
    "content",
    [b'{"name": ', b"not json", b"\xff\xfe\x00", b'{"name": "a"} trailing', b"[" * 50_000],
    ids=["truncated", "text", "not utf-8", "trailing", "deeply nested"],
)
def test_malformed_json_is_400(admin: AdminStack, owner: Owner, content: bytes) -> None:
    answer = admin.api.request(
        "POST", "/api/tenants", owner.user, content=content,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip

    assert _error(answer, 400)["code"] == "bad_request"


@pytest.mark.parametrize("body", [[1, 2], "a string", 3, None])
def test_a_body_that_is_not_an_object_is_400(admin: AdminStack, owner: Owner, body: Any) -> None:
    content = b"null" if body is None else None
    answer = admin.api.request(
        "PUT", f"{owner.base}/agent", owner.user, json_body=body, content=content,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip

    assert answer.status_code == 400


def test_an_unknown_field_is_422_naming_it(admin: AdminStack, owner: Owner) -> None:
    answer = admin.api.post("/api/tenants", owner.user, {"name": "Boa", "plano": "ouro"})

    error = _error(answer, 422)
    assert error["code"] == "validation_failed"
    assert error["field"] == "plano"
    assert error["details"][0]["field"] == "plano"


def test_every_bad_field_is_listed(admin: AdminStack, owner: Owner) -> None:
    answer = admin.api.post(
        "/api/tenants", owner.user, {"name": "x", "timezone": "Mars/Base", "locale": "portugues"}
    )

    error = _error(answer, 422)
    assert {d["field"] for d in error["details"]} == {"name", "timezone", "locale"}
    assert error["field"] == "name"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"debounce_seconds": 999}, "debounce_seconds"),
        ({"quiet_hours": {"start": "25:00"}}, "quiet_hours.start"),
        ({"followups": ["soon"]}, "followups"),
        ({"max_unanswered": 0}, "max_unanswered"),
        ({"mode": "autopilot"}, "mode"),
        ({"templates": {"followup": {"name": "x", "language": "portuguese"}}},
         "templates.followup.language"),
        ({"quiet_hours": {"start": "21:00", "finish": "08:00"}}, "quiet_hours.finish"),
    ],
)  # fmt: skip
def test_bad_agent_settings_are_422_with_the_dotted_field_and_change_nothing(
    admin: AdminStack, owner: Owner, change: dict[str, Any], field: str
) -> None:
    path = f"{owner.base}/agent"
    saved = admin.api.put(path, owner.user, {"persona": "Ana, da recepção"})
    assert saved.status_code == 200
    stored = admin.api.get(path, owner.user).json()
    audit = admin.audit(owner.tenant_id)

    answer = admin.api.put(path, owner.user, {**stored, **change})

    error = _error(answer, 422)
    assert error["field"] == field, error
    assert error["details"][0]["reason"]
    assert admin.api.get(path, owner.user).json() == stored
    assert admin.audit(owner.tenant_id) == audit


@pytest.mark.parametrize("provider", sorted(VALID_CHANNELS))
def test_a_channel_missing_a_required_setting_or_secret_is_422_naming_it(
    admin: AdminStack, owner: Owner, provider: str
) -> None:
    spec = next(
        p for p in admin.api.get("/api/providers").json()["providers"] if p["provider"] == provider
    )
    valid = VALID_CHANNELS[provider]
    channels = f"{owner.base}/channels"
    before = admin.tenant_state(owner.tenant_id)
    missing = [("config", f["name"]) for f in spec["config_fields"] if f["required"]]
    missing += [("secrets", f["name"]) for f in spec["secret_fields"] if f["required"]]
    assert missing

    for part, name in missing:
        body = {"provider": provider, **valid, part: dict(valid[part])}
        assert name in body[part], f"VALID_CHANNELS[{provider}] lacks {part}.{name}"
        del body[part][name]
        answer = admin.api.post(channels, owner.user, body)
        assert _error(answer, 422)["field"] == f"{part}.{name}"

    assert admin.tenant_state(owner.tenant_id) == before
    created = admin.api.post(channels, owner.user, {"provider": provider, **valid})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "whatsapp-web"}, "provider"),
        ({"provider": "meta", "config": {"phone_number_id": "abc"}}, "config.phone_number_id"),
        ({"provider": "twilio", "config": {"account_sid": "XX1"}}, "config.account_sid"),
        ({"provider": "evolution", "config": {"instance": "x", "api_base_url": "ftp://x"}},
         "config.api_base_url"),
        ({"provider": "evolution", "config": {"instance": "x", "nope": "y"}}, "config.nope"),
        ({"provider": "evolution", "config": {"instance": ["x"]}}, "config.instance"),
        ({**VALID_CHANNELS["zapi"], "provider": "zapi",
          "secrets": {**VALID_CHANNELS["zapi"]["secrets"], "password": "p"}}, "secrets.password"),
        ({**VALID_CHANNELS["zapi"], "provider": "zapi",
          "secrets": {**VALID_CHANNELS["zapi"]["secrets"], "client_token": "  "}},
         "secrets.client_token"),
        ({**VALID_CHANNELS["zapi"], "provider": "zapi", "business_phone": "11 99999"},
         "business_phone"),
    ],
)  # fmt: skip
def test_bad_channel_values_are_422_naming_the_field(
    admin: AdminStack, owner: Owner, body: dict[str, Any], field: str
) -> None:
    before = admin.tenant_state(owner.tenant_id)

    answer = admin.api.post(f"{owner.base}/channels", owner.user, body)

    assert _error(answer, 422)["field"] == field
    assert admin.tenant_state(owner.tenant_id) == before


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("conversations", {"limit": "0"}),
        ("conversations", {"limit": "101"}),
        ("conversations", {"limit": "ten"}),
        ("conversations", {"needs_human": "maybe"}),
        ("conversations", {"cursor": "zzz"}),
        ("conversations", {"cursor": "W1sxXV0"}),  # [[1]]
        ("conversations", {"cursor": "WyJ4IiwgMV0"}),  # ["x", 1]
        ("conversations", {"status": "archived"}),
        ("conversations", {"sort": "name"}),
        ("metrics", {"from": "2026-03-10", "to": "2026-03-01"}),
        ("metrics", {"from": "2024-01-01", "to": "2026-01-01"}),
        ("metrics", {"from": "2026-02-30"}),
        ("metrics", {"from": "yesterday"}),
        ("metrics", {"from": "9999-12-30", "to": "9999-12-31"}),
        ("metrics", {"from": "0001-01-01", "to": "0001-01-02"}),
        ("audit", {"limit": "0"}),
        ("audit", {"limit": "201"}),
    ],
)
def test_bad_query_parameters_are_400(
    admin: AdminStack, owner: Owner, path: str, params: dict[str, str]
) -> None:
    answer = admin.api.get(f"{owner.base}/{path}", owner.user, params=params)

    error = _error(answer, 400)
    assert error["code"] == "bad_request"
    assert error["field"], error


@pytest.mark.parametrize(
    ("suffix", "body", "field"),
    [
        ("billing/checkout", {"plan_id": ""}, "plan_id"),
        ("billing/checkout", {"plan_id": 7}, "plan_id"),
        ("billing/plan", {"plan": "pro"}, "plan_id"),
        ("billing/plan", {"plan_id": "pro", "proration": "none"}, "proration"),
        ("workspaces", {"name": "x"}, "name"),
        ("workspaces", {"name": "Cliente", "timezone": "Mars/Base"}, "timezone"),
        ("workspaces", {"name": "Cliente", "locale": "portugues"}, "locale"),
    ],
)
def test_bad_billing_and_workspace_bodies_are_422_naming_the_field(
    admin: AdminStack, owner: Owner, suffix: str, body: dict[str, Any], field: str
) -> None:
    before = admin.tenant_state(owner.tenant_id)

    answer = admin.api.post(f"{owner.base}/{suffix}", owner.user, body)

    assert _error(answer, 422)["field"] == field
    assert admin.tenant_state(owner.tenant_id) == before


def test_a_body_over_the_limit_is_413(admin: AdminStack, owner: Owner) -> None:
    big = {"persona": "x" * (300 * 1024)}

    answer = admin.api.put(f"{owner.base}/agent", owner.user, big)

    assert _error(answer, 413)["code"] == "payload_too_large"
    assert admin.api.get(f"{owner.base}/agent", owner.user).json()["persona"] != big["persona"]


def test_a_chunked_body_over_the_limit_is_413(admin: AdminStack, owner: Owner) -> None:
    def chunks() -> Any:
        yield b'{"persona": "'
        for _ in range(300):
            yield b"x" * 1024
        yield b'"}'

    answer = admin.api.http.put(
        f"{admin.api.base_url}{owner.base}/agent",
        content=chunks(),
        headers={"Authorization": f"Bearer {owner.user.token}", "Content-Type": "application/json"},
    )
    admin.api.contract.check("PUT", f"{owner.base}/agent", answer)  # type: ignore[union-attr]

    assert answer.status_code == 413


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/me"),
        ("PUT", "/api/tenants"),
        ("POST", "/api/health"),
        ("PATCH", "{base}/conversations"),
        ("GET", "{base}/invites"),
        ("DELETE", "{base}/agent"),
    ],
)
def test_a_wrong_method_is_405(admin: AdminStack, owner: Owner, method: str, path: str) -> None:
    answer = admin.api.request(method, path.format(base=owner.base), owner.user)

    assert _error(answer, 405)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path", ["/api/nope", "/nope", "/", "{base}/nope", "{base}/conversations/c1/nope", "/api"]
)
def test_an_unknown_path_is_404(admin: AdminStack, owner: Owner, path: str) -> None:
    answer = admin.api.get(path.format(base=owner.base), owner.user)

    assert _error(answer, 404)["code"] == "not_found"


def test_validation_comes_after_access(admin: AdminStack, owner: Owner) -> None:
    """A stranger learns nothing about the body a route expects."""
    stranger = admin.auth.sign_up("stranger")

    answer = admin.api.put(f"{owner.base}/agent", stranger, {"debounce_seconds": 999})

    assert answer.status_code == 403


def test_options_is_405_and_never_a_500(admin: AdminStack, owner: Owner) -> None:
    answer = admin.api.request("OPTIONS", f"{owner.base}/conversations", owner.user)

    assert answer.status_code == 405
