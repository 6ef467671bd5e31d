import { errorsFor } from '../i18n/format';

/** The server's reasons for one form field (and anything under it), shown beside the field. */
export function FieldErrors({ errors, field }: { errors: Record<string, string[]>; field: string }) {
  const reasons = errorsFor(errors, field);
  if (!reasons.length) return null;
  return (
    <div className="field-error" role="alert" data-testid={`field-error-${field}`}>
      {reasons.map((reason) => (
        <div key={reason}>{reason}</div>
      ))}
    </div>
  );
}
