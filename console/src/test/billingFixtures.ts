// Billing fixtures shaped as the issue 9 admin API answers (GET /api/plans, GET /api/tenants/{t}/billing).
import type { Billing, ClientWorkspace, Plan, PlanCatalogue, QuotaLevel, QuotaName, UsageLine } from '../api/types';

export const starter: Plan = {
  plan_id: 'starter',
  name: 'Starter',
  price_cents: 19700,
  grace_percent: 10,
  quotas: { agent_replies: 1000, channels: 1, seats: 3, insight_agents: 3, knowledge_mb: 20, workspaces: 0 },
};
export const pro: Plan = {
  plan_id: 'pro',
  name: 'Pro',
  price_cents: 49700,
  grace_percent: 10,
  quotas: { agent_replies: 5000, channels: 5, seats: 15, insight_agents: 30, knowledge_mb: 200, workspaces: 0 },
};
export const agency: Plan = {
  plan_id: 'agency',
  name: 'Agency',
  price_cents: 149700,
  grace_percent: 10,
  quotas: { agent_replies: 5000, channels: 5, seats: 15, insight_agents: 30, knowledge_mb: 200, workspaces: 20 },
};

export const catalogue: PlanCatalogue = { currency: 'brl', trial_days: 14, plans: [starter, pro, agency] };

/** A usage line as the API computes it (percent of the limit; the level given or ok). */
export function usage(quota: QuotaName, used: number, limit: number, level: QuotaLevel = 'ok', ceiling = limit): UsageLine {
  return { quota, used, limit, ceiling, percent: limit > 0 ? Math.round((used * 100) / limit) : 0, level };
}

export function usageOf(plan: Plan, replies = 120): UsageLine[] {
  const lines = [
    usage('agent_replies', replies, plan.quotas.agent_replies, 'ok', plan.quotas.agent_replies + (plan.quotas.agent_replies * plan.grace_percent) / 100),
    usage('channels', 1, plan.quotas.channels),
    usage('seats', 2, plan.quotas.seats),
    usage('insight_agents', 0, plan.quotas.insight_agents),
    usage('knowledge_mb', 0.4, plan.quotas.knowledge_mb),
  ];
  return plan.quotas.workspaces > 0 ? [...lines, usage('workspaces', 0, plan.quotas.workspaces)] : lines;
}

/** The billing of the home workspace "clinica", owned by the caller: a trial of Pro ending on 5 December. */
export function billing(overrides: Partial<Billing> = {}): Billing {
  const plan = overrides.plan ?? pro;
  return {
    account_id: 'clinica',
    home_tenant_id: 'clinica',
    home_tenant_name: 'Clínica',
    manages_billing: true,
    plan,
    status: 'trialing',
    trial_ends_at: '2026-12-05T15:00:00Z',
    past_due_since: null,
    grace_ends_at: null,
    current_period_end: null,
    cancel_at_period_end: false,
    has_subscription: false,
    agent_on: true,
    read_only: false,
    stop_reason: null,
    month: '2026-11',
    usage: usageOf(plan),
    notices: [],
    workspaces: [],
    ...overrides,
  };
}

/** An active subscription to `plan`, renewing on 22 December. */
export function activeBilling(plan: Plan, overrides: Partial<Billing> = {}): Billing {
  return billing({
    plan,
    status: 'active',
    trial_ends_at: null,
    current_period_end: '2026-12-22T12:00:00Z',
    has_subscription: true,
    ...overrides,
  });
}

export function clientWorkspace(tenantId: string, name: string, replies = 0): ClientWorkspace {
  return { tenant_id: tenantId, name, created_at: '2026-11-20T12:00:00Z', usage: [usage('agent_replies', replies, 5000, 'ok', 5500)] };
}
