import { describe, expect, it } from 'vitest';
import { activeBilling, agency, billing, pro, starter, usage } from '../test/billingFixtures';
import { bannerFor, formatAmount, monthName, pricePerMonth, renewalText, statusBadge, usageHint } from './billingText';

const NBSP = '\u00a0';

describe('billing texts', () => {
  it('writes prices as the plan cards show them', () => {
    expect(pricePerMonth(49700)).toBe(`R$${NBSP}497/mês`);
    expect(pricePerMonth(149700)).toBe(`R$${NBSP}1.497/mês`);
    expect(pricePerMonth(19750)).toBe(`R$${NBSP}197,50/mês`);
  });

  it('names the month and formats amounts in pt-BR', () => {
    expect(monthName('2026-11')).toBe('novembro de 2026');
    expect(formatAmount('agent_replies', 5500)).toBe('5.500');
    expect(formatAmount('knowledge_mb', 12.46)).toBe('12,5');
    expect(formatAmount('knowledge_mb', 200)).toBe('200');
  });

  it('puts every subscription state in the badge', () => {
    expect(statusBadge(billing())).toEqual({ text: 'Em teste até 05/12', tone: 'warning' });
    expect(statusBadge(billing({ agent_on: false, read_only: true, stop_reason: 'trial_expired' })).text).toBe('Teste encerrado');
    expect(statusBadge(activeBilling(pro))).toEqual({ text: 'Ativa', tone: 'ok' });
    const pastDue = activeBilling(pro, { status: 'past_due', past_due_since: '2026-11-20T12:00:00Z', grace_ends_at: '2026-11-27T12:00:00Z' });
    expect(statusBadge(pastDue)).toEqual({ text: 'Pagamento pendente: o serviço continua até 27/11', tone: 'warning' });
    expect(statusBadge({ ...pastDue, agent_on: false, stop_reason: 'past_due_expired' })).toEqual({ text: 'Pagamento pendente: agente desligado', tone: 'alert' });
    expect(statusBadge(billing({ status: 'canceled', has_subscription: false, agent_on: false, read_only: true, stop_reason: 'canceled' }))).toEqual({
      text: 'Cancelada: somente leitura, agente desligado',
      tone: 'alert',
    });
  });

  it('says when a live subscription renews or cancels', () => {
    expect(renewalText(activeBilling(pro))).toBe('Renova em 22/12');
    expect(renewalText(activeBilling(pro, { cancel_at_period_end: true }))).toBe('Cancela em 22/12');
    expect(renewalText(billing())).toBeNull();
  });

  it('explains each level: a margin for replies, nothing more for stock', () => {
    expect(usageHint(usage('agent_replies', 4000, 5000))).toBeNull();
    expect(usageHint(usage('agent_replies', 4250, 5000, 'warning', 5500))).toBe('Você usou 85% do limite do plano.');
    expect(usageHint(usage('agent_replies', 5100, 5000, 'reached', 5500))).toBe('Limite atingido: margem de tolerância até 5.500.');
    expect(usageHint(usage('agent_replies', 5500, 5000, 'exceeded', 5500))).toBe('Acima do limite: novas conversas vão para a equipe.');
    expect(usageHint(usage('channels', 1, 1, 'reached'))).toBe('Limite atingido: não é possível adicionar mais.');
    expect(usageHint(usage('seats', 5, 3, 'exceeded'))).toBe('Acima do limite do plano: não é possível adicionar mais.');
  });
});

describe('the shell banner', () => {
  it('stays away while the service is fine and replies under 80%', () => {
    expect(bannerFor(activeBilling(pro))).toBeNull();
    // A stock quota at its limit is the billing page's business, not every page's.
    expect(bannerFor(activeBilling(starter, { usage: [usage('agent_replies', 10, 1000), usage('channels', 1, 1, 'reached')] }))).toBeNull();
  });

  it('warns from the replies line', () => {
    const at = (level: 'warning' | 'reached' | 'exceeded', used: number) =>
      bannerFor(activeBilling(pro, { usage: [usage('agent_replies', used, 5000, level, 5500)] }));
    expect(at('warning', 4300)).toEqual({ kind: 'warning', text: 'Você usou 86% das respostas do agente deste mês.' });
    expect(at('reached', 5000)).toEqual({ kind: 'reached', text: 'Limite de respostas do agente deste mês atingido: margem de tolerância até 5.500.' });
    expect(at('exceeded', 5500)?.kind).toBe('exceeded');
  });

  it('takes the most severe of the line and this month’s notices', () => {
    const notice = (kind: 'quota_warning' | 'quota_exceeded', month: string) => ({ notice_id: `${kind}-${month}`, kind, created_at: '2026-11-20T12:00:00Z', month, quota: 'agent_replies' as const });
    expect(bannerFor(activeBilling(agency, { notices: [notice('quota_exceeded', '2026-11')] }))?.kind).toBe('exceeded');
    expect(bannerFor(activeBilling(agency, { notices: [notice('quota_exceeded', '2026-10')] }))).toBeNull();
  });

  it('says the service stopped, or that a payment is pending, before any quota', () => {
    const canceled = billing({ status: 'canceled', agent_on: false, read_only: true, stop_reason: 'canceled' });
    expect(bannerFor(canceled)?.kind).toBe('stopped');
    expect(bannerFor(canceled)?.text).toContain('somente leitura');
    expect(bannerFor(billing({ agent_on: false, read_only: true, stop_reason: 'trial_expired' }))?.text).toContain('O teste terminou');
    const pastDue = activeBilling(pro, { status: 'past_due', grace_ends_at: '2026-11-27T12:00:00Z', usage: [usage('agent_replies', 4500, 5000, 'warning', 5500)] });
    expect(bannerFor(pastDue)).toEqual({ kind: 'past_due', text: 'Pagamento pendente: o serviço continua até 27/11. Atualize a forma de pagamento.' });
  });
});
