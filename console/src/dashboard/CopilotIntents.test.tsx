import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { CopilotIntents as CopilotIntentsData, IntentStats, Role } from '../api/types';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { renderWithSession } from '../test/renderWithSession';
import { CopilotIntents } from './CopilotIntents';

function stats(overrides: Partial<IntentStats> & Pick<IntentStats, 'intent'>): IntentStats {
  return { mode: 'copilot', offered: 0, accepted: 0, edited: 0, ignored: 0, dismissed: 0, acceptance_rate: null, mean_similarity: null, eligible: false, ...overrides };
}

function fixture(): CopilotIntentsData {
  return {
    threshold: 0.85,
    min_samples: 20,
    days: 30,
    intents: [
      stats({ intent: 'qualify', mode: 'pilot', offered: 50, accepted: 45, edited: 3, ignored: 1, dismissed: 1, acceptance_rate: 0.96, mean_similarity: 0.91, eligible: true }),
      stats({ intent: 'sell', offered: 40, accepted: 30, edited: 7, ignored: 2, dismissed: 1, acceptance_rate: 0.925, mean_similarity: 0.88, eligible: true }),
      stats({ intent: 'schedule', offered: 10, accepted: 9, edited: 1, acceptance_rate: 1, mean_similarity: 0.95, eligible: false }),
      stats({ intent: 'close', offered: 30, accepted: 10, edited: 5, ignored: 10, dismissed: 5, acceptance_rate: 0.5, mean_similarity: 0.42 }),
      stats({ intent: 'handoff' }),
    ],
  };
}

function server(data: CopilotIntentsData, tenantMode: 'pilot' | 'copilot' = 'copilot') {
  return (request: RecordedRequest): Response => {
    if (request.method === 'GET' && request.path.endsWith('/agent')) return jsonResponse(200, { mode: tenantMode, pilot_intents: ['qualify'] });
    if (request.method === 'GET') return jsonResponse(200, data);
    const intent = request.path.split('/').pop()!;
    const mode = (request.body as { mode: 'pilot' | 'copilot' }).mode;
    data.intents = data.intents.map((item) => (item.intent === intent ? { ...item, mode } : item));
    return jsonResponse(200, data.intents.find((item) => item.intent === intent));
  };
}

function renderSection(role: Role, data = fixture(), tenantMode: 'pilot' | 'copilot' = 'copilot') {
  return renderWithSession(<CopilotIntents days={30} />, server(data, tenantMode), { role });
}

const row = (intent: string) => screen.getAllByTestId('intent-row').find((item) => item.getAttribute('data-intent') === intent)!;

describe('Copiloto por intenção', () => {
  it('shows each intent with its figures as the API gives them, in Portuguese', async () => {
    const { requests } = renderSection('owner');
    await screen.findAllByTestId('intent-row');
    expect(requests.map((r) => r.url)).toContain('/api/tenants/clinica/copilot/intents?days=30');
    expect(screen.getAllByTestId('intent-row').map((item) => item.querySelector('th')!.textContent)).toEqual([
      'Qualificação',
      'Dúvidas e vendas',
      'Agendamento',
      'Objeções e fechamento',
      'Transferência',
    ]);
    const sell = row('sell');
    expect([...sell.querySelectorAll('td')].slice(1, 6).map((cell) => cell.textContent)).toEqual(['40', '30', '7', '2', '1']);
    expect(sell.textContent).toContain('93%');
    expect(sell.textContent).toContain('88%');
    expect(row('qualify').getAttribute('data-mode')).toBe('pilot');
    expect(row('handoff').textContent).toContain('sem dados');
    expect(screen.getByTestId('copilot-intents-intro').textContent).toBe(
      'Sugestões do copiloto nos últimos 30 dias. Uma intenção pode passar ao piloto quando a aceitação chega a 85% em pelo menos 20 sugestões.',
    );
  });

  it('proposes pilot only for an eligible intent still in copilot', async () => {
    renderSection('owner');
    const card = await screen.findByTestId('promotion-sell');
    expect(card.textContent).toContain('A intenção Dúvidas e vendas teve 93% de aceitação em 40 sugestões. Deixar o agente responder sozinho?');
    expect(screen.queryByTestId('promotion-qualify')).toBeNull(); // already pilot
    expect(screen.queryByTestId('promotion-schedule')).toBeNull(); // 100% but too few samples: the API says not eligible
    expect(screen.queryByTestId('promotion-close')).toBeNull();
  });

  it('lets the owner switch the intent to pilot, then shows it as pilot', async () => {
    const { requests } = renderSection('owner');
    fireEvent.click(await screen.findByTestId('promote-sell'));
    await waitFor(() => expect(row('sell').getAttribute('data-mode')).toBe('pilot'));
    expect(screen.queryByTestId('promotion-sell')).toBeNull();
    expect(requests.filter((r) => r.method === 'PUT').map((r) => [r.path, r.body])).toEqual([
      ['/api/tenants/clinica/copilot/intents/sell', { mode: 'pilot' }],
    ]);
  });

  it('lets the owner send a pilot intent back to copilot after confirming', async () => {
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(true);
    const { requests } = renderSection('owner');
    fireEvent.click(await screen.findByTestId('demote-qualify'));
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining('Qualificação'));
    await waitFor(() => expect(row('qualify').getAttribute('data-mode')).toBe('copilot'));
    expect(requests.filter((r) => r.method === 'PUT').map((r) => r.body)).toEqual([{ mode: 'copilot' }]);
  });

  it('offers no per-intent switch back while the whole agent is in pilot, and says why', async () => {
    const data = fixture();
    data.intents = data.intents.map((item) => ({ ...item, mode: 'pilot' as const }));
    renderSection('owner', data, 'pilot');
    expect((await screen.findByTestId('copilot-tenant-pilot')).textContent).toContain('modo piloto');
    expect(screen.queryByTestId('demote-qualify')).toBeNull();
    expect(screen.queryByTestId('promotion-sell')).toBeNull();
  });

  it('shows admins the proposal without the switch', async () => {
    const { requests } = renderSection('admin');
    const card = await screen.findByTestId('promotion-sell');
    expect(within(card).queryByRole('button')).toBeNull();
    expect(card.textContent).toContain('Só o proprietário decide');
    expect(screen.queryByTestId('demote-qualify')).toBeNull();
    expect(requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('shows a refused switch in Portuguese and keeps the mode', async () => {
    renderWithSession(<CopilotIntents days={30} />, (request) =>
      request.method === 'GET'
        ? jsonResponse(200, request.path.endsWith('/agent') ? { mode: 'copilot', pilot_intents: [] } : fixture())
        : jsonResponse(403, { error: { code: 'forbidden', message: 'owner only', field: null, details: [] } }),
    );
    fireEvent.click(await screen.findByTestId('promote-sell'));
    expect((await screen.findByTestId('error-banner')).textContent).toContain('Você não tem permissão');
    expect(row('sell').getAttribute('data-mode')).toBe('copilot');
  });
});
