import { describe, expect, it } from 'vitest';
import { fakeFetch, jsonResponse } from '../test/fakeFetch';
import { ApiError, createApiClient } from './client';

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
});
