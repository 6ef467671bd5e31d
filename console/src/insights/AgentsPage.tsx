// "Agentes de IA" (owners and admins): the tenant's insight agents with their switches, the template library,
// the builder (/agentes-ia/novo, /agentes-ia/<agent_id>) and, for the owner, the Meta Conversions API settings.
import { useEffect, useState } from 'react';
import { useLocation, useNavigate, useParams } from 'react-router-dom';
import type { InsightAgent, InsightTemplate } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { insightModelNames, t } from '../i18n/pt-BR';
import { AgentBuilder } from './AgentBuilder';
import { emptyForm, specToForm } from './builderForm';
import { ConversionsSettingsCard } from './ConversionsSettings';
import { triggerSummary } from './describe';
import { useInsightAgents } from './useInsights';

export const NEW_AGENT_PATH = 'novo';

function AgentSwitch({ agent, busy, onToggle }: { agent: InsightAgent; busy: boolean; onToggle: () => void }) {
  return (
    <label className={`switch${agent.active ? ' on' : ''}`}>
      <input
        type="checkbox"
        role="switch"
        checked={agent.active}
        disabled={busy}
        aria-checked={agent.active}
        aria-label={t.insightAgents.switchLabel(agent.name, agent.active)}
        onChange={onToggle}
        data-testid="agent-card-toggle"
      />
      <span className="switch-track" aria-hidden="true" />
      <span className="small">{agent.active ? t.insightAgents.active : t.insightAgents.inactive}</span>
    </label>
  );
}

function AgentCard({
  agent,
  templateName,
  busy,
  onToggle,
  onEdit,
}: {
  agent: InsightAgent;
  templateName: string | null;
  busy: boolean;
  onToggle: () => void;
  onEdit: () => void;
}) {
  return (
    <article
      className={`card agent-card${agent.active ? '' : ' agent-card-off'}`}
      data-testid="agent-card"
      data-agent-id={agent.agent_id}
      data-active={String(agent.active)}
      data-template={agent.template ?? ''}
    >
      <div className="agent-card-head">
        <span className="agent-icon" aria-hidden="true">
          {agent.icon}
        </span>
        <h3 className="agent-name" data-testid="agent-card-name">
          {agent.name}
        </h3>
        <AgentSwitch agent={agent} busy={busy} onToggle={onToggle} />
      </div>
      {agent.description ? <p className="agent-description">{agent.description}</p> : null}
      <ul className="agent-triggers small" data-testid="agent-card-triggers">
        {agent.triggers.map((trigger, index) => (
          <li key={index}>⚡ {triggerSummary(trigger)}</li>
        ))}
      </ul>
      <div className="agent-card-footer">
        <span className="muted small">
          {t.insightAgents.model(insightModelNames[agent.model])}
          {templateName ? ` · ${t.insightAgents.fromTemplate(templateName)}` : ''}
        </span>
        <button type="button" className="link" onClick={onEdit} data-testid="agent-card-edit">
          {t.insightAgents.edit}
        </button>
      </div>
    </article>
  );
}

function TemplateCard({ template, busy, onAdd }: { template: InsightTemplate; busy: boolean; onAdd: () => void }) {
  return (
    <article className="card template-card" data-testid="template-card" data-template={template.key}>
      <div className="agent-card-head">
        <span className="agent-icon" aria-hidden="true">
          {template.icon}
        </span>
        <h3 className="agent-name">{template.name}</h3>
      </div>
      <p className="agent-description">{template.description}</p>
      <ul className="agent-triggers small">
        {template.spec.triggers.map((trigger, index) => (
          <li key={index}>⚡ {triggerSummary(trigger)}</li>
        ))}
      </ul>
      <div className="agent-card-footer">
        <span />
        <button type="button" className="primary" disabled={busy} onClick={onAdd} data-testid="template-add">
          {busy ? t.insightAgents.adding : t.insightAgents.add}
        </button>
      </div>
    </article>
  );
}

