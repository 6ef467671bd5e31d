// Upload a PDF, DOCX, TXT, Markdown or CSV file to the knowledge base (checked here first, the server checks again).
import { type FormEvent, useState } from 'react';
import { ApiError } from '../api/client';
import type { KnowledgeUpload } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { ACCEPT_ATTRIBUTE, fileProblem, fileSize, uploadBody } from './fileUpload';

/** The server's refusal of a file in words about the file (too large, wrong type, unreadable), or null. */
export function uploadErrorText(error: unknown, file: File | null): string | null {
  if (!(error instanceof ApiError)) return null;
  if (error.status === 413) return t.knowledge.fileTooLarge(fileSize(file?.size));
  if (error.status === 415) return t.knowledge.fileWrongType;
  if (error.status === 422 && (error.field === 'content_base64' || error.field === 'mime_type' || !error.field)) {
    if (error.field === 'mime_type') return t.knowledge.fileWrongType;
    const reasons = [error.message, ...error.details.map((detail) => detail.reason)].join(' ');
    return /characters/i.test(reasons) ? t.knowledge.fileTooMuchText : t.knowledge.fileUnreadable;
  }
  return null;
}

export function UploadForm({ onUpload, onCancel }: { onUpload: (body: KnowledgeUpload) => Promise<unknown>; onCancel: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [title, setTitle] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const known = uploadErrorText(error, file);

  function choose(chosen: File | null) {
    setFile(chosen);
    setError(null);
    setProblem(chosen ? fileProblem(chosen) : null);
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!file || problem) return;
    setBusy(true);
    setError(null);
    try {
      await onUpload(await uploadBody(file, title));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card settings-form knowledge-form" onSubmit={(event) => void submit(event)} aria-label={t.knowledge.uploadTitle} data-testid="knowledge-upload-form">
      <h2>{t.knowledge.uploadTitle}</h2>
      <p className="muted small">{t.knowledge.uploadHelp}</p>
      <label>
        {t.knowledge.file}
        <input
          type="file"
          accept={ACCEPT_ATTRIBUTE}
          required
          aria-invalid={problem ? true : undefined}
          onChange={(event) => choose(event.target.files?.[0] ?? null)}
          data-testid="knowledge-file"
        />
      </label>
      {problem ? (
        <div className="field-error" role="alert" data-testid="knowledge-file-problem">
          {problem}
        </div>
      ) : null}
      <label>
        {t.knowledge.fileTitle}
        <input maxLength={200} value={title} onChange={(event) => setTitle(event.target.value)} data-testid="knowledge-file-title" />
      </label>
      {known ? (
        <div className="error-banner" role="alert" data-testid="error-banner" data-code={(error as ApiError).code}>
          {known}
          {(error as ApiError).details.length ? (
            <ul>
              {(error as ApiError).details.map((detail) => (
                <li key={`${detail.field}:${detail.reason}`}>{detail.reason}</li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : (
        <ErrorBanner error={error} />
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy || !file || Boolean(problem)} data-testid="knowledge-upload-submit">
          {busy ? t.knowledge.sending : t.knowledge.send}
        </button>
        <button type="button" disabled={busy} onClick={onCancel}>
          {t.cancel}
        </button>
      </div>
    </form>
  );
}
