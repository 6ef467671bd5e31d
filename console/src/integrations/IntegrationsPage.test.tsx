import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { ApiKey, CrmInput, CrmSettings, Role, WebhookEndpoint, WebhookInput } from '../api/types';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { EVENT_TYPES, crm, endpoint } from '../test/integrationFixtures';
import { renderWithSession } from '../test/renderWithSession';
import { endpointState, mappingFor, webhookInput } from './integrationsText';
import { IntegrationsPage } from './IntegrationsPage';

const BASE = '/api/tenants/clinica';

interface State {
  endpoints: WebhookEndpoint[];
  keys?: ApiKey[];
  crm?: CrmSettings;
}

const PIPELINES = [
  { id: 'p1', name: 'Funil de vendas', stages: [{ id: 's-new', name: 'Sem contato' }, { id: 's-meet', name: 'Reunião agendada' }, { id: 's-won', name: 'Fechamento' }] },
  { id: 'p2', name: 'Parcerias', stages: [{ id: 'x1', name: 'Entrada' }] },
];

function server(state: State) {
  return (request: RecordedRequest): Response => {
    const { method, path } = request;
    if (method === 'GET' && path === `${BASE}/webhooks`) return jsonResponse(200, { endpoints: state.endpoints, event_types: EVENT_TYPES });
    if (method === 'POST' && path === `${BASE}/webhooks`) {
      const body = request.body as WebhookInput;
      const created = endpoint({ endpoint_id: 'wh2', url: body.url, description: body.description ?? '', events: body.events, secret_hint: 'AbCd' });
      state.endpoints = [...state.endpoints, created];
      return jsonResponse(201, { endpoint: created, secret: 'whsec_0123456789abcdefghijklmnopqrAbCd' });
    }
    const patch = /^\/api\/tenants\/clinica\/webhooks\/([^/]+)$/.exec(path);
    if (method === 'PATCH' && patch) {
      const enabled = (request.body as { enabled: boolean }).enabled;
      const next = { ...state.endpoints.find((e) => e.endpoint_id === patch[1])!, enabled, disabled_reason: null, disabled_at: null, failing_since: null };
      state.endpoints = state.endpoints.map((e) => (e.endpoint_id === next.endpoint_id ? next : e));
      return jsonResponse(200, next);
    }
    if (method === 'POST' && path.endsWith('/test')) {
      state.endpoints = state.endpoints.map((e) => ({ ...e, last_delivery: { delivery_id: 'd9', event_type: 'webhook.test', status: 'succeeded', http_status: 200, error: null, at: '2026-11-20T12:00:00Z' } }));
      return jsonResponse(202, { delivery_id: 'd9' });
    }
    if (method === 'POST' && path.endsWith('/secret')) return jsonResponse(200, { endpoint: { ...state.endpoints[0]!, secret_hint: 'NeW1' }, secret: 'whsec_rotatedrotatedrotatedrotatNeW1' });
    if (method === 'GET' && path.endsWith('/deliveries')) {
      return jsonResponse(200, {
        deliveries: [
          { delivery_id: 'd1', event_id: 'e1', event_type: 'conversation.won', status: 'failed', attempts: 10, last_http_status: 500, last_error: 'HTTP 500', next_attempt_at: null, created_at: '2026-11-20T12:00:00Z', delivered_at: null, payload: { id: 'e1', type: 'conversation.won' } },
        ],
      });
    }
    if (method === 'POST' && path.endsWith('/redeliver')) return jsonResponse(202, { delivery_id: 'd1' });
    if (method === 'GET' && path === `${BASE}/api-keys`) return jsonResponse(200, { keys: state.keys ?? [] });
    if (method === 'POST' && path === `${BASE}/api-keys`) {
      const key: ApiKey = { key_id: 'k1', name: (request.body as { name: string }).name, prefix: 'pk_live_ab12', scopes: [], created_at: '2026-11-20T12:00:00Z', last_used_at: null, revoked_at: null };
      state.keys = [key];
      return jsonResponse(201, { key, secret: 'pk_live_ab12cdef34567890' });
    }
    if (method === 'DELETE' && path.startsWith(`${BASE}/api-keys/`)) {
      state.keys = (state.keys ?? []).map((key) => ({ ...key, revoked_at: '2026-11-21T12:00:00Z' }));
      return jsonResponse(200, state.keys[0]);
    }
    if (method === 'GET' && path === `${BASE}/crm`) return jsonResponse(200, state.crm ?? crm());
    if (method === 'PUT' && path === `${BASE}/crm`) {
      const body = request.body as CrmInput;
      if (body.token === 'recusado') return jsonResponse(422, { error: { code: 'validation_failed', message: 'RD Station refused the token', field: 'token' } });
      state.crm = { ...(state.crm ?? crm()), connected: true, status: 'connected', token_hint: 'f00d', enabled: body.enabled ?? true, pipeline_id: body.pipeline_id ?? state.crm?.pipeline_id ?? null, stage_mapping: body.stage_mapping ?? state.crm?.stage_mapping ?? {} };
      return jsonResponse(200, state.crm);
    }
    if (method === 'GET' && path === `${BASE}/crm/pipelines`) return jsonResponse(200, { pipelines: PIPELINES });
    if (method === 'DELETE' && path === `${BASE}/crm`) {
      state.crm = crm();
      return jsonResponse(200, { connected: false });
    }
    return jsonResponse(404, { error: { code: 'not_found', message: `${method} ${path}` } });
  };
}

