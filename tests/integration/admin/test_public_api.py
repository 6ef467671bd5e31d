"""The public API over real HTTP: API keys, contacts, template conversations, macros.

A template conversation is published on the real ``outbound-messages`` topic and handed to the
sender, which sends it to the provider simulator's Meta API. Every refusal (401, 402, 403, 409,
422, 429) leaves the tenant as it was and publishes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from emulators.simulator import ProviderSimulator, simulated_channel
from shared.billing.accounts import account_ref
from shared.channels.sending import RetryPolicy
from shared.models.channel import Channel
from shared.models.conversation import Contact
from shared.models.tenant import AgentSettings, QuietHours
from shared.sender import Sender
from shared.store.channels import write_channel
from shared.store.conversations import tenant_ref
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User, seed_conversation
from tests.integration.admin.test_isolation import AGENT_SPEC

RUN = uuid.uuid4().hex[:6]
TEMPLATE = "boas_vindas"
TEMPLATES = {"followup": {"name": TEMPLATE, "language": "pt_BR", "parameters": ["{nome}"]}}
NO_QUIET = {"start": "00:00", "end": "00:00"}


@pytest.fixture(scope="module")
def admin_env() -> dict[str, str]:
    return {
        "PILOTO_BILLING_CACHE_SECONDS": "0",
        "PILOTO_API_BURST": "12",
        "PILOTO_API_RATE_PER_SECOND": "0.2",
    }


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    channel = simulated_channel(
        f"meta-api-{RUN}",
        "meta",
        config={"phone_number_id": f"88{RUN.encode().hex()[:10]}", "templates": TEMPLATES},
        secrets={"access_token": "meta-t"},
        business_phone="+5511990000008",
    )
    with ProviderSimulator([channel], webhook_base_url=None) as running:
        yield running


@dataclass
class Office:
    owner: User
    tenant_id: str
    key: str
    channel_id: str

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_key(admin: AdminStack, office: Office, scopes: list[str] | None = None) -> str:
    body: dict[str, Any] = {"name": f"Zapier {uuid.uuid4().hex[:4]}"}
    if scopes is not None:
        body["scopes"] = scopes
    answer = admin.api.post(f"{office.base}/api-keys", office.owner, body)
    assert answer.status_code == 201, answer.text
    secret = str(answer.json()["secret"])
    assert secret.startswith("pk_live_")
    return secret


def channel_of(simulator: ProviderSimulator, channel_id: str, tenant_id: str) -> Channel:
    """Return the simulated Meta channel as one of the tenant's channels."""
    channel = simulator.piloto_channel(f"meta-api-{RUN}")
    return replace(channel, channel_id=channel_id, tenant_id=tenant_id)


def open_office(admin: AdminStack, simulator: ProviderSimulator, quiet: dict[str, str]) -> Office:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    agent = admin.api.put(f"/api/tenants/{tenant_id}/agent", owner, {"quiet_hours": quiet})
    assert agent.status_code == 200, agent.text
    channel_id = f"meta-api-{RUN}-{tenant_id[-6:]}"
    write_channel(admin.db, channel_of(simulator, channel_id, tenant_id))
    office = Office(owner, tenant_id, "", channel_id)
    office.key = make_key(admin, office)
    return office


@pytest.fixture(scope="module")
def office(admin: AdminStack, simulator: ProviderSimulator) -> Office:
    return open_office(admin, simulator, NO_QUIET)


def start(admin: AdminStack, key: str, phone: str, **extra: Any) -> httpx.Response:
    headers = (bearer(key) if key else {}) | extra.pop("headers", {})
    body = {"phone": phone, "template": TEMPLATE, "name": "Mariana", **extra}
    return admin.api.post("/api/v1/conversations", None, body, headers=headers)


def a_phone() -> str:
    return f"+55119{uuid.uuid4().int % 10**8:08d}"


def test_a_template_conversation_reaches_the_lead_through_the_sender_once(
    admin: AdminStack, office: Office, simulator: ProviderSimulator
) -> None:
    phone = a_phone()
    local = f"({phone[3:5]}) {phone[5:10]}-{phone[10:]}"  # as a person types it: Brazil assumed

    first = start(admin, office.key, local, headers={"Idempotency-Key": "pedido-42"})
    again = start(admin, office.key, phone, headers={"Idempotency-Key": "pedido-42"})

    assert first.status_code == 202, first.text
    assert (again.status_code, again.json()) == (202, first.json())
    [published] = admin.published(office.tenant_id, expect=1)
    job = published.job
    assert (job.contact_key, job.message.template, job.message.template_parameters) == (
        phone,
        TEMPLATE,
        ["Mariana"],
    )
    assert job.decision_id == first.json()["decision_id"]
    sender = Sender(
        firestore=admin.db,
        http=httpx.Client(timeout=5.0),
        channel=lambda channel_id: channel_of(simulator, channel_id, office.tenant_id),
        tenant=lambda tenant_id: (
            AgentSettings(quiet_hours=QuietHours(start=time(0), end=time(0))),
            "America/Sao_Paulo",
        ),
        secrets=lambda channel: {"access_token": "meta-t"},
        retry=RetryPolicy(max_attempts=2, base_delay=0.0, sleep=lambda seconds: None),
    )
    outcome = sender.handle(job)
    assert outcome.status == "sent", outcome
    [received] = simulator.outbox(to=phone)
    assert received.request["type"] == "template"
    assert received.request["template"]["name"] == TEMPLATE

    conversation = admin.api.get(
        f"/api/v1/conversations/{job.conversation_id}", headers=bearer(office.key)
    )
    assert conversation.status_code == 200, conversation.text
    assert (conversation.json()["status"], conversation.json()["contact_key"]) == ("open", phone)
    events = tenant_ref(admin.db, office.tenant_id).collection("business_events").stream()
    started = [e.to_dict() for e in events if e.id == f"{job.decision_id}.started"]
    assert [(e["type"], e["source"]) for e in started] == [("conversation.started", "api")]
    actions = [(e["action"], e["actor_uid"][:8]) for e in admin.audit(office.tenant_id)]
    assert ("conversation.start", "api-key:") in actions

    never_two = start(admin, office.key, phone)
    assert never_two.status_code == 409
    assert never_two.json()["error"]["message"].startswith("conversation_open")


