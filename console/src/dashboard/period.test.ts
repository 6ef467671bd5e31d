import { describe, expect, it } from 'vitest';
import { addDays, brazilianDate, lastDays, todayIn } from './period';

describe('dashboard periods', () => {
  it('counts days on the tenant wall clock, today included', () => {
    const now = new Date('2026-11-22T01:30:00Z'); // still the 21st in São Paulo (UTC-3)
    expect(todayIn('America/Sao_Paulo', now)).toBe('2026-11-21');
    expect(lastDays(7, 'America/Sao_Paulo', now)).toEqual({ from: '2026-11-15', to: '2026-11-21' });
    expect(lastDays(30, 'UTC', now)).toEqual({ from: '2026-10-24', to: '2026-11-22' });
  });

  it('adds days across months and formats dates the Brazilian way', () => {
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(brazilianDate('2026-11-22')).toBe('22/11/2026');
  });
});
