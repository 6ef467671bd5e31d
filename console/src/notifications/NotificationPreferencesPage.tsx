// "Preferências de notificação" (/notificacoes, everyone, under the user menu): each type by e-mail and in the
// console, on or off, for the signed-in member.
import { useEffect, useState } from 'react';
import { NOTIFICATION_TYPES, type NotificationPreferences, type NotificationType } from '../api/types';
import { canManage, useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { notificationTypeNames, t } from '../i18n/pt-BR';
import '../agenda/agenda.css';

const SELLER_TYPES: readonly NotificationType[] = ['handoff', 'insight', 'meeting'];

/** Every type with both media, on unless the member turned it off (the API's default is on). */
export function withDefaults(preferences: NotificationPreferences): NotificationPreferences {
  const types = Object.fromEntries(
    NOTIFICATION_TYPES.map((type) => [type, { email: preferences.types[type]?.email ?? true, console: preferences.types[type]?.console ?? true }]),
  ) as NotificationPreferences['types'];
  return { ...preferences, types };
}

export function NotificationPreferencesPage() {
  const api = useApi();
  const { tenantId, role } = useSession();
  // Account notices go to owners and admins, the digest to owners: sellers choose only what reaches them.
  const types = canManage(role) ? NOTIFICATION_TYPES : NOTIFICATION_TYPES.filter((type) => SELLER_TYPES.includes(type));
  const [preferences, setPreferences] = useState<NotificationPreferences | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    let cancelled = false;
    api.getNotificationPreferences(tenantId).then(
      (loaded) => !cancelled && setPreferences(withDefaults(loaded)),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  const toggle = (type: NotificationType, medium: 'email' | 'console', on: boolean) => {
    setSaved(false);
    setPreferences((current) => current && { ...current, types: { ...current.types, [type]: { ...current.types[type]!, [medium]: on } } });
  };

  async function save() {
    if (!preferences) return;
    setBusy(true);
    setError(null);
    try {
      setPreferences(withDefaults(await api.putNotificationPreferences(tenantId, preferences)));
      setSaved(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page" data-testid="notification-preferences">
      <header className="page-header">
        <h1>{t.notifications.preferencesTitle}</h1>
      </header>
      <p className="muted">{t.notifications.preferencesIntro}</p>
      {preferences ? (
        <section className="card">
          <p className="muted small" data-testid="prefs-mail">
            {preferences.mail_enabled ? t.notifications.sentTo(preferences.email) : t.notifications.mailDisabled}
          </p>
          <table className="table prefs-table">
            <thead>
              <tr>
                <th>{t.notifications.type}</th>
                <th>{t.notifications.email}</th>
                <th>{t.notifications.console}</th>
              </tr>
            </thead>
            <tbody>
              {types.map((type) => (
                <tr key={type} data-testid="pref-row" data-type={type}>
                  <td>{notificationTypeNames[type]}</td>
                  {(['email', 'console'] as const).map((medium) => (
                    <td key={medium}>
                      <input
                        type="checkbox"
                        aria-label={`${notificationTypeNames[type]}: ${medium === 'email' ? t.notifications.email : t.notifications.console}`}
                        checked={preferences.types[type]?.[medium] ?? true}
                        onChange={(event) => toggle(type, medium, event.target.checked)}
                        data-testid={`pref-${type}-${medium}`}
                      />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <div className="form-actions">
            <button type="button" className="primary" disabled={busy} onClick={() => void save()} data-testid="prefs-save">
              {busy ? t.saving : t.notifications.save}
            </button>
            {saved ? (
              <span className="ok" role="status" data-testid="prefs-saved">
                {t.notifications.saved}
              </span>
            ) : null}
          </div>
        </section>
      ) : error ? null : (
        <p className="muted">{t.loading}</p>
      )}
      <ErrorBanner error={error} />
    </div>
  );
}
