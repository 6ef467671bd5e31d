// The thread's header: who, status, and the seller's actions (take over, release, assign, close, mode).
import { type FormEvent, useState } from 'react';
import type { AgentMode, CloseReason, ConversationSummary, Member, Role } from '../api/types';
import { CLOSE_REASONS } from '../api/types';
import { closeReasonNames, statusNames, t } from '../i18n/pt-BR';

export interface ConversationActions {
  takeover: () => Promise<unknown>;
  release: () => Promise<unknown>;
  assign: (uid: string | null) => Promise<unknown>;
  close: (reason: CloseReason, note: string) => Promise<unknown>;
  setMode: (mode: AgentMode) => Promise<unknown>;
}

/**
 * A human holds the conversation: taken over (until released), or a seller wrote and the takeover window
 * (`human_active_until`) has not run out.
 */
export function humanActive(conversation: ConversationSummary, now: Date = new Date()): boolean {
  if (conversation.taken_over_by) return true;
  return conversation.human_active_until ? Date.parse(conversation.human_active_until) > now.getTime() : false;
}

export function ConversationHeader({
  conversation,
  role,
  myUid,
  members,
  actions,
}: {
  conversation: ConversationSummary;
  role: Role;
  myUid: string;
  members: Member[] | null;
  actions: ConversationActions;
}) {
  const [closing, setClosing] = useState(false);
  const [reason, setReason] = useState<CloseReason>('won');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const manager = role === 'owner' || role === 'admin';
  const closed = conversation.status === 'closed';
  const active = humanActive(conversation);
  const name = conversation.contact_name || conversation.contact_phone || conversation.contact_key;
  const holder = conversation.taken_over_by;
  const holderName =
    holder === myUid
      ? t.inbox.youLower
      : holder === conversation.assignee_uid && conversation.assignee_email
        ? conversation.assignee_email
        : ((members ?? []).find((member) => member.uid === holder)?.email ?? holder ?? '');

  async function run(action: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    try {
      await action();
      return true;
    } catch {
      return false; // shown by the conversation view
    } finally {
      setBusy(false);
    }
  }

  async function submitClose(event: FormEvent) {
    event.preventDefault();
    if (await run(() => actions.close(reason, note.trim()))) {
      setClosing(false);
      setNote('');
    }
  }

  const assigneeOptions: { uid: string; label: string }[] = [{ uid: myUid, label: t.inbox.assignMe }];
  for (const member of manager ? (members ?? []) : []) {
    if (member.uid !== myUid) assigneeOptions.push({ uid: member.uid, label: member.email ?? member.uid });
  }
  if (conversation.assignee_uid && !assigneeOptions.some((option) => option.uid === conversation.assignee_uid)) {
    assigneeOptions.push({ uid: conversation.assignee_uid, label: conversation.assignee_email ?? conversation.assignee_uid });
  }

  return (
    <header className="conversation-header" data-testid="conversation-header" data-conversation-id={conversation.conversation_id}>
      <div className="who">
        <div className="contact-name" data-testid="conversation-contact">
          {name}
        </div>
        <div className="muted small">
          {conversation.contact_name ? conversation.contact_phone : null}
          {conversation.assignee_email ? ` · ${t.inbox.assignedTo(conversation.assignee_email)}` : ` · ${t.inbox.unassigned}`}
        </div>
        <div className="badges">
          <span className={`badge status-${conversation.status}`} data-testid="conversation-status" data-status={conversation.status}>
            {statusNames[conversation.status] ?? conversation.status}
          </span>
          {conversation.needs_human ? <span className="badge badge-alert">{t.inbox.needsAttention}</span> : null}
          <span className={`badge badge-${conversation.mode}`}>{conversation.mode === 'copilot' ? t.inbox.copilot : t.inbox.pilot}</span>
          {active && !closed ? (
            <span className="badge badge-human" data-testid="human-active">
              {t.inbox.humanActive(holderName)}
            </span>
          ) : null}
        </div>
      </div>
      <div className="header-actions">
        {!closed && !active ? (
          <button type="button" className="primary" disabled={busy} onClick={() => void run(actions.takeover)} data-testid="takeover-button">
            {t.inbox.takeover}
          </button>
        ) : null}
        {!closed && active ? (
          <button type="button" disabled={busy} onClick={() => void run(actions.release)} data-testid="release-button">
            {t.inbox.release}
          </button>
        ) : null}
        {!closed ? (
          <label className="inline">
            <span>{t.inbox.assign}</span>
            <select
              value={conversation.assignee_uid ?? ''}
              disabled={busy}
              onChange={(event) => void run(() => actions.assign(event.target.value || null))}
              data-testid="assign-select"
            >
              <option value="">{t.inbox.assignNobody}</option>
              {assigneeOptions.map((option) => (
                <option key={option.uid} value={option.uid}>
                  {option.label}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {manager && !closed ? (
          <label className="inline">
            <span>{t.inbox.modeLabel}</span>
            <select
              value={conversation.mode}
              disabled={busy}
              onChange={(event) => void run(() => actions.setMode(event.target.value as AgentMode))}
              data-testid="mode-select"
            >
              <option value="pilot">{t.inbox.modePilot}</option>
              <option value="copilot">{t.inbox.modeCopilot}</option>
            </select>
          </label>
        ) : null}
        {!closed ? (
          <button type="button" disabled={busy} onClick={() => setClosing(!closing)} data-testid="close-button">
            {t.inbox.close}
          </button>
        ) : null}
      </div>
      {closing ? (
        <form className="close-form" role="dialog" aria-label={t.inbox.closeTitle} onSubmit={(event) => void submitClose(event)} data-testid="close-form">
          <label>
            {t.inbox.closeReason}
            <select value={reason} onChange={(event) => setReason(event.target.value as CloseReason)} data-testid="close-reason">
              {CLOSE_REASONS.map((value) => (
                <option key={value} value={value}>
                  {closeReasonNames[value]}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t.inbox.closeNote}
            <textarea value={note} onChange={(event) => setNote(event.target.value)} rows={2} data-testid="close-note" />
          </label>
          <div className="row-actions">
            <button type="submit" className="danger" disabled={busy} data-testid="close-confirm">
              {t.inbox.confirmClose}
            </button>
            <button type="button" onClick={() => setClosing(false)}>
              {t.cancel}
            </button>
          </div>
        </form>
      ) : null}
    </header>
  );
}
