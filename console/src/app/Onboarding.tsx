// A signed-in user without a tenant: create the company (becoming its owner) or accept an invite.
import type { User } from 'firebase/auth';
import { type FormEvent, useState } from 'react';
import type { Me, Tenant } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { fieldErrors } from '../i18n/format';
import { t } from '../i18n/pt-BR';
import { useApi } from './context';
import { PendingInvites } from './Invites';

export const BRAZIL_TIME_ZONES = [
  'America/Sao_Paulo',
  'America/Bahia',
  'America/Fortaleza',
  'America/Recife',
  'America/Belem',
  'America/Manaus',
  'America/Cuiaba',
  'America/Campo_Grande',
  'America/Porto_Velho',
  'America/Boa_Vista',
  'America/Rio_Branco',
  'America/Noronha',
];

export function Onboarding({
  me,
  user,
  onJoined,
  onReload,
  onSignOut,
}: {
  me: Me;
  user: User;
  onJoined: (tenant: Tenant) => void;
  onReload: () => void;
  onSignOut: () => void;
}) {
  const api = useApi();
  const [name, setName] = useState('');
  const [timezone, setTimezone] = useState('America/Sao_Paulo');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const errors = fieldErrors(error);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onJoined(await api.createTenant({ name: name.trim(), timezone, locale: 'pt-BR' }));
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <div className="center-page">
      <div className="onboarding">
        <form className="card" onSubmit={(event) => void submit(event)} data-testid="tenant-form">
          <h1>{t.onboarding.title}</h1>
          <p className="muted">{t.onboarding.intro}</p>
          <label>
            {t.onboarding.name}
            <input
              required
              minLength={2}
              maxLength={80}
              value={name}
              onChange={(event) => setName(event.target.value)}
              data-testid="tenant-name"
            />
          </label>
          <FieldErrors errors={errors} field="name" />
          <label>
            {t.onboarding.timezone}
            <select value={timezone} onChange={(event) => setTimezone(event.target.value)} data-testid="tenant-timezone">
              {BRAZIL_TIME_ZONES.map((zone) => (
                <option key={zone} value={zone}>
                  {zone}
                </option>
              ))}
            </select>
          </label>
          <FieldErrors errors={errors} field="timezone" />
          <ErrorBanner error={error} />
          <button type="submit" className="primary" disabled={busy} data-testid="tenant-submit">
            {t.onboarding.create}
          </button>
        </form>
        <PendingInvites me={me} user={user} onJoined={onJoined} onReload={onReload} />
        <p className="muted">
          {me.email}{' '}
          <button type="button" className="link" onClick={onSignOut} data-testid="sign-out">
            {t.auth.signOut}
          </button>
        </p>
      </div>
    </div>
  );
}
