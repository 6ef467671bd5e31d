// Issue 10 fixtures shaped as the admin API answers (calendar, bookings, webhooks, API keys, CRM, notifications).
import type { Booking, CalendarIn, CalendarOut, CrmSettings, Notification, WebhookEndpoint } from '../api/types';

export function calendarSettings(overrides: Partial<CalendarIn> = {}): CalendarIn {
  const day = [
    { start: '09:00:00', end: '12:00:00' },
    { start: '13:00:00', end: '18:00:00' },
  ];
  return {
    enabled: false,
    provider: 'builtin',
    business_hours: { mon: day, tue: day, wed: day, thu: day, fri: day },
    meeting_minutes: 30,
    buffer_before_minutes: 0,
    buffer_after_minutes: 10,
    min_notice_minutes: 120,
    horizon_days: 14,
    slots_offered: 5,
    meeting_title: 'Reunião com {nome}',
    location: null,
    reminder_minutes_before: 120,
    ...overrides,
  };
}

export function calendar(overrides: Partial<CalendarOut> = {}, settings: Partial<CalendarIn> = {}): CalendarOut {
  return {
    settings: calendarSettings(settings),
    timezone: 'America/Sao_Paulo',
    google: { connected: false, account_email: null, calendar_id: null, status: null, error: null },
    google_available: true,
    ...overrides,
  };
}

export function booking(overrides: Partial<Booking> = {}): Booking {
  return {
    booking_id: 'conv-1-4',
    conversation_id: 'conv-1',
    contact_name: 'Helena',
    phone: '+5511987650007',
    email: null,
    start: '2099-11-24T12:00:00Z',
    end: '2099-11-24T12:30:00Z',
    status: 'confirmed',
    provider: 'builtin',
    calendar_synced: false,
    sync_error: null,
    reminder_at: '2099-11-24T10:00:00Z',
    reminder_sent_at: null,
    source: 'agent',
    created_at: '2099-11-20T12:00:00Z',
    ...overrides,
  };
}

export function endpoint(overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    endpoint_id: 'wh1',
    url: 'https://hooks.zapier.com/hooks/catch/1/abc',
    description: 'Zapier',
    events: ['conversation.won', 'meeting.booked'],
    enabled: true,
    secret_hint: 'x9Zq',
    created_at: '2026-11-20T12:00:00Z',
    failing_since: null,
    disabled_at: null,
    disabled_reason: null,
    last_delivery: null,
    ...overrides,
  };
}

export const EVENT_TYPES = [
  { type: 'conversation.started', label: 'Conversation started' },
  { type: 'conversation.won', label: 'Won' },
  { type: 'meeting.booked', label: 'Meeting booked' },
  { type: 'webhook.test', label: 'Test' },
];

export function crm(overrides: Partial<CrmSettings> = {}): CrmSettings {
  return {
    connected: false,
    provider: 'rdstation',
    enabled: false,
    token_hint: null,
    pipeline_id: null,
    stage_mapping: {},
    deal_name: null,
    status: null,
    error: null,
    last_synced_at: null,
    piloto_stages: ['new', 'qualified', 'scheduled', 'won', 'lost'],
    ...overrides,
  };
}

export function notification(id: string, overrides: Partial<Notification> = {}): Notification {
  return {
    notification_id: id,
    type: 'handoff',
    title: 'Helena precisa de um humano',
    body: 'O lead pediu atendimento humano.',
    link: '/conversas/conv-1',
    conversation_id: 'conv-1',
    created_at: '2026-11-20T12:00:00Z',
    read_at: null,
    ...overrides,
  };
}
