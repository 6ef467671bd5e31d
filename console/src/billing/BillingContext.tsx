// The current workspace's billing (plan, status, usage, notices), fetched once per workspace and then every
// minute for owners and admins, shared by the shell's banner and the Assinatura page.
import { type ReactNode, createContext, useCallback, useContext, useEffect, useState } from 'react';
import type { Billing } from '../api/types';
import { canManage, useApi, useSession } from '../app/context';
import { usePolling } from '../polling/usePolling';

export const BILLING_POLL_MS = 60_000;

export interface BillingState {
  /** Undefined until loaded, and always for sellers (the API does not show them billing). */
  billing: Billing | undefined;
  error: unknown;
  /** Fetch now (the poll interval goes on from there). */
  refresh: () => void;
  /** Show billing an action answered with (a plan change) without fetching it again. */
  publish: (billing: Billing) => void;
}

const BillingContext = createContext<BillingState>({
  billing: undefined,
  error: null,
  refresh: () => undefined,
  publish: () => undefined,
});

export function BillingProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const { tenantId, role } = useSession();
  const key = `${tenantId}/billing`;
  const load = useCallback((etag: string | null) => api.getBilling(tenantId, etag), [api, tenantId]);
  const polled = usePolling(canManage(role) ? load : null, BILLING_POLL_MS, key);
  // The latest of what the poll fetched and what an action published wins.
  const [latest, setLatest] = useState<{ key: string; billing: Billing } | null>(null);
  useEffect(() => {
    if (polled.data) setLatest({ key, billing: polled.data });
  }, [key, polled.data]);
  const publish = useCallback((billing: Billing) => setLatest({ key, billing }), [key]);
  const billing = latest?.key === key ? latest.billing : polled.data;
  return (
    <BillingContext.Provider value={{ billing, error: polled.error, refresh: polled.refresh, publish }}>{children}</BillingContext.Provider>
  );
}

export function useBilling(): BillingState {
  return useContext(BillingContext);
}
