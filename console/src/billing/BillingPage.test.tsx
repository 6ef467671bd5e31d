import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import type { User } from 'firebase/auth';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApiClient } from '../api/client';
import type { Billing, ClientWorkspaces as Workspaces, NewTenant, Role } from '../api/types';
import { ApiContext, type Session, SessionContext } from '../app/context';
import { activeBilling, agency, billing, catalogue, clientWorkspace, pro, starter, usage } from '../test/billingFixtures';
import { type RecordedRequest, fakeFetch, jsonResponse } from '../test/fakeFetch';
import { BillingProvider } from './BillingContext';
import { BillingPage, CHECKOUT_WAIT_MS } from './BillingPage';
import { browserNavigation } from './redirect';

const BASE = '/api/tenants/clinica';

interface ServerState {
  billing: Billing;
  /** Billing answers after this one, in order (the webhook activating the subscription). */
  next?: Billing[];
  workspaces?: Workspaces;
}

function server(state: ServerState, override?: (request: RecordedRequest) => Response | undefined) {
  return (request: RecordedRequest): Response => {
    const early = override?.(request);
    if (early) return early;
    const { method, path } = request;
    if (method === 'GET' && path === '/api/plans') return jsonResponse(200, catalogue);
    if (method === 'GET' && path === `${BASE}/billing`) {
      const answer = state.billing;
      if (state.next?.length) state.billing = state.next.shift()!;
      return jsonResponse(200, answer);
    }
    if (method === 'POST' && path === `${BASE}/billing/checkout`) return jsonResponse(200, { url: 'http://stripe.test/checkout/cs_1', session_id: 'cs_1' });
    if (method === 'POST' && path === `${BASE}/billing/portal`) return jsonResponse(200, { url: 'http://stripe.test/portal/bps_1' });
    if (method === 'POST' && path === `${BASE}/billing/plan`) {
      const plan = catalogue.plans.find((item) => item.plan_id === (request.body as { plan_id: string }).plan_id)!;
      state.billing = activeBilling(plan);
      return jsonResponse(200, state.billing);
    }
    if (method === 'GET' && path === `${BASE}/workspaces` && state.workspaces) return jsonResponse(200, state.workspaces);
    if (method === 'POST' && path === `${BASE}/workspaces` && state.workspaces) {
      const body = request.body as NewTenant;
      const id = body.name.toLowerCase().replace(/\W+/g, '-');
      state.workspaces = { ...state.workspaces, used: state.workspaces.used + 1, workspaces: [...state.workspaces.workspaces, clientWorkspace(id, body.name)] };
      return jsonResponse(201, { tenant_id: id, name: body.name, timezone: body.timezone, locale: 'pt-BR', role: 'owner' });
    }
    return jsonResponse(404, { error: { code: 'not_found', message: `${method} ${path}`, field: null, details: [] } });
  };
}

function Where() {
  const location = useLocation();
  return <div data-testid="location">{`${location.pathname}${location.search}`}</div>;
}

function renderPage(state: ServerState, { role = 'owner' as Role, path = '/assinatura', override }: { role?: Role; path?: string; override?: (request: RecordedRequest) => Response | undefined } = {}) {
  const fake = fakeFetch(server(state, override));
  const api = createApiClient({ getToken: async () => 'token', fetch: fake.fetch });
  const session: Session = {
    user: { uid: 'u-ana' } as User,
    me: { uid: 'u-ana', email: 'ana@clinica.com', email_verified: true, memberships: [{ tenant_id: 'clinica', tenant_name: 'Clínica', role }], invites: [] },
    tenantId: 'clinica',
    role,
    tenant: { tenant_id: 'clinica', name: 'Clínica', timezone: 'America/Sao_Paulo', locale: 'pt-BR', role },
    switchTenant: vi.fn(),
    reloadMe: vi.fn(async () => undefined),
    signOut: () => undefined,
  };
  const result = render(
    <ApiContext.Provider value={api}>
      <SessionContext.Provider value={session}>
        <MemoryRouter initialEntries={[path]}>
          <BillingProvider>
            <Routes>
              <Route path="/assinatura" element={<BillingPage />} />
              <Route path="*" element={<Where />} />
            </Routes>
          </BillingProvider>
        </MemoryRouter>
      </SessionContext.Provider>
    </ApiContext.Provider>,
  );
  return { ...result, requests: fake.requests, session };
}

