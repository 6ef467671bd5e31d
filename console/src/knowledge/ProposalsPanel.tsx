// "Aprendizado": questions the agent handed off for lack of knowledge, and the sellers' answers to review.
import { PROPOSAL_STATUSES, type KnowledgeProposal, type ProposalStatus } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { proposalStatusNames, t } from '../i18n/pt-BR';
import { type ProposalActions, ProposalCard } from './ProposalCard';

export function ProposalsPanel({
  status,
  onStatus,
  proposals,
  error,
  canReview,
  ...actions
}: {
  status: ProposalStatus;
  onStatus: (status: ProposalStatus) => void;
  proposals: KnowledgeProposal[] | undefined;
  error: unknown;
  canReview: boolean;
} & ProposalActions) {
  return (
    <section aria-label={t.knowledge.tabLearning} data-testid="knowledge-proposals">
      <p className="muted">{t.knowledge.proposalsIntro}</p>
      <label className="inline">
        {t.knowledge.proposalStatus}
        <select value={status} onChange={(event) => onStatus(event.target.value as ProposalStatus)} data-testid="proposal-status-filter">
          {PROPOSAL_STATUSES.map((value) => (
            <option key={value} value={value}>
              {proposalStatusNames[value]}
            </option>
          ))}
        </select>
      </label>
      <ErrorBanner error={error} />
      {proposals === undefined ? (
        !error ? <div className="muted">{t.loading}</div> : null
      ) : proposals.length === 0 ? (
        <p className="muted" data-testid="proposal-list-empty">
          {t.knowledge.noProposals}
        </p>
      ) : (
        <div className="proposal-list" data-testid="proposal-list">
          {proposals.map((proposal) => (
            <ProposalCard key={proposal.proposal_id} proposal={proposal} canReview={canReview} {...actions} />
          ))}
        </div>
      )}
    </section>
  );
}
