// A question the agent could not answer and the seller's answer: approve, edit then approve, or reject.
import { useState } from 'react';
import { Link } from 'react-router-dom';
import type { KnowledgeProposal, ProposalApproval } from '../api/types';
import { dateTime } from '../i18n/format';
import { proposalStatusNames, t } from '../i18n/pt-BR';

export interface ProposalActions {
  onApprove: (proposalId: string, edits: ProposalApproval) => Promise<unknown>;
  onReject: (proposalId: string) => Promise<unknown>;
}

/** A title for the entry the proposal becomes: the question, cut at a word near 80 characters. */
export function defaultTitle(question: string): string {
  const text = question.trim().replace(/\s+/g, ' ');
  if (text.length <= 80) return text;
  const cut = text.slice(0, 80);
  return `${cut.slice(0, cut.lastIndexOf(' ') > 40 ? cut.lastIndexOf(' ') : 80)}…`;
}

/** Only what the reviewer changed goes in the approval body. */
export function approvalEdits(proposal: KnowledgeProposal, edited: { title: string; question: string; answer: string }): ProposalApproval {
  const edits: ProposalApproval = {};
  if (edited.question.trim() && edited.question.trim() !== proposal.question.trim()) edits.question = edited.question.trim();
  if (edited.answer.trim() && edited.answer.trim() !== (proposal.answer ?? '').trim()) edits.answer = edited.answer.trim();
  if (edited.title.trim() && edited.title.trim() !== defaultTitle(proposal.question)) edits.title = edited.title.trim();
  return edits;
}

export function ProposalCard({ proposal, canReview, onApprove, onReject }: { proposal: KnowledgeProposal; canReview: boolean } & ProposalActions) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(() => ({
    title: defaultTitle(proposal.question),
    question: proposal.question,
    answer: proposal.answer ?? '',
  }));
  const [busy, setBusy] = useState(false);
  const reviewable = canReview && proposal.status === 'proposed';

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    try {
      await action();
      setEditing(false);
    } catch {
      // The page shows the error; the card stays as it was.
    } finally {
      setBusy(false);
    }
  }

  return (
    <article
      className={`card proposal proposal-${proposal.status}`}
      aria-label={proposal.question}
      data-testid="proposal"
      data-proposal-id={proposal.proposal_id}
      data-status={proposal.status}
      data-conversation-id={proposal.conversation_id}
    >
      <header className="proposal-header">
        <span className={`badge proposal-status-${proposal.status}`}>{proposalStatusNames[proposal.status]}</span>
        <span className="muted small">{t.knowledge.askedAt(dateTime(proposal.created_at))}</span>
        <Link to={`/conversas/${encodeURIComponent(proposal.conversation_id)}`} className="small" data-testid="proposal-conversation">
          {t.knowledge.openConversation}
        </Link>
      </header>
      {editing ? (
        <div className="settings-form proposal-edit">
          <label>
            {t.knowledge.entryTitle}
            <input value={draft.title} maxLength={200} onChange={(event) => setDraft({ ...draft, title: event.target.value })} data-testid="proposal-title" />
          </label>
          <label>
            {t.knowledge.question}
            <textarea rows={2} maxLength={1000} value={draft.question} onChange={(event) => setDraft({ ...draft, question: event.target.value })} data-testid="proposal-question" />
          </label>
          <label>
            {t.knowledge.answer}
            <textarea rows={4} maxLength={4000} value={draft.answer} onChange={(event) => setDraft({ ...draft, answer: event.target.value })} data-testid="proposal-answer" />
          </label>
        </div>
      ) : (
        <dl className="knowledge-qa">
          <dt>{t.knowledge.question}</dt>
          <dd data-testid="proposal-question-text">{proposal.question}</dd>
          <dt>{t.knowledge.answer}</dt>
          <dd data-testid="proposal-answer-text">{proposal.answer ?? <span className="muted">{t.knowledge.waitingAnswer}</span>}</dd>
        </dl>
      )}
      {proposal.answered_at ? (
        <div className="muted small">{t.knowledge.answeredBy(proposal.answered_by_email, dateTime(proposal.answered_at))}</div>
      ) : null}
      {proposal.reviewed_at ? (
        <div className="muted small" data-testid="proposal-reviewed">
          {t.knowledge.reviewedBy(proposal.reviewed_by_email ?? null, dateTime(proposal.reviewed_at))}
        </div>
      ) : null}
      {proposal.status === 'approved' ? (
        <div className="ok small" data-testid="proposal-entry" data-entry-id={proposal.entry_id ?? ''}>
          {t.knowledge.approved}
        </div>
      ) : null}
      {reviewable ? (
        <div className="suggestion-actions">
          {editing ? (
            <>
              <button
                type="button"
                className="primary"
                disabled={busy || !draft.question.trim() || !draft.answer.trim()}
                onClick={() => void run(() => onApprove(proposal.proposal_id, approvalEdits(proposal, draft)))}
                data-testid="proposal-approve-edited"
              >
                {t.knowledge.approveEdited}
              </button>
              <button type="button" disabled={busy} onClick={() => setEditing(false)} data-testid="proposal-edit-cancel">
                {t.cancel}
              </button>
            </>
          ) : (
            <>
              <button
                type="button"
                className="primary"
                disabled={busy}
                onClick={() => void run(() => onApprove(proposal.proposal_id, {}))}
                data-testid="proposal-approve"
              >
                {t.knowledge.approve}
              </button>
              <button type="button" disabled={busy} onClick={() => setEditing(true)} data-testid="proposal-edit">
                {t.knowledge.editApprove}
              </button>
              <button
                type="button"
                className="danger"
                disabled={busy}
                onClick={() => {
                  if (window.confirm(t.knowledge.confirmReject)) void run(() => onReject(proposal.proposal_id));
                }}
                data-testid="proposal-reject"
              >
                {t.knowledge.reject}
              </button>
            </>
          )}
        </div>
      ) : null}
    </article>
  );
}
