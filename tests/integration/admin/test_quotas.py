"""Stock quotas over HTTP: adding past the plan's channels, seats, insight agents or knowledge is
a 402 naming the quota and the plan, and writes nothing.

The served admin reads a plans file with a tiny plan (PILOTO_PLANS_FILE); each test's workspace
is moved onto it by writing its billing account, as the Stripe webhook would.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from shared.billing.accounts import account_ref
from shared.insights.models import InsightAgentSpec
from shared.knowledge.store import entries_ref, status_ref
from shared.store.channels import CHANNELS_COLLECTION
from shared.store.conversations import tenant_ref
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User
from tests.integration.admin.test_validation import VALID_CHANNELS

MB = 1024 * 1024
PLANS = """
currency: brl
trial_days: 14
trial_plan: pro
plans:
  - plan_id: pro
    name: Pro
    price_cents: 49700
    stripe_lookup_key: piloto_pro_monthly
    quotas: {agent_replies: 5000, channels: 5, seats: 15, insight_agents: 30, knowledge_mb: 200}
  - plan_id: tiny
    name: Tiny
    price_cents: 100
    stripe_lookup_key: piloto_tiny_monthly
    quotas: {agent_replies: 10, channels: 1, seats: 2, insight_agents: 1, knowledge_mb: 1}
"""


@pytest.fixture(scope="module")
def admin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    plans = tmp_path_factory.mktemp("plans") / "plans.yaml"
    plans.write_text(PLANS)
    return {"PILOTO_PLANS_FILE": str(plans)}


@dataclass
class Workspace:
    owner: User
    tenant_id: str

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}"


def on_plan(admin: AdminStack, tenant_id: str, plan_id: str) -> None:
    """Put the workspace's billing account (made at sign-up) on a paid plan."""
    account_ref(admin.db, tenant_id).update(
        {"plan_id": plan_id, "status": "active", "trial_ends_at": None}
    )


@pytest.fixture
def tiny(admin: AdminStack) -> Workspace:
    owner = admin.auth.sign_up("owner", verified=True)
    workspace = Workspace(owner, admin.tenant(owner))
    on_plan(admin, workspace.tenant_id, "tiny")
    return workspace


def channel_body(provider: str = "meta") -> dict[str, Any]:
    return {
        "provider": provider,
        "display_name": f"WhatsApp {provider}",
        "config": VALID_CHANNELS[provider]["config"],
        "secrets": {
            k: f"{v}-{uuid.uuid4().hex}" for k, v in VALID_CHANNELS[provider]["secrets"].items()
        },
    }


def channel_ids(admin: AdminStack, tenant_id: str) -> set[str]:
    query = admin.db.collection(CHANNELS_COLLECTION).where(
        filter=firestore.FieldFilter("tenant_id", "==", tenant_id)
    )
    return {snapshot.id for snapshot in query.stream()}


def assert_refused(answer: httpx.Response, message: str, field: str) -> None:
    assert answer.status_code == 402, answer.text
    error = answer.json()["error"]
    assert error["code"] == "payment_required"
    assert error["message"] == message
    assert error["field"] == field


def test_a_channel_past_the_plan_is_refused_and_nothing_is_saved(
    admin: AdminStack, tiny: Workspace
) -> None:
    first = admin.api.post(f"{tiny.base}/channels", tiny.owner, channel_body("meta"))
    assert first.status_code == 201, first.text
    before = admin.tenant_state(tiny.tenant_id)

    second = admin.api.post(f"{tiny.base}/channels", tiny.owner, channel_body("zapi"))

    assert_refused(second, "the Tiny plan allows 1 channel; remove one or upgrade", "channels")
    assert admin.tenant_state(tiny.tenant_id) == before  # no channel, no secret, no audit entry
    assert channel_ids(admin, tiny.tenant_id) == {first.json()["channel_id"]}

    deleted = admin.api.delete(f"{tiny.base}/channels/{first.json()['channel_id']}", tiny.owner)
    assert deleted.status_code == 204
    again = admin.api.post(f"{tiny.base}/channels", tiny.owner, channel_body("zapi"))
    assert again.status_code == 201, again.text