function renderPage(state: State, role: Role = 'owner') {
  return renderWithSession(<IntegrationsPage />, server(state), { role, path: '/integracoes' });
}

const writes = (requests: RecordedRequest[]) => requests.filter((r) => r.method !== 'GET').map((r) => [r.method, r.path, r.body]);

describe('integrations logic', () => {
  it('badges an endpoint by its state', () => {
    expect(endpointState(endpoint())).toBe('none');
    expect(endpointState(endpoint({ enabled: false }))).toBe('disabled');
    expect(endpointState(endpoint({ last_delivery: { delivery_id: 'd', event_type: 'x', status: 'retrying', http_status: 503, error: null, at: '2026-11-20T12:00:00Z' } }))).toBe('retrying');
  });

  it('needs an event, and leaves a blank description out', () => {
    expect(webhookInput({ url: 'https://x.test', description: '', events: [] })).toEqual({ problem: 'Escolha pelo menos um evento.' });
    expect(webhookInput({ url: ' https://x.test ', description: ' ', events: ['conversation.won'] })).toEqual({ url: 'https://x.test', events: ['conversation.won'] });
  });

  it('keeps only mappings into the chosen pipeline', () => {
    expect(mappingFor(PIPELINES[0], { won: 's-won', lost: '', new: 'x1' })).toEqual({ won: 's-won' });
    expect(mappingFor(undefined, { won: 's-won' })).toEqual({});
  });
});

