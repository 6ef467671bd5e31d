// The owner's Meta Conversions API settings: dataset id, access token (write-only) and currency.
import { type FormEvent, useEffect, useState } from 'react';
import type { ConversionsInput, ConversionsSettings } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { dateTime, fieldErrors } from '../i18n/format';
import { t } from '../i18n/pt-BR';

const PLACED_FIELDS = ['dataset_id', 'access_token', 'currency'];

/** The PUT body (the token is write-only: left blank, the saved one is kept). */
export function conversionsInput(form: { dataset_id: string; access_token: string; currency: string }): ConversionsInput {
  const token = form.access_token.trim();
  return {
    dataset_id: form.dataset_id.trim(),
    ...(token ? { access_token: token } : {}),
    currency: form.currency.trim().toUpperCase() || 'BRL',
  };
}

export function ConversionsSettingsCard() {
  const api = useApi();
  const { tenantId } = useSession();
  const [settings, setSettings] = useState<ConversionsSettings | null>(null);
  const [form, setForm] = useState({ dataset_id: '', access_token: '', currency: 'BRL' });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const errors = fieldErrors(error);

  const show = (loaded: ConversionsSettings) => {
    setSettings(loaded);
    setForm({ dataset_id: loaded.dataset_id ?? '', access_token: '', currency: loaded.currency ?? 'BRL' });
  };

  useEffect(() => {
    let cancelled = false;
    api.getConversions(tenantId).then(
      (loaded) => !cancelled && show(loaded),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await action();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void run(async () => {
      show(await api.putConversions(tenantId, conversionsInput(form)));
      setSaved(true);
    });
  }

  const configured = settings?.configured ?? false;
  return (
    <section className="card settings-form conversions" aria-label={t.conversions.title} data-testid="conversions-settings">
      <h2>{t.conversions.title}</h2>
      <p className="muted small">{t.conversions.intro}</p>
      <p data-testid="conversions-status" data-configured={String(configured)}>
        {configured && settings?.dataset_id ? t.conversions.configured(settings.dataset_id) : t.conversions.notConfigured}
        {configured && settings?.updated_at ? <span className="muted small"> · {dateTime(settings.updated_at)}</span> : null}
      </p>
      <form onSubmit={submit} data-testid="conversions-form">
        <label>
          {t.conversions.dataset}
          <input
            inputMode="numeric"
            value={form.dataset_id}
            onChange={(event) => setForm({ ...form, dataset_id: event.target.value })}
            data-testid="conversions-dataset"
          />
        </label>
        <FieldErrors errors={errors} field="dataset_id" />
        <label>
          {t.conversions.token}
          <input
            type="password"
            autoComplete="off"
            value={form.access_token}
            placeholder={configured ? t.conversions.tokenKeep : ''}
            onChange={(event) => setForm({ ...form, access_token: event.target.value })}
            data-testid="conversions-token"
          />
        </label>
        <FieldErrors errors={errors} field="access_token" />
        <label>
          {t.conversions.currency}
          <input maxLength={3} value={form.currency} onChange={(event) => setForm({ ...form, currency: event.target.value })} data-testid="conversions-currency" />
        </label>
        <FieldErrors errors={errors} field="currency" />
        <ErrorBanner error={error} placedFields={PLACED_FIELDS} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy || !form.dataset_id.trim() || (!configured && !form.access_token.trim())} data-testid="conversions-save">
            {busy ? t.saving : t.conversions.save}
          </button>
          {configured ? (
            <button
              type="button"
              className="link danger"
              disabled={busy}
              onClick={() => {
                if (window.confirm(t.conversions.confirmRemove)) {
                  void run(async () => {
                    await api.deleteConversions(tenantId);
                    show({ configured: false, dataset_id: null, currency: null, updated_at: null });
                  });
                }
              }}
              data-testid="conversions-delete"
            >
              {t.conversions.remove}
            </button>
          ) : null}
          {saved ? (
            <span className="ok" data-testid="conversions-saved">
              {t.conversions.saved}
            </span>
          ) : null}
        </div>
      </form>
    </section>
  );
}
