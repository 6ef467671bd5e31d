// The signed-in console: left navigation, workspace switcher, sign-out, the billing banner, and the pages.
import { Suspense, lazy, useCallback } from 'react';
import { NavLink, Navigate, Route, Routes } from 'react-router-dom';
import { AgendaPage } from '../agenda/AgendaPage';
import { AgentPage } from '../agent/AgentPage';
import { BillingBanner } from '../billing/BillingBanner';
import { BillingProvider } from '../billing/BillingContext';
import { BillingPage } from '../billing/BillingPage';
import { ChannelsPage } from '../channels/ChannelsPage';
import { InboxPage } from '../inbox/InboxPage';
import { IntegrationsPage } from '../integrations/IntegrationsPage';
import { AgentsPage } from '../insights/AgentsPage';
import { InsightsPage } from '../insights/InsightsPage';
import { KnowledgePage } from '../knowledge/KnowledgePage';
import { NotificationBell } from '../notifications/NotificationBell';
import { NotificationPreferencesPage } from '../notifications/NotificationPreferencesPage';
import { usePolling } from '../polling/usePolling';
import { roleNames, t } from '../i18n/pt-BR';
import { TeamPage } from '../team/TeamPage';
import { canManage, useApi, useSession } from './context';
import { PendingInvites } from './Invites';

export const PROPOSED_BADGE_POLL_MS = 30_000;

/** How many answers from handoffs wait for review: a badge on "Conhecimento" for owners and admins. */
function ProposedBadge({ tenantId }: { tenantId: string }) {
  const api = useApi();
  const load = useCallback((etag: string | null) => api.listProposals(tenantId, 'proposed', etag), [api, tenantId]);
  const count = usePolling(load, PROPOSED_BADGE_POLL_MS, `${tenantId}/proposed-badge`).data?.proposals.length ?? 0;
  if (!count) return null;
  return (
    <span className="badge badge-count nav-badge" aria-label={t.nav.proposalsBadge(count)} data-testid="nav-knowledge-count" data-value={count}>
      {count}
    </span>
  );
}

// The dashboard carries the charts library; load it only when opened.
const DashboardPage = lazy(() => import('../dashboard/DashboardPage'));

export function Shell() {
  const session = useSession();
  const { me, role, tenantId } = session;
  const manager = canManage(role);
  const links = [
    { to: '/conversas', label: t.nav.conversations, testId: 'nav-conversations', show: true },
    { to: '/agenda', label: t.nav.agenda, testId: 'nav-agenda', show: true },
    { to: '/painel', label: t.nav.dashboard, testId: 'nav-dashboard', show: manager },
    { to: '/insights', label: t.nav.insights, testId: 'nav-insights', show: manager },
    { to: '/conhecimento', label: t.nav.knowledge, testId: 'nav-knowledge', show: true },
    { to: '/agente', label: t.nav.agent, testId: 'nav-agent', show: true },
    { to: '/agentes-ia', label: t.nav.insightAgents, testId: 'nav-insight-agents', show: manager },
    { to: '/canais', label: t.nav.channels, testId: 'nav-channels', show: manager },
    { to: '/integracoes', label: t.nav.integrations, testId: 'nav-integrations', show: manager },
    { to: '/equipe', label: t.nav.team, testId: 'nav-team', show: manager },
    { to: '/assinatura', label: t.nav.billing, testId: 'nav-billing', show: manager },
  ];

  return (
    <BillingProvider key={tenantId}>
      <div className="shell">
        <nav className="sidebar" aria-label="Navegação">
          <div className="brand-row">
            <div className="brand">{t.appName}</div>
            <NotificationBell />
          </div>
          {me.memberships.length > 1 ? (
            <label className="tenant-switcher" title={t.nav.tenant}>
              <span>{t.nav.tenant}</span>
              <select value={tenantId} onChange={(event) => session.switchTenant(event.target.value)} data-testid="tenant-switcher">
                {me.memberships.map((membership) => (
                  <option key={membership.tenant_id} value={membership.tenant_id}>
                    {membership.tenant_name}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <div className="tenant-name" data-testid="tenant-current">
              {me.memberships[0]?.tenant_name}
            </div>
          )}
          <ul>
            {links
              .filter((link) => link.show)
              .map((link) => (
                <li key={link.to}>
                  <NavLink to={link.to} data-testid={link.testId}>
                    {link.label}
                    {link.to === '/conhecimento' && manager ? <ProposedBadge tenantId={tenantId} /> : null}
                  </NavLink>
                </li>
              ))}
          </ul>
          <div className="sidebar-footer">
            <div className="muted small" data-testid="user-email">
              {me.email}
            </div>
            <div className="muted small">{roleNames[role]}</div>
            <NavLink to="/notificacoes" className="small" data-testid="nav-notification-preferences">
              {t.nav.notificationPreferences}
            </NavLink>
            <button type="button" className="link" onClick={session.signOut} data-testid="sign-out">
              {t.auth.signOut}
            </button>
          </div>
        </nav>
        <main className="content" key={tenantId}>
          {manager ? <BillingBanner /> : null}
          {me.invites.length ? (
            <PendingInvites
              me={me}
              user={session.user}
              onJoined={(tenant) => {
                session.switchTenant(tenant.tenant_id);
                void session.reloadMe();
              }}
              onReload={() => void session.reloadMe()}
            />
          ) : null}
          <Suspense fallback={<div className="page">{t.loading}</div>}>
            <Routes>
              <Route path="/conversas/:conversationId?" element={<InboxPage />} />
              <Route path="/conhecimento/:tab?" element={<KnowledgePage />} />
              <Route path="/agente" element={<AgentPage />} />
              <Route path="/agenda" element={<AgendaPage />} />
              <Route path="/notificacoes" element={<NotificationPreferencesPage />} />
              {manager ? <Route path="/painel" element={<DashboardPage />} /> : null}
              {manager ? <Route path="/insights/:tab?" element={<InsightsPage />} /> : null}
              {manager ? <Route path="/agentes-ia/:agentId?" element={<AgentsPage />} /> : null}
              {manager ? <Route path="/canais" element={<ChannelsPage />} /> : null}
              {manager ? <Route path="/integracoes" element={<IntegrationsPage />} /> : null}
              {manager ? <Route path="/equipe" element={<TeamPage />} /> : null}
              {manager ? <Route path="/assinatura" element={<BillingPage />} /> : null}
              <Route path="*" element={<Navigate to="/conversas" replace />} />
            </Routes>
          </Suspense>
        </main>
      </div>
    </BillingProvider>
  );
}
