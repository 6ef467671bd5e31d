"""The knowledge base as the console edits it: typed entries, uploaded files, and a test search.

Entries are stored by ``shared.knowledge.store`` (chunks with their embeddings); every change is
written in one batch with its audit entry. An uploaded file's bytes are never stored: its text
is extracted (``shared.knowledge.extract``), chunked and embedded, and only that text and the
file's name, type and size are kept. A file that cannot be read is a 422 naming why, and
nothing is written. Text that would take the workspace past its plan's knowledge quota (the
UTF-8 bytes of every entry's text) is refused with a 402 before anything is embedded.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from typing import Any

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, invalid, not_found
from shared.admin.http import Request, Response
from shared.admin.schemas import (
    KnowledgeEntryIn,
    KnowledgeEntryOut,
    KnowledgeFileIn,
    KnowledgeList,
    KnowledgeSearch,
    KnowledgeSearchResult,
    KnowledgeSearchResults,
)
from shared.billing.plans import load_catalogue
from shared.billing.stock import BYTES_PER_MB, require_room
from shared.knowledge.embeddings import Embedder, relevance_threshold
from shared.knowledge.extract import UnreadableDocument, UnsupportedDocument, extract_text
from shared.knowledge.models import KnowledgeEntry, qa_content
from shared.knowledge.store import (
    KnowledgeTooLarge,
    delete_entry,
    get_entry,
    list_entries,
    retrieve,
    save_entry,
    text_bytes,
)

logger = logging.getLogger("piloto.admin")

MAX_FILE_BYTES = 10 * 1024 * 1024
# base64 makes 3 bytes 4 characters; the rest of the JSON is small
FILE_BODY_BYTES = MAX_FILE_BYTES * 4 // 3 + 64 * 1024
MAX_FILE_TEXT_CHARS = 150_000
PREVIEW_CHARS = 2000
SEARCH_RESULTS = 5


def list_knowledge(request: Request, tenant_id: str) -> KnowledgeList:
    """Return the tenant's entries, most recently changed first, and who embeds them."""
    embedder: Embedder = request.services.embedder
    entries = list_entries(request.services.firestore, tenant_id)
    return KnowledgeList(
        entries=[_out(entry) for entry in entries],
        embedding_model=embedder.model_name,
        offline=embedder.offline,
    )


def create_entry(request: Request, tenant_id: str) -> Response:
    """Add a typed entry (question/answer, fact, price list or policy)."""
    body: KnowledgeEntryIn = request.body
    now = request.services.now()
    entry = KnowledgeEntry(
        entry_id=f"k-{secrets.token_hex(6)}",
        source="manual",
        created_at=now,
        updated_at=now,
        created_by_email=request.member.email,
        **_typed_fields(body),
    )
    _require_room(request, tenant_id, text_bytes(entry.content))
    stored = _save(request, tenant_id, entry, "knowledge.create", before=None)
    return Response(201, _out(stored).model_dump(mode="json"))


def update_entry(request: Request, tenant_id: str, entry_id: str) -> KnowledgeEntryOut:
    """Replace a typed entry's text (re-chunked and re-embedded); files are replaced by upload."""
    body: KnowledgeEntryIn = request.body
    client = request.services.firestore
    current = get_entry(client, tenant_id, entry_id)
    if current is None:
        raise not_found("entry")
    if current.kind == "file":
        raise invalid("kind", "a file's text cannot be edited; delete it and upload it again")
    entry = current.model_copy(update={"updated_at": request.services.now(), **_typed_fields(body)})
    _require_room(request, tenant_id, text_bytes(entry.content) - text_bytes(current.content))
    return _out(_save(request, tenant_id, entry, "knowledge.update", before=current))


def delete_knowledge(request: Request, tenant_id: str, entry_id: str) -> None:
    """Delete an entry and its chunks: the agent no longer finds it."""
    client = request.services.firestore
    current = get_entry(client, tenant_id, entry_id)
    if current is None:
        raise not_found("entry")
    now = request.services.now()
    batch = client.batch()
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "knowledge.delete",
            f"knowledge/{entry_id}",
            now,
            before=_audited(current),
        ),
    )
    if not delete_entry(client, tenant_id, entry_id, batch=batch):
        raise not_found("entry")
    batch.commit()


