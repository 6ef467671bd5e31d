// Row editors for lists of strings and for key/value maps.
import { t } from '../i18n/pt-BR';

export function StringListEditor({
  values,
  onChange,
  testId,
  addLabel,
  placeholder,
  disabled = false,
  invalidRow = () => false,
}: {
  values: string[];
  onChange: (values: string[]) => void;
  testId: string;
  addLabel: string;
  placeholder?: string;
  disabled?: boolean;
  /** Whether the server refused the row at this position. */
  invalidRow?: (index: number) => boolean;
}) {
  return (
    <div className="list-editor" data-testid={testId}>
      {values.map((value, index) => (
        <div className={`list-row${invalidRow(index) ? ' invalid' : ''}`} key={index}>
          <input
            value={value}
            aria-invalid={invalidRow(index) || undefined}
            placeholder={placeholder}
            disabled={disabled}
            onChange={(event) => onChange(values.map((old, i) => (i === index ? event.target.value : old)))}
            aria-label={`${addLabel} ${index + 1}`}
            data-testid={`${testId}-${index}`}
          />
          {!disabled ? (
            <button type="button" className="link" onClick={() => onChange(values.filter((_, i) => i !== index))} aria-label={`${t.remove} ${index + 1}`}>
              {t.remove}
            </button>
          ) : null}
        </div>
      ))}
      {!disabled ? (
        <button type="button" className="link" onClick={() => onChange([...values, ''])} data-testid={`${testId}-add`}>
          + {addLabel}
        </button>
      ) : null}
    </div>
  );
}

export interface KeyValueRow {
  key: string;
  value: string;
}

export function KeyValueEditor({
  rows,
  onChange,
  testId,
  keyLabel,
  valueLabel,
  addLabel,
  disabled = false,
  invalidRow = () => false,
}: {
  rows: KeyValueRow[];
  onChange: (rows: KeyValueRow[]) => void;
  testId: string;
  keyLabel: string;
  valueLabel: string;
  addLabel: string;
  disabled?: boolean;
  invalidRow?: (index: number) => boolean;
}) {
  const update = (index: number, patch: Partial<KeyValueRow>) => onChange(rows.map((row, i) => (i === index ? { ...row, ...patch } : row)));
  return (
    <div className="list-editor" data-testid={testId}>
      {rows.map((row, index) => (
        <div className={`list-row kv-row${invalidRow(index) ? ' invalid' : ''}`} key={index}>
          <input
            value={row.key}
            placeholder={keyLabel}
            aria-label={`${keyLabel} ${index + 1}`}
            disabled={disabled}
            onChange={(event) => update(index, { key: event.target.value })}
            data-testid={`${testId}-key-${index}`}
          />
          <input
            value={row.value}
            placeholder={valueLabel}
            aria-label={`${valueLabel} ${index + 1}`}
            disabled={disabled}
            onChange={(event) => update(index, { value: event.target.value })}
            data-testid={`${testId}-value-${index}`}
          />
          {!disabled ? (
            <button type="button" className="link" onClick={() => onChange(rows.filter((_, i) => i !== index))} aria-label={`${t.remove} ${index + 1}`}>
              {t.remove}
            </button>
          ) : null}
        </div>
      ))}
      {!disabled ? (
        <button type="button" className="link" onClick={() => onChange([...rows, { key: '', value: '' }])} data-testid={`${testId}-add`}>
          + {addLabel}
        </button>
      ) : null}
    </div>
  );
}
