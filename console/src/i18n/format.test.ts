import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { errorText } from './format';

describe('errorText for a plan limit', () => {
  it('names the quota the API refused', () => {
    const error = new ApiError(402, 'payment_required', 'the Starter plan allows 1 channel; remove one or upgrade', 'channels');
    expect(errorText(error)).toBe('O plano desta empresa atingiu o limite de Canais. Veja os limites e os planos em Assinatura.');
  });

  it('falls back to the general text without a known quota', () => {
    const error = new ApiError(402, 'payment_required', 'the Pro plan has no client workspaces', null);
    expect(errorText(error)).toContain('o limite foi atingido');
    const readOnly = new ApiError(402, 'read_only', 'this workspace is read-only', null);
    expect(errorText(readOnly)).toContain('somente leitura');
  });
});