def test_a_workspace_over_its_channels_after_a_downgrade_keeps_them_and_adds_none(
    admin: AdminStack,
) -> None:
    owner = admin.auth.sign_up("owner", verified=True)
    workspace = Workspace(owner, admin.tenant(owner))  # the trial: Pro's 5 channels
    made = [
        admin.api.post(f"{workspace.base}/channels", owner, channel_body(provider))
        for provider in ("meta", "twilio")
    ]
    assert [answer.status_code for answer in made] == [201, 201]
    on_plan(admin, workspace.tenant_id, "tiny")

    refused = admin.api.post(f"{workspace.base}/channels", owner, channel_body("evolution"))
    kept = admin.api.patch(
        f"{workspace.base}/channels/{made[0].json()['channel_id']}", owner, {"enabled": False}
    )

    assert refused.status_code == 402
    assert kept.status_code == 200, kept.text
    assert len(channel_ids(admin, workspace.tenant_id)) == 2


def test_seats_count_members_and_pending_invitations(admin: AdminStack, tiny: Workspace) -> None:
    invites = f"{tiny.base}/invites"
    ana, bia = (f"{name}-{uuid.uuid4().hex[:6]}@example.com" for name in ("ana", "bia"))
    first = admin.api.post(invites, tiny.owner, {"email": ana, "role": "seller"})
    assert first.status_code == 201, first.text  # the owner and Ana: 2 seats of 2
    before = admin.tenant_state(tiny.tenant_id)

    refused = admin.api.post(invites, tiny.owner, {"email": bia, "role": "seller"})

    assert_refused(
        refused,
        "the Tiny plan allows 2 seats (members and pending invitations); remove one or upgrade",
        "seats",
    )
    assert admin.tenant_state(tiny.tenant_id) == before
    again = admin.api.post(invites, tiny.owner, {"email": ana, "role": "admin"})
    assert again.status_code == 201, again.text  # a pending invitation takes no second seat
    assert again.json()["role"] == "admin"

    assert admin.api.delete(f"{invites}/{ana}", tiny.owner).status_code == 204
    assert admin.api.post(invites, tiny.owner, {"email": bia, "role": "seller"}).status_code == 201


def test_an_accepted_invitation_keeps_its_seat(admin: AdminStack, tiny: Workspace) -> None:
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(tiny.owner, tiny.tenant_id, seller, "seller")  # 2 members, no invitation

    refused = admin.api.post(
        f"{tiny.base}/invites", tiny.owner, {"email": "carla@example.com", "role": "seller"}
    )

    assert refused.status_code == 402


def test_insight_agents_past_the_plan_are_refused(admin: AdminStack, tiny: Workspace) -> None:
    agents = f"{tiny.base}/insight-agents"
    first = admin.api.post(f"{agents}/from-template", tiny.owner, {"template": "qa_auditor"})
    assert first.status_code == 201, first.text
    spec = {k: v for k, v in first.json().items() if k in InsightAgentSpec.model_fields}
    before = admin.tenant_state(tiny.tenant_id)

    from_template = admin.api.post(
        f"{agents}/from-template", tiny.owner, {"template": "qa_auditor"}
    )
    built = admin.api.post(agents, tiny.owner, spec)

    message = "the Tiny plan allows 1 insight agent; remove one or upgrade"
    assert_refused(from_template, message, "insight_agents")
    assert_refused(built, message, "insight_agents")
    assert admin.tenant_state(tiny.tenant_id) == before  # agents, index and audit unchanged


def test_concurrent_insight_agents_never_pass_the_plan(admin: AdminStack, tiny: Workspace) -> None:
    statuses = run_together(
        4,
        lambda: (
            admin.api.post(
                f"{tiny.base}/insight-agents/from-template", tiny.owner, {"template": "qa_auditor"}
            ).status_code
        ),
    )

    assert sorted(statuses) == [201, 402, 402, 402]
    stored = tenant_ref(admin.db, tiny.tenant_id).collection("insight_agents").stream()
    assert len(list(stored)) == 1


