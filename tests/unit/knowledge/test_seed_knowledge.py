"""Seed files carry knowledge entries, validated when the file is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.seed import SeedError, load_seed_file

ROOT = Path(__file__).resolve().parents[3]


def test_the_demo_tenant_has_knowledge_of_each_kind() -> None:
    [tenant] = load_seed_file(ROOT / "emulators" / "seed" / "demo.yaml").tenants

    kinds = {entry.kind for entry in tenant.knowledge}
    assert kinds == {"qa", "fact", "price_list", "policy"}
    assert len({entry.entry_id for entry in tenant.knowledge}) == len(tenant.knowledge) >= 5


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{entry_id: a, kind: qa, title: t, question: q}", "needs question and answer"),
        ("{entry_id: a, kind: fact, title: t}", "needs content"),
        ("{entry_id: a, kind: file, title: t, content: c}", "knowledge.0.kind"),
        ("{entry_id: a/b, kind: fact, title: t, content: c}", "knowledge.0.entry_id"),
        ("{entry_id: a, kind: fact, title: t, content: c, source: x}", "source"),
    ],
)
def test_invalid_knowledge_in_a_seed_names_the_entry(
    tmp_path: Path, entry: str, problem: str
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(f"tenants: [{{tenant_id: ok-id, name: x, knowledge: [{entry}]}}]")

    with pytest.raises(SeedError, match=problem):
        load_seed_file(path)
