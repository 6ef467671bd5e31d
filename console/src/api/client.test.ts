import { describe, expect, it } from 'vitest';
import { fakeFetch, jsonResponse } from '../test/fakeFetch';
import { ApiError, createApiClient, paymentErrorCode } from './client';

const page = { conversations: [], next_cursor: null };

function client(handler: Parameters<typeof fakeFetch>[0], token: string | null = 'id-token-1') {
  const fake = fakeFetch(handler);
  return { api: createApiClient({ getToken: async () => token, fetch: fake.fetch }), requests: fake.requests };
}

describe('API client', () => {
  it('sends the Firebase ID token as a bearer token', async () => {
    const { api, requests } = client(() => jsonResponse(200, { uid: 'u1', email: 'a@b.c', email_verified: true, memberships: [], invites: [] }));
    const me = await api.getMe();
    expect(me.uid).toBe('u1');
    expect(requests[0]?.url).toBe('/api/me');
    expect(requests[0]?.headers.authorization).toBe('Bearer id-token-1');
  });

  it('asks for a fresh token on every call', async () => {
    let n = 0;
    const fake = fakeFetch(() => jsonResponse(200, {}));
    const api = createApiClient({ getToken: async () => `token-${++n}`, fetch: fake.fetch });
    await api.getMe();
    await api.getMe();
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('calls the public endpoints without a token', async () => {
    const { api, requests } = client(() => jsonResponse(200, { firebase: {}, auth_emulator_url: null }), null);
    await api.getConfig();
    expect(requests[0]?.url).toBe('/api/config');
    expect(requests[0]?.headers.authorization).toBeUndefined();
  });

  it('refuses an authenticated call when signed out, without a request', async () => {
    const { api, requests } = client(() => jsonResponse(200, {}), null);
    await expect(api.getMe()).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
    expect(requests).toHaveLength(0);
  });

  it('maps the error body to code, field and details', async () => {
    const body = {
      error: {
        code: 'validation_failed',
        message: 'debounce_seconds: must be <= 300',
        field: 'debounce_seconds',
        details: [
          { field: 'debounce_seconds', reason: 'must be <= 300' },
          { field: 'followups.1', reason: 'invalid duration' },
        ],
      },
    };
    const { api } = client(() => jsonResponse(422, body));
    const error = await api.putAgent('t1', {} as never).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, code: 'validation_failed', field: 'debounce_seconds' });
    expect((error as ApiError).details).toEqual(body.error.details);
  });

  it('falls back to the status when the error body is not the contract', async () => {
    const { api } = client(() => new Response('<html>Bad gateway</html>', { status: 502 }));
    await expect(api.getMe()).rejects.toMatchObject({ status: 502, code: 'server_error' });
    const { api: api409 } = client(() => new Response('', { status: 409 }));
    await expect(api409.getMe()).rejects.toMatchObject({ status: 409, code: 'conflict' });
  });

  it('tells a plan limit from a read-only workspace in a 402, without the English details', async () => {
    const limit = 'the Starter plan allows 1 channel; remove one or upgrade';
    const { api } = client(() =>
      jsonResponse(402, { error: { code: 'payment_required', message: limit, field: 'channels', details: [{ field: 'channels', reason: limit }] } }),
    );
    const refused = await api.createChannel('t1', {} as never).catch((caught: unknown) => caught);
    expect(refused).toMatchObject({ status: 402, code: 'payment_required', field: 'channels', message: limit });
    expect((refused as ApiError).details).toEqual([]);
    const readOnly = 'this workspace is read-only: the subscription was canceled';
    const { api: closed } = client(() => jsonResponse(402, { error: { code: 'payment_required', message: readOnly, field: null, details: [] } }));
    await expect(closed.updateTenant('t1', { name: 'x' })).rejects.toMatchObject({ status: 402, code: 'read_only' });
    const { api: bare } = client(() => new Response('', { status: 402 }));
    await expect(bare.getMe()).rejects.toMatchObject({ status: 402, code: 'payment_required' });
    expect(paymentErrorCode('this workspace is read-only: the trial ended')).toBe('read_only');
    expect(paymentErrorCode('the Pro plan has no client workspaces; upgrade to a plan with workspaces (Agency)')).toBe('payment_required');
  });

  it('calls the billing routes with the contract paths and bodies', async () => {
    const { api, requests } = client(() => jsonResponse(200, { url: 'https://stripe.test/c/1', session_id: 'cs_1' }));
    await api.getPlans();
    await api.getBilling('t 1');
    await api.startCheckout('t1', 'agency');
    await api.changePlan('t1', 'starter');
    await api.openBillingPortal('t1');
    await api.listWorkspaces('t1');
    await api.createWorkspace('t1', { name: 'Cliente', timezone: 'America/Sao_Paulo' });
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['GET', '/api/plans', undefined],
      ['GET', '/api/tenants/t%201/billing', undefined],
      ['POST', '/api/tenants/t1/billing/checkout', { plan_id: 'agency' }],
      ['POST', '/api/tenants/t1/billing/plan', { plan_id: 'starter' }],
      ['POST', '/api/tenants/t1/billing/portal', {}],
      ['GET', '/api/tenants/t1/workspaces', undefined],
      ['POST', '/api/tenants/t1/workspaces', { name: 'Cliente', timezone: 'America/Sao_Paulo' }],
    ]);
  });

  it('reports a network failure as code network', async () => {
    const { api } = client(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(api.getMe()).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('returns the data and the ETag, then sends If-None-Match and reports a 304 as not modified', async () => {
    const { api, requests } = client((request) =>
      request.headers['if-none-match'] === '"v1"' ? new Response(null, { status: 304 }) : jsonResponse(200, page, { ETag: '"v1"' }),
    );
    const first = await api.listConversations('t1', { status: 'open' });
    expect(first).toEqual({ notModified: false, data: page, etag: '"v1"' });
    expect(requests[0]?.headers['if-none-match']).toBeUndefined();
    const second = await api.listConversations('t1', { status: 'open' }, '"v1"');
    expect(second).toEqual({ notModified: true });
    expect(requests[1]?.headers['if-none-match']).toBe('"v1"');
  });

  it('builds query strings from filters, leaving out the empty ones', async () => {
    const { api, requests } = client(() => jsonResponse(200, page));
    await api.listConversations('t1', { assignee: 'me', needs_human: true, stage: '', limit: 50 });
    expect(requests[0]?.url).toBe('/api/tenants/t1/conversations?assignee=me&needs_human=true&limit=50');
  });

  it('encodes path segments (emails, contact keys)', async () => {
    const { api, requests } = client(() => new Response(null, { status: 204 }));
    await expect(api.revokeInvite('t1', 'ana+1@clinica.com')).resolves.toBeUndefined();
    expect(requests[0]?.method).toBe('DELETE');
    expect(requests[0]?.url).toBe('/api/tenants/t1/invites/ana%2B1%40clinica.com');
  });

  it('posts the contract bodies for conversation actions', async () => {
    const { api, requests } = client(() => jsonResponse(202, { message: {} }));
    await api.sendMessage('t1', 'c1', 'Oi!');
    await api.assign('t1', 'c1', null);
    await api.close('t1', 'c1', 'spam');
    await api.close('t1', 'c1', 'won', 'fechou o pacote');
    await api.acceptSuggestion('t1', 'c1', 'd1', 0);
    await api.acceptSuggestion('t1', 'c1', 'd1', 1, 'editado');
    await api.dismissSuggestion('t1', 'c1', 'd1', 2);
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/api/tenants/t1/conversations/c1/messages', { text: 'Oi!' }],
      ['POST', '/api/tenants/t1/conversations/c1/assign', { assignee_uid: null }],
      ['POST', '/api/tenants/t1/conversations/c1/close', { reason: 'spam' }],
      ['POST', '/api/tenants/t1/conversations/c1/close', { reason: 'won', note: 'fechou o pacote' }],
      ['POST', '/api/tenants/t1/conversations/c1/suggestions/accept', { decision_id: 'd1', index: 0 }],
      ['POST', '/api/tenants/t1/conversations/c1/suggestions/accept', { decision_id: 'd1', index: 1, text: 'editado' }],
      ['POST', '/api/tenants/t1/conversations/c1/suggestions/dismiss', { decision_id: 'd1', index: 2 }],
    ]);
    expect(requests[0]?.headers['content-type']).toBe('application/json');
  });

  it('calls the knowledge, learning and copilot endpoints of issue 7 with their bodies', async () => {
    const { api, requests } = client((request) => (request.method === 'DELETE' ? new Response(null, { status: 204 }) : jsonResponse(200, {})));
    await api.createKnowledge('t1', { kind: 'qa', title: 'Pix', question: 'Aceitam Pix?', answer: 'Sim.' });
    await api.updateKnowledge('t1', 'e/1', { kind: 'policy', title: 'Garantia', content: '90 dias' });
    await expect(api.deleteKnowledge('t1', 'e1')).resolves.toBeUndefined();
    await api.uploadKnowledge('t1', { filename: 'a.pdf', mime_type: 'application/pdf', content_base64: 'JVBERi0=' });
    await api.searchKnowledge('t1', 'preço');
    await api.approveProposal('t1', 'p1');
    await api.approveProposal('t1', 'p2', { answer: 'Sim, no cartão.' });
    await api.rejectProposal('t1', 'p3');
    await api.getCopilotIntents('t1', 7);
    await api.getCopilotIntents('t1');
    await api.setIntentMode('t1', 'sell', 'pilot');
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/api/tenants/t1/knowledge', { kind: 'qa', title: 'Pix', question: 'Aceitam Pix?', answer: 'Sim.' }],
      ['PUT', '/api/tenants/t1/knowledge/e%2F1', { kind: 'policy', title: 'Garantia', content: '90 dias' }],
      ['DELETE', '/api/tenants/t1/knowledge/e1', undefined],
      ['POST', '/api/tenants/t1/knowledge/files', { filename: 'a.pdf', mime_type: 'application/pdf', content_base64: 'JVBERi0=' }],
      ['POST', '/api/tenants/t1/knowledge/search', { query: 'preço' }],
      ['POST', '/api/tenants/t1/knowledge/proposals/p1/approve', {}],
      ['POST', '/api/tenants/t1/knowledge/proposals/p2/approve', { answer: 'Sim, no cartão.' }],
      ['POST', '/api/tenants/t1/knowledge/proposals/p3/reject', {}],
      ['GET', '/api/tenants/t1/copilot/intents?days=7', undefined],
      ['GET', '/api/tenants/t1/copilot/intents', undefined],
      ['PUT', '/api/tenants/t1/copilot/intents/sell', { mode: 'pilot' }],
    ]);
  });

  it('polls the knowledge list and the proposals with If-None-Match', async () => {
    const { api, requests } = client((request) =>
      request.headers['if-none-match'] ? new Response(null, { status: 304 }) : jsonResponse(200, { proposals: [] }, { ETag: '"p1"' }),
    );
    expect(await api.listProposals('t1', 'proposed')).toEqual({ notModified: false, data: { proposals: [] }, etag: '"p1"' });
    expect(await api.listProposals('t1', 'proposed', '"p1"')).toEqual({ notModified: true });
    expect(await api.listKnowledge('t1', '"k1"')).toEqual({ notModified: true });
    expect(requests.map((r) => [r.url, r.headers['if-none-match']])).toEqual([
      ['/api/tenants/t1/knowledge/proposals?status=proposed', undefined],
      ['/api/tenants/t1/knowledge/proposals?status=proposed', '"p1"'],
      ['/api/tenants/t1/knowledge', '"k1"'],
    ]);
  });

  it('calls the insight agent endpoints of issue 8 with their bodies', async () => {
    const { api, requests } = client((request) => (request.method === 'DELETE' ? new Response(null, { status: 204 }) : jsonResponse(200, {})));
    const spec = {
      name: 'Auditor',
      icon: '💰',
      description: '',
      prompt: 'Confirme o pagamento.',
      model: 'fast' as const,
      active: true,
      triggers: [],
      fields: [],
      apply_action: 'mark_won' as const,
      message_field: null,
      send_conversion: false,
      template: null,
    };
    await api.listInsightTemplates('t1');
    await api.listInsightAgents('t1');
    await api.getInsightAgent('t1', 'a/1');
    await api.createInsightAgent('t1', spec);
    await api.addInsightTemplate('t1', 'conversion_auditor');
    await api.updateInsightAgent('t1', 'a1', spec);
    await api.setInsightAgentActive('t1', 'a1', false);
    await expect(api.deleteInsightAgent('t1', 'a1')).resolves.toBeUndefined();
    await api.applyInsight('t1', 'i1');
    await api.dismissInsight('t1', 'i2');
    await api.pressMacro('t1', 'c/1', 'a1');
    await api.getTrafficReport('t1', 90);
    await api.getConversions('t1');
    await api.putConversions('t1', { dataset_id: '123456789', access_token: 'EAAB', currency: 'BRL' });
    await expect(api.deleteConversions('t1')).resolves.toBeUndefined();
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['GET', '/api/tenants/t1/insight-templates', undefined],
      ['GET', '/api/tenants/t1/insight-agents', undefined],
      ['GET', '/api/tenants/t1/insight-agents/a%2F1', undefined],
      ['POST', '/api/tenants/t1/insight-agents', spec],
      ['POST', '/api/tenants/t1/insight-agents/from-template', { template: 'conversion_auditor' }],
      ['PUT', '/api/tenants/t1/insight-agents/a1', spec],
      ['PATCH', '/api/tenants/t1/insight-agents/a1', { active: false }],
      ['DELETE', '/api/tenants/t1/insight-agents/a1', undefined],
      ['POST', '/api/tenants/t1/insights/i1/apply', {}],
      ['POST', '/api/tenants/t1/insights/i2/dismiss', {}],
      ['POST', '/api/tenants/t1/conversations/c%2F1/macros/a1', {}],
      ['GET', '/api/tenants/t1/insights/traffic-report?days=90', undefined],
      ['GET', '/api/tenants/t1/conversions', undefined],
      ['PUT', '/api/tenants/t1/conversions', { dataset_id: '123456789', access_token: 'EAAB', currency: 'BRL' }],
      ['DELETE', '/api/tenants/t1/conversions', undefined],
    ]);
  });

  it('polls the insights with their filters and If-None-Match', async () => {
    const { api, requests } = client((request) =>
      request.headers['if-none-match'] === '"i1"' ? new Response(null, { status: 304 }) : jsonResponse(200, { insights: [] }, { ETag: '"i1"' }),
    );
    expect(await api.listInsights('t1', { conversation_id: 'c1' })).toEqual({ notModified: false, data: { insights: [] }, etag: '"i1"' });
    expect(await api.listInsights('t1', { conversation_id: 'c1' }, '"i1"')).toEqual({ notModified: true });
    await api.listInsights('t1', { status: 'SUGGESTION', agent_id: 'a1', limit: 50 });
    expect(requests.map((r) => [r.url, r.headers['if-none-match']])).toEqual([
      ['/api/tenants/t1/insights?conversation_id=c1', undefined],
      ['/api/tenants/t1/insights?conversation_id=c1', '"i1"'],
      ['/api/tenants/t1/insights?status=SUGGESTION&agent_id=a1&limit=50', undefined],
    ]);
  });

  it('names a 415 without a contract body unsupported_media_type', async () => {
    const { api } = client(() => new Response('', { status: 415 }));
    await expect(api.uploadKnowledge('t1', { filename: 'a.exe', mime_type: 'application/x-msdownload', content_base64: 'TVo=' })).rejects.toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
    });
  });
});
