import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import type { Insight, TrafficReport } from '../api/types';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { agent, insight } from '../test/insightFixtures';
import { renderWithSession } from '../test/renderWithSession';
import { InsightsPage } from './InsightsPage';

const BASE = '/api/tenants/clinica';

const report: TrafficReport = {
  since: '2026-10-23T13:00:00Z',
  until: '2026-11-22T13:00:00Z',
  campaigns: [
    {
      key: '120210',
      source_id: '120210',
      headline: 'Limpeza de pele com 20% off',
      source_url: 'https://fb.me/ad-1',
      lost: 3,
      reasons: [
        { reason: 'preço', count: 2 },
        { reason: 'timing', count: 1 },
      ],
      details: ['Achou caro comparado à concorrência.', 'Só pode em dezembro.'],
    },
    { key: 'organic', source_id: null, headline: null, source_url: null, lost: 1, reasons: [{ reason: 'sem resposta', count: 1 }], details: [] },
  ],
};

function server(state: { insights: Insight[]; report: TrafficReport }) {
  return (request: RecordedRequest): Response => {
    const url = new URL(request.url, 'http://console.test');
    if (request.path === `${BASE}/insight-agents`) return jsonResponse(200, { agents: [agent({ agent_id: 'a1', name: 'Auditor' }), agent({ agent_id: 'a2', name: 'Coach' })] });
    if (request.path === `${BASE}/insights/traffic-report`) return jsonResponse(200, state.report);
    if (request.path === `${BASE}/insights`) {
      const status = url.searchParams.get('status');
      const agentId = url.searchParams.get('agent_id');
      return jsonResponse(200, { insights: state.insights.filter((item) => (!status || item.status === status) && (!agentId || item.agent_id === agentId)) });
    }
    const review = /^\/api\/tenants\/clinica\/insights\/([^/]+)\/apply$/.exec(request.path);
    if (request.method === 'POST' && review) {
      state.insights = state.insights.map((item) => (item.insight_id === review[1] ? { ...item, status: 'APPLIED' } : item));
      return jsonResponse(200, state.insights.find((item) => item.insight_id === review[1]));
    }
    return jsonResponse(404, { error: { code: 'not_found', message: request.path, field: null, details: [] } });
  };
}

function renderPage(state: { insights: Insight[]; report: TrafficReport }, path = '/insights') {
  return renderWithSession(
    <Routes>
      <Route path="/insights/:tab?" element={<InsightsPage />} />
      <Route path="/conversas/:conversationId" element={<div data-testid="inbox-stub" />} />
    </Routes>,
    server(state),
    { role: 'owner', path },
  );
}

describe('InsightsPage feed', () => {
  const insights = [
    insight({ insight_id: 'i1', agent_id: 'a1', conversation_id: 'c1', contact_name: 'Mariana' }),
    insight({ insight_id: 'i2', agent_id: 'a2', conversation_id: 'c2', contact_name: 'Paula', status: 'DISMISSED' }),
  ];

  it('lists recent insights linked to their conversations, filters by status and agent, and applies one', async () => {
    const state = { insights, report };
    const { requests } = renderPage(state);
    const cards = await screen.findAllByTestId('insight');
    expect(cards.map((card) => card.getAttribute('data-insight-id'))).toEqual(['i1', 'i2']);
    expect(requests.find((r) => r.path === `${BASE}/insights`)!.url).toBe(`${BASE}/insights?limit=50`);

    fireEvent.change(screen.getByTestId('insights-status-filter'), { target: { value: 'SUGGESTION' } });
    await waitFor(() => expect(screen.getAllByTestId('insight')).toHaveLength(1));
    fireEvent.change(screen.getByTestId('insights-agent-filter'), { target: { value: 'a1' } });
    await waitFor(() => expect(requests.some((r) => r.url === `${BASE}/insights?limit=50&status=SUGGESTION&agent_id=a1`)).toBe(true));

    fireEvent.click(screen.getByTestId('insight-apply'));
    await waitFor(() => expect(screen.queryByTestId('insight')).toBeNull()); // no longer a suggestion
    expect(await screen.findByTestId('insights-empty')).toBeTruthy();

    fireEvent.change(screen.getByTestId('insights-status-filter'), { target: { value: '' } });
    fireEvent.click(await screen.findByText('Conversa com Mariana'));
    expect(await screen.findByTestId('inbox-stub')).toBeTruthy();
  });
});

describe('InsightsPage traffic', () => {
  it('shows each campaign with its lost count, reason bars and latest details, for the chosen period', async () => {
    const { requests } = renderPage({ insights: [], report }, '/insights/trafego');
    const campaigns = await screen.findAllByTestId('traffic-campaign');
    expect(campaigns.map((item) => [item.getAttribute('data-key'), item.getAttribute('data-lost')])).toEqual([
      ['120210', '3'],
      ['organic', '1'],
    ]);
    expect(campaigns[0]!.textContent).toContain('Limpeza de pele com 20% off');
    expect(campaigns[0]!.textContent).toContain('Anúncio 120210');
    expect(within(campaigns[0]!).getByTestId('traffic-lost').textContent).toBe('3 perdidos');
    const reasons = within(campaigns[0]!).getAllByTestId('traffic-reason');
    expect(reasons.map((item) => [item.getAttribute('data-reason'), item.getAttribute('data-count')])).toEqual([
      ['preço', '2'],
      ['timing', '1'],
    ]);
    expect(within(campaigns[0]!).getAllByTestId('traffic-detail').map((item) => item.textContent)).toEqual([
      'Achou caro comparado à concorrência.',
      'Só pode em dezembro.',
    ]);
    expect(campaigns[1]!.textContent).toContain('Sem anúncio (orgânico)');
    expect(requests.filter((r) => r.path.endsWith('traffic-report')).map((r) => r.url)).toEqual([`${BASE}/insights/traffic-report?days=30`]);

    fireEvent.change(screen.getByTestId('traffic-days'), { target: { value: '7' } });
    await waitFor(() => expect(requests.some((r) => r.url === `${BASE}/insights/traffic-report?days=7`)).toBe(true));
  });

  it('explains what the report needs when it is empty', async () => {
    renderPage({ insights: [], report: { ...report, campaigns: [] } }, '/insights/trafego');
    expect((await screen.findByTestId('traffic-empty')).textContent).toContain('precisa do agente "Feedback de tráfego"');
  });
});
