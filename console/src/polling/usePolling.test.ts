import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Conditional } from '../api/types';
import { usePolling } from './usePolling';

describe('usePolling', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows fresh data, keeps it on 304, and starts over (no ETag) when the key changes', async () => {
    const etags: (string | null)[] = [];
    const load = vi.fn(async (etag: string | null): Promise<Conditional<string>> => {
      etags.push(etag);
      return etag ? { notModified: true } : { notModified: false, data: 'first', etag: '"a"' };
    });
    const { result, rerender } = renderHook(({ key }) => usePolling(load, 3000, key), { initialProps: { key: 'open' } });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(result.current.data).toBe('first');
    await act(() => vi.advanceTimersByTimeAsync(3000));
    expect(etags).toEqual([null, '"a"']);
    expect(result.current.data).toBe('first');

    rerender({ key: 'closed' });
    expect(result.current.data).toBeUndefined();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(etags).toEqual([null, '"a"', null]);
  });

  it('stops polling when unmounted', async () => {
    const load = vi.fn(async (): Promise<Conditional<string>> => ({ notModified: true }));
    const { unmount } = renderHook(() => usePolling(load, 1000, 'k'));
    await act(() => vi.advanceTimersByTimeAsync(0));
    unmount();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(load).toHaveBeenCalledTimes(1);
  });
});
