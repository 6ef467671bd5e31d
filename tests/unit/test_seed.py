"""Seed files are validated before anything is written, naming the file and the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.billing.accounts import account_of_tenant, read_account
from shared.insights.models import InsightAgent, InsightAgentSpec
from shared.insights.templates import TEMPLATES
from shared.scheduling.models import CalendarSettings
from shared.seed import SeedError, apply_seed, load_seed_file
from shared.store.conversations import tenant_ref
from shared.store.memory import MemoryFirestore

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def test_the_demo_seed_has_one_channel_per_provider() -> None:
    seed = load_seed_file(ROOT / "emulators" / "seed" / "demo.yaml")

    [tenant] = seed.tenants
    assert tenant.tenant_id == "demo-clinica"
    assert sorted(channel.provider for channel in tenant.channels) == [
        "evolution",
        "meta",
        "twilio",
        "zapi",
    ]
    assert tenant.agent.mode == "pilot"
    assert tenant.agent.debounce_seconds == 5


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tenants: [{tenant_id: Bad Id, name: x}]", "tenants.0.tenant_id"),
        ("tenants: [{tenant_id: ok-id, name: x, timezone: Mars/Base}]", "unknown time zone"),
        (
            "tenants: [{tenant_id: ok-id, name: x, channels: [{channel_id: c-1, provider: icq}]}]",
            "tenants.0.channels.0.provider",
        ),
        ("tenants: [{tenant_id: ok-id, name: x, agent: {followups: [soon]}}]", "is not a duration"),
        ("tenants: [{tenant_id: ok-id, name: x, surprise: 1}]", "surprise"),
        ("tenants: [unclosed", "while parsing"),
    ],
)
def test_invalid_seed_files_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(SeedError, match=problem) as raised:
        load_seed_file(path)
    assert str(path) in str(raised.value)


def test_the_demo_seed_adds_the_conversion_auditor_and_the_closing_coach() -> None:
    seed = load_seed_file(ROOT / "emulators" / "seed" / "demo.yaml")

    [tenant] = seed.tenants

    assert [(agent.agent_id, agent.template) for agent in tenant.insight_agents] == [
        ("demo-conversion-auditor", "conversion_auditor"),
        ("demo-closing-coach", "closing_coach"),
    ]


def test_an_unknown_template_is_named(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "tenants: [{tenant_id: ok-id, name: x, insight_agents: [{agent_id: a1, template: nope}]}]",
        encoding="utf-8",
    )

    with pytest.raises(SeedError, match=r"insight_agents\.0.*unknown template 'nope'"):
        load_seed_file(path)


def test_seeding_writes_the_agents_from_their_templates_and_the_index(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "tenants:\n"
        "  - tenant_id: t-seed\n"
        "    name: Seed\n"
        "    insight_agents:\n"
        "      - {agent_id: auditor, template: conversion_auditor}\n"
        "      - {agent_id: sentinel, template: ghosting_sentinel, active: false}\n",
        encoding="utf-8",
    )
    client = MemoryFirestore()
    agents = tenant_ref(client, "t-seed").collection("insight_agents")
    qa = TEMPLATES["qa_auditor"].spec  # an agent the owner added earlier keeps its place
    agents.document("mine").set(
        InsightAgent(
            **qa.model_dump(), agent_id="mine", tenant_id="t-seed", created_at=NOW, updated_at=NOW
        ).model_dump(mode="python")
    )

    first = apply_seed(client, load_seed_file(path))
    second = apply_seed(client, load_seed_file(path))

    assert first["insight_agents"] == second["insight_agents"] == 2
    auditor = InsightAgent.model_validate(agents.document("auditor").get().to_dict())
    spec = auditor.model_dump(include=set(InsightAgentSpec.model_fields))
    assert InsightAgentSpec.model_validate(spec) == TEMPLATES["conversion_auditor"].spec
    assert (auditor.tenant_id, auditor.template, auditor.active) == (
        "t-seed",
        "conversion_auditor",
        True,
    )
    sentinel = InsightAgent.model_validate(agents.document("sentinel").get().to_dict())
    assert sentinel.active is False
    index = tenant_ref(client, "t-seed").collection("settings").document("insights").get()
    # The conversion auditor and the earlier QA auditor; the inactive sentinel is not heard.
    assert index.to_dict() == {"events": ["NEW_MESSAGE_RECEIVED", "TICKET_LOST", "TICKET_WON"]}


def test_the_demo_tenant_is_on_the_pro_plan_paid() -> None:
    seed = load_seed_file(ROOT / "emulators" / "seed" / "demo.yaml")

    [tenant] = seed.tenants
    assert tenant.billing is not None
    assert (tenant.billing.plan_id, tenant.billing.status) == ("pro", "active")


def test_an_unknown_plan_is_named(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("tenants: [{tenant_id: ok-id, name: x, billing: {plan_id: gold}}]")

    with pytest.raises(SeedError, match=r"tenants.ok-id.billing.plan_id: unknown plan 'gold'"):
        load_seed_file(path)


def test_seeding_billing_writes_an_account_without_stripe(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "tenants:\n"
        "  - {tenant_id: paid-1, name: Paga, billing: {plan_id: agency, status: active}}\n"
        "  - {tenant_id: trial-1, name: Teste, billing: {plan_id: pro, status: trialing}}\n"
        "  - {tenant_id: legacy-1, name: Antiga}\n"
    )
    client = MemoryFirestore()

    apply_seed(client, load_seed_file(path))
    apply_seed(client, load_seed_file(path))  # idempotent: replaced, not duplicated

    paid = read_account(client, "paid-1")
    trial = read_account(client, "trial-1")
    assert paid is not None and trial is not None
    assert (paid.plan_id, paid.status, paid.trial_ends_at) == ("agency", "active", None)
    assert paid.workspaces == ["paid-1"] and paid.stripe_customer_id is None
    assert trial.status == "trialing" and trial.trial_ends_at is not None
    assert (trial.trial_ends_at - trial.created_at).days == 14
    assert account_of_tenant(client, "paid-1") == paid
    assert read_account(client, "legacy-1") is None
    assert "billing_account_id" not in (tenant_ref(client, "legacy-1").get().to_dict() or {})


def test_seeding_a_calendar_writes_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "tenants:\n"
        "  - tenant_id: agenda-1\n"
        "    name: Agenda\n"
        "    calendar: {enabled: true, meeting_minutes: 45, business_hours: "
        "{sat: [{start: '09:00', end: '13:00'}]}}\n"
        "  - {tenant_id: sem-agenda, name: Sem}\n"
    )
    client = MemoryFirestore()

    apply_seed(client, load_seed_file(path))

    stored = tenant_ref(client, "agenda-1").collection("settings").document("calendar").get()
    calendar = CalendarSettings.model_validate(stored.to_dict())
    assert (calendar.enabled, calendar.provider, calendar.meeting_minutes) == (True, "builtin", 45)
    assert list(calendar.business_hours) == ["sat"]
    absent = tenant_ref(client, "sem-agenda").collection("settings").document("calendar").get()
    assert not absent.exists


def test_a_seed_cannot_connect_a_google_calendar(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "tenants: [{tenant_id: ok-id, name: x, calendar: {provider: google, google: "
        "{token_secret: 'env:X', connected_at: '2026-11-01T00:00:00Z'}}}]"
    )

    with pytest.raises(SeedError, match="built-in calendar only"):
        load_seed_file(path)
