// Data hooks for insights: a conversation's insights (polled with If-None-Match) and the tenant's agents.
import { useCallback, useEffect, useState } from 'react';
import type { Insight, InsightAgent, InsightFilters } from '../api/types';
import { useApi, useSession } from '../app/context';
import { type Polled, usePolling } from '../polling/usePolling';

/** How often the inbox asks for a conversation's new insights, and the owner's feed for everyone's. */
export const CONVERSATION_INSIGHTS_POLL_MS = 3000;
export const FEED_POLL_MS = 5000;

/** Insights matching `filters`, newest first, polled every `intervalMs`; `null` filters poll nothing. */
export function useInsights(filters: InsightFilters | null, intervalMs: number): Polled<{ insights: Insight[] }> {
  const api = useApi();
  const { tenantId } = useSession();
  const key = `${tenantId}/insights?${JSON.stringify(filters)}`;
  // The poller always calls the latest load; a new key (other filters) starts it over.
  const load = useCallback((etag: string | null) => api.listInsights(tenantId, filters ?? {}, etag), [api, tenantId, filters]);
  return usePolling(filters ? load : null, intervalMs, key);
}

/** The tenant's insight agents, read once (and again on `reload`); null until loaded. */
export function useInsightAgents(): { agents: InsightAgent[] | null; error: unknown; reload: () => void } {
  const api = useApi();
  const { tenantId } = useSession();
  const [state, setState] = useState<{ agents: InsightAgent[] | null; error: unknown }>({ agents: null, error: null });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let cancelled = false;
    api.listInsightAgents(tenantId).then(
      (answer) => !cancelled && setState({ agents: answer.agents, error: null }),
      (error: unknown) => !cancelled && setState((previous) => ({ ...previous, error })),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, round]);
  const reload = useCallback(() => setRound((value) => value + 1), []);
  return { ...state, reload };
}
