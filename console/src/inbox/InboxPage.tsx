// "Conversas", laid out like WhatsApp Web: the conversation list on the left (polled every 3 s), the thread on the right.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import type { ConversationSummary } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { usePolling } from '../polling/usePolling';
import { useMembers } from '../team/useTeam';
import { ConversationItem, InboxFilterBar, type InboxFilters, NO_FILTERS, filtersToQuery } from './ConversationList';
import { ConversationView } from './ConversationView';

export const LIST_POLL_MS = 3000;

export function InboxPage() {
  const api = useApi();
  const { tenantId } = useSession();
  const { conversationId } = useParams();
  const navigate = useNavigate();
  const members = useMembers();
  const [filters, setFilters] = useState<InboxFilters>(NO_FILTERS);
  const query = useMemo(() => filtersToQuery(filters), [filters]);
  const key = `${tenantId}?${JSON.stringify(query)}`;
  const load = useCallback((etag: string | null) => api.listConversations(tenantId, query, etag), [api, tenantId, query]);
  const { data, error, refresh } = usePolling(load, LIST_POLL_MS, key);

  // Older pages ("Carregar mais") are fetched once and kept below the polled first page.
  const [older, setOlder] = useState<{ key: string; items: ConversationSummary[]; cursor: string | null } | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const olderHere = older?.key === key ? older : null;

  // Remember the stages and channels seen, so filtering by one does not empty the other pickers.
  const [seen, setSeen] = useState<{ stages: string[]; channels: string[] }>({ stages: [], channels: [] });
  useEffect(() => {
    if (!data) return;
    setSeen((previous) => {
      const stages = new Set(previous.stages);
      const channels = new Set(previous.channels);
      for (const conversation of data.conversations) {
        if (conversation.stage) stages.add(conversation.stage);
        channels.add(conversation.channel_id);
      }
      if (stages.size === previous.stages.length && channels.size === previous.channels.length) return previous;
      return { stages: [...stages].sort(), channels: [...channels].sort() };
    });
  }, [data]);

  const conversations = useMemo(() => {
    const first = data?.conversations ?? [];
    const ids = new Set(first.map((conversation) => conversation.conversation_id));
    return [...first, ...(olderHere?.items ?? []).filter((conversation) => !ids.has(conversation.conversation_id))];
  }, [data, olderHere]);
  const nextCursor = olderHere ? olderHere.cursor : (data?.next_cursor ?? null);

  async function loadMore() {
    if (!nextCursor) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await api.listConversations(tenantId, { ...query, cursor: nextCursor });
      if (!page.notModified) {
        setOlder({ key, items: [...(olderHere?.items ?? []), ...page.data.conversations], cursor: page.data.next_cursor });
      }
    } catch (caught) {
      setMoreError(caught);
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <div className={`inbox${conversationId ? ' has-selection' : ''}`}>
      <section className="conversation-list" aria-label={t.inbox.title}>
        <InboxFilterBar filters={filters} onChange={setFilters} stages={seen.stages} channels={seen.channels} members={members} />
        <ErrorBanner error={error ?? moreError} />
        {!data && !error ? <div className="muted pad">{t.loading}</div> : null}
        {data && conversations.length === 0 ? (
          <div className="muted pad" data-testid="conversation-list-empty">
            {t.inbox.empty}
          </div>
        ) : null}
        <ul className="plain" data-testid="conversation-list">
          {conversations.map((conversation) => (
            <ConversationItem
              key={conversation.conversation_id}
              conversation={conversation}
              selected={conversation.conversation_id === conversationId}
              onSelect={(id) => navigate(`/conversas/${encodeURIComponent(id)}`)}
            />
          ))}
        </ul>
        {nextCursor ? (
          <button type="button" className="link pad" disabled={loadingMore} onClick={() => void loadMore()} data-testid="load-more">
            {t.inbox.loadMore}
          </button>
        ) : null}
      </section>
      {conversationId ? (
        <ConversationView key={conversationId} conversationId={conversationId} members={members} onChanged={refresh} />
      ) : (
        <section className="conversation-empty muted">{t.inbox.select}</section>
      )}
    </div>
  );
}
