// One open conversation, polled every 2 s: header actions, the thread with suggestions, the agents' buttons, the
// composer; beside it the insights (polled every 3 s) and the details.
import { useCallback, useMemo, useState } from 'react';
import type { Member } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import type { InsightActions } from '../insights/InsightCard';
import { InsightFeed, MacroBar } from '../insights/InsightFeed';
import { CONVERSATION_INSIGHTS_POLL_MS, useInsightAgents, useInsights } from '../insights/useInsights';
import { usePolling } from '../polling/usePolling';
import { Composer, type ComposerDraft } from './Composer';
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
  const insightFilters = useMemo(() => ({ conversation_id: conversationId }), [conversationId]);
  const feed = useInsights(insightFilters, CONVERSATION_INSIGHTS_POLL_MS);
  const { agents } = useInsightAgents();
  const [draft, setDraft] = useState<ComposerDraft | null>(null);

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
  const refreshFeed = feed.refresh;
  const insightActions: InsightActions = {
    onApply: (insight) => act(() => api.applyInsight(tenantId, insight.insight_id)).finally(refreshFeed),
    onDismiss: (insight) => act(() => api.dismissInsight(tenantId, insight.insight_id)).finally(refreshFeed),
    onUseText: closed ? undefined : (text) => setDraft((previous) => ({ text, serial: (previous?.serial ?? 0) + 1 })),
  };
  const macroAgents = (agents ?? []).filter((agent) => agent.active && agent.macro);

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
        <MacroBar agents={macroAgents} onPress={(agent) => act(() => api.pressMacro(tenantId, conversationId, agent.agent_id)).finally(refreshFeed)} />
        <Composer disabled={closed} draft={draft} onSend={(text) => act(() => api.sendMessage(tenantId, conversationId, text))} />
      </div>
      <div className="conversation-side">
        <InsightFeed insights={feed.data?.insights} error={feed.error} {...insightActions} />
        <DetailsPanel conversation={conversation} />
      </div>
    </section>
  );
}
