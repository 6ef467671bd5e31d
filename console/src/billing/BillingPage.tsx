// "Assinatura" (/assinatura, owners and admins): the plan and its status, usage bars per quota, the plans with
// Checkout or a plan change, the Stripe portal, the return from Checkout, and an agency's client workspaces.
import { useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import type { Billing, Plan, PlanCatalogue } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { t } from '../i18n/pt-BR';
import { startPoller } from '../polling/poller';
import { useBilling } from './BillingContext';
import { monthName, pricePerMonth, renewalText, statusBadge } from './billingText';
import { ClientWorkspaces } from './ClientWorkspaces';
import { PlanGrid, planAction } from './PlanGrid';
import { browserNavigation } from './redirect';
import { UsageBar } from './UsageBar';
import './billing.css';

/** After Checkout, how often and how long to look for the webhook's activation. */
export const CHECKOUT_POLL_MS = 2_000;
export const CHECKOUT_WAIT_MS = 30_000;

type CheckoutState = 'waiting' | 'done' | 'slow' | 'canceled' | null;

export function BillingPage() {
  const api = useApi();
  const { tenantId } = useSession();
  const { billing, error, refresh, publish } = useBilling();
  const [searchParams] = useSearchParams();
  const [catalogue, setCatalogue] = useState<PlanCatalogue | null>(null);
  const [plansError, setPlansError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<Plan | null>(null);
  const [changed, setChanged] = useState<string | null>(null);
  const [checkout, setCheckout] = useState<CheckoutState>(() => {
    const value = searchParams.get('checkout');
    return value === 'success' ? 'waiting' : value === 'cancel' ? 'canceled' : null;
  });

  // The shell may have fetched billing a minute ago: opening the page shows it fresh (channels just added...).
  const loadedBefore = useRef(billing !== undefined);
  useEffect(() => {
    if (loadedBefore.current) refresh();
  }, [refresh]);

  useEffect(() => {
    let cancelled = false;
    api.getPlans().then(
      (loaded) => !cancelled && setCatalogue(loaded),
      (caught: unknown) => !cancelled && setPlansError(caught),
    );
    return () => {
      cancelled = true;
    };
  }, [api]);

  // Back from Checkout: Stripe's webhook activates the subscription within seconds; look every 2 s for 30 s.
  const waiting = checkout === 'waiting';
  useEffect(() => {
    if (!waiting) return undefined;
    const poller = startPoller<Billing>({
      load: async (etag) => api.getBilling(tenantId, etag),
      intervalMs: CHECKOUT_POLL_MS,
      onData: publish,
    });
    const timeout = setTimeout(() => setCheckout((state) => (state === 'waiting' ? 'slow' : state)), CHECKOUT_WAIT_MS);
    return () => {
      poller.stop();
      clearTimeout(timeout);
    };
  }, [waiting, api, tenantId, publish]);

  const active = billing?.status === 'active';
  useEffect(() => {
    if (active) setCheckout((state) => (state === 'waiting' || state === 'slow' ? 'done' : state));
  }, [active]);

  async function choose(plan: Plan) {
    if (!billing) return;
    setActionError(null);
    setChanged(null);
    if (planAction(plan, billing) === 'current') return;
    if (billing.has_subscription) {
      setConfirming(plan);
      return;
    }
    setBusy(plan.plan_id);
    try {
      const session = await api.startCheckout(tenantId, plan.plan_id);
      browserNavigation.assign(session.url);
    } catch (caught) {
      setActionError(caught);
      setBusy(null);
    }
  }

  async function confirmChange(plan: Plan) {
    setBusy(plan.plan_id);
    setActionError(null);
    try {
      publish(await api.changePlan(tenantId, plan.plan_id));
      setChanged(plan.name);
      setConfirming(null);
    } catch (caught) {
      setActionError(caught);
    } finally {
      setBusy(null);
    }
  }

  async function openPortal() {
    setBusy('portal');
    setActionError(null);
    try {
      browserNavigation.assign((await api.openBillingPortal(tenantId)).url);
    } catch (caught) {
      setActionError(caught);
      setBusy(null);
    }
  }

  return (
    <div className="page billing-page" data-testid="billing-page">
      <header className="page-header">
        <h1>{t.billing.title}</h1>
      </header>
      <CheckoutNotice state={checkout} planName={billing?.plan.name ?? ''} />
      {billing ? null : error ? <ErrorBanner error={error} /> : <p className="muted">{t.loading}</p>}
      {billing ? (
        <BillingDetails
          billing={billing}
          home={billing.home_tenant_id === tenantId}
          currency={catalogue?.currency ?? 'brl'}
          trialDays={catalogue?.trial_days ?? 14}
          onPortal={() => void openPortal()}
          portalBusy={busy === 'portal'}
          changed={changed}
          actionError={actionError}
        />
      ) : null}
      {billing ? (
        <section data-testid="plans">
          <h2>{t.billing.plansTitle}</h2>
          <ErrorBanner error={plansError} />
          {confirming ? (
            <ConfirmPlanChange
              plan={confirming}
              billing={billing}
              currency={catalogue?.currency ?? 'brl'}
              busy={busy === confirming.plan_id}
              onConfirm={() => void confirmChange(confirming)}
              onCancel={() => setConfirming(null)}
            />
          ) : null}
          {busy && busy !== 'portal' && !billing.has_subscription ? <p className="muted">{t.billing.redirecting}</p> : null}
          {catalogue ? (
            <PlanGrid catalogue={catalogue} billing={billing} canChoose={billing.manages_billing} busy={busy !== null} onChoose={(plan) => void choose(plan)} />
          ) : plansError ? null : (
            <p className="muted">{t.billing.loadingPlans}</p>
          )}
        </section>
      ) : null}
      {billing && billing.manages_billing && billing.plan.quotas.workspaces > 0 ? <ClientWorkspaces /> : null}
    </div>
  );
}

function CheckoutNotice({ state, planName }: { state: CheckoutState; planName: string }) {
  if (!state) return null;
  const text = {
    waiting: t.billing.checkoutWaiting,
    done: t.billing.checkoutDone(planName),
    slow: t.billing.checkoutSlow,
    canceled: t.billing.checkoutCanceled,
  }[state];
  const tone = state === 'slow' ? ' notice-warning' : state === 'canceled' ? ' notice-neutral' : '';
  return (
    <div className={`notice${tone}`} role="status" data-testid="checkout-notice" data-state={state}>
      {text}
    </div>
  );
}

function BillingDetails({
  billing,
  home,
  currency,
  trialDays,
  onPortal,
  portalBusy,
  changed,
  actionError,
}: {
  billing: Billing;
  /** This workspace is the billing account's home (not a client workspace). */
  home: boolean;
  currency: string;
  trialDays: number;
  onPortal: () => void;
  portalBusy: boolean;
  changed: string | null;
  actionError: unknown;
}) {
  const badge = statusBadge(billing);
  const renewal = renewalText(billing);
  const stopped = billing.read_only || !billing.agent_on;
  const hasCustomer = billing.has_subscription || billing.status !== 'trialing';
  return (
    <>
      {stopped ? (
        <div className="notice notice-alert" role="alert" data-testid="billing-stopped" data-reason={billing.stop_reason ?? ''}>
          {t.billing.stopped[billing.stop_reason ?? 'canceled']}
        </div>
      ) : null}
      <section className="card billing-plan-card" data-testid="billing-plan" data-plan-id={billing.plan.plan_id} data-status={billing.status}>
        <span className="plan-name" data-testid="billing-plan-name">
          {billing.plan.name}
        </span>
        <span className="plan-price">{pricePerMonth(billing.plan.price_cents, currency)}</span>
        <div className="plan-meta">
          <span
            className={`badge billing-status tone-${badge.tone}`}
            data-testid="billing-status"
            data-status={billing.status}
            data-stop-reason={billing.stop_reason ?? ''}
          >
            {badge.text}
          </span>
          {renewal ? (
            <span className="muted" data-testid="billing-renewal">
              {renewal}
            </span>
          ) : null}
        </div>
        {billing.status === 'trialing' && !billing.has_subscription && !billing.stop_reason ? <p className="muted">{t.billing.trialNote(trialDays)}</p> : null}
        <div className="plan-actions">
          {billing.manages_billing ? (
            hasCustomer ? (
              <>
                <button type="button" onClick={onPortal} disabled={portalBusy} data-testid="billing-portal">
                  {t.billing.portal}
                </button>
                <span className="muted small">{t.billing.portalHelp}</span>
              </>
            ) : null
          ) : (
            <span className="muted" data-testid="billing-managed-elsewhere">
              {home ? t.billing.ownerOnly : t.billing.managedElsewhere(billing.home_tenant_name)}
            </span>
          )}
        </div>
        {changed ? (
          <p className="ok" data-testid="plan-changed">
            {t.billing.changed(changed)}
          </p>
        ) : null}
        <ErrorBanner error={actionError} />
      </section>
      <section className="card" data-testid="billing-usage" data-month={billing.month}>
        <h2>{t.billing.usageTitle(monthName(billing.month))}</h2>
        <div className="usage-list">
          {billing.usage.map((line) => (
            <UsageBar key={line.quota} line={line} />
          ))}
        </div>
      </section>
    </>
  );
}

function ConfirmPlanChange({
  plan,
  billing,
  currency,
  busy,
  onConfirm,
  onCancel,
}: {
  plan: Plan;
  billing: Billing;
  currency: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const downgrade = plan.price_cents < billing.plan.price_cents;
  return (
    <div className="card plan-confirm" role="dialog" aria-label={t.billing.confirmTitle(plan.name)} data-testid="plan-confirm" data-plan-id={plan.plan_id}>
      <h3>{t.billing.confirmTitle(plan.name)}</h3>
      <p>{t.billing.confirmText(pricePerMonth(plan.price_cents, currency))}</p>
      {downgrade ? <p className="muted">{t.billing.confirmDowngrade}</p> : null}
      <div className="form-actions">
        <button type="button" className="primary" disabled={busy} onClick={onConfirm} data-testid="plan-confirm-yes">
          {busy ? t.saving : t.billing.confirm}
        </button>
        <button type="button" onClick={onCancel} disabled={busy} data-testid="plan-confirm-cancel">
          {t.cancel}
        </button>
      </div>
    </div>
  );
}
