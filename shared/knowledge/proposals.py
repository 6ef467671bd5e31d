"""Learning from handoffs: a knowledge gap's question, the seller's answer, an admin's review.

When the agent hands off because no source answers the lead (``Reason.KNOWLEDGE_GAP``), the turn
stores the lead's question as a proposal in the same batch as its decision, and points the
conversation at it (``Conversation.open_question_id``). What a seller writes to the lead next, in
the console or from the business phone, becomes the proposed answer (later messages are
appended until someone reviews it). An owner or admin then approves it, possibly edited, which
saves a learned question/answer knowledge entry, or rejects it.

``tenants/{t}/knowledge_proposals/{decision_id}``: a ``KnowledgeProposal``;
status ``open`` → ``proposed`` → ``approved`` | ``rejected``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.models.conversation import Conversation
from shared.models.decision import Decision
from shared.store.conversations import tenant_ref

ProposalStatus = Literal["open", "proposed", "approved", "rejected"]
MAX_ANSWER_CHARS = 2_000
ANSWERABLE: frozenset[str] = frozenset({"open", "proposed"})


class KnowledgeProposal(BaseModel):
    """An open question from a knowledge-gap handoff and the answer a seller gave to it."""

    model_config = ConfigDict(extra="ignore")

    proposal_id: str
    conversation_id: str
    decision_id: str
    question: str
    answer: str | None = None
    status: ProposalStatus = "open"
    answered_by_email: str | None = None
    answered_at: AwareDatetime | None = None
    created_at: AwareDatetime
    reviewed_by_email: str | None = None
    reviewed_at: AwareDatetime | None = None
    entry_id: str | None = None


def proposal_ref(client: Any, tenant_id: str, proposal_id: str) -> Any:
    """Return the proposal's document."""
    return tenant_ref(client, tenant_id).collection("knowledge_proposals").document(proposal_id)


def open_proposal(conversation: Conversation, decision: Decision) -> KnowledgeProposal | None:
    """Return the proposal a knowledge-gap decision opens, or None for any other decision."""
    if not decision.open_question:
        return None
    return KnowledgeProposal(
        proposal_id=decision.decision_id,
        conversation_id=conversation.conversation_id,
        decision_id=decision.decision_id,
        question=decision.open_question,
        created_at=decision.decided_at,
    )


def seller_answer(
    record: dict[str, Any] | None, text: str, *, by_email: str | None, at: datetime
) -> dict[str, Any] | None:
    """Return the update that adds a seller's message to a proposal's answer, or None.

    Only an open or proposed proposal takes answers; the first message sets who answered.
    """
    if not record or record.get("status") not in ANSWERABLE or not text.strip():
        return None
    answer = "\n".join(part for part in (record.get("answer"), text.strip()) if part)
    update: dict[str, Any] = {"status": "proposed", "answer": answer[:MAX_ANSWER_CHARS]}
    if record.get("status") == "open":
        update |= {"answered_by_email": by_email, "answered_at": at}
    return update
