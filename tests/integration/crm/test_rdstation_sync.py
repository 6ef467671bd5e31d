"""CRM deliveries against the simulated RD Station CRM (real HTTP) and the Firestore emulator.

Each test has its own RD Station account (its own token) and tenant, so nothing is shared.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from emulators.simulator import ProviderSimulator
from emulators.stack import LocalStack
from shared.crm.models import CrmSettings
from shared.crm.store import crm_settings_ref, read_crm_link, read_crm_settings
from shared.crm.sync import crm_attempt
from shared.integrations.delivery import AttemptContext
from shared.integrations.models import BusinessEvent, BusinessEventType, Delivery
from shared.models.conversation import Contact, Conversation, ConversationStatus
from shared.settings import load_settings
from shared.store.conversations import contact_ref, conversation_ref

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
PHONE = "5511988887777"


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    """Serve the provider simulator (RD Station CRM under ``/rdstation/api/v1``)."""
    with ProviderSimulator([]) as served:
        yield served


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """Return an HTTP client for the CRM calls."""
    with httpx.Client(trust_env=False) as client:
        yield client


class Crm:
    """One tenant connected to its own simulated RD Station account."""

    def __init__(self, stack: LocalStack, simulator: ProviderSimulator, http: httpx.Client) -> None:
        self.db = firestore.Client(project=stack.project_id)
        self.http = http
        self.simulator = simulator
        self.tenant = f"t-{uuid.uuid4().hex[:8]}"
        self.token = simulator.rdstation.add_account()
        self.settings = load_settings(
            {
                "GOOGLE_CLOUD_PROJECT": stack.project_id,
                "PILOTO_RDSTATION_API_BASE": f"{simulator.url}/rdstation/api/v1",
            }
        )
        account = self.state()
        self.stages = {s["name"]: s["id"] for s in account["pipelines"][0]["deal_stages"]}
        crm = CrmSettings(
            token_ref="test:crm",
            pipeline_id=account["pipelines"][0]["id"],
            stage_mapping={
                "qualified": self.stages["Identificação do interesse"],
                "scheduled": self.stages["Apresentação"],
                "closing": self.stages["Fechamento"],
            },
            connected_at=NOW,
        )
        crm_settings_ref(self.db, self.tenant).set(crm.model_dump(mode="python"))
        self.conversation_id = f"c-{uuid.uuid4().hex[:8]}"
        contact_ref(self.db, self.tenant, "wa:ana").set(
            Contact(contact_key="wa:ana", phone=PHONE, name="Ana").model_dump(mode="python")
        )
        self.set_conversation(stage="new")

    def set_conversation(self, **changes: Any) -> None:
        conversation = Conversation(
            conversation_id=self.conversation_id,
            tenant_id=self.tenant,
            channel_id="ch-1",
            contact_key="wa:ana",
            contact_name="Ana Souza",
            created_at=NOW,
            updated_at=NOW,
        ).model_copy(update=changes)
        reference = conversation_ref(self.db, self.tenant, self.conversation_id)
        reference.set(conversation.model_dump(mode="python"))

    def attempt(self, suffix: str, *, minutes: int = 0) -> Any:
        event = BusinessEvent(
            event_id=f"d-{suffix}",
            type=BusinessEventType.STAGE_CHANGED,
            tenant_id=self.tenant,
            occurred_at=NOW,
            conversation_id=self.conversation_id,
        )
        delivery = Delivery(
            delivery_id=f"d-{suffix}~crm",
            kind="crm",
            event_id=event.event_id,
            event_type=event.type.value,
            target_id="crm",
            created_at=NOW,
            updated_at=NOW,
        )
        context = AttemptContext(
            settings=self.settings,
            http=self.http,
            firestore=self.db,
            tenant_id=self.tenant,
            delivery=delivery,
            event=event,
            now=NOW + timedelta(minutes=minutes),
            resolve_secret=lambda reference: self.token,
        )
        return crm_attempt(context)

    def state(self) -> dict[str, Any]:
        answer = self.http.get(f"{self.simulator.url}/rdstation/_control/accounts/{self.token}")
        answer.raise_for_status()
        return dict(answer.json())

    def fail_next(self, status: int, **extra: Any) -> None:
        body = {"status": status, "token": self.token, **extra}
        answer = self.http.post(f"{self.simulator.url}/rdstation/_control/fail", json=body)
        assert answer.status_code == 201, answer.text


@pytest.fixture
def crm(local_stack: LocalStack, simulator: ProviderSimulator, http: httpx.Client) -> Crm:
    """Return a tenant connected to a fresh simulated RD Station account."""
    return Crm(local_stack, simulator, http)


def test_deliveries_in_any_order_converge_on_one_contact_and_one_deal(crm: Crm) -> None:
    crm.set_conversation(stage="scheduled", fields={"email": "ana@example.com", "cidade": "Recife"})
    assert crm.attempt("late").ok  # the newest state arrives first
    crm.set_conversation(stage="scheduled", fields={"email": "ana@example.com", "cidade": "Recife"})
    assert crm.attempt("early").ok  # an older event, delivered last, reads the same state
    assert crm.attempt("early").ok  # and a redelivery changes nothing

    state = crm.state()
    assert len(state["contacts"]) == 1 and len(state["deals"]) == 1
    contact, deal = state["contacts"][0], state["deals"][0]
    assert contact["name"] == "Ana Souza"
    assert contact["phones"] == [{"phone": PHONE, "type": "cellphone"}]
    assert contact["emails"] == [{"email": "ana@example.com"}]
    assert "cidade: Recife" in contact["notes"]
    assert [d["id"] for d in contact["deals"]] == [deal["id"]]
    assert deal["name"] == "Ana Souza (WhatsApp)"
    assert deal["deal_stage"]["id"] == crm.stages["Apresentação"]
    assert deal["win"] is None
    writes = [c for c in state["calls"] if c["method"] != "GET"]
    assert len(writes) == 2  # the deal, then the contact: nothing again for the same state
    link = read_crm_link(crm.db, crm.tenant, crm.conversation_id)
    assert link is not None and link.deal_id == deal["id"] and link.contact_id == contact["id"]
    settings = read_crm_settings(crm.db, crm.tenant)
    assert settings is not None and settings.last_synced_at is not None


def test_a_stage_change_moves_the_deal_and_won_marks_it_once(crm: Crm) -> None:
    crm.set_conversation(stage="qualified")
    assert crm.attempt("qualified").ok
    deal = crm.state()["deals"][0]
    assert deal["deal_stage"]["id"] == crm.stages["Identificação do interesse"]

    crm.set_conversation(stage="won")  # "won" is unmapped: the stage stays, the deal is won
    assert crm.attempt("won").ok
    assert crm.attempt("won-again").ok
    state = crm.state()
    assert len(state["deals"]) == 1
    assert state["deals"][0]["win"] is True
    assert state["deals"][0]["deal_stage"]["id"] == crm.stages["Identificação do interesse"]
    wins = [c for c in state["calls"] if c["method"] == "PUT" and c["path"].startswith("/deals")]
    assert len(wins) == 1


def test_a_closed_conversation_is_lost_with_a_reason_when_the_account_requires_one(
    crm: Crm, simulator: ProviderSimulator
) -> None:
    account = simulator.rdstation.account(crm.token)
    assert account is not None
    account.require_lost_reason = True
    crm.set_conversation(status=ConversationStatus.CLOSED, close_reason="no_response")
    assert crm.attempt("lost").ok
    deal = crm.state()["deals"][0]
    assert deal["win"] is False
    assert deal["deal_lost_reason"]["name"] == "Sem resposta"
    assert "no_response" in deal["deal_lost_note"]


def test_two_concurrent_attempts_make_one_deal(crm: Crm) -> None:
    crm.set_conversation(stage="qualified")
    results: list[Any] = []
    start = threading.Barrier(2)

    def run(suffix: str) -> None:
        start.wait()
        results.append(crm.attempt(suffix))

    threads = [threading.Thread(target=run, args=(s,)) for s in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(crm.state()["deals"]) == 1
    assert any(result.ok for result in results)
    for result in results:  # the other one, if it found the lease, is retried shortly
        assert result.ok or (not result.permanent and result.retry_after_seconds)
    assert crm.attempt("after").ok
    assert len(crm.state()["deals"]) == 1
    assert len(crm.state()["contacts"]) == 1


def test_a_revoked_token_marks_the_crm_failing_and_is_permanent(
    crm: Crm, simulator: ProviderSimulator
) -> None:
    answer = crm.http.post(f"{simulator.url}/rdstation/_control/accounts/{crm.token}/revoke")
    assert answer.status_code == 200
    result = crm.attempt("revoked")
    assert not result.ok and result.permanent and result.http_status == 401
    settings = read_crm_settings(crm.db, crm.tenant)
    assert settings is not None and settings.status == "failing" and settings.error
    later = crm.attempt("later")  # RD Station is not asked again until a new token
    assert not later.ok and later.permanent


def test_an_unavailable_rd_station_is_retried_and_the_retry_lands(crm: Crm) -> None:
    crm.fail_next(503)
    result = crm.attempt("first")
    assert not result.ok and not result.permanent and result.http_status == 503
    crm.fail_next(429, retry_after=30)
    throttled = crm.attempt("second")
    assert not throttled.permanent and throttled.retry_after_seconds == 30
    assert crm.attempt("third").ok
    state = crm.state()
    assert len(state["deals"]) == 1 and len(state["contacts"]) == 1
