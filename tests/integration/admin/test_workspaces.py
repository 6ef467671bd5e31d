"""Agencies: client workspaces under one billing account, created through the admin API.

The served admin reads a plans file whose Agency plan allows two client workspaces (the same
plan ids and Stripe lookup keys as the packaged one), so the quota is reached quickly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml

from shared.billing.accounts import account_ref, read_account
from shared.billing.plans import PLANS_FILE
from shared.billing.usage import month_key, usage_ref
from shared.store.conversations import tenant_ref
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User, subscribe

ZONE = "America/Sao_Paulo"


@pytest.fixture(scope="module")
def admin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Serve the admin with an Agency plan of two client workspaces."""
    plans = yaml.safe_load(PLANS_FILE.read_text(encoding="utf-8"))
    for plan in plans["plans"]:
        if plan["plan_id"] == "agency":
            plan["quotas"]["workspaces"] = 2
    path = tmp_path_factory.mktemp("plans") / "plans.yaml"
    path.write_text(yaml.safe_dump(plans), encoding="utf-8")
    return {"PILOTO_PLANS_FILE": str(path)}


@dataclass
class Agency:
    owner: User
    home: str
    staff: User
    """An admin of the home workspace: gets nothing of the client workspaces."""

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.home}"


def _agency(admin: AdminStack) -> Agency:
    owner = admin.auth.sign_up("agencia", verified=True)
    home = admin.tenant(owner, "Agência")
    staff = admin.auth.sign_up("equipe", verified=True)
    admin.join(owner, home, staff, "admin")
    account_ref(admin.db, home).update({"plan_id": "agency", "status": "active"})
    return Agency(owner, home, staff)


@pytest.fixture(scope="module")
def agency(admin: AdminStack) -> Agency:
    return _agency(admin)


def _error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return dict(answer.json()["error"])


def _memberships(admin: AdminStack, user: User) -> dict[str, str]:
    me = admin.api.get("/api/me", user)
    assert me.status_code == 200, me.text
    return {m["tenant_id"]: m["role"] for m in me.json()["memberships"]}


def _create(admin: AdminStack, agency: Agency, name: str) -> Any:
    return admin.api.post(f"{agency.base}/workspaces", agency.owner, {"name": name})


def test_a_plan_without_workspaces_refuses_one_and_writes_nothing(admin: AdminStack) -> None:
    owner = admin.auth.sign_up("dona", verified=True)
    tenant_id = admin.tenant(owner)  # the Pro trial: no client workspaces
    before = admin.tenant_state(tenant_id)
    account = account_ref(admin.db, tenant_id).get().to_dict()
    memberships = _memberships(admin, owner)

    answer = admin.api.post(f"/api/tenants/{tenant_id}/workspaces", owner, {"name": "Cliente"})

    error = _error(answer, 402)
    assert error["code"] == "payment_required"
    assert "Pro plan has no client workspaces" in error["message"]
    assert "Agency" in error["message"]
    assert admin.tenant_state(tenant_id) == before
    assert account_ref(admin.db, tenant_id).get().to_dict() == account
    assert _memberships(admin, owner) == memberships
    listed = admin.api.get(f"/api/tenants/{tenant_id}/workspaces", owner).json()
    assert (listed["limit"], listed["used"]) == (0, 0)
    assert [w["tenant_id"] for w in listed["workspaces"]] == [tenant_id]


