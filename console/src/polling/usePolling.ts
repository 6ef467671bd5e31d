import { useCallback, useEffect, useRef, useState } from 'react';
import type { Conditional } from '../api/types';
import { type Poller, startPoller } from './poller';

export interface Polled<T> {
  data: T | undefined;
  error: unknown;
  /** Fetch now, e.g. right after an action changed the resource. */
  refresh: () => void;
}

/**
 * Poll `load` every `intervalMs` while the page is visible. A new `key` (another tenant, filter or
 * conversation) starts over: no data, no ETag. `load === null` polls nothing.
 */
export function usePolling<T>(
  load: ((etag: string | null) => Promise<Conditional<T>>) | null,
  intervalMs: number,
  key: string,
): Polled<T> {
  const [state, setState] = useState<{ key: string; data: T | undefined; error: unknown }>({
    key,
    data: undefined,
    error: null,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const pollerRef = useRef<Poller | null>(null);
  const enabled = load !== null;

  useEffect(() => {
    setState({ key, data: undefined, error: null });
    if (!enabled) return undefined;
    const poller = startPoller<T>({
      load: (etag) => (loadRef.current ? loadRef.current(etag) : Promise.resolve({ notModified: true })),
      intervalMs,
      onData: (data) => setState({ key, data, error: null }),
      onError: (error) => setState((previous) => ({ ...previous, key, error })),
    });
    pollerRef.current = poller;
    return () => {
      poller.stop();
      if (pollerRef.current === poller) pollerRef.current = null;
    };
  }, [key, intervalMs, enabled]);

  const refresh = useCallback(() => pollerRef.current?.refresh(), []);
  // Until the effect for a new key has run, do not show the previous key's data.
  const current = state.key === key;
  return { data: current ? state.data : undefined, error: current ? state.error : null, refresh };
}
