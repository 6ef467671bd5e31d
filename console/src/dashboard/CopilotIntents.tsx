// "Copiloto por intenção": how sellers used the copilot's suggestions per intent, and the owner's switch to pilot
// for an intent whose acceptance stayed above the tenant's threshold over enough suggestions.
import { useCallback, useEffect, useState } from 'react';
import type { AgentMode, CopilotIntents as CopilotIntentsData, Intent, IntentStats } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { intentNames, t } from '../i18n/pt-BR';

const percent = (value: number | null) => (value === null ? t.dashboard.noData : t.dashboard.percent(value));

function AcceptanceBar({ rate, threshold }: { rate: number | null; threshold: number }) {
  return (
    <div className="rate">
      <div className="rate-bar" aria-hidden="true">
        {rate !== null ? <div className="rate-fill" style={{ width: `${Math.min(100, Math.max(0, rate * 100))}%` }} /> : null}
        <div className="rate-threshold" style={{ left: `${Math.min(100, Math.max(0, threshold * 100))}%` }} />
      </div>
      <span className="rate-value">{percent(rate)}</span>
    </div>
  );
}

export function CopilotIntents({ days }: { days?: number }) {
  const api = useApi();
  const { tenantId, role } = useSession();
  const owner = role === 'owner';
  const [data, setData] = useState<CopilotIntentsData | null>(null);
  // The tenant's mode: in pilot the agent answers every intent, so per-intent switches mean nothing.
  const [tenantMode, setTenantMode] = useState<AgentMode | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<Intent | null>(null);

  const load = useCallback(
    (isCancelled: () => boolean = () => false) =>
      api.getCopilotIntents(tenantId, days).then(
        (loaded) => !isCancelled() && setData(loaded),
        (caught) => !isCancelled() && setError(caught),
      ),
    [api, tenantId, days],
  );

  useEffect(() => {
    let cancelled = false;
    setError(null);
    void load(() => cancelled);
    return () => {
      cancelled = true;
    };
  }, [load]);

  useEffect(() => {
    let cancelled = false;
    api.getAgent(tenantId).then(
      (settings) => !cancelled && setTenantMode(settings.mode),
      () => undefined, // without it the section only hides the switch back to copilot
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  async function switchMode(intent: Intent, mode: AgentMode) {
    setBusy(intent);
    setError(null);
    try {
      const updated = await api.setIntentMode(tenantId, intent, mode);
      setData((previous) =>
        previous ? { ...previous, intents: previous.intents.map((item) => (item.intent === intent ? { ...item, ...updated } : item)) } : previous,
      );
      void load();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  }

  const name = (intent: string) => (intentNames as Record<string, string>)[intent] ?? intent;
  const promotions = (data?.intents ?? []).filter((item) => item.eligible && item.mode === 'copilot');
  const anySuggestions = (data?.intents ?? []).some((item) => item.offered > 0);
  // An intent the owner promoted (pilot while the tenant is in copilot) can go back.
  const canDemote = owner && tenantMode === 'copilot';

  return (
    <section className="card copilot-intents" aria-labelledby="copilot-intents-title" data-testid="copilot-intents">
      <h2 id="copilot-intents-title">{t.dashboard.copilotTitle}</h2>
      <ErrorBanner error={error} />
      {!data ? (
        !error ? <div className="muted">{t.loading}</div> : null
      ) : (
        <>
          <p className="muted small" data-testid="copilot-intents-intro">
            {t.dashboard.copilotIntro(data.days, t.dashboard.percent(data.threshold), data.min_samples)}
          </p>
          {tenantMode === 'pilot' ? (
            <p className="muted small" data-testid="copilot-tenant-pilot">
              {t.dashboard.tenantPilot}
            </p>
          ) : null}
          {promotions.map((item: IntentStats) => (
            <div key={item.intent} className="promotion" role="region" aria-label={name(item.intent)} data-testid={`promotion-${item.intent}`}>
              <p>{t.dashboard.promotion(name(item.intent), percent(item.acceptance_rate), item.offered)}</p>
              {owner ? (
                <button
                  type="button"
                  className="primary"
                  disabled={busy !== null}
                  onClick={() => void switchMode(item.intent, 'pilot')}
                  data-testid={`promote-${item.intent}`}
                >
                  {t.dashboard.promote}
                </button>
              ) : (
                <p className="muted small">{t.dashboard.ownerDecides}</p>
              )}
            </div>
          ))}
          {!anySuggestions ? <p className="muted">{t.dashboard.noSuggestions}</p> : null}
          <table className="table intent-table" data-testid="intent-table">
            <thead>
              <tr>
                <th scope="col">{t.dashboard.intent}</th>
                <th scope="col">{t.dashboard.intentMode}</th>
                <th scope="col">{t.dashboard.offered}</th>
                <th scope="col">{t.dashboard.accepted}</th>
                <th scope="col">{t.dashboard.edited}</th>
                <th scope="col">{t.dashboard.ignored}</th>
                <th scope="col">{t.dashboard.dismissed}</th>
                <th scope="col">{t.dashboard.acceptance}</th>
                <th scope="col">{t.dashboard.similarity}</th>
                {canDemote ? <th scope="col" /> : null}
              </tr>
            </thead>
            <tbody>
              {data.intents.map((item) => (
                <tr
                  key={item.intent}
                  data-testid="intent-row"
                  data-intent={item.intent}
                  data-mode={item.mode}
                  data-eligible={String(item.eligible)}
                  data-acceptance={item.acceptance_rate ?? ''}
                >
                  <th scope="row">{name(item.intent)}</th>
                  <td>
                    <span className={`badge ${item.mode === 'pilot' ? 'badge-ok' : 'badge-copilot'}`}>
                      {item.mode === 'pilot' ? t.dashboard.modePilot : t.dashboard.modeCopilot}
                    </span>
                    {item.eligible && item.mode === 'copilot' ? <span className="badge badge-count">{t.dashboard.eligible}</span> : null}
                  </td>
                  <td>{item.offered}</td>
                  <td>{item.accepted}</td>
                  <td>{item.edited}</td>
                  <td>{item.ignored}</td>
                  <td>{item.dismissed}</td>
                  <td>
                    <AcceptanceBar rate={item.acceptance_rate} threshold={data.threshold} />
                  </td>
                  <td>{percent(item.mean_similarity)}</td>
                  {canDemote ? (
                    <td>
                      {item.mode === 'pilot' ? (
                        <button
                          type="button"
                          className="link"
                          disabled={busy !== null}
                          onClick={() => {
                            if (window.confirm(t.dashboard.confirmToCopilot(name(item.intent)))) void switchMode(item.intent, 'copilot');
                          }}
                          data-testid={`demote-${item.intent}`}
                        >
                          {t.dashboard.toCopilot}
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
