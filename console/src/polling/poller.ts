// Live updates by polling: fetch now, then every interval while the page is visible, sending the last
// ETag as If-None-Match so an unchanged resource costs a 304 and keeps the current data.
import type { Conditional } from '../api/types';

export interface PollerOptions<T> {
  /** One conditional GET; `etag` is the ETag of the last fresh answer (null before the first). */
  load: (etag: string | null) => Promise<Conditional<T>>;
  intervalMs: number;
  onData: (data: T) => void;
  onError?: (error: unknown) => void;
  /** The document whose visibilityState gates polling (tests pass a fake). */
  visibility?: Pick<Document, 'visibilityState' | 'addEventListener' | 'removeEventListener'>;
}

export interface Poller {
  /** Fetch now (after an action), then keep the interval. */
  refresh: () => void;
  stop: () => void;
}

export function startPoller<T>({ load, intervalMs, onData, onError, visibility = document }: PollerOptions<T>): Poller {
  let etag: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inFlight = false;
  let again = false;
  let stopped = false;

  const visible = () => visibility.visibilityState === 'visible';

  const clear = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };

  const schedule = () => {
    clear();
    if (!stopped && visible()) timer = setTimeout(tick, intervalMs);
  };

  async function tick(): Promise<void> {
    clear();
    if (stopped || !visible()) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const answer = await load(etag);
      if (stopped) return;
      if (!answer.notModified) {
        etag = answer.etag;
        onData(answer.data);
      }
    } catch (error) {
      if (!stopped) onError?.(error);
    } finally {
      inFlight = false;
    }
    if (again) {
      again = false;
      void tick();
    } else {
      schedule();
    }
  }

  const onVisibilityChange = () => {
    if (visible()) void tick();
    else clear();
  };

  visibility.addEventListener('visibilitychange', onVisibilityChange);
  void tick();

  return {
    refresh: () => void tick(),
    stop: () => {
      stopped = true;
      clear();
      visibility.removeEventListener('visibilitychange', onVisibilityChange);
    },
  };
}
