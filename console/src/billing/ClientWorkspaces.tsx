// Agencies: the billing account's workspaces (this one first, then the clients'), each with its agent replies this
// month, a form to create a client workspace (its owner is the caller), and "Abrir" to switch the console to one.
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import type { ClientWorkspaces as Workspaces } from '../api/types';
import { BRAZIL_TIME_ZONES } from '../app/Onboarding';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { fieldErrors } from '../i18n/format';
import { quotaNames, t } from '../i18n/pt-BR';
import { UsageBar } from './UsageBar';

export function ClientWorkspaces() {
  const api = useApi();
  const session = useSession();
  const navigate = useNavigate();
  const { tenantId } = session;
  const [list, setList] = useState<Workspaces | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [timezone, setTimezone] = useState(session.tenant?.timezone ?? 'America/Sao_Paulo');
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<unknown>(null);
  const [created, setCreated] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      setList(await api.listWorkspaces(tenantId));
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  }, [api, tenantId]);

  useEffect(() => {
    void reload();
  }, [reload]);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setFormError(null);
    setCreated(null);
    try {
      const tenant = await api.createWorkspace(tenantId, { name: name.trim(), timezone, locale: 'pt-BR' });
      await Promise.all([reload(), session.reloadMe()]);
      setName('');
      setCreated(tenant.name);
    } catch (caught) {
      setFormError(caught);
    } finally {
      setBusy(false);
    }
  }

  function open(id: string) {
    session.switchTenant(id);
    navigate('/conversas');
  }

  const errors = fieldErrors(formError);
  const full = list ? list.used >= list.limit : false;

  return (
    <section className="card" data-testid="client-workspaces">
      <h2>{t.billing.workspacesTitle}</h2>
      <p className="muted">{t.billing.workspacesIntro}</p>
      <ErrorBanner error={error} onRetry={() => void reload()} />
      {list ? (
        <>
          <p data-testid="workspaces-count" data-used={list.used} data-limit={list.limit}>
            {t.billing.workspacesCount(list.used, list.limit)}
          </p>
          {list.workspaces.length ? (
            <table className="table workspace-table" data-testid="workspace-list">
              <tbody>
                {list.workspaces.map((workspace) => {
                  const replies = workspace.usage.find((line) => line.quota === 'agent_replies');
                  return (
                    <tr key={workspace.tenant_id} data-testid="workspace-row" data-tenant-id={workspace.tenant_id}>
                      <td data-testid="workspace-name">
                        {workspace.name} {workspace.tenant_id === tenantId ? <span className="muted">{t.billing.homeTag}</span> : null}
                      </td>
                      <td>{replies ? <UsageBar line={replies} label={quotaNames.agent_replies} /> : null}</td>
                      <td>
                        {workspace.tenant_id === tenantId ? null : (
                          <button type="button" onClick={() => open(workspace.tenant_id)} data-testid="workspace-open">
                            {t.billing.open}
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : null}
          {list.workspaces.every((workspace) => workspace.tenant_id === tenantId) ? (
            <p className="muted" data-testid="workspaces-empty">
              {t.billing.workspacesEmpty}
            </p>
          ) : null}
        </>
      ) : error ? null : (
        <p className="muted">{t.loading}</p>
      )}
      <form className="inline-form" onSubmit={(event) => void create(event)} data-testid="workspace-form">
        <h3>{t.billing.newWorkspace}</h3>
        <label className="grow">
          {t.billing.workspaceName}
          <input required minLength={2} maxLength={80} value={name} onChange={(event) => setName(event.target.value)} data-testid="workspace-new-name" />
        </label>
        <label>
          {t.billing.workspaceTimezone}
          <select value={timezone} onChange={(event) => setTimezone(event.target.value)} data-testid="workspace-new-timezone">
            {(BRAZIL_TIME_ZONES.includes(timezone) ? BRAZIL_TIME_ZONES : [timezone, ...BRAZIL_TIME_ZONES]).map((zone) => (
              <option key={zone} value={zone}>
                {zone}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={busy || full} data-testid="workspace-submit">
          {busy ? t.billing.creating : t.billing.createWorkspace}
        </button>
        <FieldErrors errors={errors} field="name" />
        <ErrorBanner error={formError} placedFields={['name']} />
        {created ? (
          <p className="ok full" data-testid="workspace-created">
            {t.billing.created(created)}
          </p>
        ) : null}
      </form>
    </section>
  );
}
