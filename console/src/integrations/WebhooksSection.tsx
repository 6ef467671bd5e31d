// Outbound webhooks (managers): create an endpoint with its events (the signing secret shown once), enable or
// disable, rotate the secret, send a test, the last delivery's status, the deliveries drawer with redelivery,
// and a disabled endpoint's reason with "Reativar".
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import type { WebhookDelivery, WebhookEndpoint, WebhookList } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ReasonBanner } from '../components/ReasonBanner';
import { FieldErrors } from '../components/FieldErrors';
import { dateTime, fieldErrors } from '../i18n/format';
import { deliveryStatusNames, t } from '../i18n/pt-BR';
import { endpointState, endpointStateText, eventLabel, webhookInput } from './integrationsText';
import { SecretReveal } from './SecretReveal';

/** How often the endpoints (and their last delivery) are read again while the page is open. */
export const WEBHOOKS_POLL_MS = 4_000;

const BADGE_TONES: Record<string, string> = { succeeded: 'badge-ok', failed: 'badge-alert', retrying: 'status-handoff', disabled: 'badge-alert', none: 'badge-muted' };

export function WebhooksSection() {
  const api = useApi();
  const { tenantId } = useSession();
  const [list, setList] = useState<WebhookList | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ endpointId: string; value: string } | null>(null);
  const [drawer, setDrawer] = useState<WebhookEndpoint | null>(null);

  const load = useCallback(async () => {
    try {
      setList(await api.listWebhooks(tenantId));
      setLoadError(null);
    } catch (caught) {
      setLoadError(caught);
    }
  }, [api, tenantId]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, WEBHOOKS_POLL_MS);
    return () => clearInterval(timer);
  }, [load]);

  const labels = Object.fromEntries((list?.event_types ?? []).map((item) => [item.type, item.label]));

  return (
    <section className="card" data-testid="webhooks-section">
      <div className="page-header">
        <h2>{t.integrations.webhooksTitle}</h2>
        {!creating ? (
          <button type="button" className="primary" onClick={() => setCreating(true)} data-testid="webhook-new">
            {t.integrations.newWebhook}
          </button>
        ) : null}
      </div>
      <p className="muted">{t.integrations.webhooksIntro}</p>
      <ReasonBanner error={loadError} />
      {secret ? <SecretReveal title={t.integrations.secretTitle} secret={secret.value} onDone={() => setSecret(null)} /> : null}
      {creating && list ? (
        <WebhookForm
          eventTypes={list.event_types.map((item) => item.type).filter((type) => type !== 'webhook.test')}
          labels={labels}
          onCancel={() => setCreating(false)}
          onCreated={(endpoint, value) => {
            setCreating(false);
            setSecret({ endpointId: endpoint.endpoint_id, value });
            setList((current) => (current ? { ...current, endpoints: [...current.endpoints, endpoint] } : current));
          }}
        />
      ) : null}
      {list && list.endpoints.length === 0 && !creating ? (
        <p className="muted" data-testid="webhooks-empty">
          {t.integrations.webhooksEmpty}
        </p>
      ) : null}
      {list?.endpoints.map((endpoint) => (
        <EndpointRow
          key={endpoint.endpoint_id}
          endpoint={endpoint}
          labels={labels}
          onChanged={(next) => setList((current) => current && { ...current, endpoints: current.endpoints.map((e) => (e.endpoint_id === next.endpoint_id ? next : e)) })}
          onDeleted={() => setList((current) => current && { ...current, endpoints: current.endpoints.filter((e) => e.endpoint_id !== endpoint.endpoint_id) })}
          onSecret={(value) => setSecret({ endpointId: endpoint.endpoint_id, value })}
          onDeliveries={() => setDrawer(endpoint)}
          onTested={() => void load()}
        />
      ))}
      {drawer ? <DeliveriesDrawer endpoint={drawer} labels={labels} onClose={() => setDrawer(null)} /> : null}
    </section>
  );
}