def test_every_refusal_writes_and_publishes_nothing(
    admin: AdminStack, office: Office, simulator: ProviderSimulator
) -> None:
    contacts_only = make_key(admin, office, ["contacts"])
    opted_out, rejected, with_seller = a_phone(), a_phone(), a_phone()
    seed_conversation(
        admin.db,
        office.tenant_id,
        contact_key=opted_out,
        status="closed",
        close_reason="opted_out",
        contact=Contact(contact_key=opted_out, phone=opted_out, opted_out=True),
    )
    seed_conversation(
        admin.db, office.tenant_id, contact_key=rejected, status="closed", close_reason="rejection"
    )
    seed_conversation(
        admin.db,
        office.tenant_id,
        contact_key=with_seller,
        status="closed",
        close_reason="won",
        human_active_until=datetime.now(UTC) + timedelta(hours=1),
    )
    admin.published(office.tenant_id)
    before = admin.tenant_state(office.tenant_id)
    cases: list[tuple[int, httpx.Response, str]] = [
        (401, start(admin, "", a_phone()), "missing"),
        (401, start(admin, "pk_live_" + "x" * 43, a_phone()), "unknown API key"),
        (401, start(admin, "sk_test_123", a_phone()), "not a Piloto API key"),
        (403, start(admin, contacts_only, a_phone()), "lacks the 'conversations' scope"),
        (422, start(admin, office.key, "12"), "phone"),
        (422, start(admin, office.key, a_phone(), template="nao_aprovado"), "template"),
        (422, start(admin, office.key, a_phone(), language="en_US"), "template"),
        (422, start(admin, office.key, a_phone(), channel_id="outro"), "channel_id"),
        (409, start(admin, office.key, opted_out), "opted_out"),
        (409, start(admin, office.key, rejected), "rejection"),
        (409, start(admin, office.key, with_seller), "human_active"),
    ]
    for status, answer, reason in cases:
        assert answer.status_code == status, f"{reason}: {answer.text}"
        assert reason in answer.text, answer.text
    assert admin.tenant_state(office.tenant_id) == before
    assert admin.published(office.tenant_id) == []


def test_quiet_hours_refuse_with_when_to_try_again(
    admin: AdminStack, simulator: ProviderSimulator
) -> None:
    local = datetime.now(ZoneInfo("America/Sao_Paulo"))
    quiet = {
        "start": (local - timedelta(hours=1)).strftime("%H:%M"),
        "end": (local + timedelta(hours=1)).strftime("%H:%M"),
    }
    night = open_office(admin, simulator, quiet)
    before = admin.tenant_state(night.tenant_id)

    answer = start(admin, night.key, a_phone())

    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["message"].startswith("quiet_hours")
    retry_after = datetime.fromisoformat(error["details"][0]["reason"])
    assert timedelta(minutes=55) < retry_after - datetime.now(UTC) <= timedelta(hours=1)
    assert 3000 < int(answer.headers["Retry-After"]) <= 3600
    assert admin.tenant_state(night.tenant_id) == before


def test_contacts_are_found_by_the_phone_intake_would_use(
    admin: AdminStack, office: Office
) -> None:
    key = make_key(admin, office)  # each test its own key: the module's rate is low
    phone = a_phone()
    body = {
        "phone": phone[3:],
        "name": "Ana",
        "email": "ana@example.com",
        "fields": {"plano": "pro"},
    }

    created = admin.api.post("/api/v1/contacts", None, body, headers=bearer(key))
    updated = admin.api.post(
        "/api/v1/contacts",
        None,
        {"phone": phone, "fields": {"cidade": "Recife"}},
        headers=bearer(key),
    )

    assert created.status_code == 201, created.text
    assert updated.status_code == 200, updated.text
    assert updated.json()["contact_key"] == phone
    assert updated.json()["fields"] == {"plano": "pro", "cidade": "Recife"}
    assert (updated.json()["name"], updated.json()["email"]) == ("Ana", "ana@example.com")


