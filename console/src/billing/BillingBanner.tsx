// The banner above every page when the workspace's service stopped, a payment is pending, or the month's
// agent replies passed 80% of the plan (owners and admins; it links to Assinatura).
import { Link } from 'react-router-dom';
import { t } from '../i18n/pt-BR';
import { bannerFor } from './billingText';
import { useBilling } from './BillingContext';
import './billing.css';

export function BillingBanner() {
  const { billing } = useBilling();
  const banner = billing ? bannerFor(billing) : null;
  if (!banner) return null;
  return (
    <div className={`billing-banner billing-banner-${banner.kind}`} role="status" data-testid="billing-banner" data-kind={banner.kind}>
      <span>{banner.text}</span>
      <Link to="/assinatura" data-testid="billing-banner-link">
        {t.billing.bannerLink}
      </Link>
    </div>
  );
}
