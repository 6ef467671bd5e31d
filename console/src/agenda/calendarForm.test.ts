import { describe, expect, it } from 'vitest';
import { booking, calendarSettings } from '../test/integrationFixtures';
import { cancelable, formFromSettings, googleReturn, hhmm, hoursProblems, meetingTime, nextRange, requestFromForm, syncState, syncText } from './calendarForm';

describe('calendar form', () => {
  it('reads Python times as HH:MM and gives every weekday a list', () => {
    expect(hhmm('09:00:00')).toBe('09:00');
    expect(hhmm('9:5')).toBe('09:05');
    const form = formFromSettings(calendarSettings());
    expect(form.business_hours.mon).toEqual([
      { start: '09:00', end: '12:00' },
      { start: '13:00', end: '18:00' },
    ]);
    expect(form.business_hours.sat).toEqual([]);
    expect(form.location).toBe('');
  });

  it('sends every weekday, a blank location as null and a trimmed title', () => {
    const form = { ...formFromSettings(calendarSettings()), location: '  ', meeting_title: ' Conversa com {nome} ', google: { calendar_id: 'primary' } };
    const body = requestFromForm(form);
    // only CalendarIn's fields go back (the API refuses unknown ones)
    expect(Object.keys(body).sort()).toEqual(Object.keys(calendarSettings()).sort());
    expect(Object.keys(body.business_hours)).toEqual(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
    expect(body.business_hours.sun).toEqual([]);
    expect(body.location).toBeNull();
    expect(body.meeting_title).toBe('Conversa com {nome}');
  });

  it('names the day whose ranges overlap or run backwards', () => {
    const hours = formFromSettings(calendarSettings()).business_hours;
    expect(hoursProblems(hours)).toEqual({});
    const overlapping = { ...hours, tue: [{ start: '13:00', end: '18:00' }, { start: '09:00', end: '13:30' }] };
    expect(hoursProblems(overlapping)).toEqual({ tue: 'Terça: as faixas se sobrepõem.' });
    const backwards = { ...hours, sat: [{ start: '12:00', end: '09:00' }] };
    expect(hoursProblems(backwards)).toEqual({ sat: 'Sábado: o início precisa ser antes do fim.' });
    // touching ranges are fine
    expect(hoursProblems({ ...hours, wed: [{ start: '09:00', end: '12:00' }, { start: '12:00', end: '13:00' }] })).toEqual({});
  });

  it('adds a range an hour after the last one, or the morning on a closed day', () => {
    expect(nextRange([])).toEqual({ start: '09:00', end: '12:00' });
    expect(nextRange([{ start: '09:00', end: '12:00' }])).toEqual({ start: '13:00', end: '14:00' });
    expect(nextRange([{ start: '20:00', end: '23:00' }])).toEqual({ start: '22:00', end: '23:00' });
  });

  it('writes a meeting time as the agent offers it, in the tenant time zone', () => {
    expect(meetingTime('2026-11-24T12:00:00Z', 'America/Sao_Paulo')).toBe('ter 24/11 às 09:00');
    expect(meetingTime('2026-11-24T12:00:00Z', 'Europe/Lisbon')).toBe('ter 24/11 às 12:00');
  });

  it('tells a booking calendar sync state', () => {
    expect(syncState(booking())).toBe('builtin');
    expect(syncState(booking({ provider: 'google', calendar_synced: true }))).toBe('synced');
    expect(syncState(booking({ provider: 'google' }))).toBe('pending');
    expect(syncText(booking({ provider: 'google', sync_error: 'invalid_grant' }))).toBe('Falha: invalid_grant');
  });

  it('cancels only upcoming meetings not canceled yet', () => {
    const now = new Date('2099-11-24T12:10:00Z');
    expect(cancelable(booking(), now)).toBe(true);
    expect(cancelable(booking({ status: 'canceled' }), now)).toBe(false);
    expect(cancelable(booking(), new Date('2099-11-24T12:31:00Z'))).toBe(false);
  });

  it('reads the return from Google consent', () => {
    expect(googleReturn(new URLSearchParams('google=connected'))).toEqual({ ok: true, text: 'Google Agenda conectado.' });
    expect(googleReturn(new URLSearchParams('google=error&reason=acesso negado'))?.text).toBe(
      'Não foi possível conectar o Google Agenda: acesso negado',
    );
    expect(googleReturn(new URLSearchParams('google=error'))?.text).toContain('motivo desconhecido');
    expect(googleReturn(new URLSearchParams(''))).toBeNull();
  });
});
