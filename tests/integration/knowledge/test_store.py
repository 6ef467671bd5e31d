"""The knowledge store on the Firestore emulator: save, retrieve with find_nearest and the
relevance threshold, replace, delete, the per-tenant summary, re-embedding and isolation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.vector import Vector

from emulators.stack import LocalStack
from shared.knowledge import store
from shared.knowledge.embeddings import OfflineEmbedder
from shared.knowledge.models import KnowledgeEntry, qa_content
from shared.knowledge.store import (
    KnowledgeTooLarge,
    delete_entry,
    get_entry,
    knowledge_status,
    list_entries,
    reembed,
    retrieve,
    save_entry,
)
from tests.bench.knowledge import entry_from, load_knowledge_set

OFFLINE = OfflineEmbedder()


class OtherModel(OfflineEmbedder):
    """Another vector space: the offline vectors reversed, under another model name."""

    model_name = "other-model-v1"

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [vector[::-1] for vector in super().embed_documents(texts)]

    def embed_query(self, text: str) -> list[float]:
        return super().embed_query(text)[::-1]


@pytest.fixture(scope="module")
def db(local_stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=local_stack.project_id)


@pytest.fixture
def tenant() -> str:
    return f"kb-{uuid.uuid4().hex[:10]}"


def entry(entry_id: str, content: str, **fields: Any) -> KnowledgeEntry:
    now = datetime.now(UTC)
    values = {"kind": "fact", "title": entry_id, **fields}
    return KnowledgeEntry(
        entry_id=entry_id, content=content, created_at=now, updated_at=now, **values
    )


def chunks(db: firestore.Client, tenant: str) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in store.chunks_ref(db, tenant).stream()}


def clinic(db: firestore.Client, tenant: str) -> None:
    for item in load_knowledge_set().entries:
        save_entry(db, tenant, entry_from(item), OFFLINE)


def test_an_entry_is_stored_without_vectors_and_its_chunks_with_them(
    db: firestore.Client, tenant: str
) -> None:
    question = "Gestante pode fazer limpeza de pele?"
    answer = "Sim, sem ácidos."
    saved = save_entry(
        db,
        tenant,
        entry("qa-1", qa_content(question, answer), kind="qa", question=question, answer=answer),
        OFFLINE,
    )

    assert (saved.chunk_count, saved.embedding_model) == (1, "offline-ngram-v1")
    stored = store.entries_ref(db, tenant).document("qa-1").get().to_dict()
    assert stored is not None
    assert "embedding" not in stored
    assert (
        stored["content"]
        == "Pergunta: Gestante pode fazer limpeza de pele?\nResposta: Sim, sem ácidos."
    )
    assert get_entry(db, tenant, "qa-1") == saved
    chunk = chunks(db, tenant)["qa-1-0"]
    assert isinstance(chunk["embedding"], Vector)
    assert len(list(chunk["embedding"])) == 768
    fields = ("entry_id", "kind", "title", "position", "embedding_model")
    assert {key: chunk[key] for key in fields} == {
        "entry_id": "qa-1", "kind": "qa", "title": "qa-1", "position": 0,
        "embedding_model": "offline-ngram-v1",
    }  # fmt: skip
    assert chunk["text"] == stored["content"]
    assert knowledge_status(db, tenant).model_dump() == {
        "entry_count": 1, "chunk_count": 1, "embedding_model": "offline-ngram-v1",
    }  # fmt: skip


def test_a_tenant_without_knowledge_has_an_empty_status_and_retrieves_nothing(
    db: firestore.Client, tenant: str
) -> None:
    status = knowledge_status(db, tenant)

    assert status.empty
    assert (status.entry_count, status.chunk_count, status.embedding_model) == (0, 0, None)
    assert retrieve(db, tenant, ["quanto custa a limpeza de pele?"], OFFLINE) == []
    assert list_entries(db, tenant) == []


def test_paraphrases_find_their_entry_and_unrelated_questions_find_nothing(
    db: firestore.Client, tenant: str
) -> None:
    clinic(db, tenant)

    price = retrieve(db, tenant, ["vcs fazem limpeza de pele? qto fica"], OFFLINE)
    parking = retrieve(db, tenant, ["tem estacionamento?"], OFFLINE, limit=1)
    unknown = retrieve(db, tenant, ["vocês têm unidade em Campinas?"], OFFLINE)
    criolipolise = retrieve(db, tenant, ["qual o preço da criolipólise?"], OFFLINE)

    assert price[0].entry_id == "preco-limpeza"
    assert price[0].title == "Limpeza de pele profunda"
    assert "R$ 180" in price[0].text
    assert [s.score for s in price] == sorted((s.score for s in price), reverse=True)
    assert all(0.28 <= s.score <= 1 for s in price)
    assert [s.entry_id for s in parking] == ["estacionamento"]
    assert unknown == []
    assert criolipolise == []
    everything = retrieve(db, tenant, ["qual o preço da criolipólise?"], OFFLINE, min_score=0.0)
    assert 0 < len(everything) <= 3  # found below the threshold, so dropped above


def test_a_greeting_in_the_same_burst_does_not_hide_the_question(
    db: firestore.Client, tenant: str
) -> None:
    clinic(db, tenant)

    alone = retrieve(db, tenant, ["aceitam pix?"], OFFLINE)
    burst = retrieve(db, tenant, ["Oi, boa tarde!", "aceitam pix?", "aceitam pix?", " "], OFFLINE)

    assert burst == alone
    assert burst[0].entry_id == "pagamento"


def test_the_best_chunk_of_each_entry_comes_before_second_chunks(
    db: firestore.Client, tenant: str
) -> None:
    laser = "\n\n".join(
        f"Depilação a laser na região {n}: sessão de laser com preço especial de R$ {100 + n}. "
        + "Texto complementar sobre a depilação a laser. " * 12
        for n in range(4)
    )
    save_entry(db, tenant, entry("laser-longo", laser, title="Depilação a laser"), OFFLINE)
    save_entry(db, tenant, entry("laser-curto", "Depilação a laser: axilas R$ 120."), OFFLINE)

    found = retrieve(db, tenant, ["depilação a laser preço"], OFFLINE, limit=3)

    assert get_entry(db, tenant, "laser-longo").chunk_count >= 3  # type: ignore[union-attr]
    assert {found[0].entry_id, found[1].entry_id} == {"laser-longo", "laser-curto"}
    assert found[2].entry_id == "laser-longo"
    assert len({s.chunk_id for s in found}) == 3


def test_replacing_an_entry_replaces_its_chunks_and_keeps_the_counts_right(
    db: firestore.Client, tenant: str
) -> None:
    long_text = "\n\n".join(
        f"Parágrafo {n}: " + "política de troca e garantia. " * 20 for n in range(6)
    )
    first = save_entry(db, tenant, entry("politica", long_text), OFFLINE)
    save_entry(db, tenant, entry("outra", "Horário: 9h às 19h."), OFFLINE)
    assert first.chunk_count > 2
    assert knowledge_status(db, tenant).chunk_count == first.chunk_count + 1

    second = save_entry(
        db, tenant, entry("politica", "Troca em até 7 dias com nota fiscal."), OFFLINE
    )

    assert second.chunk_count == 1
    assert sorted(chunks(db, tenant)) == ["outra-0", "politica-0"]
    assert chunks(db, tenant)["politica-0"]["text"] == "Troca em até 7 dias com nota fiscal."
    status = knowledge_status(db, tenant)
    assert (status.entry_count, status.chunk_count) == (2, 2)
    assert retrieve(db, tenant, ["troca com nota fiscal"], OFFLINE)[0].entry_id == "politica"


def test_deleting_an_entry_removes_it_and_its_chunks_from_retrieval(
    db: firestore.Client, tenant: str
) -> None:
    clinic(db, tenant)
    before = knowledge_status(db, tenant)
    assert retrieve(db, tenant, ["tem estacionamento?"], OFFLINE)[0].entry_id == "estacionamento"

    assert delete_entry(db, tenant, "estacionamento") is True
    assert delete_entry(db, tenant, "estacionamento") is False

    assert get_entry(db, tenant, "estacionamento") is None
    assert not any(c["entry_id"] == "estacionamento" for c in chunks(db, tenant).values())
    assert all(
        s.entry_id != "estacionamento"
        for s in retrieve(db, tenant, ["tem estacionamento?"], OFFLINE)
    )
    after = knowledge_status(db, tenant)
    assert (after.entry_count, after.chunk_count) == (
        before.entry_count - 1,
        before.chunk_count - 1,
    )
    assert "estacionamento" not in {e.entry_id for e in list_entries(db, tenant)}


def test_list_entries_is_newest_first(db: firestore.Client, tenant: str) -> None:
    old = entry("velha", "Texto antigo.").model_copy(
        update={"updated_at": datetime(2025, 1, 1, tzinfo=UTC)}
    )
    save_entry(db, tenant, old, OFFLINE)
    save_entry(db, tenant, entry("nova", "Texto novo."), OFFLINE)

    assert [e.entry_id for e in list_entries(db, tenant)] == ["nova", "velha"]


def test_one_tenant_never_retrieves_anothers_knowledge(db: firestore.Client, tenant: str) -> None:
    other = f"{tenant}-b"
    save_entry(db, tenant, entry("preco", "Limpeza de pele: R$ 180."), OFFLINE)

    assert retrieve(db, other, ["quanto custa a limpeza de pele?"], OFFLINE) == []
    assert knowledge_status(db, other).empty
    assert [
        s.entry_id for s in retrieve(db, tenant, ["quanto custa a limpeza de pele?"], OFFLINE)
    ] == ["preco"]


def test_vectors_of_another_model_are_never_compared_until_reembedded(
    db: firestore.Client, tenant: str
) -> None:
    other_tenant = f"{tenant}-b"
    save_entry(db, tenant, entry("preco", "Limpeza de pele: R$ 180."), OFFLINE)
    save_entry(db, tenant, entry("horario", "Horário: 9h às 19h."), OFFLINE)
    save_entry(db, other_tenant, entry("preco", "Peeling: R$ 250."), OFFLINE)
    other = OtherModel()
    question = ["quanto custa a limpeza de pele?"]

    assert retrieve(db, tenant, question, other, min_score=0.0) == []

    reports = reembed(db, tenant, other)

    assert [(r.tenant_id, r.entries, r.chunks) for r in reports] == [(tenant, 2, 2)]
    assert {c["embedding_model"] for c in chunks(db, tenant).values()} == {"other-model-v1"}
    assert retrieve(db, tenant, question, other)[0].entry_id == "preco"
    assert retrieve(db, tenant, question, OFFLINE, min_score=0.0) == []
    assert knowledge_status(db, tenant).embedding_model == "other-model-v1"
    assert knowledge_status(db, tenant).chunk_count == 2
    assert reembed(db, tenant, other)[0].entries == 0  # nothing left to move
    # the other tenant was not touched; reembedding everyone moves it too
    assert {c["embedding_model"] for c in chunks(db, other_tenant).values()} == {"offline-ngram-v1"}
    everyone = {r.tenant_id: r.entries for r in reembed(db, None, other)}
    assert everyone[other_tenant] == 1
    assert everyone[tenant] == 0


def test_too_much_text_for_one_entry_is_refused_and_nothing_is_written(
    db: firestore.Client, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "MAX_CHUNKS_PER_ENTRY", 3)
    text = "\n\n".join("Parágrafo longo de política. " * 25 for _ in range(5))

    with pytest.raises(KnowledgeTooLarge, match="one entry may have 3"):
        save_entry(db, tenant, entry("grande", text), OFFLINE)

    assert get_entry(db, tenant, "grande") is None
    assert chunks(db, tenant) == {}
    assert knowledge_status(db, tenant).empty


def test_the_largest_entry_replaced_by_another_fits_in_one_batch(
    db: firestore.Client, tenant: str
) -> None:
    """200 new chunks, 200 old ones deleted, the entry and the summary: one commit."""
    paragraph = "Regra número {n} do regulamento interno da clínica. " * 14
    text = "\n\n".join(paragraph.format(n=n) for n in range(store.MAX_CHUNKS_PER_ENTRY))
    first = save_entry(db, tenant, entry("regulamento", text), OFFLINE)
    assert first.chunk_count == store.MAX_CHUNKS_PER_ENTRY

    second = save_entry(db, tenant, entry("regulamento", text.replace("Regra", "Norma")), OFFLINE)

    assert second.chunk_count == store.MAX_CHUNKS_PER_ENTRY
    assert knowledge_status(db, tenant).chunk_count == store.MAX_CHUNKS_PER_ENTRY
    assert all(c["text"].startswith("Norma") for c in chunks(db, tenant).values())
