// "Agente": everyone reads the agent's settings; owners and admins change them.
import { useEffect, useState } from 'react';
import type { AgentSettings } from '../api/types';
import { canManage, useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { AgentForm } from './AgentForm';

export function AgentPage() {
  const api = useApi();
  const { tenantId, role } = useSession();
  const [settings, setSettings] = useState<AgentSettings | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    api.getAgent(tenantId).then(
      (loaded) => !cancelled && setSettings(loaded),
      (caught) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  return (
    <div className="page">
      <header className="page-header">
        <h1>{t.agent.title}</h1>
      </header>
      <ErrorBanner error={error} />
      {settings ? (
        <AgentForm initial={settings} readOnly={!canManage(role)} onSave={(body) => api.putAgent(tenantId, body)} />
      ) : !error ? (
        <div className="muted">{t.loading}</div>
      ) : null}
    </div>
  );
}
