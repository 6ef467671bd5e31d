// Turning API values into the console's text: decisions, errors, times, durations.
import { ApiError } from '../api/client';
import type { ErrorDetail } from '../api/types';
import { actionPhrases, authErrorMessages, errorMessages, locale, quotaLimitText, quotaNames, reasonPhrases, t, understandingReasonNames } from './pt-BR';

export function reasonText(code: string): string {
  return (reasonPhrases as Record<string, string>)[code] ?? code;
}

/** Why a medium was not understood, in Portuguese; an unknown code shows as it is. */
export function understandingReasonText(reason: string | null): string | null {
  return reason ? (understandingReasonNames[reason] ?? reason) : null;
}

export function actionText(action: string): string {
  return (actionPhrases as Record<string, string>)[action] ?? action;
}

/** "O agente ficou em silêncio: humano ativo" — the action, then every reason. */
export function decisionText(action: string, reasons: readonly string[]): string {
  const head = actionText(action);
  return reasons.length ? `${head}: ${reasons.map(reasonText).join(', ')}` : head;
}

/** The pt-BR message for any error thrown by the API client, Firebase Auth or the network. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    // A plan limit names its quota in `field`: say which one ("o limite de Canais").
    if (error.code === 'payment_required' && error.field && error.field in quotaNames) {
      return quotaLimitText(quotaNames[error.field as keyof typeof quotaNames]);
    }
    return (errorMessages as Record<string, string>)[error.code] ?? (error.status >= 500 ? errorMessages.server_error : errorMessages.error);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('auth/')) return authErrorMessages[code] ?? errorMessages.error;
  return errorMessages.error;
}

/** Strip the "body." a server may put before a field path, so paths match the form's names. */
function normalizeField(field: string): string {
  return field.replace(/^body\./, '');
}

/** Field path → reasons, from a 422's details (and its `field` when no detail names it). */
export function fieldErrors(error: unknown): Record<string, string[]> {
  if (!(error instanceof ApiError)) return {};
  const result: Record<string, string[]> = {};
  const add = (detail: ErrorDetail) => {
    const field = normalizeField(detail.field);
    (result[field] ??= []).push(detail.reason);
  };
  error.details.forEach(add);
  if (error.field && !result[normalizeField(error.field)]) add({ field: error.field, reason: error.message });
  return result;
}

/** "3" → "item 4", "3.name" → "item 4.name": list positions as people count them. */
function readablePath(path: string): string {
  const [first, ...rest] = path.split('.');
  if (first === undefined || !/^\d+$/.test(first)) return path;
  return [t.listItem(Number(first) + 1), ...rest].join('.');
}

/** The reasons for `field` itself and for anything under it ("followups" also gets "followups.1"). */
export function errorsFor(errors: Record<string, string[]>, field: string): string[] {
  const found: string[] = [];
  for (const [key, reasons] of Object.entries(errors)) {
    if (key === field) found.push(...reasons);
    else if (key.startsWith(`${field}.`)) found.push(...reasons.map((reason) => t.fieldProblem(readablePath(key.slice(field.length + 1)), reason)));
  }
  return found;
}

const timeFormat = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
const dateFormat = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });

/** "14:05" today, "21/11" before. */
export function shortTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toDateString() === now.toDateString() ? timeFormat.format(date) : dateFormat.format(date);
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return t.none;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTimeFormat.format(date);
}

export function clockTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : timeFormat.format(date);
}

/** 42 → "42 s", 95 → "1 min 35 s", 3720 → "1 h 2 min". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return t.dashboard.noData;
  const total = Math.round(seconds);
  if (total < 60) return t.dashboard.seconds(total);
  if (total < 3600) return t.dashboard.minutes(Math.floor(total / 60), total % 60);
  return t.dashboard.hours(Math.floor(total / 3600), Math.floor((total % 3600) / 60));
}
