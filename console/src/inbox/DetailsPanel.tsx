// The side panel: what the agent extracted about the lead and the conversation's rolling summary.
import type { ConversationDetailInfo } from '../api/types';
import { dateTime } from '../i18n/format';
import { closeReasonNames, t } from '../i18n/pt-BR';

function show(value: unknown): string {
  if (value === null || value === undefined || value === '') return t.none;
  if (typeof value === 'boolean') return value ? t.yes : t.no;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function DetailsPanel({ conversation }: { conversation: ConversationDetailInfo }) {
  const fields = Object.entries(conversation.fields ?? {});
  const rows: [string, string][] = [
    [t.inbox.phone, show(conversation.contact_phone)],
    [t.inbox.stageLabel, show(conversation.stage)],
    [t.inbox.unansweredCount, show(conversation.unanswered_count)],
    [t.inbox.followupsSent, show(conversation.followups_sent)],
    [t.inbox.followupDue, conversation.followup_due_at ? dateTime(conversation.followup_due_at) : t.none],
    [t.inbox.createdAt, dateTime(conversation.created_at)],
  ];
  if (conversation.attention_reason) rows.push([t.inbox.attentionReason, conversation.attention_reason]);
  if (conversation.close_reason) {
    rows.push([t.inbox.closeReasonLabel, (closeReasonNames as Record<string, string>)[conversation.close_reason] ?? conversation.close_reason]);
  }
  return (
    <aside className="details-panel" data-testid="details-panel">
      <h3>{t.inbox.summary}</h3>
      <p data-testid="conversation-summary">{conversation.summary || <span className="muted">{t.inbox.noSummary}</span>}</p>
      <h3>{t.inbox.fields}</h3>
      {fields.length ? (
        <dl data-testid="conversation-fields">
          {fields.map(([name, value]) => (
            <div key={name} className="dl-row">
              <dt>{name}</dt>
              <dd>{show(value)}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p className="muted">{t.inbox.noFields}</p>
      )}
      <h3>{t.inbox.detailsTitle}</h3>
      <dl>
        {rows.map(([label, value]) => (
          <div key={label} className="dl-row">
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </aside>
  );
}
