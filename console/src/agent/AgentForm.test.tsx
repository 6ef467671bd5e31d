import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import type { AgentSettings } from '../api/types';
import { AgentForm } from './AgentForm';
import { formToSettings, settingsToForm } from './settingsForm';

const settings: AgentSettings = {
  mode: 'pilot',
  language: 'pt-BR',
  persona: 'Ana, atendente da clínica',
  instructions: 'Seja breve.',
  business_facts: { preço: 'R$ 180', duração: '60 minutos' },
  qualification_fields: ['procedimento', 'bairro'],
  debounce_seconds: 5,
  quiet_hours: { start: '21:00:00', end: '08:00:00' },
  followups: ['1h', '1d', '3d'],
  max_unanswered: 3,
  human_takeover_minutes: 30,
  opt_out_acknowledgement: 'Tudo bem, não vamos mais escrever.',
  rejection_acknowledgement: null,
  handoff_acknowledgement: 'Vou chamar a equipe.',
  templates: { followup: { name: 'retorno', language: 'pt_BR', parameters: ['{{name}}'] }, reengagement: null },
  pilot_intents: ['qualify', 'schedule'],
  copilot_promotion: { threshold: 0.85, min_samples: 20 },
  voice_replies: false,
  voice_name: null,
};

describe('settings form mapping', () => {
  it('round-trips every field', () => {
    expect(formToSettings(settingsToForm(settings), settings)).toEqual(settings);
  });

  it('keeps fields the console does not know, and turns blanks into nulls and dropped rows', () => {
    const original = { ...settings, followup_generation: 'model' } as AgentSettings;
    const form = settingsToForm(original);
    form.rejectionAcknowledgement = '   ';
    form.followups = ['1h', '', '2d'];
    form.businessFacts = [...form.businessFacts, { key: '', value: '' }];
    form.quietStart = '22:30';
    form.followupTemplate.enabled = false;
    const body = formToSettings(form, original);
    expect((body as unknown as Record<string, unknown>).followup_generation).toBe('model');
    expect(body.rejection_acknowledgement).toBeNull();
    expect(body.followups).toEqual(['1h', '2d']);
    expect(body.business_facts).toEqual(settings.business_facts);
    expect(body.quiet_hours).toEqual({ start: '22:30:00', end: '08:00:00' });
    expect(body.templates.followup).toBeNull();
  });
});

describe('AgentForm', () => {
  it('PUTs the edited settings', async () => {
    const onSave = vi.fn(async (body: AgentSettings) => body);
    render(<AgentForm initial={settings} readOnly={false} onSave={onSave} />);
    fireEvent.click(screen.getByTestId('agent-mode-copilot'));
    fireEvent.change(screen.getByTestId('agent-debounce-seconds'), { target: { value: '10' } });
    fireEvent.click(screen.getByTestId('agent-followups-add'));
    fireEvent.change(screen.getByTestId('agent-followups-3'), { target: { value: '7d' } });
    fireEvent.submit(screen.getByTestId('agent-form'));
    await waitFor(() => expect(onSave).toHaveBeenCalledTimes(1));
    expect(onSave.mock.calls[0]![0]).toMatchObject({ mode: 'copilot', debounce_seconds: 10, followups: ['1h', '1d', '3d', '7d'] });
    expect(await screen.findByTestId('agent-saved')).toBeTruthy();
  });

  it('shows the pilot intents read-only and saves the promotion rule (as a fraction) and voice replies', async () => {
    const onSave = vi.fn(async (body: AgentSettings) => body);
    render(<AgentForm initial={{ ...settings, mode: 'copilot' }} readOnly={false} onSave={onSave} />);
    const intents = screen.getByTestId('agent-pilot-intents');
    expect(intents.textContent).toContain('Qualificação');
    expect(intents.textContent).toContain('Agendamento');
    expect(intents.querySelector('input, select')).toBeNull();
    expect((screen.getByTestId('agent-promotion-threshold') as HTMLInputElement).value).toBe('85');
    fireEvent.change(screen.getByTestId('agent-promotion-threshold'), { target: { value: '92.5' } });
    fireEvent.change(screen.getByTestId('agent-promotion-min-samples'), { target: { value: '30' } });
    expect(screen.queryByTestId('agent-voice-name')).toBeNull();
    fireEvent.click(screen.getByTestId('agent-voice-replies'));
    expect(screen.getByText(/Não oferecemos clonagem de voz/)).toBeTruthy();
    fireEvent.change(screen.getByTestId('agent-voice-name'), { target: { value: ' pt-BR-Neural2-B ' } });
    fireEvent.submit(screen.getByTestId('agent-form'));
    await waitFor(() => expect(onSave).toHaveBeenCalledTimes(1));
    expect(onSave.mock.calls[0]![0]).toMatchObject({
      pilot_intents: ['qualify', 'schedule'],
      copilot_promotion: { threshold: 0.925, min_samples: 30 },
      voice_replies: true,
      voice_name: 'pt-BR-Neural2-B',
    });
  });

  it('says when no intent runs in pilot, and that a pilot agent answers them all', () => {
    render(<AgentForm initial={{ ...settings, mode: 'copilot', pilot_intents: [] }} readOnly={false} onSave={vi.fn()} />);
    expect(screen.getByTestId('agent-pilot-intents').textContent).toContain('Nenhuma');
    fireEvent.click(screen.getByTestId('agent-mode-pilot'));
    expect(screen.getByTestId('agent-pilot-intents').textContent).toContain('Todas');
  });

  it('shows the server validation errors beside their fields', async () => {
    const onSave = vi.fn().mockRejectedValue(
      new ApiError(422, 'validation_failed', 'debounce_seconds: too big', 'debounce_seconds', [
        { field: 'debounce_seconds', reason: 'Input should be less than or equal to 300' },
        { field: 'followups.2', reason: 'invalid duration "7x"' },
        { field: 'templates.followup.name', reason: 'required' },
        { field: 'copilot_promotion.threshold', reason: 'Input should be less than or equal to 1' },
        { field: 'unknown_field', reason: 'not allowed' },
      ]),
    );
    render(<AgentForm initial={settings} readOnly={false} onSave={onSave} />);
    fireEvent.change(screen.getByTestId('agent-debounce-seconds'), { target: { value: '999' } });
    fireEvent.submit(screen.getByTestId('agent-form'));
    expect((await screen.findByTestId('field-error-debounce_seconds')).textContent).toBe('Input should be less than or equal to 300');
    expect(screen.getByTestId('field-error-followups').textContent).toBe('item 3: invalid duration "7x"');
    expect(screen.getByTestId('agent-followups-2').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('agent-followups-0').getAttribute('aria-invalid')).toBeNull();
    expect(screen.getByTestId('field-error-templates.followup').textContent).toBe('name: required');
    expect(screen.getByTestId('field-error-copilot_promotion').textContent).toBe('threshold: Input should be less than or equal to 1');
    const banner = screen.getByTestId('error-banner');
    expect(banner.textContent).toContain('Alguns campos estão inválidos.');
    expect(banner.textContent).toContain('unknown_field: not allowed'); // no field shows it, so the banner does
    expect(banner.textContent).not.toContain('less than or equal'); // shown beside its field instead
  });

  it('is read-only for sellers', () => {
    render(<AgentForm initial={settings} readOnly onSave={vi.fn()} />);
    expect(screen.queryByTestId('agent-save')).toBeNull();
    expect(screen.getByTestId('agent-persona').matches(':disabled')).toBe(true); // inside a disabled fieldset
  });
});
