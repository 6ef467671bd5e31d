import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Booking, CalendarIn, CalendarOut, Role } from '../api/types';
import { browserNavigation } from '../billing/redirect';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { booking, calendar } from '../test/integrationFixtures';
import { renderWithSession } from '../test/renderWithSession';
import { AgendaPage } from './AgendaPage';

const BASE = '/api/tenants/clinica';

interface State {
  calendar: CalendarOut;
  bookings: Booking[];
}

function server(state: State) {
  return (request: RecordedRequest): Response => {
    const { method, path } = request;
    if (method === 'GET' && path === `${BASE}/calendar`) return jsonResponse(200, state.calendar);
    if (method === 'PUT' && path === `${BASE}/calendar`) {
      state.calendar = { ...state.calendar, settings: request.body as CalendarIn };
      return jsonResponse(200, state.calendar);
    }
    if (method === 'GET' && path === `${BASE}/calendar/slots`) {
      return jsonResponse(200, state.calendar.settings.enabled ? { slots: [{ start: '2099-11-24T12:00:00Z', end: '2099-11-24T12:30:00Z', label: 'ter 24/11 às 09:00' }], error: null } : { slots: [], error: null });
    }
    if (method === 'GET' && path === `${BASE}/bookings`) return jsonResponse(200, { bookings: state.bookings });
    if (method === 'POST' && path.startsWith(`${BASE}/bookings/`)) {
      const canceled = { ...state.bookings[0]!, status: 'canceled' as const };
      state.bookings = [];
      return jsonResponse(200, canceled);
    }
    if (method === 'POST' && path === `${BASE}/calendar/google/authorize`) return jsonResponse(200, { url: 'https://accounts.google.test/o/oauth2/auth?state=s1' });
    if (method === 'DELETE' && path === `${BASE}/calendar/google`) {
      state.calendar = calendar();
      return jsonResponse(200, state.calendar);
    }
    return jsonResponse(404, { error: { code: 'not_found', message: `${method} ${path}` } });
  };
}

function renderAgenda(state: State, { role = 'owner' as Role, path = '/agenda' } = {}) {
  return renderWithSession(<AgendaPage />, server(state), { role, path });
}

const writes = (requests: RecordedRequest[]) => requests.filter((r) => r.method !== 'GET').map((r) => [r.method, r.path, r.body]);

afterEach(() => vi.restoreAllMocks());

