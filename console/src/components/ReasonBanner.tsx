// An error banner that also shows the API's own reason for a conflict or an unavailable service (a calendar or
// CRM that refused, a booking already canceled): the pt-BR text says what kind of failure, the reason says which.
import { ApiError } from '../api/client';
import { t } from '../i18n/pt-BR';
import { ErrorBanner } from './ErrorBanner';

const WITH_REASON = new Set([409, 502, 503]);

export function ReasonBanner({ error, placedFields }: { error: unknown; placedFields?: string[] }) {
  if (!error) return null;
  const reason = error instanceof ApiError && WITH_REASON.has(error.status) && error.message ? error.message : null;
  return (
    <>
      <ErrorBanner error={error} placedFields={placedFields} />
      {reason ? (
        <div className="muted small" data-testid="error-reason">
          {t.errorReason(reason)}
        </div>
      ) : null}
    </>
  );
}