def test_knowledge_is_counted_in_bytes_as_entries_change(
    admin: AdminStack, tiny: Workspace
) -> None:
    knowledge = f"{tiny.base}/knowledge"
    text = "Limpeza de pele: R$ 180, sessão de 60 minutos."  # accents: UTF-8 bytes, not chars
    created = admin.api.post(
        knowledge, tiny.owner, {"kind": "fact", "title": "Preço", "content": text}
    )
    assert created.status_code == 201, created.text
    entry_id = created.json()["entry_id"]
    assert content_bytes(admin, tiny.tenant_id) == len(text.encode()) != len(text)

    longer = text + " Inclui hidratação."
    changed = admin.api.put(
        f"{knowledge}/{entry_id}", tiny.owner, {"kind": "fact", "title": "Preço", "content": longer}
    )
    assert changed.status_code == 200, changed.text
    assert content_bytes(admin, tiny.tenant_id) == len(longer.encode())

    assert admin.api.delete(f"{knowledge}/{entry_id}", tiny.owner).status_code == 204
    assert content_bytes(admin, tiny.tenant_id) == 0


def test_knowledge_past_the_plan_is_refused_before_it_is_saved(
    admin: AdminStack, tiny: Workspace
) -> None:
    knowledge = f"{tiny.base}/knowledge"
    created = admin.api.post(
        knowledge, tiny.owner, {"kind": "fact", "title": "Horário", "content": "9h às 19h."}
    )
    assert created.status_code == 201, created.text
    entry_id = created.json()["entry_id"]
    # Nearly full: 100 bytes left of the Tiny plan's 1 MB.
    status_ref(admin.db, tiny.tenant_id).update({"content_bytes": MB - 100})
    before = admin.tenant_state(tiny.tenant_id)
    too_much = "x" * 101
    file_body = {
        "filename": "precos.txt",
        "mime_type": "text/plain",
        "content_base64": base64.b64encode(too_much.encode()).decode(),
    }
    message = "the Tiny plan allows 1 MB of knowledge text; remove some or upgrade"

    assert_refused(
        admin.api.post(knowledge, tiny.owner, {"kind": "fact", "title": "T", "content": too_much}),
        message,
        "knowledge_mb",
    )
    assert_refused(
        admin.api.post(f"{knowledge}/files", tiny.owner, file_body), message, "knowledge_mb"
    )
    grown = {"kind": "fact", "title": "Horário", "content": "9h às 19h." + "y" * 101}
    assert_refused(
        admin.api.put(f"{knowledge}/{entry_id}", tiny.owner, grown), message, "knowledge_mb"
    )
    assert admin.tenant_state(tiny.tenant_id) == before

    fits = admin.api.post(
        knowledge, tiny.owner, {"kind": "fact", "title": "T", "content": "z" * 100}
    )
    assert fits.status_code == 201, fits.text
    assert content_bytes(admin, tiny.tenant_id) == MB
    shrunk = {"kind": "fact", "title": "Horário", "content": "9h."}
    assert admin.api.put(f"{knowledge}/{entry_id}", tiny.owner, shrunk).status_code == 200


def test_knowledge_stored_before_the_running_total_is_summed_on_its_next_change(
    admin: AdminStack, tiny: Workspace
) -> None:
    knowledge = f"{tiny.base}/knowledge"
    texts = ["Estacionamento conveniado na rua de trás.", "Aceitamos Pix e cartão em até 3x."]
    for text in texts:
        answer = admin.api.post(
            knowledge, tiny.owner, {"kind": "fact", "title": "T", "content": text}
        )
        assert answer.status_code == 201, answer.text
    status_ref(admin.db, tiny.tenant_id).update({"content_bytes": firestore.DELETE_FIELD})

    third = "Atendemos de segunda a sábado."
    answer = admin.api.post(knowledge, tiny.owner, {"kind": "fact", "title": "T", "content": third})

    assert answer.status_code == 201, answer.text
    stored = [s.to_dict()["content"] for s in entries_ref(admin.db, tiny.tenant_id).stream()]
    assert sorted(stored) == sorted([*texts, third])
    assert content_bytes(admin, tiny.tenant_id) == sum(len(t.encode()) for t in stored)


def content_bytes(admin: AdminStack, tenant_id: str) -> Any:
    return (status_ref(admin.db, tenant_id).get().to_dict() or {}).get("content_bytes")


def run_together(count: int, call: Callable[[], int]) -> list[int]:
    """Run ``call`` from ``count`` threads released at once; return what each returned."""
    barrier = threading.Barrier(count)
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
