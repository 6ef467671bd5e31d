import { fireEvent, screen, waitFor } from '@testing-library/react';
import { Route, Routes, useLocation } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import type { Notification, NotificationPreferences, Role } from '../api/types';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { notification } from '../test/integrationFixtures';
import { renderWithSession } from '../test/renderWithSession';
import { NotificationBell } from './NotificationBell';
import { notificationPath } from './notificationLink';
import { NotificationPreferencesPage } from './NotificationPreferencesPage';

const BASE = '/api/tenants/clinica';

function Where() {
  const location = useLocation();
  return <div data-testid="location">{location.pathname}</div>;
}

function server(state: { notifications: Notification[] }) {
  return (request: RecordedRequest): Response => {
    const unread = () => state.notifications.filter((item) => !item.read_at).length;
    if (request.method === 'GET' && request.path === `${BASE}/notifications`) return jsonResponse(200, { notifications: state.notifications, unread: unread() });
    if (request.method === 'POST' && request.path === `${BASE}/notifications/read`) {
      const body = request.body as { ids?: string[]; all?: boolean };
      state.notifications = state.notifications.map((item) => (body.all || body.ids?.includes(item.notification_id) ? { ...item, read_at: '2026-11-20T13:00:00Z' } : item));
      return jsonResponse(200, { unread: unread() });
    }
    return jsonResponse(404, { error: { code: 'not_found', message: request.path } });
  };
}

function renderBell(state: { notifications: Notification[] }) {
  return renderWithSession(
    <>
      <NotificationBell />
      <Routes>
        <Route path="*" element={<Where />} />
      </Routes>
    </>,
    server(state),
    { path: '/agenda' },
  );
}

const writes = (requests: RecordedRequest[]) => requests.filter((r) => r.method !== 'GET').map((r) => [r.method, r.path, r.body]);

describe('notification links', () => {
  it('leads to the conversation, Conversas for old inbox paths, or nowhere', () => {
    expect(notificationPath('/conversas/c1', null)).toBe('/conversas/c1');
    expect(notificationPath('/inbox/c1', 'c1')).toBe('/conversas/c1');
    expect(notificationPath('integracoes', null)).toBe('/integracoes');
    expect(notificationPath(null, 'c 2')).toBe('/conversas/c%202');
    expect(notificationPath(null, null)).toBeNull();
  });
});

describe('NotificationBell', () => {
  it('counts the unread, opens the list, and a click marks one read and follows its link', async () => {
    const { requests } = renderBell({
      notifications: [notification('n1'), notification('n2', { type: 'account', title: 'Webhook desativado', link: '/integracoes', conversation_id: null }), notification('n3', { read_at: '2026-11-20T12:30:00Z' })],
    });
    const count = await screen.findByTestId('notification-count');
    expect(count.getAttribute('data-value')).toBe('2');
    fireEvent.click(screen.getByTestId('notification-bell'));
    const items = await screen.findAllByTestId('notification-item');
    expect(items.map((item) => item.getAttribute('data-read'))).toEqual(['false', 'false', 'true']);
    fireEvent.click(items[1]!);
    expect(screen.getByTestId('location').textContent).toBe('/integracoes');
    await waitFor(() => expect(screen.getByTestId('notification-count').getAttribute('data-value')).toBe('1'));
    expect(writes(requests)).toEqual([['POST', `${BASE}/notifications/read`, { ids: ['n2'] }]]);
  });

  it('marks all as read', async () => {
    const { requests } = renderBell({ notifications: [notification('n1'), notification('n2')] });
    await screen.findByTestId('notification-count');
    fireEvent.click(screen.getByTestId('notification-bell'));
    fireEvent.click(await screen.findByTestId('notifications-read-all'));
    await waitFor(() => expect(screen.queryByTestId('notification-count')).toBeNull());
    expect(screen.getAllByTestId('notification-item').every((item) => item.getAttribute('data-read') === 'true')).toBe(true);
    expect(writes(requests)).toEqual([['POST', `${BASE}/notifications/read`, { all: true }]]);
  });

  it('says when there is nothing', async () => {
    renderBell({ notifications: [] });
    fireEvent.click(screen.getByTestId('notification-bell'));
    expect(await screen.findByTestId('notifications-empty')).toBeTruthy();
    expect(screen.queryByTestId('notification-count')).toBeNull();
  });
});

describe('NotificationPreferencesPage', () => {
  function renderPrefs(preferences: NotificationPreferences, role: Role = 'owner') {
    return renderWithSession(
      <NotificationPreferencesPage />,
      (request) => {
        if (request.path !== `${BASE}/notification-preferences`) return jsonResponse(404, {});
        return jsonResponse(200, request.method === 'PUT' ? request.body : preferences);
      },
      { role },
    );
  }

  it('turns one type off by e-mail and saves every type', async () => {
    const { requests } = renderPrefs({ types: { handoff: { email: true, console: true } }, email: 'ana@clinica.com', mail_enabled: true });
    expect((await screen.findByTestId('prefs-mail')).textContent).toBe('Os e-mails vão para ana@clinica.com.');
    fireEvent.click(screen.getByTestId('pref-handoff-email'));
    fireEvent.click(screen.getByTestId('prefs-save'));
    expect(await screen.findByTestId('prefs-saved')).toBeTruthy();
    const body = requests.find((r) => r.method === 'PUT')!.body as NotificationPreferences;
    expect(body.types.handoff).toEqual({ email: false, console: true });
    expect(Object.keys(body.types).sort()).toEqual(['account', 'daily_digest', 'handoff', 'insight', 'meeting']);
  });

  it('shows sellers only what reaches them, and says when e-mail is off', async () => {
    renderPrefs({ types: {}, email: 'rui@clinica.com', mail_enabled: false }, 'seller');
    expect((await screen.findByTestId('prefs-mail')).textContent).toContain('não está configurado');
    expect(screen.getAllByTestId('pref-row').map((row) => row.getAttribute('data-type'))).toEqual(['handoff', 'insight', 'meeting']);
  });
});
