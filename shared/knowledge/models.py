"""A tenant's knowledge: the entries admins write or upload, and the snippets retrieval returns.

Firestore layout (``shared.knowledge.store``):

- ``tenants/{t}/knowledge/{entry_id}``: a ``KnowledgeEntry`` (no vectors; an uploaded file's
  bytes are never stored, only the text extracted from it).
- ``tenants/{t}/knowledge_chunks/{entry_id}-{n}``: one chunk of the entry's ``content`` with its
  embedding (the ``knowledge_chunks`` collection group has the vector index).
- ``tenants/{t}/settings/knowledge``: counts and the embedding model, so a turn can skip
  retrieval for a tenant without knowledge in one cheap read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KnowledgeKind = Literal["qa", "fact", "price_list", "policy", "file"]
KnowledgeSource = Literal["manual", "upload", "learned"]


def qa_content(question: str, answer: str) -> str:
    """Return the text a question/answer entry is chunked and embedded from."""
    return f"Pergunta: {question.strip()}\nResposta: {answer.strip()}"


class KnowledgeEntry(BaseModel):
    """One piece of a tenant's knowledge: a Q&A, a fact, a price list, a policy or a file."""

    model_config = ConfigDict(extra="ignore")

    entry_id: str = Field(min_length=1, max_length=200)
    kind: KnowledgeKind
    title: str
    question: str | None = None
    answer: str | None = None
    content: str
    """The text that is chunked and embedded (for ``qa``: built from question and answer)."""
    source: KnowledgeSource = "manual"
    filename: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    chunk_count: int = 0
    embedding_model: str | None = None
    created_at: datetime
    updated_at: datetime
    created_by_email: str | None = None


class KnowledgeSnippet(BaseModel):
    """A chunk retrieval found relevant to what the lead wrote."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    chunk_id: str
    kind: KnowledgeKind
    title: str
    text: str
    score: float
    """Cosine similarity between the query and the chunk, 0..1 (higher is closer)."""


class KnowledgeStatus(BaseModel):
    """The tenant's knowledge at a glance (``tenants/{t}/settings/knowledge``)."""

    entry_count: int = 0
    chunk_count: int = 0
    embedding_model: str | None = None

    @property
    def empty(self) -> bool:
        """Return whether there is nothing to retrieve (the turn skips retrieval)."""
        return self.chunk_count <= 0