function WebhookForm({
  eventTypes,
  labels,
  onCancel,
  onCreated,
}: {
  eventTypes: string[];
  labels: Record<string, string>;
  onCancel: () => void;
  onCreated: (endpoint: WebhookEndpoint, secret: string) => void;
}) {
  const api = useApi();
  const { tenantId } = useSession();
  const [form, setForm] = useState({ url: '', description: '', events: [] as string[] });
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(error);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const body = webhookInput(form);
    if ('problem' in body) {
      setProblem(body.problem);
      return;
    }
    setProblem(null);
    setBusy(true);
    setError(null);
    try {
      const created = await api.createWebhook(tenantId, body);
      onCreated(created.endpoint, created.secret);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const toggle = (type: string, on: boolean) =>
    setForm((current) => ({ ...current, events: on ? [...current.events, type] : current.events.filter((item) => item !== type) }));

  return (
    <form className="card settings-form" onSubmit={(event) => void submit(event)} data-testid="webhook-form">
      <label className="form-field">
        <span>{t.integrations.url}</span>
        <input type="url" required value={form.url} placeholder="https://" onChange={(event) => setForm({ ...form, url: event.target.value })} data-testid="webhook-url" />
        <FieldErrors errors={errors} field="url" />
      </label>
      <label className="form-field">
        <span>{t.integrations.description}</span>
        <input value={form.description} maxLength={200} onChange={(event) => setForm({ ...form, description: event.target.value })} data-testid="webhook-description" />
      </label>
      <fieldset className="form-field">
        <legend>{t.integrations.events}</legend>
        <div className="event-checks">
          {eventTypes.map((type) => (
            <label key={type} className="checkbox">
              <input type="checkbox" checked={form.events.includes(type)} onChange={(event) => toggle(type, event.target.checked)} data-testid={`webhook-event-${type}`} />{' '}
              {eventLabel(type, labels)}
            </label>
          ))}
        </div>
        {problem ? (
          <div className="field-error" role="alert" data-testid="webhook-events-problem">
            {problem}
          </div>
        ) : null}
        <FieldErrors errors={errors} field="events" />
      </fieldset>
      <ReasonBanner error={error} placedFields={['url', 'events']} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="webhook-submit">
          {busy ? t.saving : t.integrations.createWebhook}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          {t.cancel}
        </button>
      </div>
    </form>
  );
}

function EndpointRow({
  endpoint,
  labels,
  onChanged,
  onDeleted,
  onSecret,
  onDeliveries,
  onTested,
}: {
  endpoint: WebhookEndpoint;
  labels: Record<string, string>;
  onChanged: (endpoint: WebhookEndpoint) => void;
  onDeleted: () => void;
  onSecret: (secret: string) => void;
  onDeliveries: () => void;
  onTested: () => void;
}) {
  const api = useApi();
  const { tenantId } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [confirm, setConfirm] = useState<'rotate' | 'delete' | null>(null);
  const [tested, setTested] = useState(false);
  const state = endpointState(endpoint);
  const last = endpoint.last_delivery;
  const id = endpoint.endpoint_id;

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

  return (
    <div className="card" data-testid="webhook-row" data-endpoint-id={id} data-enabled={String(endpoint.enabled)} data-state={state}>
      <div className="page-header">
        <div>
          <strong data-testid="webhook-url-text">{endpoint.url}</strong>
          {endpoint.description ? <div className="muted small">{endpoint.description}</div> : null}
        </div>
        <span className={`badge ${BADGE_TONES[state] ?? ''}`} data-testid="webhook-status" data-status={state}>
          {endpointStateText(endpoint)}
          {last && state !== 'disabled' && last.http_status ? ` · ${t.integrations.httpStatus(last.http_status)}` : ''}
        </span>
      </div>
      <div className="small">
        {endpoint.events.map((type) => (
          <span key={type} className="badge">
            {eventLabel(type, labels)}
          </span>
        ))}
      </div>
      <div className="muted small">
        {t.integrations.secretHint(endpoint.secret_hint)}
        {last ? ` · ${eventLabel(last.event_type, labels)} ${t.integrations.lastAt(dateTime(last.at))}` : ''}
        {last?.error ? ` · ${last.error}` : ''}
      </div>
      {!endpoint.enabled && endpoint.disabled_reason ? (
        <div className="notice notice-alert" data-testid="webhook-disabled">
          {t.integrations.disabledBecause(endpoint.disabled_reason)}{' '}
          <button type="button" className="primary" disabled={busy} onClick={() => void run(async () => onChanged(await api.updateWebhook(tenantId, id, { enabled: true })))} data-testid="webhook-reactivate">
            {t.integrations.reactivate}
          </button>
        </div>
      ) : endpoint.failing_since && endpoint.enabled ? (
        <div className="notice notice-warning" data-testid="webhook-failing">
          {t.integrations.failingSince(dateTime(endpoint.failing_since))}
        </div>
      ) : null}
      <div className="row-actions">
        {endpoint.enabled || !endpoint.disabled_reason ? (
          <button
            type="button"
            disabled={busy}
            onClick={() => void run(async () => onChanged(await api.updateWebhook(tenantId, id, { enabled: !endpoint.enabled })))}
            data-testid="webhook-toggle"
          >
            {endpoint.enabled ? t.integrations.disable : t.integrations.enable}
          </button>
        ) : null}
        <button
          type="button"
          disabled={busy || !endpoint.enabled}
          onClick={() =>
            void run(async () => {
              await api.testWebhook(tenantId, id);
              setTested(true);
              onTested();
            })
          }
          data-testid="webhook-test"
        >
          {t.integrations.sendTest}
        </button>
        <button type="button" onClick={onDeliveries} data-testid="webhook-deliveries">
          {t.integrations.deliveries}
        </button>
        <button type="button" disabled={busy} onClick={() => setConfirm('rotate')} data-testid="webhook-rotate">
          {t.integrations.rotate}
        </button>
        <button type="button" className="link danger" disabled={busy} onClick={() => setConfirm('delete')} data-testid="webhook-delete">
          {t.integrations.delete}
        </button>
      </div>
      {tested ? (
        <p className="ok-text small" role="status" data-testid="webhook-test-sent">
          {t.integrations.testSent}
        </p>
      ) : null}
      {confirm ? (
        <div className="confirm-box" role="dialog" data-testid={`webhook-${confirm}-confirm`}>
          <p>{confirm === 'rotate' ? t.integrations.rotateConfirm : t.integrations.deleteConfirm(endpoint.url)}</p>
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                if (confirm === 'rotate') {
                  const rotated = await api.rotateWebhookSecret(tenantId, id);
                  onChanged(rotated.endpoint);
                  onSecret(rotated.secret);
                } else {
                  await api.deleteWebhook(tenantId, id);
                  onDeleted();
                }
                setConfirm(null);
              })
            }
            data-testid={`webhook-${confirm}-yes`}
          >
            {confirm === 'rotate' ? t.integrations.rotate : t.integrations.delete}
          </button>
          <button type="button" onClick={() => setConfirm(null)}>
            {t.cancel}
          </button>
        </div>
      ) : null}
      <ReasonBanner error={error} />
    </div>
  );
}