describe('IntegrationsPage webhooks', () => {
  it('creates an endpoint with the events checked and shows its secret once', async () => {
    const { requests } = renderPage({ endpoints: [] });
    expect(await screen.findByTestId('webhooks-empty')).toBeTruthy();
    fireEvent.click(screen.getByTestId('webhook-new'));
    // Portuguese labels, and the test event is not subscribable
    expect(screen.getByTestId('webhook-form').textContent).toContain('Venda ganha');
    expect(screen.queryByTestId('webhook-event-webhook.test')).toBeNull();
    fireEvent.change(screen.getByTestId('webhook-url'), { target: { value: 'https://n8n.example.com/webhook/piloto' } });
    fireEvent.submit(screen.getByTestId('webhook-form'));
    expect(screen.getByTestId('webhook-events-problem').textContent).toBe('Escolha pelo menos um evento.');
    expect(writes(requests)).toEqual([]);
    fireEvent.click(screen.getByTestId('webhook-event-conversation.won'));
    fireEvent.click(screen.getByTestId('webhook-event-meeting.booked'));
    fireEvent.submit(screen.getByTestId('webhook-form'));
    expect((await screen.findByTestId('secret-value')).textContent).toBe('whsec_0123456789abcdefghijklmnopqrAbCd');
    expect(screen.getByTestId('secret-warning').textContent).toContain('não será mostrado de novo');
    expect(writes(requests)).toEqual([['POST', `${BASE}/webhooks`, { url: 'https://n8n.example.com/webhook/piloto', events: ['conversation.won', 'meeting.booked'] }]]);
    const row = screen.getByTestId('webhook-row');
    expect(row.getAttribute('data-state')).toBe('none');
    expect(row.textContent).toContain('Segredo …AbCd');
    fireEvent.click(screen.getByTestId('secret-done'));
    expect(screen.queryByTestId('secret-reveal')).toBeNull();
  });

  it('sends a test event and shows the delivery as Entregue', async () => {
    const { requests } = renderPage({ endpoints: [endpoint()] });
    fireEvent.click(await screen.findByTestId('webhook-test'));
    await waitFor(() => expect(screen.getByTestId('webhook-status').getAttribute('data-status')).toBe('succeeded'));
    expect(screen.getByTestId('webhook-status').textContent).toBe('Entregue · HTTP 200');
    expect(writes(requests)).toEqual([['POST', `${BASE}/webhooks/wh1/test`, {}]]);
  });

  it('shows why an endpoint was disabled and reactivates it', async () => {
    const { requests } = renderPage({ endpoints: [endpoint({ enabled: false, disabled_at: '2026-11-20T12:00:00Z', disabled_reason: 'falhou por 72 horas seguidas' })] });
    const notice = await screen.findByTestId('webhook-disabled');
    expect(notice.textContent).toContain('Desativado automaticamente: falhou por 72 horas seguidas.');
    expect(screen.getByTestId('webhook-status').textContent).toBe('Desativado');
    fireEvent.click(screen.getByTestId('webhook-reactivate'));
    await waitFor(() => expect(screen.getByTestId('webhook-row').getAttribute('data-enabled')).toBe('true'));
    expect(screen.queryByTestId('webhook-disabled')).toBeNull();
    expect(writes(requests)).toEqual([['PATCH', `${BASE}/webhooks/wh1`, { enabled: true }]]);
  });

  it('rotates the secret only after confirming, showing the new one', async () => {
    const { requests } = renderPage({ endpoints: [endpoint()] });
    fireEvent.click(await screen.findByTestId('webhook-rotate'));
    expect(writes(requests)).toEqual([]);
    fireEvent.click(screen.getByTestId('webhook-rotate-yes'));
    expect((await screen.findByTestId('secret-value')).textContent).toBe('whsec_rotatedrotatedrotatedrotatNeW1');
    expect(screen.getByTestId('webhook-row').textContent).toContain('Segredo …NeW1');
  });

  it('lists deliveries with status, attempts, HTTP code and payload, and redelivers', async () => {
    const { requests } = renderPage({ endpoints: [endpoint()] });
    fireEvent.click(await screen.findByTestId('webhook-deliveries'));
    const row = await screen.findByTestId('delivery-row');
    expect(row.getAttribute('data-status')).toBe('failed');
    expect(row.textContent).toContain('Venda ganha');
    expect(row.textContent).toContain('10 tentativas · HTTP 500');
    fireEvent.click(within(row).getByTestId('delivery-payload-toggle'));
    expect(JSON.parse(screen.getByTestId('delivery-payload').textContent!)).toEqual({ id: 'e1', type: 'conversation.won' });
    fireEvent.click(within(row).getByTestId('delivery-redeliver'));
    await waitFor(() => expect(writes(requests)).toEqual([['POST', `${BASE}/webhooks/wh1/deliveries/d1/redeliver`, {}]]));
    fireEvent.click(screen.getByTestId('deliveries-close'));
    expect(screen.queryByTestId('deliveries-drawer')).toBeNull();
  });

  it('explains how to verify the signature', async () => {
    renderPage({ endpoints: [] });
    expect((await screen.findByTestId('signature-format')).textContent).toBe('Piloto-Signature: t=<segundos Unix>,v1=<HMAC-SHA256 em hex>');
    expect(screen.getByTestId('signature-help').textContent).toContain('Piloto-Event-Id');
  });
});

