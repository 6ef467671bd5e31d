// The Agenda form's logic: calendar settings as the form edits them, the business hours checked before saving,
// the request body, and how a booking and its times read in the tenant's time zone.
import { type Booking, type CalendarIn, type TimeRange, WEEKDAYS, type Weekday } from '../api/types';
import { t, weekdayNames } from '../i18n/pt-BR';

export type HoursForm = Record<Weekday, TimeRange[]>;

export interface CalendarForm extends Omit<CalendarIn, 'business_hours' | 'location'> {
  business_hours: HoursForm;
  location: string;
}

/** "09:00:00" (Python's time) or "9:00" → "09:00". */
export function hhmm(value: string): string {
  const [hours = '0', minutes = '0'] = value.split(':');
  return `${hours.padStart(2, '0')}:${minutes.padStart(2, '0').slice(0, 2)}`;
}

export function formFromSettings(settings: CalendarIn): CalendarForm {
  const hours = Object.fromEntries(
    WEEKDAYS.map((day) => [day, (settings.business_hours[day] ?? []).map((range) => ({ start: hhmm(range.start), end: hhmm(range.end) }))]),
  ) as HoursForm;
  return { ...settings, business_hours: hours, location: settings.location ?? '' };
}

/** The body of PUT calendar, exactly CalendarIn's fields: every weekday (a closed day is an empty list), the location null when blank. */
export function requestFromForm(form: CalendarForm): CalendarIn {
  return {
    enabled: form.enabled,
    provider: form.provider,
    meeting_minutes: form.meeting_minutes,
    buffer_before_minutes: form.buffer_before_minutes,
    buffer_after_minutes: form.buffer_after_minutes,
    min_notice_minutes: form.min_notice_minutes,
    horizon_days: form.horizon_days,
    slots_offered: form.slots_offered,
    reminder_minutes_before: form.reminder_minutes_before,
    business_hours: Object.fromEntries(WEEKDAYS.map((day) => [day, form.business_hours[day].map((range) => ({ ...range }))])),
    location: form.location.trim() || null,
    meeting_title: form.meeting_title.trim(),
  };
}

/** A new range for a day: after its last one (an hour long), or 09:00–12:00 on a closed day. */
export function nextRange(ranges: TimeRange[]): TimeRange {
  const last = ranges[ranges.length - 1];
  if (!last) return { start: '09:00', end: '12:00' };
  const [h, m] = last.end.split(':').map(Number);
  const startMinutes = Math.min((h ?? 0) * 60 + (m ?? 0) + 60, 22 * 60);
  const endMinutes = Math.min(startMinutes + 60, 23 * 60 + 59);
  const clock = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
  return { start: clock(startMinutes), end: clock(endMinutes) };
}

/** What is wrong with the business hours, per weekday (the API refuses overlaps with a 422 naming the day). */
export function hoursProblems(hours: HoursForm): Partial<Record<Weekday, string>> {
  const problems: Partial<Record<Weekday, string>> = {};
  for (const day of WEEKDAYS) {
    const ranges = hours[day];
    if (ranges.some((range) => !range.start || !range.end || range.start >= range.end)) {
      problems[day] = t.agenda.badRange(weekdayNames[day]);
      continue;
    }
    const sorted = [...ranges].sort((a, b) => a.start.localeCompare(b.start));
    if (sorted.some((range, i) => i > 0 && range.start < sorted[i - 1]!.end)) problems[day] = t.agenda.overlap(weekdayNames[day]);
  }
  return problems;
}

/** "ter 24/11 às 09:00" in the tenant's time zone, as the agent offers it. */
export function meetingTime(iso: string, timeZone: string): string {
  const date = new Date(iso);
  const part = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat('pt-BR', { timeZone, ...options }).format(date);
  const weekday = part({ weekday: 'short' }).replace('.', '');
  return `${weekday} ${part({ day: '2-digit', month: '2-digit' })} às ${part({ hour: '2-digit', minute: '2-digit', hour12: false })}`;
}

export type SyncState = 'builtin' | 'synced' | 'pending' | 'failed';

/** Where a booking stands with its calendar: the built-in one needs nothing, Google is synced, pending or failed. */
export function syncState(booking: Booking): SyncState {
  if (booking.provider === 'builtin') return 'builtin';
  if (booking.sync_error) return 'failed';
  return booking.calendar_synced ? 'synced' : 'pending';
}

export function syncText(booking: Booking): string {
  const state = syncState(booking);
  if (state === 'builtin') return t.agenda.builtinSync;
  if (state === 'failed') return t.agenda.syncFailed(booking.sync_error ?? '');
  return state === 'synced' ? t.agenda.synced : t.agenda.syncPending;
}

/** Only an upcoming, not yet canceled meeting can be canceled (the API answers 409 otherwise). */
export function cancelable(booking: Booking, now: Date = new Date()): boolean {
  return booking.status !== 'canceled' && new Date(booking.end).getTime() > now.getTime();
}

/** The return from Google's consent page: `?google=connected` or `?google=error&reason=…`. */
export function googleReturn(params: URLSearchParams): { ok: boolean; text: string } | null {
  const value = params.get('google');
  if (value === 'connected') return { ok: true, text: t.agenda.googleReturnedOk };
  if (value === 'error') return { ok: false, text: t.agenda.googleReturnedError(params.get('reason') || t.agenda.googleUnknownReason) };
  return null;
}
