// "Painel": the tenant's figures for a period, as cards and charts.
import { type FormEvent, useEffect, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Metrics } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { duration, reasonText } from '../i18n/format';
import { metricNames, t } from '../i18n/pt-BR';
import { CopilotIntents } from './CopilotIntents';
import { brazilianDate, lastDays } from './period';

type Preset = 7 | 30 | 90 | 'custom';

function MetricCard({ name, value, text, hint }: { name: string; value: number | null; text?: string; hint?: string }) {
  return (
    <div className="metric-card" data-testid={`metric-${name}`} data-value={value ?? ''}>
      <div className="metric-label">{metricNames[name] ?? name}</div>
      <div className="metric-value">{text ?? (value ?? t.none)}</div>
      {hint ? <div className="muted small">{hint}</div> : null}
    </div>
  );
}

export default function DashboardPage() {
  const api = useApi();
  const { tenantId, tenant } = useSession();
  const timeZone = tenant?.timezone ?? 'America/Sao_Paulo';
  const [preset, setPreset] = useState<Preset>(30);
  const [period, setPeriod] = useState(() => lastDays(30, timeZone));
  const [custom, setCustom] = useState(period);
  const [metrics, setMetrics] = useState<Metrics | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    setError(null);
    api.getMetrics(tenantId, period).then(
      (loaded) => !cancelled && setMetrics(loaded),
      (caught) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, period]);

  function choose(next: Preset) {
    setPreset(next);
    if (next !== 'custom') setPeriod(lastDays(next, timeZone));
  }

  function applyCustom(event: FormEvent) {
    event.preventDefault();
    if (custom.from && custom.to) setPeriod({ ...custom });
  }

  const silences = Object.entries(metrics?.silences_by_reason ?? {})
    .map(([reason, count]) => ({ reason, label: reasonText(reason), count }))
    .sort((a, b) => b.count - a.count);
  const daily = (metrics?.daily ?? []).map((day) => ({ ...day, label: brazilianDate(day.date).slice(0, 5) }));

  return (
    <div className="page dashboard" data-testid="dashboard">
      <header className="page-header">
        <h1>{t.dashboard.title}</h1>
        <div className="period-picker" role="group" aria-label={t.dashboard.period}>
          {([7, 30, 90] as const).map((days) => (
            <button
              key={days}
              type="button"
              className={preset === days ? 'selected' : ''}
              onClick={() => choose(days)}
              data-testid={`period-${days}`}
            >
              {days === 7 ? t.dashboard.last7 : days === 30 ? t.dashboard.last30 : t.dashboard.last90}
            </button>
          ))}
          <button type="button" className={preset === 'custom' ? 'selected' : ''} onClick={() => choose('custom')} data-testid="period-custom">
            {t.dashboard.custom}
          </button>
        </div>
      </header>
      {preset === 'custom' ? (
        <form className="custom-period" onSubmit={applyCustom}>
          <label className="inline">
            {t.dashboard.from}
            <input type="date" value={custom.from} onChange={(event) => setCustom({ ...custom, from: event.target.value })} data-testid="period-from" />
          </label>
          <label className="inline">
            {t.dashboard.to}
            <input type="date" value={custom.to} onChange={(event) => setCustom({ ...custom, to: event.target.value })} data-testid="period-to" />
          </label>
          <button type="submit" data-testid="period-apply">
            {t.dashboard.apply}
          </button>
        </form>
      ) : null}
      <ErrorBanner error={error} />
      {metrics ? (
        <>
          <p className="muted" data-testid="dashboard-period">
            {t.dashboard.periodText(brazilianDate(metrics.from), brazilianDate(metrics.to), metrics.timezone)}
          </p>
          <div className="metric-grid">
            <MetricCard name="conversations_started" value={metrics.conversations_started} />
            <MetricCard name="answered_by_agent" value={metrics.answered_by_agent} />
            <MetricCard name="agent_messages" value={metrics.agent_messages} />
            <MetricCard name="handoffs" value={metrics.handoffs} />
            <MetricCard name="meetings_booked" value={metrics.meetings_booked} />
            <MetricCard name="followups_sent" value={metrics.followups_sent} />
            <MetricCard name="followups_answered" value={metrics.followups_answered} />
            <MetricCard
              name="median_first_response_seconds"
              value={metrics.median_first_response_seconds}
              text={duration(metrics.median_first_response_seconds)}
            />
            <MetricCard
              name="suggestions_accepted"
              value={metrics.suggestions_accepted}
              text={t.dashboard.ofOffered(metrics.suggestions_accepted, metrics.suggestions_offered)}
            />
          </div>
          <div className="chart-grid">
            <section className="card chart" data-testid="chart-silences">
              <h2>{metricNames.silences_by_reason}</h2>
              {silences.length ? (
                <ResponsiveContainer width="100%" height={Math.max(160, silences.length * 36)}>
                  <BarChart data={silences} layout="vertical" margin={{ left: 24, right: 16 }}>
                    <CartesianGrid strokeDasharray="3 3" horizontal={false} />
                    <XAxis type="number" allowDecimals={false} />
                    <YAxis type="category" dataKey="label" width={220} />
                    <Tooltip />
                    <Bar dataKey="count" name={t.dashboard.count} fill="#00a884" maxBarSize={28} isAnimationActive={false} />
                  </BarChart>
                </ResponsiveContainer>
              ) : (
                <p className="muted">{t.dashboard.noSilences}</p>
              )}
              <ul className="plain small">
                {silences.map((silence) => (
                  <li key={silence.reason} data-testid={`silence-${silence.reason}`} data-value={silence.count}>
                    {silence.label}: {silence.count}
                  </li>
                ))}
              </ul>
            </section>
            <section className="card chart" data-testid="chart-daily">
              <h2>{metricNames.daily}</h2>
              <ResponsiveContainer width="100%" height={260}>
                <LineChart data={daily} margin={{ right: 16 }}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" />
                  <YAxis allowDecimals={false} />
                  <Tooltip />
                  <Legend />
                  <Line type="monotone" dataKey="conversations_started" name={metricNames.conversations_started} stroke="#128c7e" dot={false} isAnimationActive={false} />
                  <Line type="monotone" dataKey="answered_by_agent" name={metricNames.answered_by_agent} stroke="#34b7f1" dot={false} isAnimationActive={false} />
                  <Line type="monotone" dataKey="handoffs" name={metricNames.handoffs} stroke="#e9a23b" dot={false} isAnimationActive={false} />
                  <Line type="monotone" dataKey="meetings_booked" name={metricNames.meetings_booked} stroke="#7d3cb5" dot={false} isAnimationActive={false} />
                </LineChart>
              </ResponsiveContainer>
            </section>
          </div>
        </>
      ) : !error ? (
        <div className="muted">{t.loading}</div>
      ) : null}
      {/* Its own window: the last N days of the preset (the API's default for a custom period). */}
      <CopilotIntents days={preset === 'custom' ? undefined : preset} />
    </div>
  );
}
