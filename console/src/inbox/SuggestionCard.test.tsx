import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { jsonResponse } from '../test/fakeFetch';
import { conversationDetail, decision, message } from '../test/fixtures';
import { renderWithSession } from '../test/renderWithSession';
import { ConversationView } from './ConversationView';
import { SuggestionCard } from './SuggestionCard';

const pending = { index: 0, text: 'A limpeza de pele custa R$ 180.', state: 'pending' as const };

describe('SuggestionCard', () => {
  it('Enviar accepts the suggestion as it is (no text)', async () => {
    const onAccept = vi.fn().mockResolvedValue(undefined);
    render(<SuggestionCard decisionId="d1" suggestion={pending} onAccept={onAccept} onDismiss={vi.fn()} />);
    fireEvent.click(screen.getByTestId('suggestion-accept'));
    await waitFor(() => expect(onAccept).toHaveBeenCalledWith('d1', 0));
    expect(onAccept.mock.calls[0]).toHaveLength(2);
  });

  it('Editar lets the seller change the text and sends the edited text', async () => {
    const onAccept = vi.fn().mockResolvedValue(undefined);
    render(<SuggestionCard decisionId="d1" suggestion={pending} onAccept={onAccept} onDismiss={vi.fn()} />);
    fireEvent.click(screen.getByTestId('suggestion-edit'));
    const editor = screen.getByTestId('suggestion-edit-text');
    expect((editor as HTMLTextAreaElement).value).toBe(pending.text);
    fireEvent.change(editor, { target: { value: 'Custa R$ 180, e hoje tem 10% de desconto.' } });
    fireEvent.click(screen.getByTestId('suggestion-send-edited'));
    await waitFor(() => expect(onAccept).toHaveBeenCalledWith('d1', 0, 'Custa R$ 180, e hoje tem 10% de desconto.'));
  });

  it('Descartar dismisses it', async () => {
    const onDismiss = vi.fn().mockResolvedValue(undefined);
    render(<SuggestionCard decisionId="d1" suggestion={pending} onAccept={vi.fn()} onDismiss={onDismiss} />);
    fireEvent.click(screen.getByTestId('suggestion-dismiss'));
    await waitFor(() => expect(onDismiss).toHaveBeenCalledWith('d1', 0));
  });

  it('offers no actions on a suggestion that is no longer pending', () => {
    render(<SuggestionCard decisionId="d1" suggestion={{ ...pending, state: 'dismissed' }} onAccept={vi.fn()} onDismiss={vi.fn()} />);
    expect(screen.queryByTestId('suggestion-accept')).toBeNull();
    expect(screen.getByTestId('suggestion').textContent).toContain('descartada');
  });
});

describe('ConversationView suggestions', () => {
  const detail = conversationDetail({
    messages: [message({ message_id: 'm1', role: 'lead', text: 'Quanto custa?', at: '2026-11-22T13:00:00Z' })],
    decisions: [
      decision({
        decision_id: 'd1',
        action: 'stay_silent',
        reasons: ['copilot_mode'],
        decided_at: '2026-11-22T13:00:05Z',
        suggestions: [
          { index: 0, text: 'Custa R$ 180.', state: 'pending' },
          { index: 1, text: 'Quer agendar?', state: 'pending' },
        ],
      }),
    ],
  });

  function server() {
    return renderWithSession(<ConversationView conversationId="c1" members={null} onChanged={vi.fn()} />, (request) => {
      if (request.method === 'GET') return jsonResponse(200, detail, { ETag: '"d1"' });
      if (request.path.endsWith('/dismiss')) return jsonResponse(200, { decision_id: 'd1', index: 1, state: 'dismissed' });
      return jsonResponse(202, { message: { message_id: 'm2', role: 'seller', text: 'x', at: '2026-11-22T13:01:00Z', status: 'queued', author_email: 'ana@clinica.com' } });
    });
  }

  it('posts accept, edited accept and dismiss with the contract bodies', async () => {
    const { requests } = server();
    const cards = await screen.findAllByTestId('suggestion');
    expect(cards).toHaveLength(2);

    fireEvent.click(within(cards[0]!).getByTestId('suggestion-accept'));
    await waitFor(() => expect(requests.some((r) => r.method === 'POST')).toBe(true));

    fireEvent.click(within(cards[0]!).getByTestId('suggestion-edit'));
    fireEvent.change(within(cards[0]!).getByTestId('suggestion-edit-text'), { target: { value: 'Custa R$ 150 à vista.' } });
    fireEvent.click(within(cards[0]!).getByTestId('suggestion-send-edited'));

    fireEvent.click(within(cards[1]!).getByTestId('suggestion-dismiss'));

    await waitFor(() => expect(requests.filter((r) => r.method === 'POST')).toHaveLength(3));
    expect(requests.filter((r) => r.method === 'POST').map((r) => [r.path, r.body])).toEqual([
      ['/api/tenants/clinica/conversations/c1/suggestions/accept', { decision_id: 'd1', index: 0 }],
      ['/api/tenants/clinica/conversations/c1/suggestions/accept', { decision_id: 'd1', index: 0, text: 'Custa R$ 150 à vista.' }],
      ['/api/tenants/clinica/conversations/c1/suggestions/dismiss', { decision_id: 'd1', index: 1 }],
    ]);
  });

  it('shows a refused action in Portuguese', async () => {
    renderWithSession(<ConversationView conversationId="c1" members={null} onChanged={vi.fn()} />, (request) =>
      request.method === 'GET'
        ? jsonResponse(200, detail)
        : jsonResponse(409, { error: { code: 'conflict', message: 'suggestion not pending', field: null, details: [] } }),
    );
    const cards = await screen.findAllByTestId('suggestion');
    fireEvent.click(within(cards[0]!).getByTestId('suggestion-accept'));
    const banner = await screen.findByTestId('error-banner');
    expect(banner.getAttribute('data-code')).toBe('conflict');
    expect(banner.textContent).toContain('Não foi possível');
  });
});
