"""A tenant's knowledge in Firestore: save (chunk, embed, write), list, delete, retrieve, re-embed.

- ``tenants/{t}/knowledge/{entry_id}``: the entry (``KnowledgeEntry``), without vectors.
- ``tenants/{t}/knowledge_chunks/{entry_id}-{n}``: ``{entry_id, kind, title, text, position,
  embedding (Vector), embedding_model}``; the collection group has a vector index on
  ``embedding`` after an equality on ``embedding_model`` (terraform/modules/piloto/firestore.tf).
- ``tenants/{t}/settings/knowledge``: ``{entry_count, chunk_count, content_bytes,
  embedding_model, updated_at}``, written in the same batch as every change, so a turn learns
  with one read whether the tenant has anything to retrieve (``knowledge_status``) and the plan's
  knowledge quota is one read (``content_bytes``: the UTF-8 bytes of the entries' text; a tenant
  whose knowledge predates it gets it summed from its entries on its next change).

Retrieval asks Firestore for the nearest chunks by cosine distance among those embedded by the
same model as the question (vectors of two models are not comparable), drops those below the
model's relevance threshold (``shared.knowledge.embeddings.relevance_threshold``) and returns
the best few as ``KnowledgeSnippet``. An unrelated question therefore retrieves nothing, which is
how the agent knows it must hand off instead of answering.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.base_vector_query import DistanceMeasure
from google.cloud.firestore_v1.vector import Vector

from shared.knowledge.chunking import chunk_text
from shared.knowledge.embeddings import Embedder, relevance_threshold
from shared.knowledge.models import KnowledgeEntry, KnowledgeSnippet, KnowledgeStatus
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.knowledge")

ENTRIES = "knowledge"
CHUNKS = "knowledge_chunks"
MAX_CHUNKS_PER_ENTRY = 200  # with the old chunks' deletes, one batch stays under 500 writes
MAX_QUERY_TEXTS = 3
MAX_QUERY_CHARS = 2000
DISTANCE_FIELD = "vector_distance"
_CHUNK_FIELDS = ["entry_id", "kind", "title", "text", "position", "embedding_model"]


class KnowledgeTooLarge(ValueError):
    """The entry's text makes more chunks than one entry may have."""


def entries_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/knowledge``."""
    return tenant_ref(client, tenant_id).collection(ENTRIES)


def chunks_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/knowledge_chunks``."""
    return tenant_ref(client, tenant_id).collection(CHUNKS)


def status_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/settings/knowledge``, the counts a turn checks first."""
    return tenant_ref(client, tenant_id).collection("settings").document("knowledge")


def chunk_id(entry_id: str, position: int) -> str:
    """Return the id of an entry's chunk at ``position``."""
    return f"{entry_id}-{position}"


def embedding_text(title: str, text: str) -> str:
    """Return what is embedded for a chunk: its entry's title gives a cut chunk its subject."""
    return f"{title}\n{text}" if title else text


def save_entry(
    client: Any,
    tenant_id: str,
    entry: KnowledgeEntry,
    embedder: Embedder,
    *,
    batch: Any = None,
) -> KnowledgeEntry:
    """Chunk, embed and store an entry (new or replaced) with its chunks, in one batch.

    The entry's previous chunks are deleted in the same batch; the stored entry is returned
    with its chunk count and embedding model. With ``batch``, the writes are added to it and
    the caller commits (with an audit entry, say). Raises KnowledgeTooLarge past
    ``MAX_CHUNKS_PER_ENTRY`` chunks (nothing is written).
    """
    chunks = chunk_text(entry.content)
    if len(chunks) > MAX_CHUNKS_PER_ENTRY:
        raise KnowledgeTooLarge(
            f"the text makes {len(chunks)} chunks; one entry may have {MAX_CHUNKS_PER_ENTRY}"
        )
    vectors = embedder.embed_documents([embedding_text(entry.title, c) for c in chunks])
    if len(vectors) != len(chunks):
        raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(chunks)}")
    stored = entry.model_copy(
        update={"chunk_count": len(chunks), "embedding_model": embedder.model_name}
    )
    entry_document = entries_ref(client, tenant_id).document(entry.entry_id)
    previous = entry_document.get()
    content_bytes = _content_bytes_after(
        client, tenant_id, entry.entry_id, _text_bytes(previous), text_bytes(entry.content)
    )
    old_chunks = _chunk_ids(client, tenant_id, entry.entry_id)
    new_chunks = [chunk_id(entry.entry_id, position) for position in range(len(chunks))]

    own_batch = batch is None
    batch = client.batch() if own_batch else batch
    batch.set(entry_document, stored.model_dump(mode="python"))
    for position, (text, vector) in enumerate(zip(chunks, vectors, strict=True)):
        batch.set(
            chunks_ref(client, tenant_id).document(new_chunks[position]),
            {
                "entry_id": entry.entry_id,
                "kind": entry.kind,
                "title": entry.title,
                "text": text,
                "position": position,
                "embedding": Vector(vector),
                "embedding_model": embedder.model_name,
            },
        )
    for stale in sorted(set(old_chunks) - set(new_chunks)):
        batch.delete(chunks_ref(client, tenant_id).document(stale))
    batch.set(
        status_ref(client, tenant_id),
        {
            "entry_count": firestore.Increment(0 if previous.exists else 1),
            "chunk_count": firestore.Increment(len(new_chunks) - len(old_chunks)),
            "content_bytes": content_bytes,
            "embedding_model": embedder.model_name,
            "updated_at": stored.updated_at,
        },
        merge=True,
    )
    if own_batch:
        batch.commit()
    return stored


