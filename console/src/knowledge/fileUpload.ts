// A knowledge file as the upload endpoint takes it: PDF, DOCX, plain text, Markdown or CSV up to 10 MB, as base64 in JSON.
import type { KnowledgeUpload } from '../api/types';
import { t } from '../i18n/pt-BR';

export const MAX_FILE_BYTES = 10 * 1024 * 1024;

/** Extension → MIME type the server accepts; the browser's `file.type` is often empty for DOCX. */
export const ACCEPTED_TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
};

/** The `accept` attribute of the file input. */
export const ACCEPT_ATTRIBUTE = [...Object.keys(ACCEPTED_TYPES).map((ext) => `.${ext}`), ...Object.values(ACCEPTED_TYPES)].join(',');

/** The MIME type to declare, or null when the file is not one the server reads. */
// Browsers name CSV files application/vnd.ms-excel on some systems; the extension decides first.
export function mimeTypeOf(file: Pick<File, 'name' | 'type'>): string | null {
  const extension = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase();
  if (extension && ACCEPTED_TYPES[extension]) return ACCEPTED_TYPES[extension];
  const declared = file.type.split(';')[0]?.trim().toLowerCase() ?? '';
  return Object.values(ACCEPTED_TYPES).includes(declared) ? declared : null;
}

/** 1536 → "1,5 KB", 12_582_912 → "12 MB". */
export function fileSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return t.none;
  if (bytes < 1024) return `${bytes} B`;
  const format = (value: number) => new Intl.NumberFormat('pt-BR', { maximumFractionDigits: 1 }).format(value);
  if (bytes < 1024 * 1024) return `${format(bytes / 1024)} KB`;
  return `${format(bytes / (1024 * 1024))} MB`;
}

/** Why this file cannot be sent (pt-BR), or null when it can. */
export function fileProblem(file: Pick<File, 'name' | 'type' | 'size'>): string | null {
  if (!mimeTypeOf(file)) return t.knowledge.fileWrongType;
  if (file.size > MAX_FILE_BYTES) return t.knowledge.fileTooLarge(fileSize(file.size));
  return null;
}

function base64Of(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsDataURL(file);
  });
}

/** The request body for a file that passed `fileProblem`. */
export async function uploadBody(file: File, title: string): Promise<KnowledgeUpload> {
  const body: KnowledgeUpload = {
    filename: file.name,
    mime_type: mimeTypeOf(file) ?? file.type,
    content_base64: await base64Of(file),
  };
  if (title.trim()) body.title = title.trim();
  return body;
}