def test_the_agency_creates_client_workspaces_up_to_its_plan(
    admin: AdminStack, agency: Agency
) -> None:
    first = _create(admin, agency, "Clínica Sorriso")
    second = _create(admin, agency, "Pet Shop Amigo")

    assert first.status_code == second.status_code == 201, (first.text, second.text)
    created = [first.json(), second.json()]
    assert [(c["name"], c["role"], c["timezone"]) for c in created] == [
        ("Clínica Sorriso", "owner", ZONE),
        ("Pet Shop Amigo", "owner", ZONE),
    ]
    ids = [c["tenant_id"] for c in created]
    account = read_account(admin.db, agency.home)
    assert account is not None and account.workspaces == [agency.home, *ids]
    for workspace_id in ids:
        tenant = tenant_ref(admin.db, workspace_id).get().to_dict() or {}
        assert tenant["billing_account_id"] == agency.home
        assert read_account(admin.db, workspace_id) is None  # paid by the agency's account
        [entry] = admin.audit(workspace_id)
        assert (entry["action"], entry["actor_uid"]) == ("workspace.create", agency.owner.uid)
        assert entry["after"]["home_tenant_id"] == agency.home
        agent = admin.api.get(f"/api/tenants/{workspace_id}/agent", agency.owner)
        assert agent.status_code == 200  # default agent settings, like a sign-up
    home_entries = [e for e in admin.audit(agency.home) if e["action"] == "workspace.create"]
    assert [e["target"] for e in home_entries] == [f"tenants/{i}" for i in ids]
    before = admin.tenant_state(agency.home)

    third = _create(admin, agency, "Terceiro Cliente")

    error = _error(third, 402)
    assert "the Agency plan allows 2 client workspaces" in error["message"]
    assert error["field"] == "workspaces"
    assert read_account(admin.db, agency.home).workspaces == [agency.home, *ids]  # type: ignore[union-attr]
    assert admin.tenant_state(agency.home) == before
    assert set(_memberships(admin, agency.owner)) == {agency.home, *ids}


def test_usage_is_listed_per_workspace(admin: AdminStack, agency: Agency) -> None:
    listed = admin.api.get(f"{agency.base}/workspaces", agency.owner)
    assert listed.status_code == 200, listed.text
    clients = [w["tenant_id"] for w in listed.json()["workspaces"]][1:]
    assert len(clients) == 2, "runs after the agency created its workspaces"
    month = month_key(datetime.now(UTC), ZONE)
    day = date.fromisoformat(f"{month}-01")
    usage_ref(admin.db, clients[0], day).set({"month": month, "agent_replies": 4100})
    usage_ref(admin.db, agency.home, day).set({"month": month, "agent_replies": 7})

    body = admin.api.get(f"{agency.base}/workspaces", agency.owner).json()

    assert (body["limit"], body["used"]) == (2, 2)
    replies = {
        w["tenant_id"]: next(line for line in w["usage"] if line["quota"] == "agent_replies")
        for w in body["workspaces"]
    }
    assert replies[agency.home]["used"] == 7
    assert (replies[clients[0]]["used"], replies[clients[0]]["level"]) == (4100, "warning")
    assert replies[clients[1]]["used"] == 0
    seats = {
        w["tenant_id"]: next(line for line in w["usage"] if line["quota"] == "seats")["used"]
        for w in body["workspaces"]
    }
    assert seats == {agency.home: 2, clients[0]: 1, clients[1]: 1}
    billing = admin.api.get(f"{agency.base}/billing", agency.owner).json()
    assert billing["manages_billing"] is True
    assert [(w["tenant_id"], w["usage"][0]["used"]) for w in billing["workspaces"]] == [
        (agency.home, 7),
        (clients[0], 4100),
        (clients[1], 0),
    ]
    workspaces_line = next(line for line in billing["usage"] if line["quota"] == "workspaces")
    assert (workspaces_line["used"], workspaces_line["limit"], workspaces_line["level"]) == (
        2,
        2,
        "reached",
    )


def test_client_workspaces_stay_isolated(admin: AdminStack, agency: Agency) -> None:
    clients = read_account(admin.db, agency.home).workspaces[1:]  # type: ignore[union-attr]
    assert len(clients) == 2, "runs after the agency created its workspaces"
    client_a, client_b = clients
    seller = admin.auth.sign_up("vendedora", verified=True)
    admin.join(agency.owner, client_a, seller, "seller")

    assert set(_memberships(admin, agency.owner)) == {agency.home, client_a, client_b}
    assert _memberships(admin, agency.staff) == {agency.home: "admin"}
    assert _memberships(admin, seller) == {client_a: "seller"}
    for user, tenant_id in (
        (agency.staff, client_a),
        (agency.staff, client_b),
        (seller, agency.home),
        (seller, client_b),
    ):
        answer = admin.api.get(f"/api/tenants/{tenant_id}/conversations", user)
        assert _error(answer, 403)["code"] == "forbidden"
    assert admin.api.get(f"/api/tenants/{client_a}/conversations", seller).status_code == 200


