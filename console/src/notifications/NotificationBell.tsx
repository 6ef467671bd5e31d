// The bell in the shell: the caller's unread count (polled with If-None-Match like the inbox), a dropdown of
// the latest notifications (a click opens its link and marks it read) and "Marcar todas como lidas".
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import type { Notification } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { shortTime } from '../i18n/format';
import { t } from '../i18n/pt-BR';
import { usePolling } from '../polling/usePolling';
import { notificationPath } from './notificationLink';

export const NOTIFICATIONS_POLL_MS = 5_000;

export function NotificationBell() {
  const api = useApi();
  const { tenantId } = useSession();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Read marks applied here before the next poll shows them.
  const [readHere, setReadHere] = useState<{ ids: Set<string>; all: boolean }>({ ids: new Set(), all: false });
  const wrap = useRef<HTMLDivElement>(null);
  const load = useCallback((etag: string | null) => api.listNotifications(tenantId, etag), [api, tenantId]);
  const polled = usePolling(load, NOTIFICATIONS_POLL_MS, `${tenantId}/notifications`);
  const { refresh } = polled;

  useEffect(() => setReadHere({ ids: new Set(), all: false }), [polled.data]);

  useEffect(() => {
    if (!open) return undefined;
    const close = (event: MouseEvent) => {
      if (wrap.current && !wrap.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);

  const isRead = (item: Notification) => Boolean(item.read_at) || readHere.all || readHere.ids.has(item.notification_id);
  const notifications = polled.data?.notifications ?? [];
  const unreadHere = notifications.filter((item) => !item.read_at && (readHere.all || readHere.ids.has(item.notification_id))).length;
  const unread = Math.max(0, (polled.data?.unread ?? 0) - unreadHere);

  async function markRead(body: { ids: string[] } | { all: true }) {
    setError(null);
    setReadHere((current) => ('all' in body ? { ids: current.ids, all: true } : { ids: new Set([...current.ids, ...body.ids]), all: current.all }));
    try {
      await api.markNotificationsRead(tenantId, body);
    } catch (caught) {
      setError(caught);
    }
    refresh();
  }

  function choose(item: Notification) {
    if (!isRead(item)) void markRead({ ids: [item.notification_id] });
    setOpen(false);
    const path = notificationPath(item.link, item.conversation_id);
    if (!path) return;
    if (/^https?:\/\//.test(path)) window.location.assign(path);
    else navigate(path);
  }

  return (
    <div className="bell-wrap" ref={wrap}>
      <button
        type="button"
        className="bell"
        aria-label={t.notifications.bell(unread)}
        title={t.notifications.bell(unread)}
        aria-expanded={open}
        onClick={() => {
          setOpen(!open);
          if (!open) refresh();
        }}
        data-testid="notification-bell"
        data-unread={unread}
      >
        <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
          />
        </svg>
        {unread > 0 ? (
          <span className="badge badge-count" data-testid="notification-count" data-value={unread}>
            {unread > 99 ? '99+' : unread}
          </span>
        ) : null}
      </button>
      {open ? (
        <div className="notification-menu" role="menu" data-testid="notification-menu">
          <div className="notification-menu-head">
            <strong>{t.notifications.title}</strong>
            <button type="button" className="link" disabled={unread === 0} onClick={() => void markRead({ all: true })} data-testid="notifications-read-all">
              {t.notifications.markAllRead}
            </button>
          </div>
          <ErrorBanner error={error ?? polled.error} />
          {notifications.length === 0 ? (
            <p className="muted pad" data-testid="notifications-empty">
              {t.notifications.empty}
            </p>
          ) : null}
          {notifications.map((item) => (
            <button
              key={item.notification_id}
              type="button"
              role="menuitem"
              className={`notification-item${isRead(item) ? '' : ' unread'}`}
              onClick={() => choose(item)}
              data-testid="notification-item"
              data-notification-id={item.notification_id}
              data-type={item.type}
              data-read={String(isRead(item))}
            >
              <div className="title">{item.title}</div>
              <div className="small">{item.body}</div>
              <div className="muted small">{shortTime(item.created_at)}</div>
            </button>
          ))}
          <div className="notification-menu-head">
            <Link to="/notificacoes" onClick={() => setOpen(false)} data-testid="notifications-preferences-link">
              {t.notifications.preferences}
            </Link>
          </div>
        </div>
      ) : null}
    </div>
  );
}
