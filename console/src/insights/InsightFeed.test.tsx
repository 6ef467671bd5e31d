import { act, fireEvent, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConversationDetail, Insight, InsightAgent } from '../api/types';
import { ConversationView } from '../inbox/ConversationView';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { conversationDetail } from '../test/fixtures';
import { agent, insight, outputField, trigger } from '../test/insightFixtures';
import { renderWithSession } from '../test/renderWithSession';
import { CONVERSATION_INSIGHTS_POLL_MS } from './useInsights';

const BASE = '/api/tenants/clinica';

interface ServerState {
  detail: ConversationDetail;
  insights: Insight[];
  agents: InsightAgent[];
}

/** The conversation, its insights (with an ETag per content) and the agents; apply closes the conversation as won. */
function server(state: ServerState) {
  return (request: RecordedRequest): Response => {
    const { method, path } = request;
    if (method === 'GET' && path === `${BASE}/conversations/c1`) return jsonResponse(200, state.detail);
    if (method === 'GET' && path === `${BASE}/insight-agents`) return jsonResponse(200, { agents: state.agents });
    if (method === 'GET' && path === `${BASE}/insights`) {
      const etag = `"${state.insights.map((item) => `${item.insight_id}:${item.status}`).join(',')}"`;
      if (request.headers['if-none-match'] === etag) return new Response(null, { status: 304 });
      return jsonResponse(200, { insights: state.insights }, { ETag: etag });
    }
    const review = /^\/api\/tenants\/clinica\/insights\/([^/]+)\/(apply|dismiss)$/.exec(path);
    if (method === 'POST' && review) {
      const target = state.insights.find((item) => item.insight_id === review[1])!;
      const updated = { ...target, status: review[2] === 'apply' ? ('APPLIED' as const) : ('DISMISSED' as const) };
      state.insights = state.insights.map((item) => (item === target ? updated : item));
      if (review[2] === 'apply' && target.apply_action === 'mark_won') {
        state.detail = { ...state.detail, conversation: { ...state.detail.conversation, status: 'closed', close_reason: 'won' } };
      }
      return jsonResponse(200, updated);
    }
    const macro = /^\/api\/tenants\/clinica\/conversations\/c1\/macros\/([^/]+)$/.exec(path);
    if (method === 'POST' && macro) return jsonResponse(202, { event_id: 'macro:1' });
    return jsonResponse(404, { error: { code: 'not_found', message: `${method} ${path}`, field: null, details: [] } });
  };
}

const paid = insight({
  insight_id: 'i1',
  apply_action: 'mark_won',
  fields: [outputField({ name: 'confirmada', type: 'boolean', description: 'Compra confirmada' })],
  payload: { confirmada: true },
});

function renderView(state: ServerState, role: 'owner' | 'seller' = 'seller') {
  return renderWithSession(<ConversationView conversationId="c1" members={null} onChanged={() => undefined} />, server(state), { role });
}

const flush = () => act(() => vi.advanceTimersByTimeAsync(0));
const insightRequests = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'GET' && r.path === `${BASE}/insights`);