def test_a_client_workspace_shows_its_plan_but_billing_is_managed_at_home(
    admin: AdminStack, agency: Agency
) -> None:
    client = read_account(admin.db, agency.home).workspaces[1]  # type: ignore[union-attr]
    base = f"/api/tenants/{client}"
    before = admin.tenant_state(client)

    billing = admin.api.get(f"{base}/billing", agency.owner)

    assert billing.status_code == 200, billing.text
    body = billing.json()
    assert (body["account_id"], body["home_tenant_id"], body["home_tenant_name"]) == (
        agency.home,
        agency.home,
        (tenant_ref(admin.db, agency.home).get().to_dict() or {})["name"],
    )
    assert (body["plan"]["plan_id"], body["manages_billing"], body["workspaces"]) == (
        "agency",
        False,
        [],
    )
    assert "workspaces" not in {line["quota"] for line in body["usage"]}
    for method, suffix, payload in (
        ("POST", "/billing/checkout", {"plan_id": "pro"}),
        ("POST", "/billing/plan", {"plan_id": "pro"}),
        ("POST", "/billing/portal", None),
        ("GET", "/workspaces", None),
        ("POST", "/workspaces", {"name": "Sub-cliente"}),
    ):
        answer = admin.api.request(method, f"{base}{suffix}", agency.owner, json_body=payload)
        error = _error(answer, 403)
        assert f"billing is managed in workspace {body['home_tenant_name']!r}" in error["message"]
    assert admin.tenant_state(client) == before


def test_two_concurrent_creates_for_the_last_slot_make_one_workspace(admin: AdminStack) -> None:
    agency = _agency(admin)
    assert _create(admin, agency, "Primeiro").status_code == 201
    answers: list[Any] = []

    def create(name: str) -> None:
        answers.append(_create(admin, agency, name))

    threads = [threading.Thread(target=create, args=(f"Corrida {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer.status_code for answer in answers) == [201, 402]
    account = read_account(admin.db, agency.home)
    assert account is not None and len(account.workspaces) == 3


def test_a_downgrade_keeps_the_workspaces_and_refuses_more(admin: AdminStack) -> None:
    agency = _agency(admin)
    subscribe(admin.db, admin.api.http, admin.stripe_url, agency.home, "agency")
    for name in ("Um", "Dois"):
        assert _create(admin, agency, name).status_code == 201

    down = admin.api.post(f"{agency.base}/billing/plan", agency.owner, {"plan_id": "pro"})

    assert down.status_code == 200, down.text
    line = next(line for line in down.json()["usage"] if line["quota"] == "workspaces")
    assert (line["used"], line["limit"], line["level"]) == (2, 0, "exceeded")
    assert len(read_account(admin.db, agency.home).workspaces) == 3  # type: ignore[union-attr]
    assert (
        "Pro plan has no client workspaces"
        in _error(_create(admin, agency, "Três"), 402)["message"]
    )


def test_client_workspaces_do_not_count_against_the_sign_up_limit(admin: AdminStack) -> None:
    """One person may sign up ten tenants of their own; an agency's clients are its plan's."""
    owner = admin.auth.sign_up("agencia-grande", verified=True)
    home = admin.tenant(owner, "Agência Grande")
    user = admin.db.collection("users").document(owner.uid)
    clients = {
        f"cliente-{n}": {"role": "owner", "tenant_name": f"Cliente {n}", "billing_account_id": home}
        for n in range(10)
    }
    user.set({"memberships": clients}, merge=True)
    created = admin.api.post("/api/tenants", owner, {"name": "Outra empresa"})
    assert created.status_code == 201, created.text
    own = {
        f"propria-{n}": {"role": "owner", "tenant_name": f"Própria {n}"} for n in range(8)
    }  # with home and "Outra empresa": ten of their own
    user.set({"memberships": own}, merge=True)
    refused = admin.api.post("/api/tenants", owner, {"name": "Mais uma"})
    assert _error(refused, 409)["message"].startswith("one account may own at most 10")
