"""Insight agents, the insight feed, reviews, macro buttons, the traffic report and the Meta
Conversions API settings, over real HTTP against the emulators.

What the API publishes on ``insight-events`` is read from a pull subscription made here; the
Conversions API is the provider simulator's (``PILOTO_META_GRAPH_URL`` points the served admin
function at it).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import pytest
from google.api_core.exceptions import AlreadyExists

from emulators.simulator import ProviderSimulator
from shared.insights.models import INSIGHT_EVENTS_TOPIC, MAX_AGENTS
from shared.insights.templates import TEMPLATES
from shared.store.channels import CHANNELS_COLLECTION
from shared.store.conversations import conversation_ref, tenant_ref
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User, seed_conversation, seed_insight
from tests.integration.admin.test_isolation import AGENT_SPEC

DATASET = "998877665544"
TOKEN = "EAAG-dataset-token-" + uuid.uuid4().hex[:8]
WABA = "102290129340398"


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    with ProviderSimulator([]) as running:
        running.add_dataset(DATASET, TOKEN)
        yield running


@pytest.fixture(scope="module")
def admin_env(simulator: ProviderSimulator) -> dict[str, str]:
    return {"PILOTO_META_GRAPH_URL": f"{simulator.url}/meta"}


class Events:
    """What the API publishes on insight-events, through a pull subscription."""

    def __init__(self, project: str) -> None:
        self.subscriber = pubsub_v1.SubscriberClient()
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(project, INSIGHT_EVENTS_TOPIC)
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(request={"name": topic})
        self.name = self.subscriber.subscription_path(project, f"tap-{uuid.uuid4().hex[:8]}")
        self.subscriber.create_subscription(request={"name": self.name, "topic": topic})
        self.seen: list[tuple[dict[str, Any], dict[str, str]]] = []

    def of(self, conversation_id: str, *, expect: int, settle: float = 0.5) -> list[Any]:
        """Return the events of one conversation: wait for ``expect``, then ``settle`` more."""
        deadline = time.monotonic() + 10
        quiet_until: float | None = None
        while True:
            answer = self.subscriber.pull(
                request={"subscription": self.name, "max_messages": 50, "return_immediately": True},
                timeout=5,
            )
            received = list(answer.received_messages)
            if received:
                self.subscriber.acknowledge(
                    request={"subscription": self.name, "ack_ids": [m.ack_id for m in received]}
                )
            for each in received:
                self.seen.append((json.loads(each.message.data), dict(each.message.attributes)))
            found = [(e, a) for e, a in self.seen if e["conversation_id"] == conversation_id]
            now = time.monotonic()
            if len(found) >= expect:
                quiet_until = quiet_until or now + settle
                if now >= quiet_until:
                    return found
            elif now > deadline:
                return found
            if not received:
                time.sleep(0.1)

    def close(self) -> None:
        self.subscriber.delete_subscription(request={"subscription": self.name})
        self.subscriber.close()


@pytest.fixture(scope="module")
def events(admin: AdminStack) -> Iterator[Events]:
    tap = Events(admin.project_id)
    yield tap
    tap.close()


@dataclass
class Shop:
    tenant_id: str
    owner: User
    seller: User
    other_seller: User
    mine: str
    theirs: str

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}"


@pytest.fixture(scope="module")
def shop(admin: AdminStack) -> Shop:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner, "Loja")
    seller = admin.auth.sign_up("seller", verified=True)
    other = admin.auth.sign_up("other", verified=True)
    admin.join(owner, tenant_id, seller, "seller")
    admin.join(owner, tenant_id, other, "seller")
    mine = seed_conversation(admin.db, tenant_id, assignee_uid=seller.uid)
    theirs = seed_conversation(admin.db, tenant_id, assignee_uid=other.uid)
    return Shop(tenant_id, owner, seller, other, mine.id, theirs.id)


def _agent(admin: AdminStack, shop: Shop, **changes: Any) -> dict[str, Any]:
    answer = admin.api.post(f"{shop.base}/insight-agents", shop.owner, {**AGENT_SPEC, **changes})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _index(admin: AdminStack, tenant_id: str) -> list[str]:
    snapshot = tenant_ref(admin.db, tenant_id).collection("settings").document("insights").get()
    return list((snapshot.to_dict() or {}).get("events", []))


def _conversation(admin: AdminStack, tenant_id: str, conversation_id: str) -> dict[str, Any]:
    return conversation_ref(admin.db, tenant_id, conversation_id).get().to_dict() or {}


def _fresh_tenant(admin: AdminStack) -> Shop:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    return Shop(tenant_id, owner, owner, owner, "", "")


# Agents


def test_every_template_becomes_an_active_agent_and_the_index_follows(admin: AdminStack) -> None:
    shop = _fresh_tenant(admin)
    listed = admin.api.get(f"{shop.base}/insight-templates", shop.owner).json()["templates"]
    assert [t["key"] for t in listed] == list(TEMPLATES)

    created = []
    for key in TEMPLATES:
        answer = admin.api.post(
            f"{shop.base}/insight-agents/from-template", shop.owner, {"template": key}
        )
        assert answer.status_code == 201, answer.text
        agent = answer.json()
        assert (agent["template"], agent["active"]) == (key, True)
        assert agent["triggers"] and all(t["trigger_id"] for t in agent["triggers"])
        created.append(agent["agent_id"])
    again = admin.api.post(
        f"{shop.base}/insight-agents/from-template", shop.owner, {"template": "qa_auditor"}
    )
    unknown = admin.api.post(
        f"{shop.base}/insight-agents/from-template", shop.owner, {"template": "nope"}
    )

    assert again.status_code == 201 and again.json()["agent_id"] not in created
    assert unknown.status_code == 404
    agents = admin.api.get(f"{shop.base}/insight-agents", shop.owner).json()["agents"]
    assert [a["agent_id"] for a in agents] == [*created, again.json()["agent_id"]]
    expected = sorted(
        {t.event.value for template in TEMPLATES.values() for t in template.spec.triggers}
    )
    assert _index(admin, shop.tenant_id) == expected

    for agent_id in [*created, again.json()["agent_id"]]:
        deleted = admin.api.delete(f"{shop.base}/insight-agents/{agent_id}", shop.owner)
        assert deleted.status_code == 204
    assert _index(admin, shop.tenant_id) == []


def test_agent_writes_keep_the_index_in_step_and_are_audited(admin: AdminStack) -> None:
    tenant = _fresh_tenant(admin)
    agent = _agent(admin, tenant, triggers=[{"event": "TICKET_LOST"}, {"event": "TICKET_WON"}])
    path = f"{tenant.base}/insight-agents/{agent['agent_id']}"
    assert all(t["trigger_id"].startswith("t-") for t in agent["triggers"])
    assert agent["macro"] is False
    assert _index(admin, tenant.tenant_id) == ["TICKET_LOST", "TICKET_WON"]

    changed = admin.api.put(
        path,
        tenant.owner,
        {**AGENT_SPEC, "name": "Outro nome", "triggers": agent["triggers"][:1]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["created_at"] == agent["created_at"]
    assert changed.json()["triggers"] == agent["triggers"][:1]
    assert _index(admin, tenant.tenant_id) == ["TICKET_LOST"]
    off = admin.api.patch(path, tenant.owner, {"active": False})
    assert off.json()["active"] is False
    assert _index(admin, tenant.tenant_id) == []
    admin.api.patch(path, tenant.owner, {"active": True})
    assert _index(admin, tenant.tenant_id) == ["TICKET_LOST"]
    kept = seed_insight(admin.db, tenant.tenant_id, "c-any", agent_id=agent["agent_id"])

    assert admin.api.delete(path, tenant.owner).status_code == 204
    assert admin.api.get(path, tenant.owner).status_code == 404
    assert admin.api.delete(path, tenant.owner).status_code == 404
    assert _index(admin, tenant.tenant_id) == []
    insights = admin.api.get(f"{tenant.base}/insights", tenant.owner).json()["insights"]
    assert [i["insight_id"] for i in insights] == [kept.insight_id]
    actions = [e["action"] for e in admin.audit(tenant.tenant_id) if "insight" in e["action"]]
    assert actions == [
        "insight_agent.create",
        "insight_agent.update",
        "insight_agent.activate",
        "insight_agent.activate",
        "insight_agent.delete",
    ]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        (
            {"fields": [{"name": "nota", "type": "number"}, {"name": "motivo", "type": "enum"}]},
            "fields.1",
            "enum field 'motivo' needs between 2 and 20 options",
        ),
        ({"fields": [{"name": "Nota", "type": "string"}]}, "fields.0", "field name 'Nota'"),
        (
            {"fields": [{"name": "nota", "type": "string", "minimum": 1}]},
            "fields.0",
            "is not a number",
        ),
        ({"fields": [{"name": "a", "type": "x"}]}, "fields.0.type", "Input should be"),
        (
            {"triggers": [{"event": "TICKET_WON", "keywords": ["paguei"]}]},
            "triggers.0",
            "keywords apply only",
        ),
        (
            {"triggers": [{"event": "TICKET_WON", "trigger_id": "x"}, {
                "event": "TICKET_LOST", "trigger_id": "x"}]},
            "triggers.1.trigger_id",
            "repeats",
        ),
        ({"triggers": [{"event": "TICKET_WON", "trigger_id": "a/b"}]}, "triggers.0.trigger_id", ""),
        ({"send_conversion": True}, "body", "send_conversion needs apply_action mark_won"),
        ({"message_field": "nota"}, "body", "must name one of the string fields"),
        ({"triggers": []}, "triggers", "at least 1"),
        ({"surprise": 1}, "surprise", "Extra inputs"),
    ],
)  # fmt: skip
def test_bad_definitions_are_422_naming_the_field_and_write_nothing(
    admin: AdminStack, shop: Shop, changes: dict[str, Any], field: str, reason: str
) -> None:
    before = admin.tenant_state(shop.tenant_id)

    answer = admin.api.post(f"{shop.base}/insight-agents", shop.owner, {**AGENT_SPEC, **changes})

    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    assert reason in error["message"] and error["message"].startswith(f"{field}: ")
    assert admin.tenant_state(shop.tenant_id) == before


def test_a_tenant_has_at_most_max_agents(admin: AdminStack) -> None:
    tenant = _fresh_tenant(admin)
    first = _agent(admin, tenant)
    stored = tenant_ref(admin.db, tenant.tenant_id).collection("insight_agents")
    record = stored.document(first["agent_id"]).get().to_dict() or {}
    for number in range(MAX_AGENTS - 1):
        stored.document(f"ia-seeded-{number}").set({**record, "agent_id": f"ia-seeded-{number}"})

    refused = admin.api.post(f"{tenant.base}/insight-agents", tenant.owner, AGENT_SPEC)

    assert refused.status_code == 409
    assert str(MAX_AGENTS) in refused.json()["error"]["message"]
    assert len(list(stored.stream())) == MAX_AGENTS


# The feed


def test_the_feed_filters_newest_first_and_sellers_see_their_conversations_only(
    admin: AdminStack, shop: Shop
) -> None:
    now = datetime.now(UTC)
    mine = [
        seed_insight(
            admin.db, shop.tenant_id, shop.mine, agent_id=agent, status=status,
            created_at=now - timedelta(minutes=minutes),
        )
        for agent, status, minutes in (
            ("ia-a", "SUGGESTION", 3), ("ia-b", "RUNNING", 2), ("ia-a", "APPLIED", 1),
        )
    ]  # fmt: skip
    theirs = seed_insight(admin.db, shop.tenant_id, shop.theirs, created_at=now)
    feed = f"{shop.base}/insights"

    def listed(user: User, **params: str) -> list[str]:
        answer = admin.api.get(feed, user, params=params)
        assert answer.status_code == 200, answer.text
        return [insight["insight_id"] for insight in answer.json()["insights"]]

    newest_first = [theirs.insight_id, *[i.insight_id for i in reversed(mine)]]
    assert listed(shop.owner)[:4] == newest_first
    assert listed(shop.owner, conversation_id=shop.mine) == newest_first[1:]
    assert listed(shop.owner, conversation_id=shop.mine, agent_id="ia-a") == [
        mine[2].insight_id,
        mine[0].insight_id,
    ]
    assert listed(shop.owner, conversation_id=shop.mine, status="RUNNING") == [mine[1].insight_id]
    assert listed(shop.owner, conversation_id=shop.mine, limit="1") == [mine[2].insight_id]
    assert listed(shop.seller, conversation_id=shop.mine) == newest_first[1:]
    for params in ({}, {"conversation_id": shop.theirs}):
        assert admin.api.get(feed, shop.seller, params=params).status_code == 403
    missing = admin.api.get(feed, shop.seller, params={"conversation_id": "c-nope"})
    assert missing.status_code == 404
    for bad in ({"limit": "0"}, {"limit": "101"}, {"status": "DONE"}, {"days": "1"}):
        assert admin.api.get(feed, shop.owner, params=bad).status_code == 400

    first = admin.api.get(feed, shop.seller, params={"conversation_id": shop.mine})
    etag = first.headers["ETag"]
    same = admin.api.get(
        feed, shop.seller, params={"conversation_id": shop.mine}, headers={"If-None-Match": etag}
    )
    assert (same.status_code, same.content) == (304, b"")
    seed_insight(admin.db, shop.tenant_id, shop.mine)
    changed = admin.api.get(
        feed, shop.seller, params={"conversation_id": shop.mine}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


# Reviews


def test_apply_and_dismiss_review_a_suggestion_once(admin: AdminStack, shop: Shop) -> None:
    suggestion = seed_insight(admin.db, shop.tenant_id, shop.mine)
    other = seed_insight(admin.db, shop.tenant_id, shop.mine)
    running = seed_insight(admin.db, shop.tenant_id, shop.mine, status="RUNNING")
    theirs = seed_insight(admin.db, shop.tenant_id, shop.theirs)
    base = f"{shop.base}/insights"

    dismissed = admin.api.post(f"{base}/{suggestion.insight_id}/dismiss", shop.seller)
    applied = admin.api.post(f"{base}/{other.insight_id}/apply", shop.seller)

    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "DISMISSED"
    assert (dismissed.json()["reviewed_by"], dismissed.json()["reviewed_email"]) == (
        shop.seller.uid,
        shop.seller.email,
    )
    assert applied.json()["status"] == "APPLIED" and applied.json()["reviewed_at"]
    assert applied.json()["conversion"] is None
    before = admin.tenant_state(shop.tenant_id)
    for insight_id in (suggestion.insight_id, other.insight_id, running.insight_id):
        for verb in ("apply", "dismiss"):
            answer = admin.api.post(f"{base}/{insight_id}/{verb}", shop.owner)
            assert answer.status_code == 409, f"{verb} {insight_id}: {answer.text}"
    for verb in ("apply", "dismiss"):
        assert admin.api.post(f"{base}/{theirs.insight_id}/{verb}", shop.seller).status_code == 403
        assert admin.api.post(f"{base}/nope/{verb}", shop.owner).status_code == 404
    assert admin.tenant_state(shop.tenant_id) == before
    assert _conversation(admin, shop.tenant_id, shop.mine)["status"] == "open"
    entries = [e for e in admin.audit(shop.tenant_id) if e["action"].startswith("insight.")]
    assert [(e["action"], e["target"], e["after"]["status"]) for e in entries[-2:]] == [
        ("insight.dismiss", f"insights/{suggestion.insight_id}", "DISMISSED"),
        ("insight.apply", f"insights/{other.insight_id}", "APPLIED"),
    ]


def test_applying_a_won_insight_closes_the_conversation_and_publishes_ticket_won(
    admin: AdminStack, events: Events
) -> None:
    tenant = _fresh_tenant(admin)
    _agent(admin, tenant, triggers=[{"event": "TICKET_WON"}])  # someone listens
    open_one = seed_conversation(admin.db, tenant.tenant_id, followup_generation=2)
    closed_one = seed_conversation(admin.db, tenant.tenant_id, status="closed", close_reason="lost")
    won = seed_insight(
        admin.db, tenant.tenant_id, open_one.id, apply_action="mark_won", agent_name="Auditor"
    )
    late = seed_insight(admin.db, tenant.tenant_id, closed_one.id, apply_action="mark_won")

    answer = admin.api.post(f"{tenant.base}/insights/{won.insight_id}/apply", tenant.owner)
    after_close = admin.api.post(f"{tenant.base}/insights/{late.insight_id}/apply", tenant.owner)

    assert answer.status_code == 200, answer.text
    conversation = _conversation(admin, tenant.tenant_id, open_one.id)
    assert {k: conversation[k] for k in ("status", "close_reason", "close_note", "closed_by")} == {
        "status": "closed",
        "close_reason": "won",
        "close_note": "insight Auditor",
        "closed_by": tenant.owner.uid,
    }
    assert conversation["followup_generation"] == 3
    assert conversation["followup_due_at"] is None
    published = events.of(open_one.id, expect=1)
    assert [(e["type"], e["event_id"], e["actor_uid"], e["reason"]) for e, _ in published] == [
        ("TICKET_WON", f"ticket:{open_one.id}:won", tenant.owner.uid, "insight Auditor")
    ]
    assert published[0][1] == {
        "tenant_id": tenant.tenant_id,
        "type": "TICKET_WON",
        "event_id": f"ticket:{open_one.id}:won",
    }
    assert after_close.json()["status"] == "APPLIED"
    assert _conversation(admin, tenant.tenant_id, closed_one.id)["close_reason"] == "lost"
    assert events.of(closed_one.id, expect=0) == []
    audit = admin.audit(tenant.tenant_id)[-2]
    assert (audit["action"], audit["after"]) == (
        "insight.apply",
        {"status": "APPLIED", "closed": "won"},
    )


def test_closing_won_or_lost_publishes_only_what_an_agent_listens_to(
    admin: AdminStack, events: Events
) -> None:
    tenant = _fresh_tenant(admin)
    _agent(admin, tenant, triggers=[{"event": "TICKET_LOST"}])
    lost, won, spam = (seed_conversation(admin.db, tenant.tenant_id) for _ in range(3))

    for conversation, reason in ((lost, "lost"), (won, "won"), (spam, "spam")):
        path = f"{tenant.base}/conversations/{conversation.id}/close"
        answer = admin.api.post(path, tenant.owner, {"reason": reason, "note": "preço"})
        assert answer.status_code == 200, answer.text

    published = events.of(lost.id, expect=1)
    assert [(e["type"], e["event_id"], e["reason"]) for e, _ in published] == [
        ("TICKET_LOST", f"ticket:{lost.id}:lost", "preço")
    ]
    assert events.of(won.id, expect=0, settle=0.2) == []  # nobody listens to TICKET_WON
    assert events.of(spam.id, expect=0, settle=0.2) == []


# Macro buttons


def test_a_macro_press_publishes_the_event_naming_the_agent(
    admin: AdminStack, shop: Shop, events: Events
) -> None:
    macro = _agent(admin, shop)
    other = _agent(admin, shop, triggers=[{"event": "TICKET_WON"}])
    switched_off = _agent(admin, shop, active=False)
    path = f"{shop.base}/conversations/{shop.mine}/macros"
    assert macro["macro"] is True and other["macro"] is False and switched_off["macro"] is False
    agents = admin.api.get(f"{shop.base}/insight-agents", shop.seller).json()["agents"]
    assert {a["agent_id"]: a["macro"] for a in agents}[macro["agent_id"]] is True

    pressed = admin.api.post(f"{path}/{macro['agent_id']}", shop.seller)

    assert pressed.status_code == 202, pressed.text
    event_id = pressed.json()["event_id"]
    assert event_id.startswith("macro:")
    published = [e for e, _ in events.of(shop.mine, expect=1) if e["event_id"] == event_id]
    assert len(published) == 1
    assert published[0]["type"] == "MACRO_BUTTON_CLICKED"
    assert (published[0]["agent_id"], published[0]["actor_uid"]) == (
        macro["agent_id"],
        shop.seller.uid,
    )
    assert admin.api.post(f"{path}/{other['agent_id']}", shop.seller).status_code == 409
    assert admin.api.post(f"{path}/{switched_off['agent_id']}", shop.seller).status_code == 409
    assert admin.api.post(f"{path}/ia-unknown", shop.seller).status_code == 404
    theirs = f"{shop.base}/conversations/{shop.theirs}/macros/{macro['agent_id']}"
    assert admin.api.post(theirs, shop.seller).status_code == 403
    assert [e for e, _ in events.of(shop.theirs, expect=0, settle=0.2)] == []


# Traffic report


def test_the_traffic_report_groups_lost_reasons_by_campaign(admin: AdminStack) -> None:
    tenant = _fresh_tenant(admin)
    now = datetime.now(UTC)
    ad = {"source_id": "120210", "headline": "Clareamento R$ 99", "source_url": "https://fb.me/x"}

    def lost(reason: str, detail: str, minutes: int, attribution: Any = None, **more: Any) -> None:
        fields = {
            "template": "traffic_feedback",
            "event_type": "TICKET_LOST",
            "payload": {"lost_reason": reason, "detail": detail},
            "attribution": attribution,
            "created_at": now - timedelta(minutes=minutes),
        }
        seed_insight(admin.db, tenant.tenant_id, "c-any", **(fields | more))

    for minutes in range(1, 8):
        lost("preço" if minutes < 5 else "timing", f"detalhe {minutes}", minutes, ad)
    lost("concorrente", "Achou mais barato", 9, {"headline": "Só título"})
    lost("outro", "", 10)
    lost("preço", "dispensado", 11, ad, status="DISMISSED")
    lost("preço", "antigo", 60 * 24 * 8, ad)
    lost("preço", "outro agente", 12, ad, template="qa_auditor")
    lost("preço", "ganho", 13, ad, event_type="TICKET_WON")

    answer = admin.api.get(
        f"{tenant.base}/insights/traffic-report", tenant.owner, params={"days": "7"}
    )

    assert answer.status_code == 200, answer.text
    campaigns = answer.json()["campaigns"]
    assert [(c["key"], c["lost"]) for c in campaigns] == [
        ("120210", 7), ("Só título", 1), ("organic", 1),
    ]  # fmt: skip
    first, headline_only, organic = campaigns
    assert (first["headline"], first["source_url"]) == (ad["headline"], ad["source_url"])
    assert first["reasons"] == [{"reason": "preço", "count": 4}, {"reason": "timing", "count": 3}]
    assert first["details"] == [f"detalhe {minutes}" for minutes in range(1, 6)]
    assert (headline_only["source_id"], headline_only["headline"]) == (None, "Só título")
    assert headline_only["details"] == ["Achou mais barato"]
    assert organic["details"] == [] and organic["source_id"] is None
    assert organic["reasons"] == [{"reason": "outro", "count": 1}]
    assert (
        admin.api.get(
            f"{tenant.base}/insights/traffic-report", tenant.owner, params={"days": "0"}
        ).status_code
        == 400
    )


# The Meta Conversions API


def test_conversions_settings_keep_the_token_in_the_secret_store(admin: AdminStack) -> None:
    tenant = _fresh_tenant(admin)
    path = f"{tenant.base}/conversions"
    assert admin.api.get(path, tenant.owner).json()["configured"] is False
    before = admin.tenant_state(tenant.tenant_id)
    for bad in ({"dataset_id": "abc", "access_token": TOKEN}, {"dataset_id": "1"},
                {"dataset_id": "1", "access_token": TOKEN, "currency": "real"}):  # fmt: skip
        assert admin.api.put(path, tenant.owner, bad).status_code == 422
    assert admin.tenant_state(tenant.tenant_id) == before

    saved = admin.api.put(path, tenant.owner, {"dataset_id": DATASET, "access_token": TOKEN})

    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "configured": True,
        "dataset_id": DATASET,
        "currency": "BRL",
        "updated_at": saved.json()["updated_at"],
    }
    state = admin.tenant_state(tenant.tenant_id)
    assert TOKEN in state.pop("secrets-file")
    assert TOKEN not in json.dumps(state, default=str)  # not in Firestore, not in the audit log
    stored = tenant_ref(admin.db, tenant.tenant_id).collection("settings").document("conversions")
    assert (stored.get().to_dict() or {})["access_token_ref"].startswith("local:piloto-")
    assert admin.api.get(path, tenant.owner).json()["configured"] is True
    kept = admin.api.put(path, tenant.owner, {"dataset_id": DATASET, "currency": "USD"})
    assert kept.status_code == 200, kept.text
    assert kept.json()["currency"] == "USD"
    assert TOKEN in admin.secrets_file.read_text()  # no token given: the saved one stays
    assert admin.api.delete(path, tenant.owner).status_code == 204
    assert TOKEN not in admin.secrets_file.read_text()
    assert admin.api.get(path, tenant.owner).json()["configured"] is False
    assert admin.api.delete(path, tenant.owner).status_code == 204
    assert [e["action"] for e in admin.audit(tenant.tenant_id)][-2:] == [
        "conversions.update",
        "conversions.delete",
    ]


def test_applying_a_confirmed_purchase_sends_it_to_the_conversions_api(
    admin: AdminStack, simulator: ProviderSimulator
) -> None:
    tenant = _fresh_tenant(admin)
    channel_id = f"meta-{uuid.uuid4().hex[:8]}"
    admin.db.collection(CHANNELS_COLLECTION).document(channel_id).set(
        {"tenant_id": tenant.tenant_id, "provider": "meta", "config": {"waba_id": WABA}}
    )
    auditor = admin.api.post(
        f"{tenant.base}/insight-agents/from-template",
        tenant.owner,
        {"template": "conversion_auditor"},
    ).json()
    clid = f"ARAkLkA8rmlFeiCktEJQ-{uuid.uuid4().hex[:6]}"

    def applied(attribution: dict[str, Any] | None, value: float | None = 1500) -> dict[str, Any]:
        seeded = seed_conversation(
            admin.db, tenant.tenant_id, channel_id=channel_id, attribution=attribution
        )
        insight = seed_insight(
            admin.db, tenant.tenant_id, seeded.id, agent_id=auditor["agent_id"],
            apply_action="mark_won",
            payload={"purchase_confirmed": True, **({} if value is None else {"value": value})},
        )  # fmt: skip
        answer = admin.api.post(f"{tenant.base}/insights/{insight.insight_id}/apply", tenant.owner)
        assert answer.status_code == 200, answer.text
        stored = tenant_ref(admin.db, tenant.tenant_id).collection("insights")
        record = stored.document(insight.insight_id).get().to_dict() or {}
        assert record["conversion"]["status"] == answer.json()["conversion"]["status"]
        return dict(answer.json())

    unconfigured = applied({"ctwa_clid": clid})
    admin.api.put(
        f"{tenant.base}/conversions", tenant.owner, {"dataset_id": DATASET, "access_token": TOKEN}
    )
    without_ad = applied(None)
    no_value = applied({"ctwa_clid": clid}, value=None)
    sent = applied({"ctwa_clid": clid, "source_id": "120210"})

    assert (unconfigured["conversion"]["status"], unconfigured["conversion"]["reason"]) == (
        "skipped",
        "not_configured",
    )
    assert (without_ad["conversion"]["status"], without_ad["conversion"]["reason"]) == (
        "skipped",
        "no_ctwa_clid",
    )
    assert (no_value["conversion"]["status"], no_value["conversion"]["reason"]) == (
        "skipped",
        "no_value",
    )  # Meta refuses a Purchase without its value
    assert sent["conversion"]["status"] == "sent", sent["conversion"]
    assert sent["conversion"]["events_received"] == 1
    received = simulator.wait_for_conversion(
        lambda c: c.event.get("event_id") == sent["insight_id"]
    )
    assert received.dataset_id == DATASET and received.event_name == "Purchase"
    assert received.event["user_data"] == {"ctwa_clid": clid, "whatsapp_business_account_id": WABA}
    assert received.event["custom_data"] == {"currency": "BRL", "value": 1500.0}
    assert len(simulator.received_conversions(dataset_id=DATASET)) == 1
