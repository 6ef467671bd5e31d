import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import type { ConversionsSettings, InsightAgent, InsightAgentSpec, InsightTemplate, Role } from '../api/types';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { agent, outputField, trigger } from '../test/insightFixtures';
import { renderWithSession } from '../test/renderWithSession';
import { AgentsPage } from './AgentsPage';

const BASE = '/api/tenants/clinica';

const auditorSpec: InsightAgentSpec = {
  name: 'Auditor de conversão',
  icon: '💰',
  description: 'Detecta uma compra não registrada.',
  prompt: 'O lead pagou?',
  model: 'fast',
  active: true,
  triggers: [trigger({ trigger_id: '', keywords: ['paguei', 'comprovante'], max_per_conversation: 1, conversation_window_minutes: 1440 })],
  fields: [outputField({ name: 'confirmada', type: 'boolean' })],
  apply_action: 'mark_won',
  message_field: null,
  send_conversion: true,
  template: 'conversion_auditor',
};
const templates: InsightTemplate[] = [
  { key: 'qa_auditor', name: 'Auditor de qualidade', icon: '🕵️', description: 'Notas de 0 a 10.', spec: { ...auditorSpec, triggers: [trigger({ event: 'TICKET_WON' })] } },
  { key: 'conversion_auditor', name: 'Auditor de conversão', icon: '💰', description: 'Detecta uma compra.', spec: auditorSpec },
];

interface ServerState {
  agents: InsightAgent[];
  conversions: ConversionsSettings;
}

function server(state: ServerState, override?: (request: RecordedRequest) => Response | undefined) {
  return (request: RecordedRequest): Response => {
    const early = override?.(request);
    if (early) return early;
    const { method, path } = request;
    if (method === 'GET' && path === `${BASE}/insight-templates`) return jsonResponse(200, { templates });
    if (method === 'GET' && path === `${BASE}/insight-agents`) return jsonResponse(200, { agents: state.agents });
    if (method === 'POST' && path === `${BASE}/insight-agents/from-template`) {
      const template = templates.find((item) => item.key === (request.body as { template: string }).template)!;
      const created = agent({ ...template.spec, agent_id: `a${state.agents.length + 1}` });
      state.agents = [...state.agents, created];
      return jsonResponse(201, created);
    }
    if (method === 'POST' && path === `${BASE}/insight-agents`) {
      const created = agent({ ...(request.body as InsightAgentSpec), agent_id: `a${state.agents.length + 1}` });
      state.agents = [...state.agents, created];
      return jsonResponse(201, created);
    }
    const one = /^\/api\/tenants\/clinica\/insight-agents\/([^/]+)$/.exec(path);
    const found = one ? state.agents.find((item) => item.agent_id === one[1]) : undefined;
    if (one && !found) return jsonResponse(404, { error: { code: 'not_found', message: 'insight agent', field: null, details: [] } });
    if (found && method === 'GET') return jsonResponse(200, found);
    if (found && (method === 'PATCH' || method === 'PUT')) {
      const updated = { ...found, ...(request.body as object) };
      state.agents = state.agents.map((item) => (item === found ? updated : item));
      return jsonResponse(200, updated);
    }
    if (found && method === 'DELETE') {
      state.agents = state.agents.filter((item) => item !== found);
      return new Response(null, { status: 204 });
    }
    if (path === `${BASE}/conversions` && method === 'GET') return jsonResponse(200, state.conversions);
    if (path === `${BASE}/conversions` && method === 'PUT') {
      const body = request.body as { dataset_id: string; currency: string };
      state.conversions = { configured: true, dataset_id: body.dataset_id, currency: body.currency, updated_at: '2026-11-22T13:00:00Z' };
      return jsonResponse(200, state.conversions);
    }
    return jsonResponse(404, { error: { code: 'not_found', message: `${method} ${path}`, field: null, details: [] } });
  };
}

const NOT_CONFIGURED: ConversionsSettings = { configured: false, dataset_id: null, currency: null, updated_at: null };

function renderPage(state: ServerState, { role = 'owner' as Role, path = '/agentes-ia', override }: { role?: Role; path?: string; override?: (request: RecordedRequest) => Response | undefined } = {}) {
  return renderWithSession(
    <Routes>
      <Route path="/agentes-ia/:agentId?" element={<AgentsPage />} />
    </Routes>,
    server(state, override),
    { role, path },
  );
}

const writes = (requests: RecordedRequest[]) => requests.filter((r) => r.method !== 'GET').map((r) => [r.method, r.path, r.body]);

