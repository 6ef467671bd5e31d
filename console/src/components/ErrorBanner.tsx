import { errorText } from '../i18n/format';
import { t } from '../i18n/pt-BR';

/** An error in pt-BR, with every field problem the server named. */
export function ErrorBanner({
  error,
  prefix,
  onRetry,
  placedFields = [],
}: {
  error: unknown;
  prefix?: string;
  onRetry?: () => void;
  /** Fields whose problems the form already shows beside them (a detail under one of them is not repeated). */
  placedFields?: string[];
}) {
  if (!error) return null;
  const placed = (field: string) => {
    const path = field.replace(/^body\./, '');
    return placedFields.some((name) => path === name || path.startsWith(`${name}.`));
  };
  const details = ((error as { details?: { field: string; reason: string }[] }).details ?? []).filter((detail) => !placed(detail.field));
  return (
    <div className="error-banner" role="alert" data-testid="error-banner" data-code={(error as { code?: string }).code ?? ''}>
      {prefix ? <strong>{prefix} </strong> : null}
      {errorText(error)}
      {details.length > 0 ? (
        <ul>
          {details.map((detail) => (
            <li key={`${detail.field}:${detail.reason}`}>{t.fieldProblem(detail.field, detail.reason)}</li>
          ))}
        </ul>
      ) : null}
      {onRetry ? (
        <button type="button" className="link" onClick={onRetry}>
          {t.retry}
        </button>
      ) : null}
    </div>
  );
}