const writes = (requests: RecordedRequest[]) => requests.filter((r) => r.method !== 'GET').map((r) => [r.method, r.path, r.body]);
const planCard = (id: string) => screen.getAllByTestId('plan-card').find((card) => card.getAttribute('data-plan-id') === id)!;
const actionOf = (id: string) => within(planCard(id)).queryByTestId('plan-action');
const usageOf = (quota: string) => screen.getAllByTestId('usage-line').find((line) => line.getAttribute('data-quota') === quota)!;

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('BillingPage states', () => {
  it('shows a trial: the Pro plan, until when, every quota, and Checkout on every plan', async () => {
    renderPage({ billing: billing() });
    expect((await screen.findByTestId('billing-status')).textContent).toBe('Em teste até 05/12');
    const card = screen.getByTestId('billing-plan');
    expect(card.getAttribute('data-plan-id')).toBe('pro');
    expect(card.textContent).toContain('R$\u00a0497/mês');
    expect(screen.queryByTestId('billing-renewal')).toBeNull();
    expect(screen.queryByTestId('billing-portal')).toBeNull(); // no Stripe customer during a trial
    expect(screen.getAllByTestId('usage-line').map((line) => line.textContent?.split('·')[0]?.trim())).toEqual([
      'Respostas do agente neste mês120 de 5.000',
      'Canais1 de 5',
      'Assentos2 de 15',
      'Agentes de IA0 de 30',
      'Conhecimento (MB)0,4 de 200',
    ]);
    await screen.findAllByTestId('plan-card');
    expect(actionOf('starter')?.getAttribute('data-action')).toBe('subscribe');
    expect(actionOf('pro')?.textContent).toBe('Assinar este plano');
    expect(planCard('pro').textContent).toContain('Plano do teste');
    expect(actionOf('agency')?.textContent).toBe('Fazer upgrade');
    expect(planCard('agency').textContent).toContain('20 workspaces de clientes');
    expect(planCard('pro').textContent).not.toContain('workspaces');
  });

  it('shows an active subscription: renewal, the current plan, and the portal', async () => {
    const assign = vi.spyOn(browserNavigation, 'assign').mockImplementation(() => undefined);
    const { requests } = renderPage({ billing: activeBilling(pro) });
    expect((await screen.findByTestId('billing-status')).textContent).toBe('Ativa');
    expect(screen.getByTestId('billing-renewal').textContent).toBe('Renova em 22/12');
    await screen.findAllByTestId('plan-card');
    expect(actionOf('pro')?.textContent).toBe('Plano atual');
    expect((actionOf('pro') as HTMLButtonElement).disabled).toBe(true);
    expect(planCard('pro').getAttribute('data-current')).toBe('true');
    expect(actionOf('starter')?.textContent).toBe('Mudar para este plano');
    fireEvent.click(screen.getByTestId('billing-portal'));
    await waitFor(() => expect(assign).toHaveBeenCalledWith('http://stripe.test/portal/bps_1'));
    expect(writes(requests)).toEqual([['POST', `${BASE}/billing/portal`, {}]]);
  });

  it('says when a subscription cancels at the period end', async () => {
    renderPage({ billing: activeBilling(pro, { cancel_at_period_end: true }) });
    expect((await screen.findByTestId('billing-renewal')).textContent).toBe('Cancela em 22/12');
  });

  it('shows a pending payment with the date the service lasts until', async () => {
    renderPage({ billing: activeBilling(pro, { status: 'past_due', past_due_since: '2026-11-20T12:00:00Z', grace_ends_at: '2026-11-27T12:00:00Z' }) });
    expect((await screen.findByTestId('billing-status')).textContent).toBe('Pagamento pendente: o serviço continua até 27/11');
    expect(screen.queryByTestId('billing-stopped')).toBeNull();
  });

  it('shows a canceled workspace as read-only with the agent off, and offers Checkout again', async () => {
    renderPage({ billing: billing({ plan: starter, status: 'canceled', trial_ends_at: null, agent_on: false, read_only: true, stop_reason: 'canceled' }) });
    expect((await screen.findByTestId('billing-status')).textContent).toBe('Cancelada: somente leitura, agente desligado');
    expect(screen.getByTestId('billing-stopped').textContent).toContain('somente leitura');
    expect(screen.getByTestId('billing-portal')).toBeTruthy(); // the customer's invoices stay reachable
    await screen.findAllByTestId('plan-card');
    expect(actionOf('starter')?.getAttribute('data-action')).toBe('subscribe');
    expect(actionOf('pro')?.getAttribute('data-action')).toBe('upgrade');
  });

  it('shows an ended trial', async () => {
    renderPage({ billing: billing({ agent_on: false, read_only: true, stop_reason: 'trial_expired', trial_ends_at: '2026-11-01T12:00:00Z' }) });
    expect((await screen.findByTestId('billing-status')).textContent).toBe('Teste encerrado');
    expect(screen.getByTestId('billing-stopped').getAttribute('data-reason')).toBe('trial_expired');
  });

  it('colours each quota by level and says what the level means', async () => {
    const lines = [
      usage('agent_replies', 5200, 5000, 'reached', 5500),
      usage('channels', 4, 5, 'warning'),
      usage('seats', 15, 15, 'reached'),
      usage('insight_agents', 31, 30, 'exceeded'),
      usage('knowledge_mb', 12.5, 200),
    ];
    renderPage({ billing: activeBilling(pro, { usage: lines }) });
    await screen.findByTestId('billing-usage');
    expect(usageOf('agent_replies').className).toContain('usage-reached');
    expect(within(usageOf('agent_replies')).getByTestId('usage-hint').textContent).toBe('Limite atingido: margem de tolerância até 5.500.');
    expect(within(usageOf('channels')).getByTestId('usage-hint').textContent).toBe('Você usou 80% do limite do plano.');
    expect(within(usageOf('seats')).getByTestId('usage-hint').textContent).toBe('Limite atingido: não é possível adicionar mais.');
    expect(usageOf('insight_agents').getAttribute('data-level')).toBe('exceeded');
    expect(within(usageOf('insight_agents')).getByTestId('usage-hint').textContent).toBe('Acima do limite do plano: não é possível adicionar mais.');
    expect(within(usageOf('knowledge_mb')).queryByTestId('usage-hint')).toBeNull();
    expect(within(usageOf('knowledge_mb')).getByTestId('usage-value').textContent).toBe('12,5 de 200 · 6%');
    // the bar never overflows past 100%
    const fill = usageOf('insight_agents').querySelector('.usage-fill') as HTMLElement;
    expect(fill.style.width).toBe('100%');
  });

  it('says replies beyond the margin go to the team', async () => {
    renderPage({ billing: activeBilling(pro, { usage: [usage('agent_replies', 5500, 5000, 'exceeded', 5500)] }) });
    await screen.findByTestId('billing-usage');
    expect(within(usageOf('agent_replies')).getByTestId('usage-hint').textContent).toBe('Acima do limite: novas conversas vão para a equipe.');
  });
});

