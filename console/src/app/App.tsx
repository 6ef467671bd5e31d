// Start-up: GET /api/config → Firebase Auth (emulator when the config says so) → sign-in → /api/me → the console.
import { type Auth, type User, onAuthStateChanged, signOut } from 'firebase/auth';
import { useCallback, useEffect, useState } from 'react';
import { BrowserRouter } from 'react-router-dom';
import { type ApiClient, createApiClient } from '../api/client';
import type { Me, Tenant } from '../api/types';
import { startFirebaseAuth } from '../auth/firebase';
import { SignInPage } from '../auth/SignInPage';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { ApiContext, type Session, SessionContext, useApi } from './context';
import { Onboarding } from './Onboarding';
import { Shell } from './Shell';

const TENANT_KEY = 'piloto.tenant';

export function App() {
  const [boot, setBoot] = useState<{ auth: Auth; api: ApiClient } | null>(null);
  const [bootError, setBootError] = useState<unknown>(null);

  const start = useCallback(() => {
    setBootError(null);
    createApiClient({ getToken: async () => null })
      .getConfig()
      .then((config) => {
        const auth = startFirebaseAuth(config);
        const api = createApiClient({ getToken: async () => (auth.currentUser ? auth.currentUser.getIdToken() : null) });
        setBoot({ auth, api });
      })
      .catch(setBootError);
  }, []);

  useEffect(start, [start]);

  if (bootError) {
    return (
      <div className="center-page">
        <ErrorBanner error={bootError} prefix={t.auth.configError} onRetry={start} />
      </div>
    );
  }
  if (!boot) return <div className="center-page">{t.loading}</div>;
  return (
    <ApiContext.Provider value={boot.api}>
      <AuthGate auth={boot.auth} />
    </ApiContext.Provider>
  );
}

function AuthGate({ auth }: { auth: Auth }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  useEffect(() => onAuthStateChanged(auth, setUser), [auth]);
  if (user === undefined) return <div className="center-page">{t.loading}</div>;
  if (user === null) return <SignInPage auth={auth} />;
  return <SessionGate key={user.uid} user={user} onSignOut={() => void signOut(auth)} />;
}

function SessionGate({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const api = useApi();
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tenantId, setTenantId] = useState<string | null>(() => localStorage.getItem(TENANT_KEY));
  const [tenant, setTenant] = useState<Tenant | null>(null);

  const reloadMe = useCallback(async () => {
    try {
      setError(null);
      setMe(await api.getMe());
    } catch (caught) {
      setError(caught);
    }
  }, [api]);

  useEffect(() => {
    void reloadMe();
  }, [reloadMe]);

  const memberships = me?.memberships ?? [];
  const membership = memberships.find((m) => m.tenant_id === tenantId) ?? memberships[0] ?? null;

  useEffect(() => {
    setTenant(null);
    if (!membership) return;
    let cancelled = false;
    api.getTenant(membership.tenant_id).then(
      (loaded) => !cancelled && setTenant(loaded),
      () => undefined, // the shell works without it (the dashboard falls back to São Paulo time)
    );
    return () => {
      cancelled = true;
    };
  }, [api, membership?.tenant_id]); // eslint-disable-line react-hooks/exhaustive-deps

  const switchTenant = useCallback((id: string) => {
    localStorage.setItem(TENANT_KEY, id);
    setTenantId(id);
  }, []);

  if (error && !me) {
    return (
      <div className="center-page">
        <ErrorBanner error={error} onRetry={() => void reloadMe()} />
        <button type="button" className="link" onClick={onSignOut} data-testid="sign-out">
          {t.auth.signOut}
        </button>
      </div>
    );
  }
  if (!me) return <div className="center-page">{t.loading}</div>;
  if (!membership) {
    return (
      <Onboarding
        me={me}
        user={user}
        onJoined={(joined) => {
          switchTenant(joined.tenant_id);
          void reloadMe();
        }}
        onReload={() => void reloadMe()}
        onSignOut={onSignOut}
      />
    );
  }

  const session: Session = {
    user,
    me,
    tenantId: membership.tenant_id,
    role: membership.role,
    tenant: tenant?.tenant_id === membership.tenant_id ? tenant : null,
    switchTenant,
    reloadMe,
    signOut: onSignOut,
  };
  return (
    <SessionContext.Provider value={session}>
      <BrowserRouter>
        <Shell />
      </BrowserRouter>
    </SessionContext.Provider>
  );
}
