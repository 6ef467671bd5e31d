// The signed-in console: left navigation, tenant switcher, sign-out, and the pages.
import { Suspense, lazy } from 'react';
import { NavLink, Navigate, Route, Routes } from 'react-router-dom';
import { AgentPage } from '../agent/AgentPage';
import { ChannelsPage } from '../channels/ChannelsPage';
import { InboxPage } from '../inbox/InboxPage';
import { roleNames, t } from '../i18n/pt-BR';
import { TeamPage } from '../team/TeamPage';
import { canManage, useSession } from './context';
import { PendingInvites } from './Invites';

// The dashboard carries the charts library; load it only when opened.
const DashboardPage = lazy(() => import('../dashboard/DashboardPage'));

export function Shell() {
  const session = useSession();
  const { me, role, tenantId } = session;
  const manager = canManage(role);
  const links = [
    { to: '/conversas', label: t.nav.conversations, testId: 'nav-conversations', show: true },
    { to: '/painel', label: t.nav.dashboard, testId: 'nav-dashboard', show: manager },
    { to: '/agente', label: t.nav.agent, testId: 'nav-agent', show: true },
    { to: '/canais', label: t.nav.channels, testId: 'nav-channels', show: manager },
    { to: '/equipe', label: t.nav.team, testId: 'nav-team', show: manager },
  ];

  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Navegação">
        <div className="brand">{t.appName}</div>
        {me.memberships.length > 1 ? (
          <label className="tenant-switcher">
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
                </NavLink>
              </li>
            ))}
        </ul>
        <div className="sidebar-footer">
          <div className="muted small" data-testid="user-email">
            {me.email}
          </div>
          <div className="muted small">{roleNames[role]}</div>
          <button type="button" className="link" onClick={session.signOut} data-testid="sign-out">
            {t.auth.signOut}
          </button>
        </div>
      </nav>
      <main className="content" key={tenantId}>
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
            <Route path="/agente" element={<AgentPage />} />
            {manager ? <Route path="/painel" element={<DashboardPage />} /> : null}
            {manager ? <Route path="/canais" element={<ChannelsPage />} /> : null}
            {manager ? <Route path="/equipe" element={<TeamPage />} /> : null}
            <Route path="*" element={<Navigate to="/conversas" replace />} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