describe('AgentsPage gallery', () => {
  it('lists the agents with their triggers in Portuguese, and switches one off', async () => {
    const coach = agent({
      agent_id: 'a1',
      name: 'Coach de fechamento',
      icon: '💡',
      triggers: [
        trigger({ keywords: ['caro', 'vou pensar'], mode: 'copilot', max_per_conversation: 1, conversation_window_minutes: 60, max_per_day: 50 }),
        trigger({ event: 'MACRO_BUTTON_CLICKED' }),
      ],
      template: 'qa_auditor',
    });
    const state: ServerState = { agents: [coach], conversions: NOT_CONFIGURED };
    const { requests } = renderPage(state);
    const card = await screen.findByTestId('agent-card');
    expect(card.getAttribute('data-active')).toBe('true');
    expect(within(card).getByTestId('agent-card-triggers').textContent).toBe(
      '⚡ Nova mensagem do lead com “caro”, “vou pensar” · só no copiloto · no máximo 1 vez por conversa a cada 1\u00a0h · até 50 por dia' +
        '⚡ Botão na conversa (o vendedor clica)',
    );
    expect(card.textContent).toContain('do modelo Auditor de qualidade');
    fireEvent.click(within(card).getByTestId('agent-card-toggle'));
    await waitFor(() => expect(screen.getByTestId('agent-card').getAttribute('data-active')).toBe('false'));
    expect(writes(requests)).toEqual([['PATCH', `${BASE}/insight-agents/a1`, { active: false }]]);
  });

  it('adds a template and opens it in the builder', async () => {
    const state: ServerState = { agents: [], conversions: NOT_CONFIGURED };
    const { requests } = renderPage(state);
    expect(await screen.findByTestId('agents-empty')).toBeTruthy();
    const library = await screen.findAllByTestId('template-card');
    expect(library.map((item) => item.getAttribute('data-template'))).toEqual(['qa_auditor', 'conversion_auditor']);
    fireEvent.click(within(library[1]!).getByTestId('template-add'));
    expect(await screen.findByTestId('builder-note')).toBeTruthy();
    expect(screen.getByTestId('builder-page').getAttribute('data-agent-id')).toBe('a1');
    expect((screen.getByTestId('builder-name') as HTMLInputElement).value).toBe('Auditor de conversão');
    expect((screen.getByTestId('trigger-keywords') as HTMLInputElement).value).toBe('paguei, comprovante');
    expect((screen.getByTestId('builder-apply-action') as HTMLSelectElement).value).toBe('mark_won');
    expect((screen.getByTestId('builder-send-conversion') as HTMLInputElement).checked).toBe(true);
    expect(writes(requests)).toEqual([['POST', `${BASE}/insight-agents/from-template`, { template: 'conversion_auditor' }]]);
  });

  it('shows the Conversions API settings to the owner only; the token is written, never read back', async () => {
    const state: ServerState = { agents: [], conversions: { configured: true, dataset_id: '1234567890', currency: 'BRL', updated_at: '2026-11-20T12:00:00Z' } };
    const { requests } = renderPage(state);
    expect((await screen.findByTestId('conversions-status')).textContent).toContain('Configurada: conjunto de dados 1234567890');
    expect((screen.getByTestId('conversions-token') as HTMLInputElement).value).toBe('');
    fireEvent.change(screen.getByTestId('conversions-dataset'), { target: { value: ' 987654321 ' } });
    fireEvent.change(screen.getByTestId('conversions-currency'), { target: { value: 'usd' } });
    expect((screen.getByTestId('conversions-save') as HTMLButtonElement).disabled).toBe(false); // blank keeps the saved token
    fireEvent.click(screen.getByTestId('conversions-save'));
    expect(await screen.findByTestId('conversions-saved')).toBeTruthy();
    expect(screen.getByTestId('conversions-status').textContent).toContain('conjunto de dados 987654321');
    fireEvent.change(screen.getByTestId('conversions-token'), { target: { value: ' EAAB-novo ' } });
    fireEvent.click(screen.getByTestId('conversions-save'));
    await waitFor(() => expect(writes(requests)).toHaveLength(2));
    expect((screen.getByTestId('conversions-token') as HTMLInputElement).value).toBe('');
    expect(writes(requests)).toEqual([
      ['PUT', `${BASE}/conversions`, { dataset_id: '987654321', currency: 'USD' }],
      ['PUT', `${BASE}/conversions`, { dataset_id: '987654321', access_token: 'EAAB-novo', currency: 'USD' }],
    ]);
  });

  it('hides the Conversions API settings from an admin', async () => {
    const { requests } = renderPage({ agents: [], conversions: NOT_CONFIGURED }, { role: 'admin' });
    await screen.findAllByTestId('template-card');
    expect(screen.queryByTestId('conversions-settings')).toBeNull();
    expect(requests.some((r) => r.path.endsWith('/conversions'))).toBe(false);
  });
});

