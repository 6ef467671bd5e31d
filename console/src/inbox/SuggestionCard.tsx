// A copilot suggestion: send it as is, edit then send, or dismiss it.
import { useState } from 'react';
import type { Suggestion } from '../api/types';
import { suggestionStateNames, t } from '../i18n/pt-BR';

export interface SuggestionActions {
  /** Send the suggestion; `text` only when the seller edited it. */
  onAccept: (decisionId: string, index: number, text?: string) => Promise<unknown>;
  onDismiss: (decisionId: string, index: number) => Promise<unknown>;
}

export function SuggestionCard({
  decisionId,
  suggestion,
  disabled = false,
  onAccept,
  onDismiss,
}: { decisionId: string; suggestion: Suggestion; disabled?: boolean } & SuggestionActions) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(suggestion.text);
  const [busy, setBusy] = useState(false);
  const pending = suggestion.state === 'pending';

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    try {
      await action();
      setEditing(false);
    } catch {
      // The caller shows the error; the card stays as it was.
    } finally {
      setBusy(false);
    }
  }

  return (
    <div
      className={`suggestion suggestion-${suggestion.state}`}
      data-testid="suggestion"
      data-decision-id={decisionId}
      data-index={suggestion.index}
      data-state={suggestion.state}
    >
      <div className="suggestion-title">
        {t.inbox.suggestionTitle}
        {!pending ? <span className="badge">{suggestionStateNames[suggestion.state]}</span> : null}
      </div>
      {editing ? (
        <textarea
          value={text}
          onChange={(event) => setText(event.target.value)}
          rows={3}
          maxLength={4096}
          aria-label={t.inbox.suggestionEdit}
          data-testid="suggestion-edit-text"
        />
      ) : (
        <div className="suggestion-text">{suggestion.text}</div>
      )}
      {pending ? (
        <div className="suggestion-actions">
          {editing ? (
            <>
              <button
                type="button"
                className="primary"
                disabled={busy || disabled || !text.trim()}
                onClick={() => void run(() => onAccept(decisionId, suggestion.index, text))}
                data-testid="suggestion-send-edited"
              >
                {t.inbox.suggestionSendEdited}
              </button>
              <button
                type="button"
                disabled={busy}
                onClick={() => {
                  setEditing(false);
                  setText(suggestion.text);
                }}
                data-testid="suggestion-edit-cancel"
              >
                {t.cancel}
              </button>
            </>
          ) : (
            <>
              <button
                type="button"
                className="primary"
                disabled={busy || disabled}
                onClick={() => void run(() => onAccept(decisionId, suggestion.index))}
                data-testid="suggestion-accept"
              >
                {t.inbox.suggestionSend}
              </button>
              <button type="button" disabled={busy || disabled} onClick={() => setEditing(true)} data-testid="suggestion-edit">
                {t.inbox.suggestionEdit}
              </button>
              <button
                type="button"
                disabled={busy || disabled}
                onClick={() => void run(() => onDismiss(decisionId, suggestion.index))}
                data-testid="suggestion-dismiss"
              >
                {t.inbox.suggestionDismiss}
              </button>
            </>
          )}
        </div>
      ) : null}
    </div>
  );
}
