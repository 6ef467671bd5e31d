// One knowledge entry: what it says, where it came from, how it is indexed; edit and delete for managers.
import type { KnowledgeEntry } from '../api/types';
import { dateTime } from '../i18n/format';
import { knowledgeKindNames, knowledgeSourceNames, t } from '../i18n/pt-BR';
import { fileSize } from './fileUpload';

const PREVIEW_CHARS = 280;

function Preview({ text }: { text: string }) {
  if (text.length <= PREVIEW_CHARS) return <div className="knowledge-text">{text}</div>;
  return (
    <details className="knowledge-text">
      <summary>{`${text.slice(0, PREVIEW_CHARS).trimEnd()}…`}</summary>
      {text}
    </details>
  );
}

export function EntryCard({
  entry,
  currentModel,
  canEdit,
  busy,
  onEdit,
  onDelete,
}: {
  entry: KnowledgeEntry;
  /** The embedding model the tenant's search uses now; an entry indexed with another shows it. */
  currentModel: string;
  canEdit: boolean;
  busy: boolean;
  onEdit: () => void;
  onDelete: () => void;
}) {
  return (
    <article
      className="card knowledge-entry"
      aria-label={entry.title}
      data-testid="knowledge-entry"
      data-entry-id={entry.entry_id}
      data-kind={entry.kind}
      data-source={entry.source}
    >
      <header className="knowledge-entry-header">
        <h3 className="knowledge-entry-title" data-testid="knowledge-entry-title">
          {entry.title}
        </h3>
        <span className="badge">{knowledgeKindNames[entry.kind] ?? entry.kind}</span>
        <span className={`badge ${entry.source === 'learned' ? 'badge-ok' : 'badge-muted'}`}>{knowledgeSourceNames[entry.source] ?? entry.source}</span>
      </header>
      {entry.kind === 'qa' ? (
        <dl className="knowledge-qa">
          <dt>{t.knowledge.question}</dt>
          <dd>{entry.question}</dd>
          <dt>{t.knowledge.answer}</dt>
          <dd>{entry.answer}</dd>
        </dl>
      ) : (
        <>
          {entry.kind === 'file' ? (
            <div className="muted small" data-testid="knowledge-entry-file">
              {entry.filename ?? t.none} · {fileSize(entry.size_bytes)}
            </div>
          ) : null}
          <Preview text={entry.content} />
          {entry.content_chars && entry.content_chars > entry.content.length ? (
            <div className="muted small">{t.knowledge.moreText(new Intl.NumberFormat('pt-BR').format(entry.content_chars))}</div>
          ) : null}
        </>
      )}
      <footer className="knowledge-entry-footer muted small">
        <span>{t.knowledge.updated(dateTime(entry.updated_at), entry.created_by_email)}</span>
        <span data-testid="knowledge-entry-chunks" data-value={entry.chunk_count}>
          {t.knowledge.chunks(entry.chunk_count)}
        </span>
        {entry.embedding_model && entry.embedding_model !== currentModel ? (
          <span className="badge badge-alert">{t.knowledge.staleModel(entry.embedding_model)}</span>
        ) : null}
        {canEdit ? (
          <span className="row-actions">
            {entry.kind !== 'file' ? (
              <button type="button" className="link" disabled={busy} onClick={onEdit} data-testid="knowledge-edit">
                {t.edit}
              </button>
            ) : null}
            <button type="button" className="link danger" disabled={busy} onClick={onDelete} data-testid="knowledge-delete">
              {t.knowledge.delete}
            </button>
          </span>
        ) : null}
      </footer>
    </article>
  );
}