function Gallery() {
  const api = useApi();
  const { tenantId, role } = useSession();
  const navigate = useNavigate();
  const { agents, error, reload } = useInsightAgents();
  const [templates, setTemplates] = useState<InsightTemplate[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    api.listInsightTemplates(tenantId).then(
      (answer) => !cancelled && setTemplates(answer.templates),
      (caught: unknown) => !cancelled && setActionError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId]);

  async function run(id: string, action: () => Promise<void>) {
    setBusy(id);
    setActionError(null);
    try {
      await action();
    } catch (caught) {
      setActionError(caught);
    } finally {
      setBusy(null);
    }
  }

  const templateNames = new Map((templates ?? []).map((template) => [template.key, template.name]));

  return (
    <div className="page insight-agents" data-testid="agents-page">
      <header className="page-header">
        <h1>{t.insightAgents.title}</h1>
        <button type="button" className="primary" onClick={() => navigate(`/agentes-ia/${NEW_AGENT_PATH}`)} data-testid="agent-new">
          {t.insightAgents.create}
        </button>
      </header>
      <p className="muted">{t.insightAgents.intro}</p>
      <ErrorBanner error={actionError ?? error} />

      <h2>{t.insightAgents.mine}</h2>
      {!agents ? (
        !error ? <div className="muted">{t.loading}</div> : null
      ) : agents.length === 0 ? (
        <p className="muted" data-testid="agents-empty">
          {t.insightAgents.empty}
        </p>
      ) : (
        <div className="agent-grid" data-testid="agent-list">
          {agents.map((agent) => (
            <AgentCard
              key={agent.agent_id}
              agent={agent}
              templateName={agent.template ? (templateNames.get(agent.template) ?? null) : null}
              busy={busy === agent.agent_id}
              onToggle={() =>
                void run(agent.agent_id, async () => {
                  await api.setInsightAgentActive(tenantId, agent.agent_id, !agent.active);
                  reload();
                })
              }
              onEdit={() => navigate(`/agentes-ia/${encodeURIComponent(agent.agent_id)}`)}
            />
          ))}
        </div>
      )}

      <h2>{t.insightAgents.library}</h2>
      <p className="muted small">{t.insightAgents.libraryIntro}</p>
      {templates ? (
        <div className="agent-grid" data-testid="template-library">
          {templates.map((template) => (
            <TemplateCard
              key={template.key}
              template={template}
              busy={busy === `template:${template.key}`}
              onAdd={() =>
                void run(`template:${template.key}`, async () => {
                  const added = await api.addInsightTemplate(tenantId, template.key);
                  navigate(`/agentes-ia/${encodeURIComponent(added.agent_id)}`, { state: { added: true } });
                })
              }
            />
          ))}
        </div>
      ) : (
        <div className="muted">{t.loading}</div>
      )}

      {role === 'owner' ? <ConversionsSettingsCard /> : null}
    </div>
  );
}

function BuilderPage({ agentId }: { agentId: string }) {
  const api = useApi();
  const { tenantId } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const creating = agentId === NEW_AGENT_PATH;
  const [agent, setAgent] = useState<InsightAgent | null>(null);
  const [error, setError] = useState<unknown>(null);
  const back = () => navigate('/agentes-ia');

  useEffect(() => {
    if (creating) return undefined;
    let cancelled = false;
    api.getInsightAgent(tenantId, agentId).then(
      (loaded) => !cancelled && setAgent(loaded),
      (caught: unknown) => !cancelled && setError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, agentId, creating]);

  if (creating) {
    return (
      <div className="page" data-testid="builder-page">
        <AgentBuilder
          initial={emptyForm()}
          title={t.builder.newTitle}
          onSave={async (spec) => {
            await api.createInsightAgent(tenantId, spec);
            back();
          }}
          onCancel={back}
        />
      </div>
    );
  }
  if (!agent) {
    return (
      <div className="page">
        {error ? (
          <>
            <ErrorBanner error={error} />
            <button type="button" className="link" onClick={back}>
              {t.builder.back}
            </button>
          </>
        ) : (
          <div className="muted">{t.loading}</div>
        )}
      </div>
    );
  }
  const added = (location.state as { added?: boolean } | null)?.added;
  return (
    <div className="page" data-testid="builder-page" data-agent-id={agent.agent_id}>
      <AgentBuilder
        key={agent.agent_id}
        initial={specToForm(agent)}
        title={t.builder.editTitle(agent.name)}
        note={added ? t.insightAgents.added : null}
        onSave={async (spec) => {
          await api.updateInsightAgent(tenantId, agent.agent_id, spec);
          back();
        }}
        onDelete={async () => {
          await api.deleteInsightAgent(tenantId, agent.agent_id);
          back();
        }}
        onCancel={back}
      />
    </div>
  );
}

export function AgentsPage() {
  const { agentId } = useParams();
  return agentId ? <BuilderPage key={agentId} agentId={agentId} /> : <Gallery />;
}
