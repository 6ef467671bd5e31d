// RD Station CRM (managers): the token (write-only), the pipeline, the mapping of Piloto's stages to the
// pipeline's stages, on/off, the sync status or error, disconnect.
import { type FormEvent, useEffect, useState } from 'react';
import type { CrmPipeline, CrmSettings } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ReasonBanner } from '../components/ReasonBanner';
import { FieldErrors } from '../components/FieldErrors';
import { dateTime, fieldErrors } from '../i18n/format';
import { stageNames, t } from '../i18n/pt-BR';
import { mappingFor } from './integrationsText';

interface CrmForm {
  token: string;
  enabled: boolean;
  pipeline_id: string;
  stage_mapping: Record<string, string>;
  deal_name: string;
}

const formOf = (settings: CrmSettings): CrmForm => ({
  token: '',
  enabled: settings.enabled,
  pipeline_id: settings.pipeline_id ?? '',
  stage_mapping: { ...settings.stage_mapping },
  deal_name: settings.deal_name ?? '',
});

export function CrmSection() {
  const api = useApi();
  const { tenantId } = useSession();
  const [settings, setSettings] = useState<CrmSettings | null>(null);
  const [pipelines, setPipelines] = useState<CrmPipeline[] | null>(null);
  const [form, setForm] = useState<CrmForm | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const errors = fieldErrors(error);
  const connected = settings?.connected ?? false;

  const show = (loaded: CrmSettings) => {
    setSettings(loaded);
    setForm(formOf(loaded));
  };

  useEffect(() => {
    let cancelled = false;
    api.getCrm(tenantId).then(
      (loaded) => !cancelled && show(loaded),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  useEffect(() => {
    if (!connected) {
      setPipelines(null);
      return undefined;
    }
    let cancelled = false;
    api.listCrmPipelines(tenantId).then(
      (loaded) => !cancelled && setPipelines(loaded.pipelines),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, connected]);

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
    if (!form) return;
    const token = form.token.trim();
    void run(async () => {
      if (!connected) {
        show(await api.putCrm(tenantId, { token, enabled: true }));
        return;
      }
      const pipeline = pipelines?.find((item) => item.id === form.pipeline_id);
      show(
        await api.putCrm(tenantId, {
          ...(token ? { token } : {}),
          enabled: form.enabled,
          pipeline_id: form.pipeline_id || null,
          stage_mapping: mappingFor(pipeline, form.stage_mapping),
          ...(form.deal_name.trim() ? { deal_name: form.deal_name.trim() } : {}),
        }),
      );
      setSaved(true);
    });
  }

  const pipeline = pipelines?.find((item) => item.id === form?.pipeline_id);
  const status = !settings ? '' : !connected ? 'disconnected' : settings.status === 'failing' ? 'failing' : 'connected';

  return (
    <section className="card" data-testid="crm-section">
      <h2>{t.integrations.crmTitle}</h2>
      <p className="muted">{t.integrations.crmIntro}</p>
      {settings ? (
        <p className={status === 'failing' ? 'field-error' : status === 'connected' ? 'ok-text' : 'muted'} data-testid="crm-status" data-status={status} data-connected={String(connected)}>
          {status === 'connected' ? t.integrations.crmConnected(settings.token_hint) : status === 'failing' ? t.integrations.crmFailing(settings.error) : t.integrations.crmDisconnected}
          {connected && settings.last_synced_at ? ` · ${t.integrations.crmLastSynced(dateTime(settings.last_synced_at))}` : ''}
        </p>
      ) : null}
      {form && settings ? (
        <form className="settings-form" onSubmit={submit} data-testid="crm-form">
          <label className="form-field">
            <span>{t.integrations.crmToken}</span>
            <input
              type="password"
              autoComplete="off"
              required={!connected}
              value={form.token}
              placeholder={connected ? t.integrations.crmTokenKeep : ''}
              onChange={(event) => setForm({ ...form, token: event.target.value })}
              data-testid="crm-token"
            />
            <span className="muted small">{t.integrations.crmTokenHelp}</span>
            <FieldErrors errors={errors} field="token" />
          </label>
          {connected ? (
            <>
              <label className="form-field checkbox">
                <input type="checkbox" checked={form.enabled} onChange={(event) => setForm({ ...form, enabled: event.target.checked })} data-testid="crm-enabled" />{' '}
                {t.integrations.crmEnabled}
              </label>
              <label className="form-field">
                <span>{t.integrations.crmPipeline}</span>{' '}
                <select value={form.pipeline_id} onChange={(event) => setForm({ ...form, pipeline_id: event.target.value })} data-testid="crm-pipeline">
                  <option value="">{t.integrations.crmPipelineNone}</option>
                  {(pipelines ?? []).map((item) => (
                    <option key={item.id} value={item.id}>
                      {item.name}
                    </option>
                  ))}
                </select>
                <FieldErrors errors={errors} field="pipeline_id" />
              </label>
              {pipeline ? (
                <table className="table" data-testid="crm-mapping">
                  <thead>
                    <tr>
                      <th>{t.integrations.crmPilotoStage}</th>
                      <th>{t.integrations.crmRdStage}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {settings.piloto_stages.map((stage) => (
                      <tr key={stage} data-testid="crm-mapping-row" data-stage={stage}>
                        <td>{stageNames[stage] ?? stage}</td>
                        <td>
                          <select
                            value={form.stage_mapping[stage] ?? ''}
                            onChange={(event) => setForm({ ...form, stage_mapping: { ...form.stage_mapping, [stage]: event.target.value } })}
                            data-testid={`crm-stage-${stage}`}
                          >
                            <option value="">{t.integrations.crmNoMove}</option>
                            {pipeline.stages.map((item) => (
                              <option key={item.id} value={item.id}>
                                {item.name}
                              </option>
                            ))}
                          </select>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
              <FieldErrors errors={errors} field="stage_mapping" />
              <label className="form-field">
                <span>{t.integrations.crmDealName}</span>
                <input value={form.deal_name} maxLength={200} onChange={(event) => setForm({ ...form, deal_name: event.target.value })} data-testid="crm-deal-name" />
              </label>
            </>
          ) : null}
          <ReasonBanner error={error} placedFields={['token', 'pipeline_id', 'stage_mapping']} />
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy} data-testid={connected ? 'crm-save' : 'crm-connect'}>
              {busy ? t.saving : connected ? t.integrations.crmSave : t.integrations.crmConnect}
            </button>
            {saved ? (
              <span className="ok" role="status" data-testid="crm-saved">
                {t.integrations.crmSaved}
              </span>
            ) : null}
            {connected && !confirm ? (
              <button type="button" className="link danger" onClick={() => setConfirm(true)} data-testid="crm-disconnect">
                {t.integrations.crmDisconnect}
              </button>
            ) : null}
          </div>
          {confirm ? (
            <div className="confirm-box" role="dialog">
              <p>{t.integrations.crmDisconnectConfirm}</p>
              <button
                type="button"
                className="danger"
                disabled={busy}
                onClick={() =>
                  void run(async () => {
                    await api.disconnectCrm(tenantId);
                    show(await api.getCrm(tenantId));
                    setConfirm(false);
                  })
                }
                data-testid="crm-disconnect-yes"
              >
                {t.integrations.crmDisconnect}
              </button>
              <button type="button" onClick={() => setConfirm(false)}>
                {t.cancel}
              </button>
            </div>
          ) : null}
        </form>
      ) : error && !settings ? (
        <ReasonBanner error={error} />
      ) : null}
    </section>
  );
}