def test_a_revoked_key_stops_and_a_key_reaches_only_its_tenant(
    admin: AdminStack, office: Office, simulator: ProviderSimulator
) -> None:
    other = open_office(admin, simulator, NO_QUIET)
    theirs = seed_conversation(admin.db, other.tenant_id)
    key = make_key(admin, office)
    path = f"/api/v1/conversations/{theirs.id}"
    before = admin.tenant_state(other.tenant_id)

    assert admin.api.get(path, headers=bearer(key)).status_code == 404
    macro = admin.api.post(f"{path}/macros/ia-x", None, headers=bearer(key))
    assert macro.status_code == 404
    assert admin.api.get(path, headers=bearer(other.key)).status_code == 200
    assert admin.tenant_state(other.tenant_id) == before

    listed = admin.api.get(f"{office.base}/api-keys", office.owner).json()["keys"]
    [mine] = [k for k in listed if key.startswith(k["prefix"]) and k["revoked_at"] is None]
    revoked = admin.api.delete(f"{office.base}/api-keys/{mine['key_id']}", office.owner)
    assert revoked.status_code == 200, revoked.text
    refused = admin.api.get(path, headers=bearer(key))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    assert (
        admin.api.delete(f"{office.base}/api-keys/{mine['key_id']}", office.owner).status_code
        == 409
    )


def test_a_macro_press_runs_the_agent_and_names_the_key(admin: AdminStack, office: Office) -> None:
    agent = admin.api.post(f"{office.base}/insight-agents", office.owner, AGENT_SPEC)
    assert agent.status_code == 201, agent.text
    agent_id = agent.json()["agent_id"]
    open_one = seed_conversation(admin.db, office.tenant_id)
    closed = seed_conversation(admin.db, office.tenant_id, status="closed", close_reason="won")
    key = make_key(admin, office)

    pressed = admin.api.post(
        f"/api/v1/conversations/{open_one.id}/macros/{agent_id}", None, headers=bearer(key)
    )
    refused = admin.api.post(
        f"/api/v1/conversations/{closed.id}/macros/{agent_id}", None, headers=bearer(key)
    )

    assert pressed.status_code == 202, pressed.text
    assert pressed.json()["event_id"].startswith("macro:")
    assert refused.status_code == 409
    [entry] = [e for e in admin.audit(office.tenant_id) if e["action"] == "macro.press"]
    assert entry["actor_uid"].startswith("api-key:ak_")
    assert entry["target"] == f"conversations/{open_one.id}"


def test_a_key_over_its_rate_is_told_when_to_come_back(admin: AdminStack, office: Office) -> None:
    key = make_key(admin, office)
    statuses = []
    for _ in range(14):
        answer = admin.api.get("/api/v1/conversations/nenhuma", headers=bearer(key))
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.json()["error"]["code"] == "rate_limited"
            break
    assert statuses[:12] == [404] * 12
    assert statuses[-1] == 429


def test_a_read_only_workspace_refuses_the_public_api(
    admin: AdminStack, simulator: ProviderSimulator
) -> None:
    office = open_office(admin, simulator, NO_QUIET)
    account_ref(admin.db, office.tenant_id).update(
        {"status": "canceled", "canceled_at": datetime.now(UTC), "trial_ends_at": None}
    )
    before = admin.tenant_state(office.tenant_id)

    answer = start(admin, office.key, a_phone())
    contact = admin.api.post(
        "/api/v1/contacts", None, {"phone": a_phone()}, headers=bearer(office.key)
    )

    assert (answer.status_code, contact.status_code) == (402, 402)
    assert admin.tenant_state(office.tenant_id) == before


def test_a_start_whose_message_could_not_be_queued_is_queued_by_the_retry(
    admin: AdminStack, office: Office
) -> None:
    phone, key = a_phone(), make_key(admin, office)  # a key of its own: others hit the rate
    first = start(admin, key, phone, headers={"Idempotency-Key": "pedido-fila"})
    assert first.status_code == 202, first.text
    [queued] = admin.published(office.tenant_id, expect=1)
    # What a failed publish leaves behind: the conversation and its decision, marked.
    decision_doc = (
        tenant_ref(admin.db, office.tenant_id)
        .collection("conversations")
        .document(first.json()["conversation_id"])
        .collection("decisions")
        .document(first.json()["decision_id"])
    )
    decision_doc.update({"publish_failed": True})

    retry = start(admin, key, phone, headers={"Idempotency-Key": "pedido-fila"})
    settled = start(admin, key, phone, headers={"Idempotency-Key": "pedido-fila"})

    assert (retry.status_code, retry.json()) == (202, first.json())
    assert (settled.status_code, settled.json()) == (202, first.json())
    # The retry queued the same decision again (the sender keys sends by decision and index,
    # so it goes out once); the settled replay queued nothing more.
    [requeued] = admin.published(office.tenant_id, expect=1)
    assert requeued.job.decision_id == queued.job.decision_id
    assert (decision_doc.get().to_dict() or {})["publish_failed"] is False
