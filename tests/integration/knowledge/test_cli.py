"""`piloto knowledge reembed` moves a tenant's knowledge to the configured embedder."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.cli import main
from shared.knowledge.embeddings import OfflineEmbedder
from shared.knowledge.models import KnowledgeEntry
from shared.knowledge.store import chunks_ref, retrieve, save_entry


class RetiredModel(OfflineEmbedder):
    """A model the tenant used before (its vectors are another space)."""

    model_name = "retired-model-v0"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [vector[::-1] for vector in super().embed_documents(texts)]


def test_reembed_moves_one_tenant_to_the_configured_embedder(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = firestore.Client(project=local_stack.project_id)
    tenant, other = f"cli-{uuid.uuid4().hex[:8]}", f"cli-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    for tenant_id in (tenant, other):
        entry = KnowledgeEntry(
            entry_id="preco", kind="price_list", title="Preços", content="Limpeza de pele: R$ 180",
            created_at=now, updated_at=now,
        )  # fmt: skip
        save_entry(client, tenant_id, entry, RetiredModel())
    question = ["quanto custa a limpeza de pele?"]
    assert retrieve(client, tenant, question, OfflineEmbedder()) == []
    monkeypatch.setenv("PILOTO_EMBEDDINGS", "offline")

    code = main(["knowledge", "reembed", "--tenant", tenant])

    assert code == 0
    out = capsys.readouterr().out
    assert f"{tenant}: 1 entry (1 chunks) re-embedded" in out
    assert "now use offline-ngram-v1 (offline)" in out
    assert retrieve(client, tenant, question, OfflineEmbedder())[0].entry_id == "preco"
    models = {s.get("embedding_model") for s in chunks_ref(client, other).stream()}
    assert models == {"retired-model-v0"}  # only the named tenant moved
