// A secret shown once (a webhook signing secret, an API key): the value, a copy button and the warning.
import { useState } from 'react';
import { t } from '../i18n/pt-BR';
import { copyText } from './integrationsText';

export function SecretReveal({ title, secret, onDone }: { title: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret-reveal" role="status" data-testid="secret-reveal">
      <strong>{title}</strong>
      <p>
        <code className="secret-value" data-testid="secret-value">
          {secret}
        </code>{' '}
        <button type="button" onClick={() => void copyText(secret).then(setCopied)} data-testid="secret-copy">
          {copied ? t.integrations.copied : t.integrations.copy}
        </button>
      </p>
      <p className="small" data-testid="secret-warning">
        {t.integrations.secretWarning}
      </p>
      <button type="button" onClick={onDone} data-testid="secret-done">
        {t.integrations.done}
      </button>
    </div>
  );
}