describe('the insight feed beside the thread', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("polls the conversation's insights with If-None-Match and shows a new one without a reload", async () => {
    const state: ServerState = { detail: conversationDetail(), insights: [], agents: [] };
    const { requests } = renderView(state);
    await flush();
    expect(screen.getByTestId('insight-feed-empty')).toBeTruthy();
    expect(insightRequests(requests)[0]!.url).toBe(`${BASE}/insights?conversation_id=c1`);

    await act(() => vi.advanceTimersByTimeAsync(CONVERSATION_INSIGHTS_POLL_MS));
    expect(insightRequests(requests)[1]!.headers['if-none-match']).toBe('""'); // unchanged: a 304
    expect(screen.getByTestId('insight-feed-empty')).toBeTruthy();

    state.insights = [{ ...paid, status: 'RUNNING', payload: {} }];
    await act(() => vi.advanceTimersByTimeAsync(CONVERSATION_INSIGHTS_POLL_MS));
    expect(screen.getByTestId('insight-status').textContent).toBe('Analisando…');

    state.insights = [paid];
    await act(() => vi.advanceTimersByTimeAsync(CONVERSATION_INSIGHTS_POLL_MS));
    expect(screen.getByTestId('insight').getAttribute('data-status')).toBe('SUGGESTION');
    expect(screen.getByTestId('insight-field').textContent).toBe('Compra confirmadaSim');
  });

  it('applies an insight that marks the conversation won: the feed and the conversation refresh at once', async () => {
    const state: ServerState = { detail: conversationDetail(), insights: [paid], agents: [] };
    const { requests } = renderView(state);
    await flush();
    expect(screen.getByTestId('conversation-status').getAttribute('data-status')).toBe('open');
    fireEvent.click(screen.getByTestId('insight-apply'));
    await flush();
    expect(requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual([`${BASE}/insights/i1/apply`]);
    expect(screen.getByTestId('insight').getAttribute('data-status')).toBe('APPLIED');
    expect(screen.getByTestId('conversation-status').getAttribute('data-status')).toBe('closed');
    expect(screen.queryByTestId('composer-input')).toBeNull();
  });

  it('dismisses an insight', async () => {
    const state: ServerState = { detail: conversationDetail(), insights: [paid], agents: [] };
    renderView(state);
    await flush();
    fireEvent.click(screen.getByTestId('insight-dismiss'));
    await flush();
    expect(screen.getByTestId('insight').getAttribute('data-status')).toBe('DISMISSED');
    expect(screen.getByTestId('insight-status').textContent).toBe('Descartado');
  });

  it("puts an insight's message in the composer", async () => {
    const rescue = insight({
      insight_id: 'i2',
      agent_name: 'Sentinela de sumiço',
      fields: [outputField({ name: 'mensagem', type: 'string' })],
      payload: { mensagem: 'Oi, Mariana! Conseguiu ver os horários?' },
      message_field: 'mensagem',
    });
    renderView({ detail: conversationDetail(), insights: [rescue], agents: [] });
    await flush();
    fireEvent.click(screen.getByTestId('insight-use-text'));
    await flush();
    expect((screen.getByTestId('composer-input') as HTMLTextAreaElement).value).toBe('Oi, Mariana! Conseguiu ver os horários?');
  });

  it('shows a button per active agent with a macro trigger, and presses it', async () => {
    const agents = [
      agent({ agent_id: 'a1', name: 'Coach', icon: '💡', triggers: [trigger({ event: 'MACRO_BUTTON_CLICKED' })], macro: true }),
      agent({ agent_id: 'a2', name: 'Desligado', triggers: [trigger({ event: 'MACRO_BUTTON_CLICKED' })], active: false, macro: false }),
      agent({ agent_id: 'a3', name: 'Auditor', macro: false }),
    ];
    const { requests } = renderView({ detail: conversationDetail(), insights: [], agents });
    await flush();
    const buttons = screen.getAllByTestId('macro-button');
    expect(buttons.map((button) => button.getAttribute('data-agent-id'))).toEqual(['a1']);
    fireEvent.click(buttons[0]!);
    await flush();
    expect(requests.filter((r) => r.method === 'POST').map((r) => [r.path, r.body])).toEqual([[`${BASE}/conversations/c1/macros/a1`, {}]]);
    expect(screen.getByTestId('macro-feedback').textContent).toBe('Coach está analisando a conversa; o insight aparece ao lado em instantes.');
    // Pressing asked for the feed again at once (the run's insight shows as soon as it exists).
    expect(insightRequests(requests).length).toBeGreaterThanOrEqual(2);
  });

  it('shows no macro bar when no agent has a button', async () => {
    renderView({ detail: conversationDetail(), insights: [], agents: [agent({ agent_id: 'a3', name: 'Auditor' })] });
    await flush();
    expect(screen.queryByTestId('macro-bar')).toBeNull();
  });
});
