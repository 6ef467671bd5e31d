import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { User } from 'firebase/auth';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import { createApiClient } from '../api/client';
import type { Billing, Membership, Role } from '../api/types';
import { activeBilling, billing, catalogue, pro, usage } from '../test/billingFixtures';
import { type RecordedRequest, fakeFetch, jsonResponse } from '../test/fakeFetch';
import { ApiContext, type Session, SessionContext } from './context';
import { Shell } from './Shell';

function renderShell(answer: Billing, { role = 'owner' as Role, path = '/agente', memberships }: { role?: Role; path?: string; memberships?: Membership[] } = {}) {
  const fake = fakeFetch((request: RecordedRequest) => {
    if (request.path === '/api/tenants/clinica/billing') return jsonResponse(200, answer);
    if (request.path === '/api/plans') return jsonResponse(200, catalogue);
    return jsonResponse(404, { error: { code: 'not_found', message: request.path, field: null, details: [] } });
  });
  const api = createApiClient({ getToken: async () => 'token', fetch: fake.fetch });
  const session: Session = {
    user: { uid: 'u-ana' } as User,
    me: {
      uid: 'u-ana',
      email: 'ana@clinica.com',
      email_verified: true,
      memberships: memberships ?? [{ tenant_id: 'clinica', tenant_name: 'Clínica', role }],
      invites: [],
    },
    tenantId: 'clinica',
    role,
    tenant: null,
    switchTenant: vi.fn(),
    reloadMe: async () => undefined,
    signOut: () => undefined,
  };
  render(
    <ApiContext.Provider value={api}>
      <SessionContext.Provider value={session}>
        <MemoryRouter initialEntries={[path]}>
          <Shell />
        </MemoryRouter>
      </SessionContext.Provider>
    </ApiContext.Provider>,
  );
  return { requests: fake.requests, session };
}

const billingRequests = (requests: RecordedRequest[]) => requests.filter((r) => r.path === '/api/tenants/clinica/billing');

describe('Shell billing', () => {
  it('gives owners the Assinatura page and a banner on every page when replies pass 80%', async () => {
    const { requests } = renderShell(activeBilling(pro, { usage: [usage('agent_replies', 4300, 5000, 'warning', 5500)] }));
    const banner = await screen.findByTestId('billing-banner');
    expect(banner.getAttribute('data-kind')).toBe('warning');
    expect(banner.textContent).toContain('Você usou 86% das respostas do agente deste mês.');
    expect(screen.getByTestId('nav-billing').textContent).toBe('Assinatura');
    expect(billingRequests(requests)).toHaveLength(1);
    fireEvent.click(screen.getByTestId('billing-banner-link'));
    expect(await screen.findByTestId('billing-page')).toBeTruthy();
    // the page shows what the shell has at once, and fetches it fresh once
    expect(screen.getByTestId('billing-status').textContent).toBe('Ativa');
    await waitFor(() => expect(billingRequests(requests)).toHaveLength(2));
  });

  it('says a read-only workspace stopped, for admins too', async () => {
    renderShell(billing({ status: 'canceled', agent_on: false, read_only: true, stop_reason: 'canceled' }), { role: 'admin' });
    const banner = await screen.findByTestId('billing-banner');
    expect(banner.getAttribute('data-kind')).toBe('stopped');
    expect(banner.textContent).toContain('somente leitura');
  });

  it('asks billing once when the console opens on Assinatura', async () => {
    const { requests } = renderShell(activeBilling(pro), { path: '/assinatura' });
    await screen.findByTestId('billing-status');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(billingRequests(requests)).toHaveLength(1);
  });

  it('shows no banner while everything is fine', async () => {
    const { requests } = renderShell(activeBilling(pro));
    await waitFor(() => expect(billingRequests(requests)).toHaveLength(1));
    await screen.findByTestId('nav-billing');
    expect(screen.queryByTestId('billing-banner')).toBeNull();
  });

  it('never asks billing for a seller, nor shows them Assinatura', async () => {
    const { requests } = renderShell(activeBilling(pro, { usage: [usage('agent_replies', 5500, 5000, 'exceeded', 5500)] }), { role: 'seller', path: '/assinatura' });
    await screen.findByTestId('nav-conversations');
    expect(screen.queryByTestId('nav-billing')).toBeNull();
    expect(screen.queryByTestId('billing-page')).toBeNull();
    expect(screen.queryByTestId('billing-banner')).toBeNull();
    expect(billingRequests(requests)).toHaveLength(0);
  });

  it('labels the switcher Workspace and switches with it', async () => {
    const memberships: Membership[] = [
      { tenant_id: 'clinica', tenant_name: 'Clínica', role: 'owner' },
      { tenant_id: 'loja-bela', tenant_name: 'Loja Bela', role: 'owner' },
    ];
    const { session } = renderShell(activeBilling(pro), { memberships });
    const switcher = await screen.findByTestId('tenant-switcher');
    expect(switcher.closest('label')?.textContent).toContain('Workspace');
    fireEvent.change(switcher, { target: { value: 'loja-bela' } });
    expect(session.switchTenant).toHaveBeenCalledWith('loja-bela');
  });
});

describe('Shell issue 10 entries', () => {
  it('gives everyone Agenda, the bell and notification preferences; Integrações only to managers', async () => {
    renderShell(activeBilling(pro), { role: 'seller', path: '/integracoes' });
    await screen.findByTestId('nav-agenda');
    expect(screen.getByTestId('notification-bell')).toBeTruthy();
    expect(screen.getByTestId('nav-notification-preferences').textContent).toBe('Preferências de notificação');
    expect(screen.queryByTestId('nav-integrations')).toBeNull();
    expect(screen.queryByTestId('integrations-page')).toBeNull();
  });

  it('opens Integrações for an owner', async () => {
    renderShell(activeBilling(pro), { role: 'owner', path: '/agente' });
    fireEvent.click(await screen.findByTestId('nav-integrations'));
    expect(await screen.findByTestId('integrations-page')).toBeTruthy();
    expect(screen.getByTestId('nav-integrations').textContent).toBe('Integrações');
  });
});
