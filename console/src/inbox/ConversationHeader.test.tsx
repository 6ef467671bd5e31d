import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { conversationDetail } from '../test/fixtures';
import { type ConversationActions, ConversationHeader, humanActive } from './ConversationHeader';

const base = conversationDetail().conversation;
const actions = (): ConversationActions => ({
  takeover: vi.fn().mockResolvedValue(undefined),
  release: vi.fn().mockResolvedValue(undefined),
  assign: vi.fn().mockResolvedValue(undefined),
  close: vi.fn().mockResolvedValue(undefined),
  setMode: vi.fn().mockResolvedValue(undefined),
});

describe('humanActive', () => {
  const now = new Date('2026-11-22T13:00:00Z');
  it('is true while taken over, whatever the window says, and during a seller window', () => {
    expect(humanActive({ ...base, taken_over_by: null, human_active_until: null }, now)).toBe(false);
    expect(humanActive({ ...base, taken_over_by: 'u-ana', human_active_until: null }, now)).toBe(true);
    expect(humanActive({ ...base, taken_over_by: 'u-ana', human_active_until: '2026-11-22T12:00:00Z' }, now)).toBe(true);
    expect(humanActive({ ...base, taken_over_by: null, human_active_until: '2026-11-22T13:30:00Z' }, now)).toBe(true);
    expect(humanActive({ ...base, taken_over_by: null, human_active_until: '2026-11-22T12:30:00Z' }, now)).toBe(false);
  });
});

describe('ConversationHeader', () => {
  it('offers Assumir on an agent-run conversation and calls takeover', async () => {
    const handlers = actions();
    render(<ConversationHeader conversation={base} role="seller" myUid="u-ana" members={null} actions={handlers} />);
    expect(screen.queryByTestId('release-button')).toBeNull();
    expect(screen.queryByTestId('mode-select')).toBeNull(); // owners and admins only
    fireEvent.click(screen.getByTestId('takeover-button'));
    await waitFor(() => expect(handlers.takeover).toHaveBeenCalledTimes(1));
  });

  it('offers Devolver ao agente when taken over, naming who holds it', () => {
    const handlers = actions();
    render(
      <ConversationHeader conversation={{ ...base, taken_over_by: 'u-ana' }} role="owner" myUid="u-ana" members={null} actions={handlers} />,
    );
    expect(screen.queryByTestId('takeover-button')).toBeNull();
    fireEvent.click(screen.getByTestId('release-button'));
    expect(handlers.release).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('human-active').textContent).toBe('Atendimento humano: você');
  });

  it('closes with a reason and a note', async () => {
    const handlers = actions();
    render(<ConversationHeader conversation={base} role="admin" myUid="u-ana" members={null} actions={handlers} />);
    fireEvent.click(screen.getByTestId('close-button'));
    fireEvent.change(screen.getByTestId('close-reason'), { target: { value: 'no_interest' } });
    fireEvent.change(screen.getByTestId('close-note'), { target: { value: 'achou caro' } });
    fireEvent.submit(screen.getByTestId('close-form'));
    await waitFor(() => expect(handlers.close).toHaveBeenCalledWith('no_interest', 'achou caro'));
  });

  it('assigns to a member (admins) or to nobody', async () => {
    const handlers = actions();
    const members = [
      { uid: 'u-ana', email: 'ana@clinica.com', role: 'admin' as const, added_at: null },
      { uid: 'u-bia', email: 'bia@clinica.com', role: 'seller' as const, added_at: null },
    ];
    const { rerender } = render(<ConversationHeader conversation={base} role="admin" myUid="u-ana" members={members} actions={handlers} />);
    fireEvent.change(screen.getByTestId('assign-select'), { target: { value: 'u-bia' } });
    await waitFor(() => expect(handlers.assign).toHaveBeenCalledWith('u-bia'));
    rerender(
      <ConversationHeader conversation={{ ...base, assignee_uid: 'u-bia', assignee_email: 'bia@clinica.com' }} role="admin" myUid="u-ana" members={members} actions={handlers} />,
    );
    fireEvent.change(screen.getByTestId('assign-select'), { target: { value: '' } });
    await waitFor(() => expect(handlers.assign).toHaveBeenLastCalledWith(null));
  });
});
