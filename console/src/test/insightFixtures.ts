// Insight agent and insight fixtures shaped as the issue 8 admin API answers.
import type { Insight, InsightAgent, InsightTrigger, OutputField } from '../api/types';

export function outputField(overrides: Partial<OutputField> & Pick<OutputField, 'name' | 'type'>): OutputField {
  return { description: '', required: true, options: [], items: 'string', minimum: null, maximum: null, ...overrides };
}

export function trigger(overrides: Partial<InsightTrigger> = {}): InsightTrigger {
  return {
    trigger_id: 't1',
    event: 'NEW_MESSAGE_RECEIVED',
    keywords: [],
    mode: 'any',
    min_lead_messages: 0,
    max_per_conversation: null,
    conversation_window_minutes: 60,
    max_per_day: null,
    ...overrides,
  };
}

export function agent(overrides: Partial<InsightAgent> & Pick<InsightAgent, 'agent_id' | 'name'>): InsightAgent {
  return {
    tenant_id: 'clinica',
    icon: '✨',
    description: '',
    prompt: 'Analise a conversa.',
    model: 'fast',
    active: true,
    triggers: [trigger()],
    fields: [outputField({ name: 'resumo', type: 'string', description: 'Resumo' })],
    apply_action: 'none',
    message_field: null,
    send_conversion: false,
    template: null,
    created_at: '2026-11-20T12:00:00Z',
    updated_at: '2026-11-20T12:00:00Z',
    macro: false,
    ...overrides,
  };
}

export function insight(overrides: Partial<Insight> & Pick<Insight, 'insight_id'>): Insight {
  return {
    tenant_id: 'clinica',
    conversation_id: 'c1',
    contact_key: '+5511987650001',
    contact_name: 'Mariana',
    agent_id: 'a1',
    agent_name: 'Auditor de conversão',
    agent_icon: '💰',
    template: null,
    event_id: 'msg:c1:1',
    event_type: 'NEW_MESSAGE_RECEIVED',
    trigger_id: 't1',
    status: 'SUGGESTION',
    payload: {},
    fields: [],
    error: null,
    attempts: 1,
    model: 'offline-insights',
    offline_model: true,
    prompt_tokens: 100,
    completion_tokens: 20,
    apply_action: 'none',
    message_field: null,
    attribution: null,
    conversion: null,
    created_at: '2026-11-22T13:05:00Z',
    completed_at: '2026-11-22T13:05:02Z',
    reviewed_by: null,
    reviewed_email: null,
    reviewed_at: null,
    ...overrides,
  };
}