function DeliveriesDrawer({ endpoint, labels, onClose }: { endpoint: WebhookEndpoint; labels: Record<string, string>; onClose: () => void }) {
  const api = useApi();
  const { tenantId } = useSession();
  const [deliveries, setDeliveries] = useState<WebhookDelivery[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [redelivered, setRedelivered] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let cancelled = false;
    api.listWebhookDeliveries(tenantId, endpoint.endpoint_id).then(
      (loaded) => !cancelled && setDeliveries(loaded.deliveries),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, endpoint.endpoint_id, reload]);

  async function redeliver(deliveryId: string) {
    setError(null);
    try {
      await api.redeliverWebhook(tenantId, endpoint.endpoint_id, deliveryId);
      setRedelivered(deliveryId);
      setReload((n) => n + 1);
    } catch (caught) {
      setError(caught);
    }
  }

  return (
    <aside className="drawer" role="dialog" aria-label={t.integrations.deliveriesTitle(endpoint.url)} data-testid="deliveries-drawer">
      <div className="page-header">
        <h2>{t.integrations.deliveriesTitle(endpoint.url)}</h2>
        <div className="row-actions">
          <button type="button" onClick={() => setReload((n) => n + 1)} data-testid="deliveries-refresh">
            {t.agenda.refresh}
          </button>
          <button type="button" onClick={onClose} data-testid="deliveries-close">
            {t.integrations.close}
          </button>
        </div>
      </div>
      <ReasonBanner error={error} />
      {deliveries === null && !error ? <p className="muted">{t.loading}</p> : null}
      {deliveries?.length === 0 ? (
        <p className="muted" data-testid="deliveries-empty">
          {t.integrations.deliveriesEmpty}
        </p>
      ) : null}
      {deliveries?.map((delivery) => (
        <div key={delivery.delivery_id} className="delivery-row" data-testid="delivery-row" data-delivery-id={delivery.delivery_id} data-status={delivery.status}>
          <div className="page-header">
            <strong>{eventLabel(delivery.event_type, labels)}</strong>
            <span className={`badge ${delivery.status === 'succeeded' ? 'badge-ok' : delivery.status === 'failed' ? 'badge-alert' : ''}`} data-testid="delivery-status">
              {deliveryStatusNames[delivery.status] ?? delivery.status}
            </span>
          </div>
          <div className="muted small">
            {dateTime(delivery.created_at)} · {t.integrations.attempts(delivery.attempts)}
            {delivery.last_http_status ? ` · ${t.integrations.httpStatus(delivery.last_http_status)}` : ''}
            {delivery.status === 'pending' && delivery.next_attempt_at ? ` · ${t.integrations.nextAttempt(dateTime(delivery.next_attempt_at))}` : ''}
          </div>
          {delivery.last_error ? <div className="field-error small">{delivery.last_error}</div> : null}
          <div className="row-actions">
            <button type="button" className="link" onClick={() => setOpen(open === delivery.delivery_id ? null : delivery.delivery_id)} data-testid="delivery-payload-toggle">
              {t.integrations.payload}
            </button>
            {delivery.status !== 'pending' ? (
              <button type="button" className="link" onClick={() => void redeliver(delivery.delivery_id)} data-testid="delivery-redeliver">
                {t.integrations.redeliver}
              </button>
            ) : null}
            {redelivered === delivery.delivery_id ? <span className="ok-text small">{t.integrations.redelivered}</span> : null}
          </div>
          {open === delivery.delivery_id ? <pre data-testid="delivery-payload">{JSON.stringify(delivery.payload, null, 2)}</pre> : null}
        </div>
      ))}
    </aside>
  );
}