def delete_entry(client: Any, tenant_id: str, entry_id: str, *, batch: Any = None) -> bool:
    """Delete an entry and its chunks; return whether it existed.

    With ``batch``, the deletes are added to it (the caller commits, e.g. with an audit entry).
    """
    document = entries_ref(client, tenant_id).document(entry_id)
    snapshot = document.get()
    if not snapshot.exists:
        return False
    content_bytes = _content_bytes_after(client, tenant_id, entry_id, _text_bytes(snapshot), 0)
    old_chunks = _chunk_ids(client, tenant_id, entry_id)
    own_batch = batch is None
    batch = client.batch() if own_batch else batch
    batch.delete(document)
    for stale in old_chunks:
        batch.delete(chunks_ref(client, tenant_id).document(stale))
    batch.set(
        status_ref(client, tenant_id),
        {
            "entry_count": firestore.Increment(-1),
            "chunk_count": firestore.Increment(-len(old_chunks)),
            "content_bytes": content_bytes,
            "updated_at": datetime.now(UTC),
        },
        merge=True,
    )
    if own_batch:
        batch.commit()
    return True


def text_bytes(text: str) -> int:
    """Return the UTF-8 size of an entry's text (what the plan's knowledge quota counts)."""
    return len(text.encode("utf-8"))


def entries_bytes(client: Any, tenant_id: str, *, besides: str | None = None) -> int:
    """Return the UTF-8 bytes of every entry's text (but ``besides``), reading the entries."""
    total = 0
    for snapshot in entries_ref(client, tenant_id).select(["content"]).stream():
        if snapshot.id != besides:
            total += text_bytes(str((snapshot.to_dict() or {}).get("content") or ""))
    return total


def _text_bytes(snapshot: Any) -> int:
    """Return the text bytes of a stored entry (0 when it does not exist)."""
    if not snapshot.exists:
        return 0
    return text_bytes(str((snapshot.to_dict() or {}).get("content") or ""))


def _content_bytes_after(
    client: Any, tenant_id: str, entry_id: str, old_bytes: int, new_bytes: int
) -> Any:
    """Return the ``content_bytes`` write of a change: an increment, or the sum of the entries
    when the running total is not there yet (knowledge stored before it was kept)."""
    status = status_ref(client, tenant_id).get()
    if status.exists and isinstance((status.to_dict() or {}).get("content_bytes"), int):
        return firestore.Increment(new_bytes - old_bytes)
    return entries_bytes(client, tenant_id, besides=entry_id) + new_bytes


def get_entry(client: Any, tenant_id: str, entry_id: str) -> KnowledgeEntry | None:
    """Return one entry, or None."""
    snapshot = entries_ref(client, tenant_id).document(entry_id).get()
    if not snapshot.exists:
        return None
    return KnowledgeEntry.model_validate(snapshot.to_dict() or {})


def list_entries(client: Any, tenant_id: str) -> list[KnowledgeEntry]:
    """Return every entry of the tenant, most recently changed first."""
    entries = [
        KnowledgeEntry.model_validate(snapshot.to_dict() or {})
        for snapshot in entries_ref(client, tenant_id).stream()
    ]
    return sorted(entries, key=lambda entry: (entry.updated_at, entry.entry_id), reverse=True)


def knowledge_status(client: Any, tenant_id: str) -> KnowledgeStatus:
    """Return the tenant's entry and chunk counts (zero when it never had knowledge)."""
    snapshot = status_ref(client, tenant_id).get()
    return KnowledgeStatus.model_validate(snapshot.to_dict() or {} if snapshot.exists else {})


