// Write to the lead as the seller (this also takes the conversation over).
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { t } from '../i18n/pt-BR';

/** A text put in the composer from elsewhere (an insight's message); a new serial puts it again. */
export interface ComposerDraft {
  text: string;
  serial: number;
}

export function Composer({
  disabled,
  draft = null,
  onSend,
}: {
  disabled: boolean;
  draft?: ComposerDraft | null;
  onSend: (text: string) => Promise<unknown>;
}) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);

  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!draft) return;
    setText(draft.text);
    input.current?.focus();
  }, [draft]);

  async function send() {
    const body = text.trim();
    if (!body || busy) return;
    setBusy(true);
    try {
      await onSend(body);
      setText('');
    } catch {
      // The conversation view shows the error; the text stays for another try.
    } finally {
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void send();
  }

  function keyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      void send();
    }
  }

  if (disabled) return <div className="composer composer-disabled">{t.inbox.composerClosed}</div>;
  return (
    <form className="composer" onSubmit={submit}>
      <textarea
        ref={input}
        value={text}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={keyDown}
        placeholder={t.inbox.composerPlaceholder}
        rows={2}
        maxLength={4096}
        aria-label={t.inbox.composerPlaceholder}
        data-testid="composer-input"
      />
      <button type="submit" className="primary" disabled={busy || !text.trim()} data-testid="composer-send">
        {busy ? t.inbox.sending : t.inbox.send}
      </button>
    </form>
  );
}
