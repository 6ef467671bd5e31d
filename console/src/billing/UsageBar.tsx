// One quota's usage: used of limit, a bar coloured by level, and what the level means.
import type { UsageLine } from '../api/types';
import { quotaNames, t } from '../i18n/pt-BR';
import { formatAmount, usageHint } from './billingText';

export function UsageBar({ line, label = quotaNames[line.quota] }: { line: UsageLine; label?: string }) {
  const included = line.limit > 0;
  const fill = included ? Math.min(100, (line.used * 100) / line.limit) : line.used > 0 ? 100 : 0;
  const hint = usageHint(line);
  return (
    <div
      className={`usage usage-${line.level}`}
      data-testid="usage-line"
      data-quota={line.quota}
      data-level={line.level}
      data-used={line.used}
      data-limit={line.limit}
      data-percent={line.percent}
    >
      <div className="usage-head">
        <span className="usage-label">{label}</span>
        <span className="muted" data-testid="usage-value">
          {included ? `${t.billing.usageValue(formatAmount(line.quota, line.used), formatAmount(line.quota, line.limit))} · ${line.percent}%` : t.billing.notIncluded}
        </span>
      </div>
      <div className="usage-bar" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={line.limit} aria-valuenow={line.used}>
        <div className="usage-fill" style={{ width: `${fill}%` }} />
      </div>
      {hint ? (
        <div className="usage-hint" data-testid="usage-hint">
          {hint}
        </div>
      ) : null}
    </div>
  );
}
