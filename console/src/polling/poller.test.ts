import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Conditional } from '../api/types';
import { startPoller } from './poller';

/** A document whose visibility the test switches. */
function fakeVisibility(initial: DocumentVisibilityState = 'visible') {
  const target = new EventTarget();
  const doc = {
    visibilityState: initial,
    addEventListener: target.addEventListener.bind(target),
    removeEventListener: target.removeEventListener.bind(target),
    set(state: DocumentVisibilityState) {
      doc.visibilityState = state;
      target.dispatchEvent(new Event('visibilitychange'));
    },
  };
  return doc;
}

/** A server with a version: same ETag → 304. */
function fakeServer() {
  const server = {
    version: 1,
    etags: [] as (string | null)[],
    load: vi.fn(async (etag: string | null): Promise<Conditional<{ version: number }>> => {
      server.etags.push(etag);
      const current = `"v${server.version}"`;
      return etag === current ? { notModified: true } : { notModified: false, data: { version: server.version }, etag: current };
    }),
  };
  return server;
}

describe('startPoller', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fetches at once, then every interval, with the last ETag as If-None-Match; a 304 keeps the data', async () => {
    const server = fakeServer();
    const onData = vi.fn();
    const poller = startPoller({ load: server.load, intervalMs: 2000, onData, visibility: fakeVisibility() });
    await vi.advanceTimersByTimeAsync(0);
    expect(server.etags).toEqual([null]);
    expect(onData).toHaveBeenLastCalledWith({ version: 1 });

    await vi.advanceTimersByTimeAsync(1999);
    expect(server.load).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.etags).toEqual([null, '"v1"']);
    expect(onData).toHaveBeenCalledTimes(1); // 304: nothing new

    server.version = 2;
    await vi.advanceTimersByTimeAsync(2000);
    expect(server.etags).toEqual([null, '"v1"', '"v1"']);
    expect(onData).toHaveBeenLastCalledWith({ version: 2 });
    await vi.advanceTimersByTimeAsync(2000);
    expect(server.etags.at(-1)).toBe('"v2"');
    poller.stop();
  });

  it('stops while the page is hidden and fetches at once when it is visible again', async () => {
    const server = fakeServer();
    const visibility = fakeVisibility();
    const poller = startPoller({ load: server.load, intervalMs: 3000, onData: vi.fn(), visibility });
    await vi.advanceTimersByTimeAsync(0);
    expect(server.load).toHaveBeenCalledTimes(1);

    visibility.set('hidden');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(server.load).toHaveBeenCalledTimes(1);

    visibility.set('visible');
    await vi.advanceTimersByTimeAsync(0);
    expect(server.load).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(3000);
    expect(server.load).toHaveBeenCalledTimes(3);
    poller.stop();
  });

  it('does not start while hidden', async () => {
    const server = fakeServer();
    const poller = startPoller({ load: server.load, intervalMs: 1000, onData: vi.fn(), visibility: fakeVisibility('hidden') });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.load).not.toHaveBeenCalled();
    poller.stop();
  });

  it('stop() ends polling and drops an answer still on its way', async () => {
    let resolve: (value: Conditional<number>) => void = () => undefined;
    const load = vi.fn(() => new Promise<Conditional<number>>((r) => (resolve = r)));
    const onData = vi.fn();
    const visibility = fakeVisibility();
    const poller = startPoller({ load, intervalMs: 1000, onData, visibility });
    poller.stop();
    resolve({ notModified: false, data: 1, etag: null });
    await vi.advanceTimersByTimeAsync(10_000);
    visibility.set('visible');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(load).toHaveBeenCalledTimes(1);
    expect(onData).not.toHaveBeenCalled();
  });

  it('keeps polling after an error and reports it', async () => {
    const load = vi
      .fn<(etag: string | null) => Promise<Conditional<string>>>()
      .mockRejectedValueOnce(new Error('offline'))
      .mockResolvedValue({ notModified: false, data: 'ok', etag: '"1"' });
    const onError = vi.fn();
    const onData = vi.fn();
    const poller = startPoller({ load, intervalMs: 1000, onData, onError, visibility: fakeVisibility() });
    await vi.advanceTimersByTimeAsync(0);
    expect(onError).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(onData).toHaveBeenCalledWith('ok');
    poller.stop();
  });

  it('refresh() fetches now, never two requests at once', async () => {
    const resolvers: ((value: Conditional<number>) => void)[] = [];
    const load = vi.fn(() => new Promise<Conditional<number>>((r) => resolvers.push(r)));
    const poller = startPoller({ load, intervalMs: 5000, onData: vi.fn(), visibility: fakeVisibility() });
    await vi.advanceTimersByTimeAsync(0);
    poller.refresh();
    poller.refresh();
    expect(load).toHaveBeenCalledTimes(1); // the first is still running
    resolvers[0]?.({ notModified: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(load).toHaveBeenCalledTimes(2); // the refresh runs right after, not 5 s later
    poller.stop();
  });
});