describe('BillingPage plan buttons', () => {
  it('without a subscription, sends the owner to Stripe Checkout for the chosen plan', async () => {
    const assign = vi.spyOn(browserNavigation, 'assign').mockImplementation(() => undefined);
    const { requests } = renderPage({ billing: billing() });
    await screen.findAllByTestId('plan-card');
    fireEvent.click(actionOf('agency')!);
    await waitFor(() => expect(assign).toHaveBeenCalledWith('http://stripe.test/checkout/cs_1'));
    expect(writes(requests)).toEqual([['POST', `${BASE}/billing/checkout`, { plan_id: 'agency' }]]);
    expect(screen.queryByTestId('plan-confirm')).toBeNull();
  });

  it('with a subscription, confirms and changes the plan in place', async () => {
    const assign = vi.spyOn(browserNavigation, 'assign').mockImplementation(() => undefined);
    const { requests } = renderPage({ billing: activeBilling(pro) });
    await screen.findAllByTestId('plan-card');
    fireEvent.click(actionOf('starter')!);
    const dialog = screen.getByTestId('plan-confirm');
    expect(dialog.textContent).toContain('Mudar para o plano Starter?');
    expect(dialog.textContent).toContain('R$\u00a0197/mês');
    expect(dialog.textContent).toContain('nada é removido'); // a downgrade
    fireEvent.click(screen.getByTestId('plan-confirm-cancel'));
    expect(screen.queryByTestId('plan-confirm')).toBeNull();
    expect(writes(requests)).toEqual([]);

    fireEvent.click(actionOf('agency')!);
    expect(screen.getByTestId('plan-confirm').textContent).not.toContain('nada é removido');
    fireEvent.click(screen.getByTestId('plan-confirm-yes'));
    await waitFor(() => expect(screen.getByTestId('billing-plan').getAttribute('data-plan-id')).toBe('agency'));
    expect(screen.getByTestId('plan-changed').textContent).toBe('Plano alterado para Agency.');
    expect(actionOf('agency')?.textContent).toBe('Plano atual');
    expect(writes(requests).filter(([method]) => method === 'POST')[0]).toEqual(['POST', `${BASE}/billing/plan`, { plan_id: 'agency' }]);
    expect(assign).not.toHaveBeenCalled();
  });

  it('shows a refused plan change in Portuguese and keeps the dialog', async () => {
    const conflict = { error: { code: 'conflict', message: 'the subscription is canceled at Stripe', field: null, details: [] } };
    renderPage({ billing: activeBilling(pro) }, { override: (r) => (r.method === 'POST' ? jsonResponse(409, conflict) : undefined) });
    await screen.findAllByTestId('plan-card');
    fireEvent.click(actionOf('starter')!);
    fireEvent.click(screen.getByTestId('plan-confirm-yes'));
    expect((await screen.findByTestId('error-banner')).getAttribute('data-code')).toBe('conflict');
    expect(screen.getByTestId('plan-confirm')).toBeTruthy();
    expect(screen.getByTestId('billing-plan').getAttribute('data-plan-id')).toBe('pro');
  });

  it('in a client workspace, shows the plan without buttons and names the workspace that manages billing', async () => {
    renderPage({ billing: activeBilling(agency, { manages_billing: false, home_tenant_id: 'agencia', home_tenant_name: 'Agência Alfa', account_id: 'agencia' }) });
    expect((await screen.findByTestId('billing-managed-elsewhere')).textContent).toBe('A cobrança é gerida no workspace Agência Alfa.');
    await screen.findAllByTestId('plan-card');
    expect(screen.queryAllByTestId('plan-action')).toEqual([]);
    expect(screen.queryByTestId('billing-portal')).toBeNull();
    expect(screen.queryByTestId('client-workspaces')).toBeNull();
  });

  it('for an admin of the home workspace, is read-only and says only the owner changes the plan', async () => {
    const { requests } = renderPage({ billing: activeBilling(pro, { manages_billing: false }) }, { role: 'admin' });
    expect((await screen.findByTestId('billing-managed-elsewhere')).textContent).toBe('Só o proprietário muda o plano e a forma de pagamento.');
    await screen.findAllByTestId('plan-card');
    expect(screen.queryAllByTestId('plan-action')).toEqual([]);
    expect(writes(requests)).toEqual([]);
  });
});