describe('AgentsPage builder', () => {
  function fillIdentity() {
    fireEvent.change(screen.getByTestId('builder-name'), { target: { value: 'Resumo' } });
    fireEvent.change(screen.getByTestId('builder-icon'), { target: { value: '📝' } });
    fireEvent.change(screen.getByTestId('builder-prompt'), { target: { value: 'Resuma a conversa.' } });
  }
  const rows = () => screen.getAllByTestId('output-field');
  function addField(name: string, type: string, description = '') {
    fireEvent.click(screen.getByTestId('field-add'));
    const row = rows().at(-1)!;
    fireEvent.change(within(row).getByTestId('field-name'), { target: { value: name } });
    fireEvent.change(within(row).getByTestId('field-type'), { target: { value: type } });
    if (description) fireEvent.change(within(row).getByTestId('field-description'), { target: { value: description } });
    return row;
  }

  it('creates an agent whose spec has every field the editor added', async () => {
    const state: ServerState = { agents: [], conversions: NOT_CONFIGURED };
    const { requests } = renderPage(state, { path: '/agentes-ia/novo' });
    await screen.findByTestId('builder-form');
    fillIdentity();
    fireEvent.change(screen.getByTestId('trigger-event'), { target: { value: 'MACRO_BUTTON_CLICKED' } });
    expect(screen.queryByTestId('trigger-keywords')).toBeNull(); // keywords are for a lead's message only
    fireEvent.click(screen.getByTestId('trigger-add'));
    const second = screen.getAllByTestId('trigger')[1]!;
    fireEvent.change(within(second).getByTestId('trigger-keywords'), { target: { value: 'caro, desconto' } });
    fireEvent.change(within(second).getByTestId('trigger-max-per-conversation'), { target: { value: '2' } });
    fireEvent.change(within(second).getByTestId('trigger-window'), { target: { value: '120' } });
    fireEvent.change(within(second).getByTestId('trigger-max-per-day'), { target: { value: '40' } });

    const temperature = addField('temperatura', 'enum', 'Temperatura do lead');
    fireEvent.click(within(temperature).getByTestId('field-options-add'));
    fireEvent.change(within(temperature).getByTestId('field-options-0'), { target: { value: 'quente' } });
    fireEvent.click(within(temperature).getByTestId('field-options-add'));
    fireEvent.change(within(temperature).getByTestId('field-options-1'), { target: { value: 'frio' } });
    const score = addField('nota', 'number');
    fireEvent.change(within(score).getByTestId('field-minimum'), { target: { value: '0' } });
    fireEvent.change(within(score).getByTestId('field-maximum'), { target: { value: '10' } });
    const steps = addField('passos', 'array');
    fireEvent.change(within(steps).getByTestId('field-items'), { target: { value: 'string' } });
    const paid = addField('pagou', 'boolean');
    fireEvent.click(within(paid).getByTestId('field-required'));
    addField('mensagem', 'string', 'Mensagem para o lead');
    fireEvent.click(within(rows()[4]!).getByTestId('field-up')); // mensagem before pagou
    fireEvent.change(screen.getByTestId('builder-message-field'), { target: { value: 'mensagem' } });
    fireEvent.change(screen.getByTestId('builder-apply-action'), { target: { value: 'mark_lost' } });
    expect(screen.queryByTestId('builder-send-conversion')).toBeNull(); // only with marking won

    fireEvent.click(screen.getByTestId('builder-save'));
    await waitFor(() => expect(state.agents).toHaveLength(1));
    expect(await screen.findByTestId('agents-page')).toBeTruthy(); // back to the gallery
    expect(writes(requests)).toEqual([
      [
        'POST',
        `${BASE}/insight-agents`,
        {
          name: 'Resumo',
          icon: '📝',
          description: '',
          prompt: 'Resuma a conversa.',
          model: 'fast',
          active: true,
          triggers: [
            trigger({ trigger_id: '', event: 'MACRO_BUTTON_CLICKED' }),
            trigger({ trigger_id: '', keywords: ['caro', 'desconto'], max_per_conversation: 2, conversation_window_minutes: 120, max_per_day: 40 }),
          ],
          fields: [
            outputField({ name: 'temperatura', type: 'enum', description: 'Temperatura do lead', options: ['quente', 'frio'] }),
            outputField({ name: 'nota', type: 'number', minimum: 0, maximum: 10 }),
            outputField({ name: 'passos', type: 'array' }),
            outputField({ name: 'mensagem', type: 'string', description: 'Mensagem para o lead' }),
            outputField({ name: 'pagou', type: 'boolean', required: false }),
          ],
          apply_action: 'mark_lost',
          message_field: 'mensagem',
          send_conversion: false,
          template: null,
        },
      ],
    ]);
  });

  it('refuses an enum without two options beside the field, sending nothing', async () => {
    const { requests } = renderPage({ agents: [], conversions: NOT_CONFIGURED }, { path: '/agentes-ia/novo' });
    await screen.findByTestId('builder-form');
    fillIdentity();
    const reason = addField('motivo', 'enum');
    fireEvent.click(within(reason).getByTestId('field-options-add'));
    fireEvent.change(within(reason).getByTestId('field-options-0'), { target: { value: 'preço' } });
    fireEvent.click(screen.getByTestId('builder-save'));
    expect((await screen.findByTestId('field-error-fields.0')).textContent).toBe('Um campo de opções precisa de 2 a 20 opções.');
    expect(writes(requests)).toEqual([]);
  });

  it("shows the server's 422 reasons beside the field they name", async () => {
    const { requests } = renderPage(
      { agents: [], conversions: NOT_CONFIGURED },
      {
        path: '/agentes-ia/novo',
        override: (request) =>
          request.method === 'POST'
            ? jsonResponse(422, {
                error: {
                  code: 'validation_failed',
                  message: 'fields.0: field name reserved',
                  field: 'fields.0',
                  details: [
                    { field: 'fields.0', reason: "field name 'model_x' is reserved" },
                    { field: 'body', reason: 'send_conversion needs apply_action mark_won' },
                  ],
                },
              })
            : undefined,
      },
    );
    await screen.findByTestId('builder-form');
    fillIdentity();
    addField('model_x', 'string');
    fireEvent.click(screen.getByTestId('builder-save'));
    expect((await screen.findByTestId('field-error-fields.0')).textContent).toBe("field name 'model_x' is reserved");
    const banner = screen.getByTestId('error-banner');
    expect(banner.textContent).toContain('Alguns campos estão inválidos.');
    expect(banner.textContent).toContain('body: send_conversion needs apply_action mark_won');
    expect(banner.textContent).not.toContain('model_x');
    expect(screen.getByTestId('builder-form')).toBeTruthy();
    expect(writes(requests)).toHaveLength(1);
  });

  it('edits an agent with PUT and deletes one after confirming', async () => {
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(true);
    const stored = agent({ ...auditorSpec, agent_id: 'a7', triggers: [trigger({ trigger_id: 'x1', keywords: ['paguei'] })] });
    const state: ServerState = { agents: [stored], conversions: NOT_CONFIGURED };
    const { requests } = renderPage(state, { path: '/agentes-ia/a7' });
    await screen.findByTestId('builder-form');
    fireEvent.change(screen.getByTestId('trigger-keywords'), { target: { value: 'paguei, pix feito' } });
    fireEvent.change(screen.getByTestId('builder-model'), { target: { value: 'precise' } });
    fireEvent.click(screen.getByTestId('builder-save'));
    expect(await screen.findByTestId('agents-page')).toBeTruthy();
    const [put] = writes(requests);
    expect(put![0]).toBe('PUT');
    expect(put![1]).toBe(`${BASE}/insight-agents/a7`);
    expect(put![2]).toMatchObject({ model: 'precise', template: 'conversion_auditor', send_conversion: true, triggers: [{ trigger_id: 'x1', keywords: ['paguei', 'pix feito'] }] });

    fireEvent.click(await screen.findByTestId('agent-card-edit'));
    fireEvent.click(await screen.findByTestId('builder-delete'));
    expect(confirm).toHaveBeenCalledWith('Excluir o agente Auditor de conversão? Os insights que ele já gerou continuam guardados.');
    expect(await screen.findByTestId('agents-empty')).toBeTruthy();
    expect(writes(requests).at(-1)).toEqual(['DELETE', `${BASE}/insight-agents/a7`, undefined]);
  });
});