def upload_file(request: Request, tenant_id: str) -> Response:
    """Read a file's text into a new entry (kind file); the file itself is not kept."""
    body: KnowledgeFileIn = request.body
    try:
        data = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("content_base64", "is not valid base64") from None
    if len(data) > MAX_FILE_BYTES:
        raise ApiError(413, f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        text = extract_text(data, mime_type=body.mime_type, filename=body.filename)
    except UnsupportedDocument as error:
        raise invalid("mime_type", str(error)) from None
    except UnreadableDocument as error:
        raise invalid("content_base64", str(error)) from None
    if len(text) > MAX_FILE_TEXT_CHARS:
        raise invalid(
            "content_base64",
            f"the file has more than {MAX_FILE_TEXT_CHARS} characters of text; split it",
        )
    now = request.services.now()
    entry = KnowledgeEntry(
        entry_id=f"k-{secrets.token_hex(6)}",
        kind="file",
        title=body.title or body.filename,
        content=text,
        source="upload",
        filename=body.filename,
        mime_type=body.mime_type.split(";", 1)[0].strip().lower(),
        size_bytes=len(data),
        created_at=now,
        updated_at=now,
        created_by_email=request.member.email,
    )
    _require_room(request, tenant_id, text_bytes(entry.content))
    stored = _save(request, tenant_id, entry, "knowledge.upload", before=None)
    return Response(201, _out(stored).model_dump(mode="json"))


def search_knowledge(request: Request, tenant_id: str) -> KnowledgeSearchResults:
    """Return what the agent would retrieve for a question (nothing below the threshold)."""
    body: KnowledgeSearch = request.body
    embedder: Embedder = request.services.embedder
    try:
        snippets = retrieve(
            request.services.firestore, tenant_id, [body.query], embedder, limit=SEARCH_RESULTS
        )
    except Exception:  # the embedding service or the vector search: the caller may try again
        logger.exception("knowledge search failed")
        raise ApiError(503, "the knowledge search is unavailable; try again") from None
    return KnowledgeSearchResults(
        results=[
            KnowledgeSearchResult(
                entry_id=snippet.entry_id,
                title=snippet.title,
                kind=snippet.kind,
                text=snippet.text,
                score=snippet.score,
            )
            for snippet in snippets
        ],
        min_score=relevance_threshold(embedder),
        embedding_model=embedder.model_name,
    )


def _typed_fields(body: KnowledgeEntryIn) -> dict[str, Any]:
    """Return the entry fields of a typed body, or refuse it naming the missing field."""
    if body.kind == "qa":
        for name in ("question", "answer"):
            if getattr(body, name) is None:
                raise invalid(name, "is required for a qa entry")
        if body.content is not None:
            raise invalid("content", "a qa entry is its question and answer; leave content out")
        assert body.question is not None and body.answer is not None
        return {
            "kind": "qa",
            "title": body.title,
            "question": body.question,
            "answer": body.answer,
            "content": qa_content(body.question, body.answer),
        }
    if body.content is None:
        raise invalid("content", f"is required for a {body.kind} entry")
    for name in ("question", "answer"):
        if getattr(body, name) is not None:
            raise invalid(name, "only qa entries have a question and an answer")
    return {
        "kind": body.kind,
        "title": body.title,
        "question": None,
        "answer": None,
        "content": body.content,
    }


def _require_room(request: Request, tenant_id: str, adding_bytes: int) -> None:
    """Refuse (402) text that takes the workspace past its plan's knowledge quota."""
    if adding_bytes > 0:
        catalogue = load_catalogue(request.services.settings.plans_file)
        require_room(
            request.services.firestore,
            tenant_id,
            "knowledge_mb",
            adding_bytes / BYTES_PER_MB,
            catalogue=catalogue,
        )


def _save(
    request: Request,
    tenant_id: str,
    entry: KnowledgeEntry,
    action: str,
    *,
    before: KnowledgeEntry | None,
) -> KnowledgeEntry:
    """Embed and store the entry with its audit entry in one batch (a 4xx/503 writes nothing)."""
    client = request.services.firestore
    now = request.services.now()
    batch = client.batch()
    try:
        stored = save_entry(client, tenant_id, entry, request.services.embedder, batch=batch)
    except KnowledgeTooLarge as error:
        raise invalid("content_base64" if entry.kind == "file" else "content", str(error)) from None
    except Exception:  # the embedding service or a read: nothing was written
        logger.exception("saving knowledge failed")
        raise ApiError(503, "the entry could not be embedded and saved; try again") from None
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            action,
            f"knowledge/{entry.entry_id}",
            now,
            before=_audited(before) if before else None,
            after=_audited(stored),
        ),
    )
    batch.commit()
    return stored


def _audited(entry: KnowledgeEntry) -> dict[str, Any]:
    """Return what the audit log keeps of an entry (a file's text is not copied there)."""
    kept = entry.model_dump(
        mode="python",
        include={"kind", "title", "question", "answer", "content", "source", "filename"},
    )
    if entry.kind == "file":
        kept.pop("content")
        kept |= {"mime_type": entry.mime_type, "size_bytes": entry.size_bytes}
    kept["chunk_count"] = entry.chunk_count
    return kept


def _out(entry: KnowledgeEntry) -> KnowledgeEntryOut:
    content = entry.content
    if entry.kind == "file" and len(content) > PREVIEW_CHARS:
        content = content[:PREVIEW_CHARS]
    return KnowledgeEntryOut(
        **entry.model_dump(exclude={"content"}),
        content=content,
        content_chars=len(entry.content),
    )
