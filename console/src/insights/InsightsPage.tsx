// "Insights" (owners and admins): the latest insights across conversations (polled), each linked to its
// conversation, with apply/dismiss; and "Tráfego": why the leads of each ad were lost.
import { useEffect, useMemo, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { INSIGHT_STATUSES, type InsightFilters, type InsightStatus, type TrafficCampaign, type TrafficReport } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { dateTime } from '../i18n/format';
import { insightStatusNames, t } from '../i18n/pt-BR';
import { InsightCard } from './InsightCard';
import { FEED_POLL_MS, useInsightAgents, useInsights } from './useInsights';

export const TRAFFIC_DAYS = [7, 30, 90] as const;
const FEED_LIMIT = 50;

const TABS = [
  { path: '', id: 'feed', label: () => t.insights.feedTab },
  { path: 'trafego', id: 'traffic', label: () => t.insights.trafficTab },
] as const;

function Feed() {
  const api = useApi();
  const { tenantId } = useSession();
  const { agents } = useInsightAgents();
  const [status, setStatus] = useState<InsightStatus | ''>('');
  const [agentId, setAgentId] = useState('');
  const filters = useMemo<InsightFilters>(
    () => ({ limit: FEED_LIMIT, ...(status ? { status } : {}), ...(agentId ? { agent_id: agentId } : {}) }),
    [status, agentId],
  );
  const feed = useInsights(filters, FEED_POLL_MS);
  const [actionError, setActionError] = useState<unknown>(null);

  async function act(action: () => Promise<unknown>) {
    setActionError(null);
    try {
      await action();
    } catch (caught) {
      setActionError(caught);
      throw caught;
    } finally {
      feed.refresh();
    }
  }

  const insights = feed.data?.insights;
  return (
    <section aria-label={t.insights.feedTab}>
      <p className="muted">{t.insights.intro}</p>
      <div className="filters-row">
        <select value={status} onChange={(event) => setStatus(event.target.value as InsightStatus | '')} aria-label={t.insights.statusAll} data-testid="insights-status-filter">
          <option value="">{t.insights.statusAll}</option>
          {INSIGHT_STATUSES.map((value) => (
            <option key={value} value={value}>
              {insightStatusNames[value]}
            </option>
          ))}
        </select>
        <select value={agentId} onChange={(event) => setAgentId(event.target.value)} aria-label={t.insights.agentAll} data-testid="insights-agent-filter">
          <option value="">{t.insights.agentAll}</option>
          {(agents ?? []).map((agent) => (
            <option key={agent.agent_id} value={agent.agent_id}>
              {agent.icon} {agent.name}
            </option>
          ))}
        </select>
      </div>
      <ErrorBanner error={actionError ?? feed.error} />
      {!insights ? (
        !feed.error ? <div className="muted">{t.loading}</div> : null
      ) : insights.length === 0 ? (
        <p className="muted" data-testid="insights-empty">
          {t.insights.empty}
        </p>
      ) : (
        <div className="insight-list insight-list-wide" data-testid="insights-list">
          {insights.map((insight) => (
            <InsightCard
              key={insight.insight_id}
              insight={insight}
              showConversation
              onApply={(target) => act(() => api.applyInsight(tenantId, target.insight_id))}
              onDismiss={(target) => act(() => api.dismissInsight(tenantId, target.insight_id))}
            />
          ))}
        </div>
      )}
    </section>
  );
}

function campaignTitle(campaign: TrafficCampaign): string {
  if (campaign.key === 'organic' && !campaign.source_id && !campaign.headline) return t.insights.organic;
  return campaign.headline || (campaign.source_id ? t.insights.sourceId(campaign.source_id) : campaign.key);
}

function CampaignCard({ campaign }: { campaign: TrafficCampaign }) {
  const top = Math.max(1, ...campaign.reasons.map((reason) => reason.count));
  return (
    <article className="card traffic-campaign" data-testid="traffic-campaign" data-key={campaign.key} data-lost={campaign.lost}>
      <header className="traffic-header">
        <h3 className="traffic-title">{campaignTitle(campaign)}</h3>
        <span className="badge badge-alert" data-testid="traffic-lost">
          {t.insights.lost(campaign.lost)}
        </span>
      </header>
      <div className="muted small">
        {campaign.headline && campaign.source_id ? t.insights.sourceId(campaign.source_id) : null}
        {campaign.source_url ? (
          <>
            {campaign.headline && campaign.source_id ? ' · ' : null}
            <a href={campaign.source_url} target="_blank" rel="noreferrer">
              {t.insights.seeAd}
            </a>
          </>
        ) : null}
      </div>
      <h4>{t.insights.reasons}</h4>
      <ul className="plain traffic-reasons">
        {campaign.reasons.map((reason) => (
          <li key={reason.reason} className="traffic-reason" data-testid="traffic-reason" data-reason={reason.reason} data-count={reason.count}>
            <span className="traffic-reason-name">{reason.reason}</span>
            <span className="rate-bar" aria-hidden="true">
              <span className="rate-fill" style={{ width: `${(reason.count / top) * 100}%` }} />
            </span>
            <span className="rate-value">{reason.count}</span>
          </li>
        ))}
      </ul>
      {campaign.details.length ? (
        <>
          <h4>{t.insights.details}</h4>
          <ul className="traffic-details">
            {campaign.details.map((detail, index) => (
              <li key={index} data-testid="traffic-detail">
                {detail}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </article>
  );
}

/** A day ("2026-11-22") as 22/11/2026; a timestamp with its time. */
function when(value: string): string {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  return day ? `${day[3]}/${day[2]}/${day[1]}` : dateTime(value);
}

function Traffic() {
  const api = useApi();
  const { tenantId } = useSession();
  const [days, setDays] = useState<number>(30);
  const [report, setReport] = useState<{ days: number; data: TrafficReport } | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    setError(null);
    api.getTrafficReport(tenantId, days).then(
      (data) => !cancelled && setReport({ days, data }),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, days]);

  const current = report?.days === days ? report.data : null;
  return (
    <section aria-label={t.insights.trafficTab} data-testid="traffic-report">
      <header className="page-header">
        <div>
          <h2>{t.insights.trafficTitle}</h2>
          <p className="muted small">{t.insights.trafficIntro}</p>
        </div>
        <label className="inline">
          <span>{t.insights.trafficPeriod}</span>
          <select value={days} onChange={(event) => setDays(Number(event.target.value))} data-testid="traffic-days">
            {TRAFFIC_DAYS.map((value) => (
              <option key={value} value={value}>
                {t.insights.lastDays(value)}
              </option>
            ))}
          </select>
        </label>
      </header>
      <ErrorBanner error={error} />
      {!current ? (
        !error ? <div className="muted">{t.loading}</div> : null
      ) : (
        <>
          <p className="muted small" data-testid="traffic-period">
            {t.insights.trafficSince(when(current.since), when(current.until))}
          </p>
          {current.campaigns.length === 0 ? (
            <p className="card muted" data-testid="traffic-empty">
              {t.insights.trafficEmpty}
            </p>
          ) : (
            <div className="traffic-list">
              {current.campaigns.map((campaign) => (
                <CampaignCard key={campaign.key} campaign={campaign} />
              ))}
            </div>
          )}
        </>
      )}
    </section>
  );
}

export function InsightsPage() {
  const navigate = useNavigate();
  const { tab: tabPath = '' } = useParams();
  const tab = TABS.find((candidate) => candidate.path === tabPath)?.id ?? 'feed';
  return (
    <div className="page insights" data-testid="insights-page">
      <header className="page-header">
        <h1>{t.insights.title}</h1>
      </header>
      <div className="tabs" role="tablist" aria-label={t.insights.title}>
        {TABS.map((candidate) => (
          <button
            key={candidate.id}
            type="button"
            role="tab"
            aria-selected={tab === candidate.id}
            className={tab === candidate.id ? 'selected' : ''}
            onClick={() => navigate(candidate.path ? `/insights/${candidate.path}` : '/insights')}
            data-testid={`insights-tab-${candidate.id}`}
          >
            {candidate.label()}
          </button>
        ))}
      </div>
      <div role="tabpanel">{tab === 'feed' ? <Feed /> : <Traffic />}</div>
    </div>
  );
}