describe('BillingPage after Checkout', () => {
  it('waits for the webhook to activate the subscription, then says so', async () => {
    const trial = billing();
    renderPage({ billing: trial, next: [trial, activeBilling(agency)] }, { path: '/assinatura?checkout=success' });
    expect((await screen.findByTestId('checkout-notice')).textContent).toBe('Pagamento recebido; ativando sua assinatura…');
    await waitFor(() => expect(screen.getByTestId('checkout-notice').getAttribute('data-state')).toBe('done'), { timeout: 5000 });
    expect(screen.getByTestId('checkout-notice').textContent).toBe('Assinatura ativa: plano Agency.');
    expect(screen.getByTestId('billing-status').textContent).toBe('Ativa');
  });

  it('after 30 s without activation, gives a hint instead of waiting forever', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const { requests } = renderPage({ billing: billing() }, { path: '/assinatura?checkout=success' });
    await screen.findByTestId('billing-status');
    await act(async () => {
      await vi.advanceTimersByTimeAsync(CHECKOUT_WAIT_MS + 100);
    });
    expect(screen.getByTestId('checkout-notice').getAttribute('data-state')).toBe('slow');
    expect(screen.getByTestId('checkout-notice').textContent).toContain('está demorando');
    const polls = requests.filter((r) => r.path === `${BASE}/billing`).length;
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10_000);
    });
    expect(requests.filter((r) => r.path === `${BASE}/billing`).length).toBe(polls); // stopped polling every 2 s
    expect(polls).toBeGreaterThanOrEqual(10);
  });

  it('says nothing was charged when Checkout was abandoned', async () => {
    renderPage({ billing: billing() }, { path: '/assinatura?checkout=cancel' });
    const notice = await screen.findByTestId('checkout-notice');
    expect(notice.getAttribute('data-state')).toBe('canceled');
    expect(notice.textContent).toContain('Nada foi cobrado');
  });
});

