// A typed knowledge entry (question/answer, information, price list, policy): create or edit.
import { type FormEvent, useState } from 'react';
import type { KnowledgeEntry, KnowledgeInput, TypedKnowledgeKind } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { fieldErrors } from '../i18n/format';
import { knowledgeKindNames, t } from '../i18n/pt-BR';

export const TYPED_KINDS: TypedKnowledgeKind[] = ['qa', 'fact', 'price_list', 'policy'];
const PLACED_FIELDS = ['kind', 'title', 'question', 'answer', 'content'];

/** The POST/PUT body: question and answer for a Q&A pair, content for the other kinds. */
export function entryInput(form: { kind: TypedKnowledgeKind; title: string; question: string; answer: string; content: string }): KnowledgeInput {
  const title = form.title.trim();
  return form.kind === 'qa'
    ? { kind: 'qa', title, question: form.question.trim(), answer: form.answer.trim() }
    : { kind: form.kind, title, content: form.content.trim() };
}

export function EntryForm({
  entry,
  onSubmit,
  onCancel,
}: {
  /** The entry to edit (not a file); none for a new one. */
  entry?: KnowledgeEntry;
  onSubmit: (input: KnowledgeInput) => Promise<unknown>;
  onCancel: () => void;
}) {
  const [form, setForm] = useState(() => ({
    kind: (entry && entry.kind !== 'file' ? entry.kind : 'qa') as TypedKnowledgeKind,
    title: entry?.title ?? '',
    question: entry?.question ?? '',
    answer: entry?.answer ?? '',
    content: entry?.kind === 'qa' ? '' : (entry?.content ?? ''),
  }));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(error);
  const set = (patch: Partial<typeof form>) => setForm((previous) => ({ ...previous, ...patch }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit(entryInput(form));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const qa = form.kind === 'qa';
  return (
    <form
      className="card settings-form knowledge-form"
      onSubmit={(event) => void submit(event)}
      aria-label={entry ? t.knowledge.editTitle : t.knowledge.newTitle}
      data-testid="knowledge-form"
    >
      <h2>{entry ? t.knowledge.editTitle : t.knowledge.newTitle}</h2>
      <label>
        {t.knowledge.kind}
        <select value={form.kind} onChange={(event) => set({ kind: event.target.value as TypedKnowledgeKind })} data-testid="knowledge-kind">
          {TYPED_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {knowledgeKindNames[kind]}
            </option>
          ))}
        </select>
      </label>
      <FieldErrors errors={errors} field="kind" />
      <label>
        {t.knowledge.entryTitle}
        <input required maxLength={200} value={form.title} onChange={(event) => set({ title: event.target.value })} data-testid="knowledge-title" />
      </label>
      <FieldErrors errors={errors} field="title" />
      {qa ? (
        <>
          <label>
            {t.knowledge.question}
            <textarea required rows={2} maxLength={1000} value={form.question} onChange={(event) => set({ question: event.target.value })} data-testid="knowledge-question" />
          </label>
          <FieldErrors errors={errors} field="question" />
          <label>
            {t.knowledge.answer}
            <textarea required rows={4} maxLength={10000} value={form.answer} onChange={(event) => set({ answer: event.target.value })} data-testid="knowledge-answer" />
          </label>
          <FieldErrors errors={errors} field="answer" />
        </>
      ) : (
        <>
          <label>
            {t.knowledge.content}
            <textarea required rows={8} maxLength={20000} value={form.content} onChange={(event) => set({ content: event.target.value })} data-testid="knowledge-content" />
          </label>
          {form.kind !== 'qa' ? <div className="muted small">{t.knowledge.contentHelp[form.kind]}</div> : null}
          <FieldErrors errors={errors} field="content" />
        </>
      )}
      <ErrorBanner error={error} placedFields={PLACED_FIELDS} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="knowledge-submit">
          {busy ? t.saving : t.knowledge.save}
        </button>
        <button type="button" disabled={busy} onClick={onCancel} data-testid="knowledge-cancel">
          {t.cancel}
        </button>
      </div>
    </form>
  );
}