describe('AgendaPage', () => {
  it('turns scheduling on with a Saturday morning, saves every weekday, and previews the slots', async () => {
    const { requests } = renderAgenda({ calendar: calendar(), bookings: [] });
    await screen.findByTestId('calendar-form');
    expect(await screen.findByTestId('slots-empty')).toBeTruthy();
    fireEvent.click(screen.getByTestId('calendar-enabled'));
    fireEvent.click(screen.getByTestId('hours-add-sat'));
    expect((screen.getByTestId('hours-start-sat-0') as HTMLInputElement).value).toBe('09:00');
    fireEvent.change(screen.getByTestId('calendar-meeting_minutes'), { target: { value: '45' } });
    fireEvent.click(screen.getByTestId('calendar-save'));
    expect(await screen.findByTestId('calendar-saved')).toBeTruthy();
    const put = requests.find((r) => r.method === 'PUT')!.body as CalendarIn;
    expect(put.enabled).toBe(true);
    expect(put.meeting_minutes).toBe(45);
    expect(put.business_hours.sat).toEqual([{ start: '09:00', end: '12:00' }]);
    expect(put.business_hours.mon).toEqual([
      { start: '09:00', end: '12:00' },
      { start: '13:00', end: '18:00' },
    ]);
    expect(put.business_hours.sun).toEqual([]);
    // the preview is read again after saving
    const slot = await screen.findByTestId('slot');
    expect(slot.textContent).toBe('ter 24/11 às 09:00');
  });

  it('refuses overlapping ranges before sending, naming the day', async () => {
    const { requests } = renderAgenda({ calendar: calendar(), bookings: [] });
    await screen.findByTestId('calendar-form');
    fireEvent.change(screen.getByTestId('hours-start-mon-1'), { target: { value: '11:00' } });
    expect(screen.getByTestId('hours-problem-mon').textContent).toBe('Segunda: as faixas se sobrepõem.');
    expect((screen.getByTestId('calendar-save') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.submit(screen.getByTestId('calendar-form'));
    expect(writes(requests)).toEqual([]);
    fireEvent.click(screen.getByTestId('hours-remove-mon-1'));
    expect(screen.queryByTestId('hours-problem-mon')).toBeNull();
  });

  it('shows the API refusal beside the field it names', async () => {
    const state = { calendar: calendar(), bookings: [] };
    const handler = server(state);
    renderWithSession(<AgendaPage />, (request) =>
      request.method === 'PUT'
        ? jsonResponse(422, { error: { code: 'validation_failed', message: 'overlapping ranges', field: 'business_hours.fri', details: [] } })
        : handler(request),
    );
    fireEvent.click(await screen.findByTestId('calendar-save'));
    expect((await screen.findByTestId('field-error-business_hours.fri')).textContent).toBe('overlapping ranges');
  });

  it('says why a booking could not be canceled (409 with the reason)', async () => {
    const state = { calendar: calendar(), bookings: [booking()] };
    const handler = server(state);
    renderWithSession(<AgendaPage />, (request) =>
      request.method === 'POST' && request.path.endsWith('/cancel')
        ? jsonResponse(409, { error: { code: 'conflict', message: 'the booking is already canceled' } })
        : handler(request),
    );
    fireEvent.click(await screen.findByTestId('booking-cancel'));
    fireEvent.click(screen.getByTestId('booking-cancel-confirm'));
    expect((await screen.findByTestId('error-reason')).textContent).toBe('Motivo informado: the booking is already canceled');
    expect(screen.queryByTestId('booking-canceled')).toBeNull();
  });

  it('connects Google by leaving for the consent URL the API gives', async () => {
    const assign = vi.spyOn(browserNavigation, 'assign').mockImplementation(() => undefined);
    const { requests } = renderAgenda({ calendar: calendar(), bookings: [] });
    expect((await screen.findByTestId('google-status')).getAttribute('data-status')).toBe('disconnected');
    fireEvent.click(screen.getByTestId('google-connect'));
    await waitFor(() => expect(assign).toHaveBeenCalledWith('https://accounts.google.test/o/oauth2/auth?state=s1'));
    expect(writes(requests)).toEqual([['POST', `${BASE}/calendar/google/authorize`, {}]]);
  });

  it('says when the deployment has no Google client, without the button', async () => {
    renderAgenda({ calendar: calendar({ google_available: false }), bookings: [] });
    expect((await screen.findByTestId('google-status')).textContent).toContain('não está configurada');
    expect(screen.queryByTestId('google-connect')).toBeNull();
  });

  it('shows the return from Google: connected, or the reason it failed', async () => {
    const connected = calendar({ google: { connected: true, account_email: 'dona@clinica.com', calendar_id: 'primary', status: 'connected', error: null } });
    renderAgenda({ calendar: connected, bookings: [] }, { path: '/agenda?google=connected' });
    expect((await screen.findByTestId('google-notice')).getAttribute('data-state')).toBe('connected');
    expect((await screen.findByTestId('google-status')).textContent).toBe('Conectado: dona@clinica.com');
  });

  it('shows why Google refused', async () => {
    renderAgenda({ calendar: calendar(), bookings: [] }, { path: '/agenda?google=error&reason=access_denied' });
    const notice = await screen.findByTestId('google-notice');
    expect(notice.getAttribute('data-state')).toBe('error');
    expect(notice.textContent).toBe('Não foi possível conectar o Google Agenda: access_denied');
  });

  it('disconnects Google after confirming: the calendar goes back to the built-in one', async () => {
    const connected = calendar(
      { google: { connected: true, account_email: 'dona@clinica.com', calendar_id: 'primary', status: 'failing', error: 'invalid_grant' } },
      { provider: 'google' },
    );
    const { requests } = renderAgenda({ calendar: connected, bookings: [] });
    expect((await screen.findByTestId('google-status')).textContent).toBe('Conectado, mas com falha: invalid_grant');
    expect((screen.getByTestId('calendar-provider') as HTMLSelectElement).value).toBe('google');
    fireEvent.click(screen.getByTestId('google-disconnect'));
    fireEvent.click(screen.getByTestId('google-disconnect-yes'));
    await waitFor(() => expect(screen.getByTestId('google-status').getAttribute('data-status')).toBe('disconnected'));
    await waitFor(() => expect((screen.getByTestId('calendar-provider') as HTMLSelectElement).value).toBe('builtin'));
    expect(writes(requests)).toEqual([['DELETE', `${BASE}/calendar/google`, undefined]]);
  });

  it('lists bookings with their sync state and cancels one after confirming, with the reason', async () => {
    const { requests } = renderAgenda({
      calendar: calendar(),
      bookings: [booking(), booking({ booking_id: 'conv-2-3', contact_name: 'Rui', provider: 'google', sync_error: 'quota' })],
    });
    const rows = await screen.findAllByTestId('booking');
    expect(rows.map((row) => row.getAttribute('data-sync'))).toEqual(['builtin', 'failed']);
    expect(within(rows[0]!).getByTestId('booking-when').textContent).toBe('ter 24/11 às 09:00');
    expect(within(rows[1]!).getByTestId('booking-sync').textContent).toBe('Falha: quota');
    fireEvent.click(within(rows[0]!).getByTestId('booking-cancel'));
    expect(writes(requests)).toEqual([]);
    expect(screen.getByTestId('booking-cancel-form').textContent).toContain('Cancelar a reunião com Helena em ter 24/11 às 09:00?');
    fireEvent.change(screen.getByTestId('booking-cancel-reason'), { target: { value: 'o lead pediu' } });
    fireEvent.click(screen.getByTestId('booking-cancel-confirm'));
    expect(await screen.findByTestId('booking-canceled')).toBeTruthy();
    expect(writes(requests)).toEqual([['POST', `${BASE}/bookings/conv-1-4/cancel`, { reason: 'o lead pediu' }]]);
    expect(await screen.findByTestId('bookings-empty')).toBeTruthy();
  });

  it('gives sellers the bookings and slots, not the settings or Google', async () => {
    renderAgenda({ calendar: calendar({}, { enabled: true }), bookings: [booking()] }, { role: 'seller' });
    expect(await screen.findByTestId('booking')).toBeTruthy();
    expect(await screen.findByTestId('slot')).toBeTruthy();
    expect(screen.queryByTestId('calendar-form')).toBeNull();
    expect(screen.queryByTestId('google-calendar')).toBeNull();
  });
});
