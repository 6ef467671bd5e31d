// "Conhecimento": what the agent may answer from (entries and files), a search test, and learning from handoffs.
import { useCallback, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import type { KnowledgeEntry, ProposalApproval, ProposalStatus } from '../api/types';
import { canManage, useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { usePolling } from '../polling/usePolling';
import { EntryCard } from './EntryCard';
import { EntryForm } from './EntryForm';
import { ProposalsPanel } from './ProposalsPanel';
import { SearchPanel } from './SearchPanel';
import { UploadForm } from './UploadForm';

export const KNOWLEDGE_POLL_MS = 10_000;
export const PROPOSALS_POLL_MS = 5_000;

const TABS = [
  { path: '', id: 'entries', label: () => t.knowledge.tabEntries },
  { path: 'busca', id: 'search', label: () => t.knowledge.tabSearch },
  { path: 'aprendizado', id: 'learning', label: () => t.knowledge.tabLearning },
] as const;
type TabId = (typeof TABS)[number]['id'];

export function KnowledgePage() {
  const api = useApi();
  const { tenantId, role } = useSession();
  const manager = canManage(role);
  const navigate = useNavigate();
  const { tab: tabPath = '' } = useParams();
  const tabs = TABS.filter((tab) => manager || tab.id !== 'learning');
  const tab: TabId = tabs.find((candidate) => candidate.path === tabPath)?.id ?? 'entries';

  const loadEntries = useCallback((etag: string | null) => api.listKnowledge(tenantId, etag), [api, tenantId]);
  const entries = usePolling(loadEntries, KNOWLEDGE_POLL_MS, tenantId);

  // The proposed pairs feed the tab's badge (managers only: sellers do not review).
  const loadProposed = useCallback((etag: string | null) => api.listProposals(tenantId, 'proposed', etag), [api, tenantId]);
  const proposed = usePolling(manager ? loadProposed : null, PROPOSALS_POLL_MS, `${tenantId}/proposed`);
  const [status, setStatus] = useState<ProposalStatus>('proposed');
  const loadOther = useCallback((etag: string | null) => api.listProposals(tenantId, status, etag), [api, tenantId, status]);
  const other = usePolling(manager && tab === 'learning' && status !== 'proposed' ? loadOther : null, PROPOSALS_POLL_MS, `${tenantId}/${status}`);
  const shown = status === 'proposed' ? proposed : other;

  const [editing, setEditing] = useState<KnowledgeEntry | 'new' | 'upload' | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);

  async function act(action: () => Promise<unknown>, after: () => void) {
    setBusy(true);
    setActionError(null);
    try {
      await action();
      after();
    } catch (caught) {
      setActionError(caught);
      throw caught;
    } finally {
      setBusy(false);
    }
  }

  const refreshProposals = () => {
    proposed.refresh();
    other.refresh();
    entries.refresh();
  };

  const proposedCount = proposed.data?.proposals.length ?? 0;
  const list = entries.data;

  return (
    <div className="page knowledge" data-testid="knowledge-page">
      <header className="page-header">
        <h1>{t.knowledge.title}</h1>
        {list ? (
          <div className="knowledge-model muted small">
            {list.offline ? (
              <span className="badge badge-alert" title={t.knowledge.offlineHelp} data-testid="knowledge-offline">
                {t.knowledge.offline}
              </span>
            ) : null}
            <span data-testid="knowledge-model">{t.knowledge.model(list.embedding_model)}</span>
          </div>
        ) : null}
      </header>
      <p className="muted">{t.knowledge.intro}</p>
      {list?.offline ? <p className="muted small">{t.knowledge.offlineHelp}</p> : null}
      <div className="tabs" role="tablist" aria-label={t.knowledge.title}>
        {tabs.map((candidate) => (
          <button
            key={candidate.id}
            type="button"
            role="tab"
            id={`knowledge-tab-${candidate.id}`}
            aria-selected={tab === candidate.id}
            aria-controls={`knowledge-panel-${candidate.id}`}
            className={tab === candidate.id ? 'selected' : ''}
            onClick={() => navigate(candidate.path ? `/conhecimento/${candidate.path}` : '/conhecimento')}
            data-testid={`knowledge-tab-${candidate.id}`}
          >
            {candidate.label()}
            {candidate.id === 'learning' && proposedCount > 0 ? (
              <span className="badge badge-count" aria-label={t.nav.proposalsBadge(proposedCount)} data-testid="proposal-count" data-value={proposedCount}>
                {proposedCount}
              </span>
            ) : null}
          </button>
        ))}
      </div>
      <ErrorBanner error={actionError} />
      <div role="tabpanel" id={`knowledge-panel-${tab}`} aria-labelledby={`knowledge-tab-${tab}`}>
        {tab === 'entries' ? (
          <section aria-label={t.knowledge.tabEntries}>
            {!manager ? <p className="muted">{t.knowledge.readOnly}</p> : null}
            {manager && editing === null ? (
              <div className="row-actions knowledge-actions">
                <button type="button" className="primary" onClick={() => setEditing('new')} data-testid="knowledge-new">
                  {t.knowledge.add}
                </button>
                <button type="button" onClick={() => setEditing('upload')} data-testid="knowledge-upload">
                  {t.knowledge.upload}
                </button>
              </div>
            ) : null}
            {editing === 'upload' ? (
              <UploadForm
                onUpload={async (body) => {
                  await api.uploadKnowledge(tenantId, body);
                  setEditing(null);
                  entries.refresh();
                }}
                onCancel={() => setEditing(null)}
              />
            ) : editing !== null ? (
              <EntryForm
                key={editing === 'new' ? 'new' : editing.entry_id}
                entry={editing === 'new' ? undefined : editing}
                onSubmit={async (input) => {
                  if (editing === 'new') await api.createKnowledge(tenantId, input);
                  else await api.updateKnowledge(tenantId, editing.entry_id, input);
                  setEditing(null);
                  entries.refresh();
                }}
                onCancel={() => setEditing(null)}
              />
            ) : null}
            <ErrorBanner error={entries.error} />
            {!list ? (
              !entries.error ? <div className="muted">{t.loading}</div> : null
            ) : list.entries.length === 0 ? (
              <p className="muted" data-testid="knowledge-list-empty">
                {t.knowledge.empty}
              </p>
            ) : (
              <div className="knowledge-list" data-testid="knowledge-list">
                {list.entries.map((entry) => (
                  <EntryCard
                    key={entry.entry_id}
                    entry={entry}
                    currentModel={list.embedding_model}
                    canEdit={manager}
                    busy={busy}
                    onEdit={() => setEditing(entry)}
                    onDelete={() => {
                      if (window.confirm(t.knowledge.confirmDelete(entry.title))) {
                        act(() => api.deleteKnowledge(tenantId, entry.entry_id), entries.refresh).catch(() => undefined);
                      }
                    }}
                  />
                ))}
              </div>
            )}
          </section>
        ) : tab === 'search' ? (
          <SearchPanel onSearch={(query) => api.searchKnowledge(tenantId, query)} />
        ) : (
          <ProposalsPanel
            status={status}
            onStatus={setStatus}
            proposals={shown.data?.proposals}
            error={shown.error}
            canReview={manager}
            onApprove={(proposalId, edits: ProposalApproval) => act(() => api.approveProposal(tenantId, proposalId, edits), refreshProposals)}
            onReject={(proposalId) => act(() => api.rejectProposal(tenantId, proposalId), refreshProposals)}
          />
        )}
      </div>
    </div>
  );
}
