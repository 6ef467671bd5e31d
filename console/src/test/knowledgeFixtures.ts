// Knowledge fixtures shaped as the issue 7 admin API answers.
import type { KnowledgeEntry, KnowledgeProposal } from '../api/types';

export function entry(overrides: Partial<KnowledgeEntry> & Pick<KnowledgeEntry, 'entry_id' | 'kind' | 'title'>): KnowledgeEntry {
  return {
    question: null,
    answer: null,
    content: '',
    source: 'manual',
    filename: null,
    mime_type: null,
    size_bytes: null,
    chunk_count: 1,
    embedding_model: 'offline-hash-ngrams-v1',
    created_at: '2026-11-20T12:00:00Z',
    updated_at: '2026-11-21T12:00:00Z',
    created_by_email: 'ana@clinica.com',
    ...overrides,
  };
}

export function proposal(overrides: Partial<KnowledgeProposal> & Pick<KnowledgeProposal, 'proposal_id' | 'question'>): KnowledgeProposal {
  return {
    conversation_id: 'c1',
    decision_id: 'd1',
    answer: null,
    status: 'open',
    answered_by_email: null,
    answered_at: null,
    created_at: '2026-11-22T13:00:00Z',
    entry_id: null,
    ...overrides,
  };
}
