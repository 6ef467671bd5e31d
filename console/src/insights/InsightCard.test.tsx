import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import type { Insight } from '../api/types';
import { insight, outputField } from '../test/insightFixtures';
import { InsightCard, type InsightActions } from './InsightCard';

const fields = [
  outputField({ name: 'confirmada', type: 'boolean', description: 'Compra confirmada' }),
  outputField({ name: 'sla_ok', type: 'boolean' }),
  outputField({ name: 'nota', type: 'number', description: 'Nota de empatia' }),
  outputField({ name: 'dores', type: 'array', description: 'Dores' }),
  outputField({ name: 'motivo', type: 'enum', options: ['preço', 'prazo'], description: 'Motivo' }),
  outputField({ name: 'mensagem', type: 'string', description: 'Mensagem para o lead' }),
  outputField({ name: 'valor', type: 'number', required: false }),
];

const payload = { confirmada: true, sla_ok: false, nota: 7.5, dores: ['preço alto', 'sem tempo'], motivo: 'prazo', mensagem: 'Oi, Mariana! Ainda posso ajudar?' };

function actions() {
  return {
    onApply: vi.fn<InsightActions['onApply']>().mockResolvedValue(undefined),
    onDismiss: vi.fn<InsightActions['onDismiss']>().mockResolvedValue(undefined),
    onUseText: vi.fn<(text: string) => void>(),
  };
}

function show(item: Insight, handlers = actions(), showConversation = false) {
  render(
    <MemoryRouter>
      <InsightCard insight={item} showConversation={showConversation} {...handlers} />
    </MemoryRouter>,
  );
  return handlers;
}

const valueOf = (name: string) => {
  const row = screen.getAllByTestId('insight-field').find((element) => element.getAttribute('data-field') === name)!;
  return { label: row.querySelector('dt')!.textContent, value: row.querySelector('dd')!.textContent, row };
};

describe('InsightCard payload', () => {
  it('shows each field by its description (else its name) and its value by type', () => {
    show(insight({ insight_id: 'i1', fields, payload: { ...payload, extra: 3 } }));
    expect(valueOf('confirmada')).toMatchObject({ label: 'Compra confirmada', value: 'Sim' });
    expect(valueOf('sla_ok')).toMatchObject({ label: 'sla_ok', value: 'Não' });
    expect(valueOf('nota').value).toBe('7,5');
    const pains = within(valueOf('dores').row).getAllByTestId('insight-chip');
    expect(pains.map((chip) => chip.textContent)).toEqual(['preço alto', 'sem tempo']);
    expect(within(valueOf('motivo').row).getByTestId('insight-chip').textContent).toBe('prazo');
    expect(valueOf('mensagem').value).toBe('Oi, Mariana! Ainda posso ajudar?');
    expect(valueOf('valor').value).toBe('—'); // optional and absent
    expect(valueOf('extra').value).toBe('3'); // a value no field describes still shows
    expect(screen.getAllByTestId('insight-field').map((row) => row.getAttribute('data-field'))).toEqual([
      'confirmada',
      'sla_ok',
      'nota',
      'dores',
      'motivo',
      'mensagem',
      'valor',
      'extra',
    ]);
  });

  it('labels the agent, the status and the offline model', () => {
    show(insight({ insight_id: 'i1', fields, payload }));
    expect(screen.getByTestId('insight-agent').textContent).toBe('Auditor de conversão');
    expect(screen.getByTestId('insight-status').textContent).toBe('Sugestão');
    expect(screen.getByTestId('insight-offline').textContent).toBe('modelo offline');
    expect(screen.getByTestId('insight').getAttribute('data-offline')).toBe('true');
  });

  it('shows a running insight as analysing, and a failed one with its error, without actions or payload', () => {
    show(insight({ insight_id: 'i1', status: 'RUNNING', fields, payload: {}, offline_model: false }));
    expect(screen.getByTestId('insight-status').textContent).toBe('Analisando…');
    expect(screen.queryByTestId('insight-field')).toBeNull();
    expect(screen.queryByTestId('insight-apply')).toBeNull();
    expect(screen.queryByTestId('insight-offline')).toBeNull();
  });

  it('shows the error of a failed run', () => {
    show(insight({ insight_id: 'i1', status: 'FAILED', fields, error: "field 'nota' must be at most 10" }));
    expect(screen.getByTestId('insight-status').textContent).toBe('Falhou');
    expect(screen.getByTestId('insight-error').textContent).toBe("Falhou: field 'nota' must be at most 10");
    expect(screen.queryByTestId('insight-apply')).toBeNull();
  });

  it('says who applied it and what became of the conversion', () => {
    show(
      insight({
        insight_id: 'i1',
        status: 'APPLIED',
        fields,
        payload,
        reviewed_email: 'ana@clinica.com',
        reviewed_at: '2026-11-22T13:10:00Z',
        conversion: { status: 'skipped', reason: 'no_ctwa_clid', events_received: null, fbtrace_id: null, at: '2026-11-22T13:10:00Z' },
      }),
    );
    expect(screen.getByTestId('insight-status').textContent).toBe('Aplicado');
    expect(screen.getByTestId('insight-reviewed').textContent).toContain('Aplicado por ana@clinica.com em 22/11/2026');
    expect(screen.getByTestId('insight-conversion').textContent).toBe('Venda não enviada à Meta: o lead não veio de um anúncio de clique para o WhatsApp');
    expect(screen.queryByTestId('insight-apply')).toBeNull();
  });
});

describe('InsightCard actions', () => {
  it.each([
    ['none', 'Aplicar'],
    ['mark_won', 'Aplicar e marcar como ganho'],
    ['mark_lost', 'Aplicar e marcar como perdido'],
  ] as const)('names what applying does (%s)', (applyAction, label) => {
    show(insight({ insight_id: 'i1', apply_action: applyAction }));
    expect(screen.getByTestId('insight-apply').textContent).toBe(label);
  });

  it('applies and dismisses the insight it shows', async () => {
    const item = insight({ insight_id: 'i1', apply_action: 'mark_won' });
    const handlers = show(item);
    fireEvent.click(screen.getByTestId('insight-apply'));
    await waitFor(() => expect(handlers.onApply).toHaveBeenCalledWith(item));
    fireEvent.click(screen.getByTestId('insight-dismiss'));
    await waitFor(() => expect(handlers.onDismiss).toHaveBeenCalledWith(item));
  });

  it('puts the message field in the composer, also after applying, but not without a message', () => {
    const handlers = show(insight({ insight_id: 'i1', status: 'APPLIED', fields, payload, message_field: 'mensagem' }));
    fireEvent.click(screen.getByTestId('insight-use-text'));
    expect(handlers.onUseText).toHaveBeenCalledWith('Oi, Mariana! Ainda posso ajudar?');
  });

  it('offers no composer button when the message is empty or there is no composer', () => {
    show(insight({ insight_id: 'i1', fields, payload: { ...payload, mensagem: ' ' }, message_field: 'mensagem' }));
    expect(screen.queryByTestId('insight-use-text')).toBeNull();
  });

  it('links to its conversation in the owner feed', () => {
    show(insight({ insight_id: 'i1', conversation_id: 'c/9', contact_name: 'Mariana' }), actions(), true);
    const link = screen.getByTestId('insight-conversation');
    expect(link.textContent).toBe('Conversa com Mariana');
    expect(link.getAttribute('href')).toBe('/conversas/c%2F9');
  });
});
