// "Integrações" (/integracoes, owners and admins): outbound webhooks and how to verify their signature, the
// public API's keys (owners), and RD Station CRM.
import { useSession } from '../app/context';
import { t } from '../i18n/pt-BR';
import { ApiKeysSection } from './ApiKeysSection';
import { CrmSection } from './CrmSection';
import { WebhooksSection } from './WebhooksSection';
import '../agenda/agenda.css';

const VERIFY_EXAMPLE = `import hmac, hashlib, time

def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    if abs(time.time() - int(parts["t"])) > 300:
        return False
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])`;

export function SignatureHelp() {
  return (
    <details className="card signature-help" data-testid="signature-help">
      <summary>
        <strong>{t.integrations.signatureTitle}</strong>
      </summary>
      <p>{t.integrations.signatureIntro}</p>
      <p>
        <code data-testid="signature-format">Piloto-Signature: t=&lt;segundos Unix&gt;,v1=&lt;HMAC-SHA256 em hex&gt;</code>
      </p>
      <ol>
        {t.integrations.signatureSteps.map((step) => (
          <li key={step}>{step}</li>
        ))}
      </ol>
      <pre>{VERIFY_EXAMPLE}</pre>
      <p className="muted small" data-testid="signature-docs">
        {t.integrations.signatureDocs}
      </p>
    </details>
  );
}

export function IntegrationsPage() {
  const { role } = useSession();
  return (
    <div className="page integrations-page" data-testid="integrations-page">
      <header className="page-header">
        <h1>{t.integrations.title}</h1>
      </header>
      <p className="muted">{t.integrations.intro}</p>
      <WebhooksSection />
      <SignatureHelp />
      {role === 'owner' ? (
        <ApiKeysSection />
      ) : (
        <section className="card">
          <h2>{t.integrations.apiKeysTitle}</h2>
          <p className="muted" data-testid="api-keys-owner-only">
            {t.integrations.apiKeysOwnerOnly}
          </p>
        </section>
      )}
      <CrmSection />
    </div>
  );
}