describe('IntegrationsPage API keys', () => {
  it('lets the owner create a key (shown once) and revoke it after confirming', async () => {
    const { requests } = renderPage({ endpoints: [] });
    expect(await screen.findByTestId('api-keys-empty')).toBeTruthy();
    fireEvent.change(screen.getByTestId('api-key-name'), { target: { value: 'Zapier' } });
    fireEvent.click(screen.getByTestId('api-key-create'));
    expect(within(await screen.findByTestId('secret-reveal')).getByTestId('secret-value').textContent).toBe('pk_live_ab12cdef34567890');
    expect(screen.getByTestId('api-key-row').textContent).toContain('pk_live_ab12…');
    fireEvent.click(screen.getByTestId('api-key-revoke'));
    fireEvent.click(screen.getByTestId('api-key-revoke-yes'));
    await waitFor(() => expect(screen.getByTestId('api-key-row').getAttribute('data-revoked')).toBe('true'));
    expect(writes(requests)).toEqual([
      ['POST', `${BASE}/api-keys`, { name: 'Zapier' }],
      ['DELETE', `${BASE}/api-keys/k1`, undefined],
    ]);
  });

  it('tells admins only the owner manages keys, without asking the API', async () => {
    const { requests } = renderPage({ endpoints: [] }, 'admin');
    expect(await screen.findByTestId('api-keys-owner-only')).toBeTruthy();
    expect(requests.some((r) => r.path.endsWith('/api-keys'))).toBe(false);
  });
});

describe('IntegrationsPage CRM', () => {
  it('shows RD Station refusing a token beside the field', async () => {
    renderPage({ endpoints: [] });
    fireEvent.change(await screen.findByTestId('crm-token'), { target: { value: 'recusado' } });
    fireEvent.click(screen.getByTestId('crm-connect'));
    expect((await screen.findByTestId('field-error-token')).textContent).toBe('RD Station refused the token');
    expect(screen.getByTestId('crm-status').getAttribute('data-connected')).toBe('false');
  });

  it('connects with a token, then maps Piloto stages to the pipeline stages', async () => {
    const { requests } = renderPage({ endpoints: [] });
    fireEvent.change(await screen.findByTestId('crm-token'), { target: { value: 'tok-123' } });
    fireEvent.click(screen.getByTestId('crm-connect'));
    await waitFor(() => expect(screen.getByTestId('crm-status').getAttribute('data-status')).toBe('connected'));
    expect(screen.getByTestId('crm-status').textContent).toContain('Conectado (token …f00d)');
    await waitFor(() => expect(screen.getByTestId('crm-pipeline').textContent).toContain('Funil de vendas'));
    fireEvent.change(screen.getByTestId('crm-pipeline'), { target: { value: 'p1' } });
    const mapping = screen.getByTestId('crm-mapping');
    expect(within(mapping).getAllByTestId('crm-mapping-row').map((row) => row.firstElementChild?.textContent)).toEqual(['Novo', 'Qualificado', 'Agendado', 'Ganho', 'Perdido']);
    fireEvent.change(screen.getByTestId('crm-stage-scheduled'), { target: { value: 's-meet' } });
    fireEvent.change(screen.getByTestId('crm-stage-won'), { target: { value: 's-won' } });
    fireEvent.click(screen.getByTestId('crm-save'));
    expect(await screen.findByTestId('crm-saved')).toBeTruthy();
    expect(writes(requests)).toEqual([
      ['PUT', `${BASE}/crm`, { token: 'tok-123', enabled: true }],
      ['PUT', `${BASE}/crm`, { enabled: true, pipeline_id: 'p1', stage_mapping: { scheduled: 's-meet', won: 's-won' } }],
    ]);
  });

  it('shows a failing CRM and disconnects after confirming', async () => {
    const { requests } = renderPage({ endpoints: [], crm: crm({ connected: true, enabled: true, status: 'failing', error: 'token inválido', token_hint: 'f00d' }) });
    expect((await screen.findByTestId('crm-status')).textContent).toContain('Com falha: token inválido');
    fireEvent.click(screen.getByTestId('crm-disconnect'));
    fireEvent.click(screen.getByTestId('crm-disconnect-yes'));
    await waitFor(() => expect(screen.getByTestId('crm-status').getAttribute('data-connected')).toBe('false'));
    expect(writes(requests)).toEqual([['DELETE', `${BASE}/crm`, undefined]]);
  });
});
