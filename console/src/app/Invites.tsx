// Pending invites of the signed-in user, each with an accept button.
import { type User, sendEmailVerification } from 'firebase/auth';
import { useState } from 'react';
import type { Me, Tenant } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { roleNames, t } from '../i18n/pt-BR';
import { useApi } from './context';

export function PendingInvites({
  me,
  user,
  onJoined,
  onReload,
}: {
  me: Me;
  user: User;
  onJoined: (tenant: Tenant) => void;
  onReload: () => void;
}) {
  const api = useApi();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [verificationSent, setVerificationSent] = useState(false);
  if (!me.invites.length) return null;

  async function accept(tenantId: string) {
    setBusy(tenantId);
    setError(null);
    try {
      onJoined(await api.acceptInvite(tenantId));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  }

  async function recheckVerification() {
    await user.reload();
    await user.getIdToken(true); // the API reads email_verified from the token
    onReload();
  }

  return (
    <section className="card" data-testid="pending-invites">
      <h2>{t.onboarding.invitesTitle}</h2>
      {!me.email_verified ? (
        <p className="muted">
          {t.onboarding.verifyNeeded}{' '}
          <button
            type="button"
            className="link"
            disabled={verificationSent}
            onClick={() => void sendEmailVerification(user).then(() => setVerificationSent(true), setError)}
          >
            {verificationSent ? t.onboarding.verificationSent : t.onboarding.sendVerification}
          </button>{' '}
          <button type="button" className="link" onClick={() => void recheckVerification().catch(setError)}>
            {t.onboarding.verified}
          </button>
        </p>
      ) : null}
      <ul className="plain">
        {me.invites.map((invite) => (
          <li key={invite.tenant_id} data-testid="pending-invite" data-tenant-id={invite.tenant_id}>
            <strong>{invite.tenant_name}</strong> — {t.onboarding.invitedBy(invite.invited_by_email, roleNames[invite.role])}{' '}
            <button
              type="button"
              className="primary"
              disabled={busy !== null}
              onClick={() => void accept(invite.tenant_id)}
              data-testid="accept-invite"
            >
              {t.onboarding.accept}
            </button>
          </li>
        ))}
      </ul>
      <ErrorBanner error={error} />
    </section>
  );
}
