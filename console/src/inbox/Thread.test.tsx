import { render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { messageTypeNames } from '../i18n/pt-BR';
import { localizedMessageText } from './media';
import { Thread } from './Thread';
import { buildTimeline } from './timeline';
import { decision, message } from '../test/fixtures';

const messages = [
  message({ message_id: 'm1', role: 'lead', text: 'Oi! Quanto custa a limpeza de pele?', at: '2026-11-22T13:00:00Z' }),
  message({ message_id: 'm2', role: 'agent', text: 'Custa R$ 180.', at: '2026-11-22T13:00:06Z', status: 'read' }),
  message({ message_id: 'm3', role: 'seller', text: 'Oi Mariana, aqui é a Ana!', at: '2026-11-22T13:02:00Z', status: 'delivered', author_email: 'ana@clinica.com' }),
  message({ message_id: 'm4', role: 'lead', text: 'Oi Ana!', at: '2026-11-22T13:03:00Z' }),
];
const decisions = [
  decision({ decision_id: 'd1', action: 'speak', reasons: ['lead_replied'], decided_at: '2026-11-22T13:00:05Z' }),
  decision({ decision_id: 'd2', action: 'stay_silent', reasons: ['human_active'], decided_at: '2026-11-22T13:03:05Z', offline_model: true }),
];

describe('Thread', () => {
  it('interleaves the decisions between the messages in time order', () => {
    render(<Thread messages={messages} decisions={decisions} onAccept={vi.fn()} onDismiss={vi.fn()} />);
    const items = screen.getByTestId('thread').querySelectorAll('[data-testid="message"], [data-testid="decision"]');
    expect([...items].map((item) => item.getAttribute('data-message-id') ?? item.getAttribute('data-decision-id'))).toEqual([
      'm1',
      'd1',
      'm2',
      'm3',
      'm4',
      'd2',
    ]);
  });

  it('writes each decision in Portuguese with its action and reasons as attributes', () => {
    render(<Thread messages={messages} decisions={decisions} onAccept={vi.fn()} onDismiss={vi.fn()} />);
    const silent = screen.getAllByTestId('decision')[1]!;
    expect(silent.getAttribute('data-action')).toBe('stay_silent');
    expect(silent.getAttribute('data-reasons')).toBe('human_active');
    expect(silent.textContent).toContain('O agente ficou em silêncio: humano ativo');
    expect(silent.textContent).toContain('modelo offline');
  });

  it('puts the lead on the left, agent and seller on the right, with the seller email and ticks', () => {
    render(<Thread messages={messages} decisions={[]} onAccept={vi.fn()} onDismiss={vi.fn()} />);
    const [lead, agent, seller] = screen.getAllByTestId('message');
    expect(lead!.getAttribute('data-role')).toBe('lead');
    expect(lead!.className).toContain('message-left');
    expect(agent!.className).toContain('message-right');
    expect(seller!.className).toContain('message-right');
    expect(within(seller!).getByTestId('message-author').textContent).toBe('ana@clinica.com');
    expect(within(seller!).getByTestId('message-status').getAttribute('aria-label')).toBe('entregue');
    expect(within(agent!).getByTestId('message-status').getAttribute('aria-label')).toBe('lida');
    expect(within(lead!).queryByTestId('message-status')).toBeNull();
  });

  it('labels a seller message without an author (sent from the phone) as Vendedor', () => {
    render(
      <Thread
        messages={[message({ message_id: 'p', role: 'seller', text: 'Oi!', at: '2026-11-22T13:00:00Z' })]}
        decisions={[]}
        onAccept={vi.fn()}
        onDismiss={vi.fn()}
      />,
    );
    expect(screen.getByTestId('message-author').textContent).toBe('Vendedor');
  });

  it('shows a decision before the agent reply it produced when both carry the same time', () => {
    const at = '2026-11-22T13:00:05Z';
    const timeline = buildTimeline(
      [message({ message_id: 'reply', role: 'agent', text: 'R$ 180', at }), message({ message_id: 'ask', role: 'lead', text: 'preço?', at })],
      [decision({ decision_id: 'd', action: 'speak', decided_at: at })],
    );
    expect(timeline.map((item) => (item.kind === 'message' ? item.message.message_id : item.decision.decision_id))).toEqual(['ask', 'd', 'reply']);
  });

  it('shows under a voice note its transcription, under a document its text, and why a medium was not understood', () => {
    render(
      <Thread
        messages={[
          message({
            message_id: 'a',
            role: 'lead',
            text: '[audio]',
            at: '2026-11-22T13:00:00Z',
            understanding: { status: 'understood', text: 'Quanto custa a limpeza de pele?', reason: null, model: 'gemini-2.5-flash', offline: false },
          }),
          message({
            message_id: 'd',
            role: 'lead',
            text: '[document] exame.pdf',
            at: '2026-11-22T13:01:00Z',
            understanding: { status: 'understood', text: 'Hemograma completo: normal.', reason: null, model: 'local', offline: true },
          }),
          message({
            message_id: 'i',
            role: 'lead',
            text: '[image]',
            at: '2026-11-22T13:02:00Z',
            understanding: { status: 'not_understood', text: null, reason: 'offline_model', model: null, offline: true },
          }),
          message({
            message_id: 'v',
            role: 'lead',
            text: '[video]',
            at: '2026-11-22T13:03:00Z',
            understanding: { status: 'rejected', text: null, reason: 'too_large', model: null, offline: false },
          }),
          message({
            message_id: 'x',
            role: 'lead',
            text: '[image]',
            at: '2026-11-22T13:03:30Z',
            understanding: { status: 'not_understood', text: null, reason: 'a_new_reason', model: null, offline: false },
          }),
          message({ message_id: 't', role: 'lead', text: 'Oi', at: '2026-11-22T13:04:00Z', understanding: null }),
        ]}
        decisions={[]}
        onAccept={vi.fn()}
        onDismiss={vi.fn()}
      />,
    );
    const notes = screen.getAllByTestId('message-understanding');
    expect(notes.map((note) => note.getAttribute('data-status'))).toEqual(['understood', 'understood', 'not_understood', 'rejected', 'not_understood']);
    expect(notes[0]!.textContent).toBe('TranscriçãoQuanto custa a limpeza de pele?');
    const bubbles = screen.getAllByTestId('message');
    expect(bubbles[0]!.querySelector('.message-text')!.textContent).toBe('[Áudio]');
    expect(bubbles[1]!.querySelector('.message-text')!.textContent).toBe('[Documento] exame.pdf');
    expect(notes[1]!.textContent).toContain('Conteúdo do documento');
    expect(notes[1]!.textContent).toContain('leitura offline');
    expect(notes[1]!.textContent).toContain('Hemograma completo: normal.');
    expect(notes[2]!.textContent).toBe('Não compreendido: sem modelo de IA para áudio, imagem e vídeo (modo offline)');
    expect(notes[3]!.textContent).toBe('Mídia recusada: arquivo grande demais');
    expect(notes[4]!.textContent).toBe('Não compreendido: a_new_reason'); // an unknown code shows as it is
    const plain = screen.getAllByTestId('message').find((item) => item.getAttribute('data-message-id') === 't')!;
    expect(within(plain).queryByTestId('message-understanding')).toBeNull();
  });

  it('lists the knowledge a decision drew on as its sources', () => {
    render(
      <Thread
        messages={[]}
        decisions={[
          decision({
            decision_id: 'k',
            action: 'speak',
            decided_at: '2026-11-22T13:00:05Z',
            knowledge_used: [
              { entry_id: 'e1', title: 'Tabela de preços' },
              { entry_id: 'e2', title: 'Política de cancelamento' },
            ],
          }),
          decision({
            decision_id: 'g',
            action: 'handoff',
            reasons: ['knowledge_gap'],
            decided_at: '2026-11-22T13:01:05Z',
            open_question: 'Tem estacionamento?',
          }),
        ]}
        onAccept={vi.fn()}
        onDismiss={vi.fn()}
      />,
    );
    const [answered, gap] = screen.getAllByTestId('decision');
    expect(within(answered!).getByTestId('decision-sources').textContent).toBe('Fontes: Tabela de preços, Política de cancelamento');
    expect(within(answered!).getByTestId('decision-sources').getAttribute('data-entry-ids')).toBe('e1,e2');
    expect(within(gap!).queryByTestId('decision-sources')).toBeNull();
    expect(gap!.textContent).toContain('falta informação para responder');
    expect(within(gap!).getByTestId('decision-open-question').textContent).toBe('Pergunta sem resposta na base: “Tem estacionamento?”');
    expect(within(answered!).queryByTestId('decision-open-question')).toBeNull();
  });
});

describe('localizedMessageText', () => {
  it('puts only a known leading type label in Portuguese', () => {
    expect(localizedMessageText('[video] olha isso', messageTypeNames)).toBe('[Vídeo] olha isso');
    expect(localizedMessageText('[location]', messageTypeNames)).toBe('[Localização]');
    expect(localizedMessageText('[modelo retorno]', messageTypeNames)).toBe('[modelo retorno]');
    expect(localizedMessageText('Oi [audio]', messageTypeNames)).toBe('Oi [audio]');
  });
});
