import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { ACTIONS, ERROR_CODES, REASON_CODES } from '../api/types';
import { decisionText, errorText, errorsFor, fieldErrors, reasonText, understandingReasonText } from './format';
import { actionPhrases, errorMessages, reasonPhrases } from './pt-BR';

// Copied from the contract (/work/api-contract.md, "Reason codes" and "Actions", plus issue 7's media reasons and
// issue 9's subscription_inactive, issue 10's meeting reasons),
// on purpose not imported: a code added to the contract and to this list without a phrase fails here.
const CONTRACT_REASONS =
  'duplicate, stale_event, debounced, closed, opted_out, rejection, human_active, quiet_hours, outside_24h_window, unanswered_limit, handoff_requested, quota_exceeded, copilot_mode, opt_in, lead_replied, followup_due, model_error, knowledge_gap, no_response, send_failed, media_not_understood, media_rejected, subscription_inactive, pilot_intent, meeting_offered, meeting_booked, meeting_rescheduled, meeting_canceled, slot_taken, no_free_slots, calendar_unavailable, meeting_reminder'.split(
    ', ',
  );
const CONTRACT_ACTIONS = 'speak, stay_silent, wait, handoff, close, schedule_followup'.split(', ');
const CONTRACT_ERRORS = 'bad_request unauthenticated forbidden not_found method_not_allowed conflict payload_too_large validation_failed'.split(' ');

describe('pt-BR decision texts', () => {
  it.each(CONTRACT_REASONS)('has a Portuguese phrase for reason %s', (code) => {
    const phrase = (reasonPhrases as Record<string, string | undefined>)[code];
    expect(phrase, `missing phrase for reason ${code}`).toBeTruthy();
    expect(phrase).not.toBe(code);
    expect(reasonText(code)).toBe(phrase);
  });

  it.each(CONTRACT_ACTIONS)('has a Portuguese phrase for action %s', (action) => {
    const phrase = (actionPhrases as Record<string, string | undefined>)[action];
    expect(phrase, `missing phrase for action ${action}`).toMatch(/^O agente /);
    expect(phrase).not.toContain(action);
  });

  it('knows exactly the contract codes (the typed lists match the contract)', () => {
    expect([...REASON_CODES].sort()).toEqual([...CONTRACT_REASONS].sort());
    expect([...ACTIONS].sort()).toEqual([...CONTRACT_ACTIONS].sort());
    expect(Object.keys(reasonPhrases).sort()).toEqual([...CONTRACT_REASONS].sort());
  });

  it('gives every reason its own phrase', () => {
    expect(new Set(Object.values(reasonPhrases)).size).toBe(CONTRACT_REASONS.length);
  });

  it('phrases the knowledge and media reasons of issue 7', () => {
    expect(decisionText('handoff', ['knowledge_gap'])).toBe('O agente passou a conversa para um humano: falta informação para responder');
    expect(decisionText('handoff', ['media_not_understood'])).toBe(
      'O agente passou a conversa para um humano: não foi possível entender a mídia que o lead enviou',
    );
    expect(decisionText('speak', ['media_rejected'])).toBe('O agente respondeu: mídia recusada (tipo ou tamanho não aceito)');
  });

  it('phrases the plan and subscription reasons of issue 9', () => {
    expect(decisionText('handoff', ['quota_exceeded'])).toBe('O agente passou a conversa para um humano: limite do plano atingido');
    expect(decisionText('handoff', ['subscription_inactive'])).toBe('O agente passou a conversa para um humano: assinatura inativa');
  });

  it('writes a decision line as action: reasons', () => {
    expect(decisionText('stay_silent', ['human_active'])).toBe('O agente ficou em silêncio: humano ativo');
    expect(decisionText('schedule_followup', ['followup_due', 'quiet_hours'])).toBe('O agente agendou um follow-up: hora do follow-up, horário de silêncio');
    expect(decisionText('speak', [])).toBe('O agente respondeu');
  });

  it('shows an unknown code as it is rather than nothing', () => {
    expect(decisionText('dance', ['new_reason'])).toBe('dance: new_reason');
  });
});

// Copied from shared/media (understand.py's reasons and limits.py's RejectionReason), on purpose not imported.
const MEDIA_REASONS = 'offline_model model_error unclear unreadable too_large unsupported_type fetch_failed checksum_mismatch'.split(' ');

describe('pt-BR media understanding reasons', () => {
  it.each(MEDIA_REASONS)('has a Portuguese phrase for %s', (code) => {
    const phrase = understandingReasonText(code);
    expect(phrase).toBeTruthy();
    expect(phrase).not.toBe(code);
  });

  it('shows an unknown code as it is and no reason as none', () => {
    expect(understandingReasonText('new_reason')).toBe('new_reason');
    expect(understandingReasonText(null)).toBeNull();
  });
});

describe('pt-BR error texts', () => {
  it.each(CONTRACT_ERRORS)('has a message for error code %s', (code) => {
    expect(ERROR_CODES).toContain(code);
    const message = errorText(new ApiError(400, code, 'english'));
    expect(message).toBe((errorMessages as Record<string, string>)[code]);
    expect(message).not.toBe('english');
  });

  it('says a 402 in Portuguese, pointing to Assinatura: a plan limit or a read-only workspace', () => {
    const limit = errorText(new ApiError(402, 'payment_required', 'channels: the Starter plan allows 1'));
    expect(limit).toContain('limite');
    expect(limit).toContain('Assinatura');
    const readOnly = errorText(new ApiError(402, 'read_only', 'the workspace is read-only: subscription canceled'));
    expect(readOnly).toContain('somente leitura');
    expect(readOnly).toContain('Assinatura');
    expect(readOnly).not.toBe(limit);
  });

  it('maps Firebase Auth errors and unknown errors', () => {
    expect(errorText({ code: 'auth/invalid-credential' })).toBe('E-mail ou senha incorretos.');
    expect(errorText(new Error('boom'))).toBe(errorMessages.error);
    expect(errorText(new ApiError(500, 'something_new', 'x'))).toBe(errorMessages.server_error);
  });

  it('groups details by field and finds those under a field', () => {
    const error = new ApiError(422, 'validation_failed', 'x', 'body.followups.1', [
      { field: 'body.followups.1', reason: 'invalid duration' },
      { field: 'debounce_seconds', reason: 'must be <= 300' },
    ]);
    const errors = fieldErrors(error);
    expect(errors).toEqual({ 'followups.1': ['invalid duration'], debounce_seconds: ['must be <= 300'] });
    expect(errorsFor(errors, 'followups')).toEqual(['item 2: invalid duration']);
    expect(errorsFor(errors, 'debounce_seconds')).toEqual(['must be <= 300']);
    expect(errorsFor(errors, 'debounce')).toEqual([]);
  });
});
