// The conversation thread: lead on the left, agent and seller on the right, the agent's decisions between them.
import { useEffect, useRef } from 'react';
import type { Decision, Message } from '../api/types';
import { clockTime, decisionText, understandingReasonText } from '../i18n/format';
import { messageStatusNames, messageTypeNames, t, understandingLabels } from '../i18n/pt-BR';
import { localizedMessageText, mediaKind } from './media';
import { type SuggestionActions, SuggestionCard } from './SuggestionCard';
import { buildTimeline } from './timeline';

const TICKS: Record<string, string> = { queued: '◔', held: '◔', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '⚠' };

function MessageBubble({ message }: { message: Message }) {
  const side = message.role === 'lead' ? 'left' : 'right';
  return (
    <div
      className={`message message-${message.role} message-${side}`}
      data-testid="message"
      data-role={message.role}
      data-message-id={message.message_id}
      data-status={message.status ?? ''}
    >
      {message.role === 'seller' ? (
        <div className="message-author" data-testid="message-author">
          {message.author_email ?? t.inbox.sellerFallback}
        </div>
      ) : null}
      {message.role === 'agent' ? <div className="message-author">{t.inbox.agentPrefix}</div> : null}
      <div className="message-text">{localizedMessageText(message.text, messageTypeNames)}</div>
      {message.understanding ? <UnderstandingNote message={message} /> : null}
      <div className="message-meta">
        {clockTime(message.at)}
        {message.role !== 'lead' && message.status ? (
          <span
            className={`ticks ticks-${message.status}`}
            title={messageStatusNames[message.status]}
            aria-label={messageStatusNames[message.status]}
            data-testid="message-status"
          >
            {TICKS[message.status]}
          </span>
        ) : null}
      </div>
    </div>
  );
}

/** Under a medium the lead sent: its transcription or extracted text, or why it was not understood. */
function UnderstandingNote({ message }: { message: Message }) {
  const understanding = message.understanding;
  if (!understanding) return null;
  const { status, text, reason, offline } = understanding;
  return (
    <div className={`understanding understanding-${status}`} data-testid="message-understanding" data-status={status}>
      {status === 'understood' ? (
        <>
          <div className="understanding-label">
            {understandingLabels[mediaKind(message)]}
            {offline ? <span className="badge badge-muted">{t.inbox.offlineUnderstanding}</span> : null}
          </div>
          <div className="understanding-text">{text}</div>
        </>
      ) : (
        <div className="understanding-label" data-reason={reason ?? ''}>
          {status === 'rejected' ? t.inbox.rejectedMedia(understandingReasonText(reason)) : t.inbox.notUnderstood(understandingReasonText(reason))}
        </div>
      )}
    </div>
  );
}

function DecisionLine({ decision }: { decision: Decision }) {
  const details = [decision.specialist ? `${t.inbox.specialist}: ${decision.specialist}` : null, decision.stage]
    .filter(Boolean)
    .join(' · ');
  return (
    <div
      className={`decision decision-${decision.action}`}
      data-testid="decision"
      data-decision-id={decision.decision_id}
      data-action={decision.action}
      data-reasons={decision.reasons.join(',')}
      title={details || undefined}
    >
      <span className="decision-text">{decisionText(decision.action, decision.reasons)}</span>
      <span className="decision-time"> · {clockTime(decision.decided_at)}</span>
      {decision.offline_model ? <span className="badge badge-muted">{t.inbox.offlineModel}</span> : null}
      {decision.knowledge_used?.length ? (
        <div className="decision-sources" data-testid="decision-sources" data-entry-ids={decision.knowledge_used.map((source) => source.entry_id).join(',')}>
          {t.inbox.sources}: {decision.knowledge_used.map((source) => source.title).join(', ')}
        </div>
      ) : null}
      {decision.open_question ? (
        <div className="decision-open-question" data-testid="decision-open-question">
          {t.inbox.openQuestion}: “{decision.open_question}”
        </div>
      ) : null}
      {decision.handoff_summary ? (
        <div className="decision-handoff">
          {t.inbox.handoffSummary}: {decision.handoff_summary}
        </div>
      ) : null}
    </div>
  );
}

export function Thread({
  messages,
  decisions,
  suggestionsDisabled = false,
  ...actions
}: { messages: Message[]; decisions: Decision[]; suggestionsDisabled?: boolean } & SuggestionActions) {
  const items = buildTimeline(messages, decisions);
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'end' });
  }, [items.length]);

  return (
    <div className="thread" data-testid="thread">
      {items.map((item) =>
        item.kind === 'message' ? (
          <MessageBubble key={`m:${item.message.message_id}`} message={item.message} />
        ) : (
          <div key={`d:${item.decision.decision_id}`} className="decision-block">
            <DecisionLine decision={item.decision} />
            {item.decision.suggestions.map((suggestion) => (
              <SuggestionCard
                key={suggestion.index}
                decisionId={item.decision.decision_id}
                suggestion={suggestion}
                disabled={suggestionsDisabled}
                {...actions}
              />
            ))}
          </div>
        ),
      )}
      <div ref={end} />
    </div>
  );
}
