// The billing page's and banner's words: prices, dates, the subscription's state and each quota's level.
import type { Billing, QuotaLevel, QuotaName, UsageLine } from '../api/types';
import { locale, subscriptionStatusNames, t } from '../i18n/pt-BR';

export type Tone = 'ok' | 'warning' | 'alert' | 'muted';

const LEVEL_RANK: Record<QuotaLevel, number> = { ok: 0, warning: 1, reached: 2, exceeded: 3 };

/** "R$ 497" (cents shown only when there are any). */
export function formatPrice(cents: number, currency = 'brl'): string {
  const whole = cents % 100 === 0;
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: currency.toUpperCase(),
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: whole ? 0 : 2,
  }).format(cents / 100);
}

/** "R$ 497/mês". */
export function pricePerMonth(cents: number, currency = 'brl'): string {
  return `${formatPrice(cents, currency)}${t.billing.perMonth}`;
}

/** "05/12" from an ISO time, in the browser's time zone. */
export function dayMonth(iso: string | null | undefined): string {
  if (!iso) return t.none;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit' }).format(date);
}

/** "novembro de 2026" from "2026-11". */
export function monthName(month: string): string {
  const [year, number] = month.split('-').map(Number);
  if (!year || !number) return month;
  return new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(Date.UTC(year, number - 1, 1)));
}

/** A quantity of a quota: "1.234", knowledge in MB with one decimal ("12,5"). */
export function formatAmount(quota: QuotaName, value: number): string {
  const digits = quota === 'knowledge_mb' && !Number.isInteger(value) ? 1 : 0;
  return new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** What the level of a quota means for the owner; null while it is fine. */
export function usageHint(line: UsageLine): string | null {
  const replies = line.quota === 'agent_replies';
  switch (line.level) {
    case 'warning':
      return t.billing.warning(line.percent);
    case 'reached':
      return replies ? t.billing.reachedReplies(formatAmount(line.quota, line.ceiling)) : t.billing.reachedStock;
    case 'exceeded':
      return replies ? t.billing.exceededReplies : t.billing.exceededStock;
    default:
      return null;
  }
}

export function levelTone(level: QuotaLevel): Tone {
  return level === 'ok' ? 'ok' : level === 'warning' ? 'warning' : 'alert';
}

/** The subscription's badge: "Em teste até 05/12", "Ativa", "Pagamento pendente: o serviço continua até 12/12"... */
export function statusBadge(billing: Billing): { text: string; tone: Tone } {
  if (billing.stop_reason === 'trial_expired') return { text: t.billing.trialEnded, tone: 'alert' };
  switch (billing.status) {
    case 'trialing':
      return { text: billing.trial_ends_at ? t.billing.trialUntil(dayMonth(billing.trial_ends_at)) : subscriptionStatusNames.trialing, tone: 'warning' };
    case 'active':
      return { text: t.billing.active, tone: 'ok' };
    case 'past_due':
      return billing.agent_on && billing.grace_ends_at
        ? { text: t.billing.pastDueUntil(dayMonth(billing.grace_ends_at)), tone: 'warning' }
        : { text: t.billing.pastDueStopped, tone: 'alert' };
    case 'canceled':
      return { text: t.billing.canceled, tone: 'alert' };
    default:
      return { text: String(billing.status), tone: 'muted' };
  }
}

/** "Renova em 05/12" or "Cancela em 05/12" for a live subscription; null otherwise. */
export function renewalText(billing: Billing): string | null {
  if (!billing.has_subscription || !billing.current_period_end) return null;
  const day = dayMonth(billing.current_period_end);
  return billing.cancel_at_period_end ? t.billing.cancelsOn(day) : t.billing.renews(day);
}

export function repliesLine(billing: Billing): UsageLine | undefined {
  return billing.usage.find((line) => line.quota === 'agent_replies');
}

const NOTICE_LEVEL: Record<string, QuotaLevel> = { quota_warning: 'warning', quota_reached: 'reached', quota_exceeded: 'exceeded' };

export type BannerKind = 'stopped' | 'past_due' | 'exceeded' | 'reached' | 'warning';

/**
 * What the shell's banner says for this workspace, or null: the service stopped (read-only or agent off), a
 * payment pending, or the month's replies at warning or beyond (by the usage line or by this month's notices).
 */
export function bannerFor(billing: Billing): { kind: BannerKind; text: string } | null {
  if (billing.read_only || !billing.agent_on || billing.notices.some((notice) => notice.kind === 'service_stopped')) {
    return { kind: 'stopped', text: t.billing.stopped[billing.stop_reason ?? 'canceled'] };
  }
  if (billing.status === 'past_due' && billing.grace_ends_at) {
    return { kind: 'past_due', text: t.billing.bannerPastDue(dayMonth(billing.grace_ends_at)) };
  }
  const line = repliesLine(billing);
  let level: QuotaLevel = line?.level ?? 'ok';
  for (const notice of billing.notices) {
    if (notice.month !== billing.month || (notice.quota && notice.quota !== 'agent_replies')) continue;
    const noticed = NOTICE_LEVEL[notice.kind];
    if (noticed && LEVEL_RANK[noticed] > LEVEL_RANK[level]) level = noticed;
  }
  if (level === 'exceeded') return { kind: 'exceeded', text: t.billing.bannerExceeded };
  if (level === 'reached') return { kind: 'reached', text: t.billing.bannerReached(formatAmount('agent_replies', line?.ceiling ?? 0)) };
  if (level === 'warning') return { kind: 'warning', text: t.billing.bannerWarning(line?.percent ?? 80) };
  return null;
}
