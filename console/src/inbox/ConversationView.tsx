// One open conversation, polled every 2 s: header actions, the thread with suggestions, the composer, details.
import { useCallback, useState } from 'react';
import type { Member } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { usePolling } from '../polling/usePolling';
import { Composer } from './Composer';
import { type ConversationActions, ConversationHeader } from './ConversationHeader';
import { DetailsPanel } from './DetailsPanel';
import { Thread } from './Thread';

export const CONVERSATION_POLL_MS = 2000;

export function ConversationView({
  conversationId,
  members,
  onChanged,
}: {
  conversationId: string;
  members: Member[] | null;
  onChanged: () => void;
}) {
  const api = useApi();
  const { tenantId, role, me } = useSession();
  const [actionError, setActionError] = useState<unknown>(null);
  const load = useCallback(
    (etag: string | null) => api.getConversation(tenantId, conversationId, etag),
    [api, tenantId, conversationId],
  );
  const { data, error, refresh } = usePolling(load, CONVERSATION_POLL_MS, `${tenantId}/${conversationId}`);

  const act = useCallback(
    async (action: () => Promise<unknown>) => {
      setActionError(null);
      try {
        const result = await action();
        refresh();
        onChanged();
        return result;
      } catch (caught) {
        setActionError(caught);
        throw caught;
      }
    },
    [refresh, onChanged],
  );

  if (!data) {
    return (
      <section className="conversation-view">
        {error ? <ErrorBanner error={error} /> : <div className="page muted">{t.loading}</div>}
      </section>
    );
  }

  const { conversation } = data;
  const actions: ConversationActions = {
    takeover: () => act(() => api.takeover(tenantId, conversationId)),
    release: () => act(() => api.release(tenantId, conversationId)),
    assign: (uid) => act(() => api.assign(tenantId, conversationId, uid)),
    close: (reason, note) => act(() => api.close(tenantId, conversationId, reason, note || undefined)),
    setMode: (mode) => act(() => api.setMode(tenantId, conversationId, mode)),
  };
  const closed = conversation.status === 'closed';

  return (
    <section className="conversation-view" data-testid="conversation-view" data-conversation-id={conversationId}>
      <div className="conversation-main">
        <ConversationHeader conversation={conversation} role={role} myUid={me.uid} members={members} actions={actions} />
        <ErrorBanner error={actionError ?? error} />
        <Thread
          messages={data.messages}
          decisions={data.decisions}
          suggestionsDisabled={closed}
          onAccept={(decisionId, index, text) => act(() => api.acceptSuggestion(tenantId, conversationId, decisionId, index, text))}
          onDismiss={(decisionId, index) => act(() => api.dismissSuggestion(tenantId, conversationId, decisionId, index))}
        />
        <Composer disabled={closed} onSend={(text) => act(() => api.sendMessage(tenantId, conversationId, text))} />
      </div>
      <DetailsPanel conversation={conversation} />
    </section>
  );
}
