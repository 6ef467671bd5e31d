"""A seed's knowledge is embedded and stored, and seeding twice leaves the same knowledge."""

from __future__ import annotations

import uuid
from pathlib import Path

from google.cloud import firestore

from emulators.stack import LocalStack
from shared.knowledge.embeddings import OfflineEmbedder
from shared.knowledge.store import knowledge_status, list_entries, retrieve
from shared.seed import apply_seed, load_seed_file


def test_applying_a_seed_twice_stores_its_knowledge_once(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    tenant = f"seed-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "seed.yaml"
    path.write_text(
        "tenants:\n"
        f"  - tenant_id: {tenant}\n"
        "    name: Clínica\n"
        "    knowledge:\n"
        "      - {entry_id: preco, kind: price_list, title: Preços, content: 'Limpeza: R$ 180'}\n"
        "      - {entry_id: qa-1, kind: qa, title: Laser, question: 'O laser dói?',"
        " answer: Quase nada.}\n",
        encoding="utf-8",
    )
    client = firestore.Client(project=local_stack.project_id)
    seed = load_seed_file(path)

    first = apply_seed(client, seed, embedder=OfflineEmbedder())
    second = apply_seed(client, seed)  # the environment's embedder: offline here

    assert first == second == {"tenants": 1, "channels": 0, "knowledge": 2, "insight_agents": 0}
    entries = {entry.entry_id: entry for entry in list_entries(client, tenant)}
    assert sorted(entries) == ["preco", "qa-1"]
    assert entries["qa-1"].content == "Pergunta: O laser dói?\nResposta: Quase nada."
    assert entries["qa-1"].source == "manual"
    status = knowledge_status(client, tenant)
    assert (status.entry_count, status.chunk_count) == (2, 2)
    assert retrieve(client, tenant, ["depilação a laser doi?"], OfflineEmbedder())[0].entry_id == (
        "qa-1"
    )
