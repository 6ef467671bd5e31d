// "Testar busca": what the agent would find in the knowledge base for a lead's question.
import { type FormEvent, useState } from 'react';
import type { KnowledgeSearchResults } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { knowledgeKindNames, t } from '../i18n/pt-BR';

const scoreFormat = new Intl.NumberFormat('pt-BR', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function SearchPanel({ onSearch }: { onSearch: (query: string) => Promise<KnowledgeSearchResults> }) {
  const [query, setQuery] = useState('');
  const [answer, setAnswer] = useState<(KnowledgeSearchResults & { query: string }) | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const asked = query.trim();
    if (!asked) return;
    setBusy(true);
    setError(null);
    try {
      setAnswer({ ...(await onSearch(asked)), query: asked });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-label={t.knowledge.tabSearch} data-testid="knowledge-search">
      <form className="card inline-form" role="search" onSubmit={(event) => void submit(event)}>
        <label className="grow">
          {t.knowledge.searchLabel}
          <input
            type="search"
            value={query}
            placeholder={t.knowledge.searchPlaceholder}
            onChange={(event) => setQuery(event.target.value)}
            data-testid="knowledge-search-input"
          />
        </label>
        <button type="submit" className="primary" disabled={busy || !query.trim()} data-testid="knowledge-search-submit">
          {busy ? t.knowledge.searching : t.knowledge.search}
        </button>
        <p className="muted small full">{t.knowledge.searchHelp}</p>
      </form>
      <ErrorBanner error={error} />
      {answer?.min_score !== undefined ? (
        <p className="muted small" data-testid="knowledge-search-min-score">
          {t.knowledge.minScore(scoreFormat.format(answer.min_score))}
        </p>
      ) : null}
      {answer ? (
        answer.results.length ? (
          <ol className="plain search-results" data-testid="knowledge-search-results" data-query={answer.query}>
            {answer.results.map((result, position) => (
              <li
                key={`${result.entry_id}:${position}`}
                className="card search-result"
                data-testid="knowledge-search-result"
                data-entry-id={result.entry_id}
                data-score={result.score}
              >
                <div className="search-result-header">
                  <strong>{result.title}</strong>
                  <span className="badge">{knowledgeKindNames[result.kind] ?? result.kind}</span>
                  <span className="muted small">
                    {t.knowledge.score}: {scoreFormat.format(result.score)}
                  </span>
                </div>
                <div className="knowledge-text">{result.text}</div>
              </li>
            ))}
          </ol>
        ) : (
          <p className="muted" data-testid="knowledge-search-empty">
            {t.knowledge.noResults}
          </p>
        )
      ) : null}
    </section>
  );
}
