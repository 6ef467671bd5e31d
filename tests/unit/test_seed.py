"""Seed files are validated before anything is written, naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.seed import SeedError, load_seed_file

ROOT = Path(__file__).resolve().parents[2]


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