describe('BillingPage client workspaces', () => {
  const agencyHome = () => activeBilling(agency, { home_tenant_name: 'Clínica' });

  it('lists the workspaces with their replies, creates one and opens it', async () => {
    const state: ServerState = {
      billing: agencyHome(),
      workspaces: { workspaces: [clientWorkspace('clinica', 'Clínica', 300), clientWorkspace('loja-bela', 'Loja Bela', 4200)], limit: 20, used: 1 },
    };
    const { requests, session } = renderPage(state);
    const rows = await screen.findAllByTestId('workspace-row');
    expect(rows.map((row) => row.getAttribute('data-tenant-id'))).toEqual(['clinica', 'loja-bela']);
    expect(within(rows[0]!).queryByTestId('workspace-open')).toBeNull(); // the one open now
    expect(within(rows[1]!).getByTestId('usage-value').textContent).toBe('4.200 de 5.000 · 84%');
    expect(screen.getByTestId('workspaces-count').textContent).toBe('1 de 20 workspaces de clientes');

    fireEvent.change(screen.getByTestId('workspace-new-name'), { target: { value: 'Pet Shop Bidu' } });
    fireEvent.change(screen.getByTestId('workspace-new-timezone'), { target: { value: 'America/Manaus' } });
    fireEvent.click(screen.getByTestId('workspace-submit'));
    expect((await screen.findByTestId('workspace-created')).textContent).toBe('Workspace Pet Shop Bidu criado.');
    expect(writes(requests)).toEqual([['POST', `${BASE}/workspaces`, { name: 'Pet Shop Bidu', timezone: 'America/Manaus', locale: 'pt-BR' }]]);
    expect(session.reloadMe).toHaveBeenCalled();
    const added = screen.getAllByTestId('workspace-row').find((row) => row.getAttribute('data-tenant-id') === 'pet-shop-bidu')!;
    expect(screen.getByTestId('workspaces-count').textContent).toBe('2 de 20 workspaces de clientes');
    fireEvent.click(within(added).getByTestId('workspace-open'));
    expect(session.switchTenant).toHaveBeenCalledWith('pet-shop-bidu');
    expect(screen.getByTestId('location').textContent).toBe('/conversas');
  });

  it('shows a refusal over the quota in Portuguese, pointing to Assinatura', async () => {
    const refusal = 'the Agency plan allows 20 workspaces; remove one or upgrade';
    const state: ServerState = { billing: agencyHome(), workspaces: { workspaces: [clientWorkspace('clinica', 'Clínica')], limit: 20, used: 0 } };
    renderPage(state, {
      override: (r) =>
        r.method === 'POST' ? jsonResponse(402, { error: { code: 'payment_required', message: refusal, field: 'workspaces', details: [{ field: 'workspaces', reason: refusal }] } }) : undefined,
    });
    expect(await screen.findByTestId('workspaces-empty')).toBeTruthy();
    fireEvent.change(screen.getByTestId('workspace-new-name'), { target: { value: 'Cliente' } });
    fireEvent.click(screen.getByTestId('workspace-submit'));
    const banner = await screen.findByTestId('error-banner');
    expect(banner.getAttribute('data-code')).toBe('payment_required');
    expect(banner.textContent).toContain('Assinatura');
    expect(banner.textContent).not.toContain(refusal);
  });

  it('is not offered on a plan without client workspaces', async () => {
    const { requests } = renderPage({ billing: activeBilling(pro) });
    await screen.findByTestId('billing-usage');
    expect(screen.queryByTestId('client-workspaces')).toBeNull();
    expect(requests.some((r) => r.path === `${BASE}/workspaces`)).toBe(false);
  });
});
