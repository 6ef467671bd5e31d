// Conversation fixtures shaped as the contract's GET /conversations/{c} answer.
import type { ConversationDetail, Decision, Message } from '../api/types';

export function message(overrides: Partial<Message> & Pick<Message, 'message_id' | 'role' | 'text' | 'at'>): Message {
  return { status: null, author_email: null, ...overrides };
}

export function decision(overrides: Partial<Decision> & Pick<Decision, 'decision_id' | 'action' | 'decided_at'>): Decision {
  return {
    reasons: [],
    messages: [],
    suggestions: [],
    specialist: null,
    stage: null,
    handoff_summary: null,
    offline_model: false,
    ...overrides,
  };
}

export function conversationDetail(overrides: Partial<ConversationDetail> = {}): ConversationDetail {
  return {
    conversation: {
      conversation_id: 'c1',
      channel_id: 'meta-1',
      contact_key: '+5511987650001',
      contact_name: 'Mariana',
      contact_phone: '+5511987650001',
      status: 'open',
      stage: 'qualifying',
      mode: 'copilot',
      needs_human: false,
      attention_reason: null,
      assignee_uid: null,
      assignee_email: null,
      taken_over_by: null,
      human_active_until: null,
      close_reason: null,
      last_message: null,
      pending_suggestions: 1,
      created_at: '2026-11-22T13:00:00Z',
      updated_at: '2026-11-22T13:05:00Z',
      fields: { procedimento: 'limpeza de pele' },
      summary: 'Quer saber o preço da limpeza de pele.',
      unanswered_count: 0,
      followups_sent: 0,
      followup_due_at: null,
    },
    messages: [],
    decisions: [],
    ...overrides,
  };
}
