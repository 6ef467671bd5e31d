// The left column: filters and the conversations, newest activity first.
import type { ConversationFilters, ConversationStatus, ConversationSummary, Member } from '../api/types';
import { CONVERSATION_STATUSES } from '../api/types';
import { shortTime } from '../i18n/format';
import { statusNames, t } from '../i18n/pt-BR';

export interface InboxFilters {
  status: ConversationStatus | '';
  assignee: string; // '' (all), 'me', 'none' or a member's uid
  stage: string;
  channelId: string;
  needsHuman: boolean;
}

export const NO_FILTERS: InboxFilters = { status: '', assignee: '', stage: '', channelId: '', needsHuman: false };

export function filtersToQuery(filters: InboxFilters): ConversationFilters {
  const query: ConversationFilters = { limit: 50 };
  if (filters.status) query.status = filters.status;
  if (filters.assignee) query.assignee = filters.assignee;
  if (filters.stage) query.stage = filters.stage;
  if (filters.channelId) query.channel_id = filters.channelId;
  if (filters.needsHuman) query.needs_human = true;
  return query;
}

export function InboxFilterBar({
  filters,
  onChange,
  stages,
  channels,
  members,
}: {
  filters: InboxFilters;
  onChange: (filters: InboxFilters) => void;
  stages: string[];
  channels: string[];
  members: Member[] | null;
}) {
  const set = (patch: Partial<InboxFilters>) => onChange({ ...filters, ...patch });
  return (
    <div className="filters" aria-label={t.inbox.filters}>
      <select
        value={filters.status}
        onChange={(event) => set({ status: event.target.value as InboxFilters['status'] })}
        aria-label="Status"
        data-testid="filter-status"
      >
        <option value="">{t.inbox.statusAll}</option>
        {CONVERSATION_STATUSES.map((status) => (
          <option key={status} value={status}>
            {statusNames[status]}
          </option>
        ))}
      </select>
      <select
        value={filters.assignee}
        onChange={(event) => set({ assignee: event.target.value })}
        aria-label={t.inbox.assign}
        data-testid="filter-assignee"
      >
        <option value="">{t.inbox.assigneeAll}</option>
        <option value="me">{t.inbox.assigneeMine}</option>
        <option value="none">{t.inbox.assigneeNone}</option>
        {(members ?? []).map((member) => (
          <option key={member.uid} value={member.uid}>
            {member.email ?? member.uid}
          </option>
        ))}
      </select>
      <select value={filters.stage} onChange={(event) => set({ stage: event.target.value })} aria-label={t.inbox.stage} data-testid="filter-stage">
        <option value="">{t.inbox.stageAll}</option>
        {stages.map((stage) => (
          <option key={stage} value={stage}>
            {stage}
          </option>
        ))}
      </select>
      <select
        value={filters.channelId}
        onChange={(event) => set({ channelId: event.target.value })}
        aria-label="Canal"
        data-testid="filter-channel"
      >
        <option value="">{t.inbox.channelAll}</option>
        {channels.map((channel) => (
          <option key={channel} value={channel}>
            {channel}
          </option>
        ))}
      </select>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={filters.needsHuman}
          onChange={(event) => set({ needsHuman: event.target.checked })}
          data-testid="filter-needs-human"
        />
        {t.inbox.needsHumanOnly}
      </label>
    </div>
  );
}

function preview(conversation: ConversationSummary): string {
  const last = conversation.last_message;
  if (!last) return '';
  if (last.role === 'seller') return `${t.inbox.you}: ${last.text}`;
  if (last.role === 'agent') return `${t.inbox.agentPrefix}: ${last.text}`;
  return last.text;
}

export function ConversationItem({
  conversation,
  selected,
  onSelect,
}: {
  conversation: ConversationSummary;
  selected: boolean;
  onSelect: (id: string) => void;
}) {
  const name = conversation.contact_name || conversation.contact_phone || conversation.contact_key;
  return (
    <li>
      <button
        type="button"
        className={`conversation-item${selected ? ' selected' : ''}`}
        onClick={() => onSelect(conversation.conversation_id)}
        aria-current={selected ? 'true' : undefined}
        data-testid="conversation-item"
        data-conversation-id={conversation.conversation_id}
        data-status={conversation.status}
        data-needs-human={String(conversation.needs_human)}
      >
        <div className="row">
          <span className="contact-name">{name}</span>
          <span className="muted small">{shortTime(conversation.last_message?.at ?? conversation.updated_at)}</span>
        </div>
        {conversation.contact_name && conversation.contact_phone ? (
          <div className="muted small">{conversation.contact_phone}</div>
        ) : null}
        <div className="preview">{preview(conversation)}</div>
        <div className="badges">
          <span className={`badge status-${conversation.status}`}>{statusNames[conversation.status] ?? conversation.status}</span>
          {conversation.needs_human ? <span className="badge badge-alert">{t.inbox.needsAttention}</span> : null}
          {conversation.mode === 'copilot' ? <span className="badge badge-copilot">{t.inbox.copilot}</span> : null}
          {conversation.pending_suggestions > 0 ? (
            <span className="badge badge-count" data-testid="pending-suggestions">
              {t.inbox.pendingSuggestions(conversation.pending_suggestions)}
            </span>
          ) : null}
        </div>
      </button>
    </li>
  );
}
