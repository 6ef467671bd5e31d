// The public API's keys (owners): create one (the key shown once), list them with their last use, revoke.
import { type FormEvent, useEffect, useState } from 'react';
import type { ApiKey } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ReasonBanner } from '../components/ReasonBanner';
import { FieldErrors } from '../components/FieldErrors';
import { dateTime, fieldErrors } from '../i18n/format';
import { t } from '../i18n/pt-BR';
import { SecretReveal } from './SecretReveal';

export function ApiKeysSection() {
  const api = useApi();
  const { tenantId } = useSession();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let cancelled = false;
    api.listApiKeys(tenantId).then(
      (loaded) => !cancelled && setKeys(loaded.keys),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  function create(event: FormEvent) {
    event.preventDefault();
    void run(async () => {
      const created = await api.createApiKey(tenantId, name.trim());
      setKeys((current) => [created.key, ...(current ?? [])]);
      setSecret(created.secret);
      setName('');
    });
  }

  function revoke(keyId: string) {
    void run(async () => {
      await api.revokeApiKey(tenantId, keyId);
      setKeys((await api.listApiKeys(tenantId)).keys);
      setConfirm(null);
    });
  }

  return (
    <section className="card" data-testid="api-keys-section">
      <h2>{t.integrations.apiKeysTitle}</h2>
      <p className="muted">{t.integrations.apiKeysIntro}</p>
      {secret ? <SecretReveal title={t.integrations.apiKeyTitle} secret={secret} onDone={() => setSecret(null)} /> : null}
      <form className="inline-form" onSubmit={create} data-testid="api-key-form">
        <input
          required
          maxLength={80}
          placeholder={t.integrations.keyName}
          aria-label={t.integrations.keyName}
          value={name}
          onChange={(event) => setName(event.target.value)}
          data-testid="api-key-name"
        />
        <button type="submit" className="primary" disabled={busy} data-testid="api-key-create">
          {t.integrations.createKey}
        </button>
      </form>
      <FieldErrors errors={fieldErrors(error)} field="name" />
      <ReasonBanner error={error} placedFields={['name']} />
      {keys && keys.length === 0 ? (
        <p className="muted" data-testid="api-keys-empty">
          {t.integrations.apiKeysEmpty}
        </p>
      ) : null}
      {keys?.length ? (
        <table className="table">
          <tbody>
            {keys.map((key) => (
              <tr key={key.key_id} data-testid="api-key-row" data-key-id={key.key_id} data-revoked={String(Boolean(key.revoked_at))}>
                <td>
                  <strong>{key.name}</strong>
                  <div className="muted small">
                    <code>{key.prefix}…</code> · {dateTime(key.created_at)}
                  </div>
                </td>
                <td className="muted small">{key.last_used_at ? t.integrations.lastUsed(dateTime(key.last_used_at)) : t.integrations.neverUsed}</td>
                <td>
                  {key.revoked_at ? (
                    <span className="badge badge-muted">{t.integrations.revoked}</span>
                  ) : confirm === key.key_id ? (
                    <span className="confirm-box" role="dialog">
                      <span>{t.integrations.revokeConfirm(key.name)}</span>
                      <button type="button" className="danger" disabled={busy} onClick={() => revoke(key.key_id)} data-testid="api-key-revoke-yes">
                        {t.integrations.revoke}
                      </button>
                      <button type="button" onClick={() => setConfirm(null)}>
                        {t.cancel}
                      </button>
                    </span>
                  ) : (
                    <button type="button" className="link danger" onClick={() => setConfirm(key.key_id)} data-testid="api-key-revoke">
                      {t.integrations.revoke}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
