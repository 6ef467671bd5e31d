// "Agenda" (/agenda): whether the agent books meetings and on which calendar (the built-in one or a connected
// Google Calendar), business hours and meeting rules (managers), the next free slots as the agent would offer
// them, and the meetings booked, with their calendar sync and a confirmed cancel (everyone).
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import type { Booking, CalendarOut, SlotsPreview } from '../api/types';
import { canManage, useApi, useSession } from '../app/context';
import { browserNavigation } from '../billing/redirect';
import { ReasonBanner } from '../components/ReasonBanner';
import { bookingStatusNames, t } from '../i18n/pt-BR';
import { type CalendarForm, cancelable, formFromSettings, googleReturn, meetingTime, syncState, syncText } from './calendarForm';
import { SettingsForm } from './SettingsForm';
import './agenda.css';

export function AgendaPage() {
  const api = useApi();
  const { tenantId, role, tenant } = useSession();
  const manager = canManage(role);
  const [searchParams] = useSearchParams();
  const [returned] = useState(() => googleReturn(searchParams));
  const [calendar, setCalendar] = useState<CalendarOut | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [slotsVersion, setSlotsVersion] = useState(0);
  const timeZone = calendar?.timezone ?? tenant?.timezone ?? 'America/Sao_Paulo';

  useEffect(() => {
    let cancelled = false;
    api.getCalendar(tenantId).then(
      (loaded) => !cancelled && setCalendar(loaded),
      (caught: unknown) => !cancelled && setLoadError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  const changed = useCallback((next: CalendarOut) => {
    setCalendar(next);
    setSlotsVersion((version) => version + 1);
  }, []);

  return (
    <div className="page agenda-page" data-testid="agenda-page">
      <header className="page-header">
        <h1>{t.agenda.title}</h1>
      </header>
      <p className="muted">{t.agenda.intro}</p>
      {returned ? (
        <div className={`notice${returned.ok ? '' : ' notice-alert'}`} role="status" data-testid="google-notice" data-state={returned.ok ? 'connected' : 'error'}>
          {returned.text}
        </div>
      ) : null}
      {calendar ? null : loadError ? <ReasonBanner error={loadError} /> : <p className="muted">{t.loading}</p>}
      {/* What the team looks at every day first; the settings, changed rarely, below. */}
      {calendar ? <SlotsCard enabled={calendar.settings.enabled} version={slotsVersion} /> : null}
      <BookingsCard timeZone={timeZone} onCanceled={() => setSlotsVersion((version) => version + 1)} />
      {calendar && manager ? <GoogleCard calendar={calendar} onChange={changed} /> : null}
      {calendar && manager ? <SettingsCard calendar={calendar} onSaved={changed} /> : null}
      {calendar && !manager ? <p className="muted">{t.agenda.sellerNote}</p> : null}
    </div>
  );
}

function GoogleCard({ calendar, onChange }: { calendar: CalendarOut; onChange: (next: CalendarOut) => void }) {
  const api = useApi();
  const { tenantId } = useSession();
  const [busy, setBusy] = useState<'connect' | 'disconnect' | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const { google } = calendar;
  const status = google.connected ? (google.status === 'failing' ? 'failing' : 'connected') : 'disconnected';

  async function connect() {
    setBusy('connect');
    setError(null);
    try {
      browserNavigation.assign((await api.authorizeGoogle(tenantId)).url);
    } catch (caught) {
      setError(caught);
      setBusy(null);
    }
  }

  async function disconnect() {
    setBusy('disconnect');
    setError(null);
    try {
      onChange(await api.disconnectGoogle(tenantId));
      setConfirming(false);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  }

  return (
    <section className="card" data-testid="google-calendar">
      <h2>{t.agenda.googleTitle}</h2>
      <p className={status === 'failing' ? 'field-error' : status === 'connected' ? 'ok-text' : 'muted'} data-testid="google-status" data-status={status}>
        {status === 'connected'
          ? t.agenda.googleConnected(google.account_email)
          : status === 'failing'
            ? t.agenda.googleFailing(google.error)
            : calendar.google_available
              ? t.agenda.googleDisconnected
              : t.agenda.googleUnavailable}
      </p>
      <div className="form-actions">
        {!google.connected && calendar.google_available ? (
          <button type="button" className="primary" onClick={() => void connect()} disabled={busy !== null} data-testid="google-connect">
            {busy === 'connect' ? t.agenda.googleRedirecting : t.agenda.googleConnect}
          </button>
        ) : null}
        {google.connected && !confirming ? (
          <button type="button" onClick={() => setConfirming(true)} data-testid="google-disconnect">
            {t.agenda.googleDisconnect}
          </button>
        ) : null}
      </div>
      {confirming ? (
        <div className="confirm-box" role="dialog" data-testid="google-disconnect-confirm">
          <p>{t.agenda.googleConfirmDisconnect}</p>
          <button type="button" className="danger" onClick={() => void disconnect()} disabled={busy !== null} data-testid="google-disconnect-yes">
            {t.agenda.googleDisconnect}
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            {t.cancel}
          </button>
        </div>
      ) : null}
      <ReasonBanner error={error} />
    </section>
  );
}

function SettingsCard({ calendar, onSaved }: { calendar: CalendarOut; onSaved: (next: CalendarOut) => void }) {
  const [form, setForm] = useState<CalendarForm>(() => formFromSettings(calendar.settings));
  // A Google disconnect moves the provider back to built-in: follow it.
  useEffect(() => setForm((current) => ({ ...current, provider: calendar.settings.provider })), [calendar.settings.provider]);
  return (
    <section className="card">
      <h2>{t.agenda.settingsTitle}</h2>
      <SettingsForm
        form={form}
        onChange={setForm}
        timeZone={calendar.timezone}
        googleConnected={calendar.google.connected}
        onSaved={(saved) => {
          setForm(formFromSettings(saved.settings));
          onSaved(saved);
        }}
      />
    </section>
  );
}

function SlotsCard({ enabled, version }: { enabled: boolean; version: number }) {
  const api = useApi();
  const { tenantId } = useSession();
  const [preview, setPreview] = useState<SlotsPreview | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setError(null);
    api.getSlots(tenantId).then(
      (loaded) => !cancelled && setPreview(loaded),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, version, reload]);

  return (
    <section className="card" data-testid="slots-preview" data-count={preview?.slots.length ?? ''}>
      <div className="page-header">
        <h2>{t.agenda.slotsTitle}</h2>
        <button type="button" onClick={() => setReload((n) => n + 1)} data-testid="slots-refresh">
          {t.agenda.refresh}
        </button>
      </div>
      <p className="muted">{enabled ? t.agenda.slotsIntro : t.agenda.slotsDisabled}</p>
      <ReasonBanner error={error} />
      {preview?.error ? (
        <p className="field-error" data-testid="slots-error">
          {t.agenda.slotsError(preview.error)}
        </p>
      ) : null}
      {preview && !preview.error && preview.slots.length === 0 ? (
        <p className="muted" data-testid="slots-empty">
          {t.agenda.slotsEmpty}
        </p>
      ) : null}
      {preview?.slots.length ? (
        <ol className="slot-list">
          {preview.slots.map((slot) => (
            <li key={slot.start} className="badge badge-ok slot" data-testid="slot" data-start={slot.start}>
              {slot.label}
            </li>
          ))}
        </ol>
      ) : null}
    </section>
  );
}

function BookingsCard({ timeZone, onCanceled }: { timeZone: string; onCanceled: () => void }) {
  const api = useApi();
  const { tenantId } = useSession();
  const [filter, setFilter] = useState<'upcoming' | 'canceled'>('upcoming');
  const [bookings, setBookings] = useState<Booking[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const [confirming, setConfirming] = useState<Booking | null>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  useEffect(() => {
    let cancelled = false;
    setError(null);
    api.listBookings(tenantId, filter === 'canceled' ? { status: 'canceled' } : {}).then(
      (loaded) => !cancelled && setBookings(loaded.bookings),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, filter, reload]);

  async function cancel(event: FormEvent, booking: Booking) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.cancelBooking(tenantId, booking.booking_id, reason.trim() || null);
      setConfirming(null);
      setReason('');
      setDone(true);
      setReload((n) => n + 1);
      onCanceled();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" data-testid="bookings">
      <div className="page-header">
        <h2>{t.agenda.bookingsTitle}</h2>
        <select value={filter} onChange={(event) => setFilter(event.target.value as 'upcoming' | 'canceled')} data-testid="bookings-filter">
          <option value="upcoming">{t.agenda.filterUpcoming}</option>
          <option value="canceled">{t.agenda.filterCanceled}</option>
        </select>
      </div>
      {done ? (
        <p className="ok-text" role="status" data-testid="booking-canceled">
          {t.agenda.canceled}
        </p>
      ) : null}
      <ReasonBanner error={error} />
      {bookings && bookings.length === 0 ? (
        <p className="muted" data-testid="bookings-empty">
          {t.agenda.bookingsEmpty}
        </p>
      ) : null}
      {bookings?.length ? (
        <table className="table" data-testid="bookings-list">
          <thead>
            <tr>
              <th>{t.agenda.when}</th>
              <th>{t.agenda.lead}</th>
              <th>{t.agenda.status}</th>
              <th>{t.agenda.sync}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {bookings.map((booking) => {
              const when = meetingTime(booking.start, timeZone);
              const who = booking.contact_name || booking.phone || t.none;
              return (
                <tr
                  key={booking.booking_id}
                  data-testid="booking"
                  data-booking-id={booking.booking_id}
                  data-status={booking.status}
                  data-sync={syncState(booking)}
                >
                  <td data-testid="booking-when">{when}</td>
                  <td>
                    <div>{who}</div>
                    <div className="muted small">{[booking.phone, booking.email].filter(Boolean).join(' · ')}</div>
                    {booking.conversation_id ? (
                      <Link to={`/conversas/${encodeURIComponent(booking.conversation_id)}`} className="small">
                        {t.agenda.openConversation}
                      </Link>
                    ) : null}
                  </td>
                  <td>
                    <span className={`badge ${booking.status === 'confirmed' ? 'badge-ok' : booking.status === 'canceled' ? 'badge-muted' : ''}`} data-testid="booking-status">
                      {bookingStatusNames[booking.status]}
                    </span>
                    {booking.reminder_sent_at ? <div className="muted small">{t.agenda.reminderSent}</div> : null}
                    {!booking.reminder_sent_at && booking.reminder_at && booking.status === 'confirmed' ? (
                      <div className="muted small">{t.agenda.reminderAt(meetingTime(booking.reminder_at, timeZone))}</div>
                    ) : null}
                  </td>
                  <td className={syncState(booking) === 'failed' ? 'field-error' : 'muted'} data-testid="booking-sync">
                    {syncText(booking)}
                  </td>
                  <td>
                    {cancelable(booking) && confirming?.booking_id !== booking.booking_id ? (
                      <button type="button" onClick={() => setConfirming(booking)} data-testid="booking-cancel">
                        {t.agenda.cancel}
                      </button>
                    ) : null}
                    {confirming?.booking_id === booking.booking_id ? (
                      <form className="confirm-box" role="dialog" onSubmit={(event) => void cancel(event, booking)} data-testid="booking-cancel-form">
                        <p>{t.agenda.cancelConfirm(who, when)}</p>
                        <input
                          placeholder={t.agenda.cancelReason}
                          aria-label={t.agenda.cancelReason}
                          value={reason}
                          onChange={(event) => setReason(event.target.value)}
                          data-testid="booking-cancel-reason"
                        />
                        <button type="submit" className="danger" disabled={busy} data-testid="booking-cancel-confirm">
                          {t.agenda.cancelYes}
                        </button>
                        <button type="button" onClick={() => setConfirming(null)} disabled={busy}>
                          {t.agenda.keep}
                        </button>
                      </form>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
