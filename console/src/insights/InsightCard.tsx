// One insight as a bubble: the agent's icon and name, its status, the payload shown by the fields it was
// produced with, and what the seller can do with it (apply, dismiss, put its message in the composer).
import { useState } from 'react';
import { Link } from 'react-router-dom';
import type { ConversionResult, Insight, OutputField } from '../api/types';
import { dateTime, shortTime } from '../i18n/format';
import { conversionReasonNames, insightStatusNames, t } from '../i18n/pt-BR';
import { fieldLabel, messageText, scalarText } from './describe';

export interface InsightActions {
  onApply: (insight: Insight) => Promise<unknown>;
  onDismiss: (insight: Insight) => Promise<unknown>;
  /** Put a text in the thread's composer (the inbox only). */
  onUseText?: (text: string) => void;
}

function FieldValue({ field, value }: { field: OutputField; value: unknown }) {
  if (field.type === 'array' && Array.isArray(value)) {
    if (!value.length) return <>{t.insights.noValue}</>;
    return (
      <span className="chips">
        {value.map((item, index) => (
          <span key={index} className="chip" data-testid="insight-chip">
            {scalarText(item)}
          </span>
        ))}
      </span>
    );
  }
  if (field.type === 'enum' && typeof value === 'string' && value) {
    return (
      <span className="chip chip-enum" data-testid="insight-chip">
        {value}
      </span>
    );
  }
  return <>{scalarText(value)}</>;
}

/** The payload by the insight's own fields (in their order), then any value no field describes. */
export function PayloadView({ fields, payload }: { fields: OutputField[]; payload: Record<string, unknown> }) {
  const known = new Set(fields.map((field) => field.name));
  const extra = Object.keys(payload).filter((name) => !known.has(name));
  const rows: { field: OutputField; value: unknown }[] = [
    ...fields.map((field) => ({ field, value: payload[field.name] })),
    ...extra.map((name) => ({
      field: { name, type: 'string' as const, description: '', required: false, options: [], items: 'string' as const, minimum: null, maximum: null },
      value: payload[name],
    })),
  ];
  return (
    <dl className="insight-payload">
      {rows.map(({ field, value }) => (
        <div key={field.name} className="insight-field" data-testid="insight-field" data-field={field.name} data-type={field.type}>
          <dt title={field.name}>{fieldLabel(field)}</dt>
          <dd>
            <FieldValue field={field} value={value} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

function ConversionNote({ conversion }: { conversion: ConversionResult }) {
  const reason = conversion.reason ? (conversionReasonNames[conversion.reason] ?? conversion.reason) : null;
  const text =
    conversion.status === 'sent'
      ? t.insights.conversionSent
      : conversion.status === 'failed'
        ? t.insights.conversionFailed(reason)
        : t.insights.conversionSkipped(reason);
  return (
    <div className={`insight-conversion insight-conversion-${conversion.status}`} data-testid="insight-conversion" data-status={conversion.status}>
      {text}
    </div>
  );
}

export function applyLabel(insight: Pick<Insight, 'apply_action'>): string {
  if (insight.apply_action === 'mark_won') return t.insights.applyWon;
  if (insight.apply_action === 'mark_lost') return t.insights.applyLost;
  return t.insights.apply;
}

export function InsightCard({
  insight,
  showConversation = false,
  onApply,
  onDismiss,
  onUseText,
}: { insight: Insight; showConversation?: boolean } & InsightActions) {
  const [busy, setBusy] = useState(false);
  const { status } = insight;
  const done = status === 'SUGGESTION' || status === 'APPLIED' || status === 'DISMISSED';
  const message = done ? messageText(insight.payload, insight.message_field) : null;

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    try {
      await action();
    } catch {
      // The caller shows the error; the card stays as it was.
    } finally {
      setBusy(false);
    }
  }

  return (
    <article
      className={`insight insight-${status.toLowerCase()}`}
      data-testid="insight"
      data-insight-id={insight.insight_id}
      data-status={status}
      data-agent-id={insight.agent_id}
      data-conversation-id={insight.conversation_id}
      data-apply-action={insight.apply_action}
      data-offline={String(insight.offline_model)}
    >
      <header className="insight-header">
        <span className="insight-icon" aria-hidden="true">
          {insight.agent_icon}
        </span>
        <span className="insight-agent" data-testid="insight-agent">
          {insight.agent_name}
        </span>
        <span className={`badge insight-status insight-status-${status.toLowerCase()}`} data-testid="insight-status">
          {insightStatusNames[status] ?? status}
        </span>
        {insight.offline_model ? (
          <span className="badge badge-muted" title={t.insights.offlineHelp} data-testid="insight-offline">
            {t.insights.offline}
          </span>
        ) : null}
        <span className="insight-time muted small" title={dateTime(insight.created_at)}>
          {shortTime(insight.created_at)}
        </span>
      </header>
      {showConversation ? (
        <div className="insight-conversation small">
          <Link to={`/conversas/${encodeURIComponent(insight.conversation_id)}`} data-testid="insight-conversation">
            {t.insights.contact(insight.contact_name || insight.contact_key || insight.conversation_id)}
          </Link>
        </div>
      ) : null}
      {status === 'FAILED' ? (
        <div className="insight-error" data-testid="insight-error">
          {t.insights.failed(insight.error)}
        </div>
      ) : null}
      {done ? <PayloadView fields={insight.fields} payload={insight.payload} /> : null}
      {insight.conversion ? <ConversionNote conversion={insight.conversion} /> : null}
      {(status === 'APPLIED' || status === 'DISMISSED') && insight.reviewed_at ? (
        <div className="muted small" data-testid="insight-reviewed">
          {insightStatusNames[status]} {t.insights.reviewedBy(insight.reviewed_email, dateTime(insight.reviewed_at))}
        </div>
      ) : null}
      {status === 'SUGGESTION' || (message && onUseText) ? (
        <div className="insight-actions">
          {status === 'SUGGESTION' ? (
            <>
              <button type="button" className="primary" disabled={busy} onClick={() => void run(() => onApply(insight))} data-testid="insight-apply">
                {applyLabel(insight)}
              </button>
              <button type="button" disabled={busy} onClick={() => void run(() => onDismiss(insight))} data-testid="insight-dismiss">
                {t.insights.dismiss}
              </button>
            </>
          ) : null}
          {message && onUseText ? (
            <button type="button" disabled={busy} onClick={() => onUseText(message)} data-testid="insight-use-text">
              {t.insights.useInComposer}
            </button>
          ) : null}
        </div>
      ) : null}
    </article>
  );
}
