// The calendar settings form (managers): on/off, which calendar, business hours per weekday with several ranges,
// meeting length, buffers, notice, horizon, slots per offer, title, location and reminder.
import { type FormEvent, useState } from 'react';
import { type CalendarOut, type TimeRange, WEEKDAYS, type Weekday } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ReasonBanner } from '../components/ReasonBanner';
import { FieldErrors } from '../components/FieldErrors';
import { fieldErrors } from '../i18n/format';
import { t, weekdayNames } from '../i18n/pt-BR';
import { type CalendarForm, hoursProblems, nextRange, requestFromForm } from './calendarForm';

type NumberField =
  | 'meeting_minutes'
  | 'buffer_before_minutes'
  | 'buffer_after_minutes'
  | 'min_notice_minutes'
  | 'horizon_days'
  | 'slots_offered'
  | 'reminder_minutes_before';

const NUMBER_FIELDS: [NumberField, string, number, number][] = [
  ['meeting_minutes', t.agenda.meetingMinutes, 10, 240],
  ['buffer_before_minutes', t.agenda.bufferBefore, 0, 120],
  ['buffer_after_minutes', t.agenda.bufferAfter, 0, 120],
  ['min_notice_minutes', t.agenda.minNotice, 0, 10080],
  ['horizon_days', t.agenda.horizon, 1, 60],
  ['slots_offered', t.agenda.slotsOffered, 1, 10],
  ['reminder_minutes_before', t.agenda.reminder, 0, 2880],
];

const PLACED = ['business_hours', 'meeting_title', 'location', 'provider', ...NUMBER_FIELDS.map(([name]) => name)];

export function SettingsForm({
  form,
  onChange,
  timeZone,
  googleConnected,
  onSaved,
}: {
  form: CalendarForm;
  onChange: (form: CalendarForm) => void;
  timeZone: string;
  googleConnected: boolean;
  onSaved: (saved: CalendarOut) => void;
}) {
  const api = useApi();
  const { tenantId } = useSession();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const problems = hoursProblems(form.business_hours);
  const errors = fieldErrors(error);

  const set = <K extends keyof CalendarForm>(key: K, value: CalendarForm[K]) => {
    setSaved(false);
    onChange({ ...form, [key]: value });
  };
  const setDay = (day: Weekday, ranges: TimeRange[]) => set('business_hours', { ...form.business_hours, [day]: ranges });

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (Object.keys(problems).length) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      onSaved(await api.putCalendar(tenantId, requestFromForm(form)));
      setSaved(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="settings-form" onSubmit={(event) => void submit(event)} data-testid="calendar-form">
      <label className="form-field checkbox">
        <input type="checkbox" checked={form.enabled} onChange={(event) => set('enabled', event.target.checked)} data-testid="calendar-enabled" />{' '}
        {t.agenda.enabled}
      </label>
      <label className="form-field">
        <span>{t.agenda.provider}</span>{' '}
        <select value={form.provider} onChange={(event) => set('provider', event.target.value as CalendarForm['provider'])} data-testid="calendar-provider">
          <option value="builtin">{t.agenda.providerBuiltin}</option>
          <option value="google" disabled={!googleConnected}>
            {googleConnected ? t.agenda.providerGoogle : t.agenda.providerGoogleNeedsConnection}
          </option>
        </select>
        <FieldErrors errors={errors} field="provider" />
      </label>

      <h3>{t.agenda.hoursTitle}</h3>
      <p className="muted small">{t.agenda.timezone(timeZone)}</p>
      <div className="hours-editor" data-testid="hours-editor">
        {WEEKDAYS.map((day) => {
          const ranges = form.business_hours[day];
          return (
            <div key={day} className="hours-day" data-testid="hours-day" data-day={day} data-ranges={ranges.length}>
              <span className="hours-day-name">{weekdayNames[day]}</span>
              <div>
                <div className="hours-ranges">
                  {ranges.length === 0 ? <span className="muted">{t.agenda.closed}</span> : null}
                  {ranges.map((range, index) => (
                    <span key={index} className="hours-range" data-testid="hours-range">
                      {t.agenda.from}
                      <input
                        type="time"
                        value={range.start}
                        aria-label={`${weekdayNames[day]} ${index + 1} ${t.agenda.from}`}
                        onChange={(event) => setDay(day, ranges.map((item, i) => (i === index ? { ...item, start: event.target.value } : item)))}
                        data-testid={`hours-start-${day}-${index}`}
                      />
                      {t.agenda.to}
                      <input
                        type="time"
                        value={range.end}
                        aria-label={`${weekdayNames[day]} ${index + 1} ${t.agenda.to}`}
                        onChange={(event) => setDay(day, ranges.map((item, i) => (i === index ? { ...item, end: event.target.value } : item)))}
                        data-testid={`hours-end-${day}-${index}`}
                      />
                      <button
                        type="button"
                        className="link danger"
                        title={t.agenda.removeRange}
                        aria-label={t.agenda.removeRange}
                        onClick={() => setDay(day, ranges.filter((_, i) => i !== index))}
                        data-testid={`hours-remove-${day}-${index}`}
                      >
                        ✕
                      </button>
                    </span>
                  ))}
                  <button type="button" className="link" onClick={() => setDay(day, [...ranges, nextRange(ranges)])} data-testid={`hours-add-${day}`}>
                    {t.agenda.addRange}
                  </button>
                </div>
                {problems[day] ? (
                  <div className="field-error" role="alert" data-testid={`hours-problem-${day}`}>
                    {problems[day]}
                  </div>
                ) : null}
                <FieldErrors errors={errors} field={`business_hours.${day}`} />
              </div>
            </div>
          );
        })}
      </div>

      <div className="numbers-grid">
        {NUMBER_FIELDS.map(([name, label, min, max]) => (
          <label key={name} className="form-field">
            <span>{label}</span>
            <input
              type="number"
              min={min}
              max={max}
              required
              value={Number.isNaN(form[name]) ? '' : form[name]}
              onChange={(event) => set(name, event.target.value === '' ? Number.NaN : Number(event.target.value))}
              data-testid={`calendar-${name}`}
            />
            <FieldErrors errors={errors} field={name} />
          </label>
        ))}
      </div>
      <label className="form-field">
        <span>{t.agenda.meetingTitle}</span>
        <input value={form.meeting_title} maxLength={200} required onChange={(event) => set('meeting_title', event.target.value)} data-testid="calendar-meeting_title" />
        <span className="muted small">{t.agenda.meetingTitleHelp}</span>
        <FieldErrors errors={errors} field="meeting_title" />
      </label>
      <label className="form-field">
        <span>{t.agenda.location}</span>
        <input value={form.location} maxLength={500} onChange={(event) => set('location', event.target.value)} data-testid="calendar-location" />
        <FieldErrors errors={errors} field="location" />
      </label>
      <ReasonBanner error={error} placedFields={PLACED} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy || Object.keys(problems).length > 0} data-testid="calendar-save">
          {busy ? t.saving : t.agenda.save}
        </button>
        {saved ? (
          <span className="ok" role="status" data-testid="calendar-saved">
            {t.agenda.saved}
          </span>
        ) : null}
      </div>
    </form>
  );
}
