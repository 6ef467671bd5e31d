// The plans with their quotas; for the billing manager a button on each: Checkout without a live subscription,
// a confirmed plan change with one.
import { type Billing, type Plan, type PlanCatalogue, QUOTA_NAMES } from '../api/types';
import { planQuotaText, t } from '../i18n/pt-BR';
import { formatAmount, pricePerMonth } from './billingText';

export type PlanAction = 'current' | 'upgrade' | 'change' | 'subscribe';

/** What choosing `plan` means for this workspace's subscription. */
export function planAction(plan: Plan, billing: Billing): PlanAction {
  const same = plan.plan_id === billing.plan.plan_id;
  if (same && billing.has_subscription) return 'current';
  if (plan.price_cents > billing.plan.price_cents) return 'upgrade';
  return billing.has_subscription ? 'change' : 'subscribe';
}

const ACTION_LABELS: Record<PlanAction, string> = {
  current: t.billing.currentPlan,
  upgrade: t.billing.upgrade,
  change: t.billing.change,
  subscribe: t.billing.subscribe,
};

export function PlanGrid({
  catalogue,
  billing,
  canChoose,
  busy,
  onChoose,
}: {
  catalogue: PlanCatalogue;
  billing: Billing;
  /** The caller manages this billing account (owner of the home workspace). */
  canChoose: boolean;
  busy: boolean;
  onChoose: (plan: Plan) => void;
}) {
  return (
    <div className="plan-grid" data-testid="plan-grid">
      {catalogue.plans.map((plan) => {
        const action = planAction(plan, billing);
        const trialPlan = !billing.has_subscription && billing.status === 'trialing' && plan.plan_id === billing.plan.plan_id;
        return (
          <section
            key={plan.plan_id}
            className={`card plan-option${action === 'current' ? ' current' : ''}`}
            data-testid="plan-card"
            data-plan-id={plan.plan_id}
            data-current={action === 'current'}
          >
            <h3 className="plan-name">{plan.name}</h3>
            <div className="plan-price">{pricePerMonth(plan.price_cents, catalogue.currency)}</div>
            {trialPlan ? <span className="badge tone-warning">{t.billing.trialPlan}</span> : null}
            <ul>
              {QUOTA_NAMES.filter((quota) => quota !== 'workspaces' || plan.quotas.workspaces > 0).map((quota) => (
                <li key={quota}>{planQuotaText[quota](formatAmount(quota, plan.quotas[quota]))}</li>
              ))}
            </ul>
            {canChoose ? (
              <button
                type="button"
                className={`plan-option-action${action === 'upgrade' ? ' primary' : ''}`}
                disabled={action === 'current' || busy}
                onClick={() => onChoose(plan)}
                data-testid="plan-action"
                data-action={action}
              >
                {ACTION_LABELS[action]}
              </button>
            ) : action === 'current' ? (
              <span className="badge tone-ok plan-option-action">{t.billing.currentPlan}</span>
            ) : null}
          </section>
        );
      })}
    </div>
  );
}
