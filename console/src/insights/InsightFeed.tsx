// Beside the inbox thread: the conversation's insights as they arrive, and the buttons of agents a seller can call.
import { useEffect, useState } from 'react';
import type { Insight, InsightAgent } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { type InsightActions, InsightCard } from './InsightCard';

export function InsightFeed({
  insights,
  error,
  ...actions
}: { insights: Insight[] | undefined; error: unknown } & InsightActions) {
  return (
    <section className="insight-feed" aria-label={t.insights.panelTitle} data-testid="insight-feed">
      <h3>{t.insights.panelTitle}</h3>
      <ErrorBanner error={error} />
      {!insights ? (
        !error ? <div className="muted small">{t.loading}</div> : null
      ) : insights.length === 0 ? (
        <p className="muted small" data-testid="insight-feed-empty">
          {t.insights.panelEmpty}
        </p>
      ) : (
        <div className="insight-list">
          {insights.map((insight) => (
            <InsightCard key={insight.insight_id} insight={insight} {...actions} />
          ))}
        </div>
      )}
    </section>
  );
}

/** How long "the agent is looking" stays under the buttons. */
export const MACRO_FEEDBACK_MS = 10_000;

/** One button per active agent with a macro trigger; pressing one asks it to look at this conversation now. */
export function MacroBar({ agents, onPress }: { agents: InsightAgent[]; onPress: (agent: InsightAgent) => Promise<unknown> }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [sent, setSent] = useState<InsightAgent | null>(null);
  useEffect(() => {
    if (!sent) return undefined;
    const timer = setTimeout(() => setSent(null), MACRO_FEEDBACK_MS);
    return () => clearTimeout(timer);
  }, [sent]);
  if (!agents.length) return null;

  async function press(agent: InsightAgent) {
    setBusy(agent.agent_id);
    setSent(null);
    try {
      await onPress(agent);
      setSent(agent);
    } catch {
      // The conversation view shows the error.
    } finally {
      setBusy(null);
    }
  }

  return (
    <div className="macro-bar" role="group" aria-label={t.insights.macros} data-testid="macro-bar">
      <span className="muted small">{t.insights.macros}:</span>
      {agents.map((agent) => (
        <button
          key={agent.agent_id}
          type="button"
          disabled={busy !== null}
          title={agent.description || undefined}
          onClick={() => void press(agent)}
          data-testid="macro-button"
          data-agent-id={agent.agent_id}
        >
          <span aria-hidden="true">{agent.icon}</span> {agent.name}
        </button>
      ))}
      {sent ? (
        <span className="ok small" role="status" data-testid="macro-feedback" data-agent-id={sent.agent_id}>
          {t.insights.macroSent(sent.name)}
        </span>
      ) : null}
    </div>
  );
}
