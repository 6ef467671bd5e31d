"""Knowledge learned from handoffs, as admins review it (``shared.knowledge.proposals``).

A proposal is a lead's question the agent could not answer and what a seller answered. Approving
it (with the question, answer or title edited if need be) saves a learned question/answer
knowledge entry; from then on retrieval finds it and the agent answers that question, or a
paraphrase of it, without a handoff. Rejecting it keeps it out of the knowledge.
"""

from __future__ import annotations

from typing import Any

from google.cloud import firestore
from pydantic import BaseModel, Field

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import conflict, contended, invalid, not_found
from shared.admin.http import Request
from shared.admin.schemas import Strict
from shared.knowledge.models import KnowledgeEntry, qa_content
from shared.knowledge.proposals import (
    ANSWERABLE,
    KnowledgeProposal,
    ProposalStatus,
    proposal_ref,
)
from shared.knowledge.store import save_entry
from shared.store.conversations import tenant_ref

MAX_LISTED = 200


class ProposalQuery(Strict):
    status: ProposalStatus | None = None


class ProposalList(BaseModel):
    proposals: list[KnowledgeProposal]


class ProposalApprove(Strict):
    question: str | None = Field(default=None, min_length=3, max_length=1_000)
    answer: str | None = Field(default=None, min_length=1, max_length=4_000)
    title: str | None = Field(default=None, min_length=1, max_length=200)


class ProposalReject(Strict):
    pass


class ProposalApproved(BaseModel):
    proposal: KnowledgeProposal
    entry: KnowledgeEntry


def list_proposals(request: Request, tenant_id: str) -> ProposalList:
    """Return the tenant's proposals, newest first (one status, or all)."""
    query: ProposalQuery = request.query
    collection: Any = tenant_ref(request.services.firestore, tenant_id).collection(
        "knowledge_proposals"
    )
    if query.status is not None:
        collection = collection.where(filter=firestore.FieldFilter("status", "==", query.status))
    found = [
        KnowledgeProposal.model_validate(s.to_dict()) for s in collection.limit(MAX_LISTED).stream()
    ]
    found.sort(key=lambda proposal: proposal.created_at, reverse=True)
    return ProposalList(proposals=found)


def approve_proposal(request: Request, tenant_id: str, proposal_id: str) -> ProposalApproved:
    """Save the proposal as a learned question/answer entry and mark it approved.

    The entry id is derived from the proposal, so a retried approval rewrites the same entry.
    """
    body: ProposalApprove = request.body
    client = request.services.firestore
    now = request.services.now()
    proposal = _proposal(client, tenant_id, proposal_id)
    _refuse_reviewed(proposal)
    question = body.question or proposal.question
    answer = body.answer or proposal.answer
    if not answer:
        raise invalid("answer", "no seller answered this question yet: write the answer")
    entry = KnowledgeEntry(
        entry_id=f"learned-{proposal_id}",
        kind="qa",
        title=body.title or _title(question),
        question=question,
        answer=answer,
        content=qa_content(question, answer),
        source="learned",
        created_at=now,
        updated_at=now,
        created_by_email=request.member.email,
    )
    stored = save_entry(client, tenant_id, entry, request.services.embedder)
    edited = {
        name: value
        for name, value in (("question", question), ("answer", answer))
        if value != getattr(proposal, name)
    }

    approved = _review(
        request,
        tenant_id,
        proposal_id,
        {**edited, "status": "approved", "entry_id": stored.entry_id},
        audited={"entry_id": stored.entry_id, "edited": sorted(edited)},
    )
    return ProposalApproved(proposal=approved, entry=stored)


def reject_proposal(request: Request, tenant_id: str, proposal_id: str) -> KnowledgeProposal:
    """Keep the proposal out of the knowledge."""
    return _review(request, tenant_id, proposal_id, {"status": "rejected"}, audited={})


def _review(
    request: Request,
    tenant_id: str,
    proposal_id: str,
    update: dict[str, Any],
    *,
    audited: dict[str, Any],
) -> KnowledgeProposal:
    """Record a review on a proposal still under review, with its audit entry, in a transaction."""
    client = request.services.firestore
    now = request.services.now()
    update = {**update, "reviewed_by_email": request.member.email, "reviewed_at": now}

    @firestore.transactional
    def review(transaction: Any) -> KnowledgeProposal:
        current = _proposal(client, tenant_id, proposal_id, transaction)
        _refuse_reviewed(current)
        transaction.update(proposal_ref(client, tenant_id, proposal_id), update)
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                request.member,
                f"knowledge.proposal.{'approve' if update['status'] == 'approved' else 'reject'}",
                f"knowledge_proposals/{proposal_id}",
                now,
                before={"status": current.status},
                after={"status": update["status"], **audited},
            ),
        )
        return current.model_copy(update=update)

    reviewed: KnowledgeProposal = contended(lambda: review(client.transaction()))
    return reviewed


def _proposal(
    client: Any, tenant_id: str, proposal_id: str, transaction: Any = None
) -> KnowledgeProposal:
    snapshot = proposal_ref(client, tenant_id, proposal_id).get(transaction=transaction)
    if not snapshot.exists:
        raise not_found("proposal")
    return KnowledgeProposal.model_validate(snapshot.to_dict())


def _refuse_reviewed(proposal: KnowledgeProposal) -> None:
    if proposal.status not in ANSWERABLE:
        raise conflict(f"this proposal was already {proposal.status}")


def _title(question: str) -> str:
    """Return an entry title from a question: its first words, at most 80 characters."""
    words = " ".join(question.split())
    return words if len(words) <= 80 else words[:77].rsplit(" ", 1)[0] + "…"