def retrieve(
    client: Any,
    tenant_id: str,
    texts: Sequence[str],
    embedder: Embedder,
    *,
    limit: int = 3,
    min_score: float | None = None,
) -> list[KnowledgeSnippet]:
    """Return the chunks most similar to what the lead wrote, best first, above the threshold.

    Each of the last ``MAX_QUERY_TEXTS`` distinct texts is embedded and looked up on its own (a
    greeting in the same burst does not dilute the question); a chunk's score is its best
    similarity to any of them. Entries are spread first: the best chunk of each entry, then
    second chunks, until ``limit``. ``min_score`` defaults to the model's calibrated threshold.
    """
    queries = _query_texts(texts)
    if not queries or limit <= 0:
        return []
    threshold = relevance_threshold(embedder) if min_score is None else min_score
    best: dict[str, KnowledgeSnippet] = {}
    for query in queries:
        for snippet in _nearest(client, tenant_id, embedder, query, limit * 2, threshold):
            known = best.get(snippet.chunk_id)
            if known is None or snippet.score > known.score:
                best[snippet.chunk_id] = snippet
    ranked = sorted(best.values(), key=lambda snippet: (-snippet.score, snippet.chunk_id))
    firsts: list[KnowledgeSnippet] = []
    rest: list[KnowledgeSnippet] = []
    seen: set[str] = set()
    for snippet in ranked:
        (rest if snippet.entry_id in seen else firsts).append(snippet)
        seen.add(snippet.entry_id)
    return (firsts + rest)[:limit]


def _query_texts(texts: Sequence[str]) -> list[str]:
    distinct: list[str] = []
    for text in texts:
        cleaned = " ".join(str(text).split())[:MAX_QUERY_CHARS]
        if cleaned and cleaned not in distinct:
            distinct.append(cleaned)
    return distinct[-MAX_QUERY_TEXTS:]


def _nearest(
    client: Any, tenant_id: str, embedder: Embedder, query: str, limit: int, threshold: float
) -> list[KnowledgeSnippet]:
    vector = embedder.embed_query(query)
    nearest = (
        chunks_ref(client, tenant_id)
        .select([*_CHUNK_FIELDS, DISTANCE_FIELD])
        .where(filter=FieldFilter("embedding_model", "==", embedder.model_name))
        .find_nearest(
            vector_field="embedding",
            query_vector=Vector(vector),
            distance_measure=DistanceMeasure.COSINE,
            limit=limit,
            distance_result_field=DISTANCE_FIELD,
            distance_threshold=1.0 - threshold,
        )
    )
    snippets = []
    for snapshot in nearest.get():
        chunk = snapshot.to_dict() or {}
        score = max(0.0, min(1.0, 1.0 - float(chunk.get(DISTANCE_FIELD, 2.0))))
        if score < threshold:
            continue
        snippets.append(
            KnowledgeSnippet(
                entry_id=chunk["entry_id"],
                chunk_id=snapshot.id,
                kind=chunk["kind"],
                title=chunk.get("title", ""),
                text=chunk.get("text", ""),
                score=round(score, 4),
            )
        )
    return snippets


def _chunk_ids(client: Any, tenant_id: str, entry_id: str) -> list[str]:
    query = (
        chunks_ref(client, tenant_id)
        .where(filter=FieldFilter("entry_id", "==", entry_id))
        .select(["position"])
    )
    return [snapshot.id for snapshot in query.stream()]


@dataclass
class ReembedReport:
    """What ``reembed`` did in one tenant."""

    tenant_id: str
    entries: int = 0
    chunks: int = 0


def reembed(client: Any, tenant_id: str | None, embedder: Embedder) -> list[ReembedReport]:
    """Re-embed every entry with a chunk of another model (one tenant, or all of them)."""
    tenant_ids = (
        [tenant_id]
        if tenant_id
        else [document.id for document in client.collection("tenants").list_documents()]
    )
    reports = []
    for tenant in tenant_ids:
        report = ReembedReport(tenant)
        stale_entries: set[str] = set()
        for snapshot in chunks_ref(client, tenant).select(["entry_id", "embedding_model"]).stream():
            chunk = snapshot.to_dict() or {}
            if chunk.get("embedding_model") != embedder.model_name:
                stale_entries.add(str(chunk.get("entry_id")))
        for entry_id in sorted(stale_entries):
            entry = get_entry(client, tenant, entry_id)
            if entry is None:  # chunks left by an entry deleted meanwhile
                continue
            saved = save_entry(client, tenant, entry, embedder)
            report.entries += 1
            report.chunks += saved.chunk_count
            logger.info("re-embedded %s/%s with %s", tenant, entry_id, embedder.model_name)
        reports.append(report)
    return reports
