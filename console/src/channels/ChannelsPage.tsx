// "Canais": the tenant's WhatsApp channels (never a secret's value), and the form to connect one.
import { useCallback, useEffect, useState } from 'react';
import type { Channel, ProviderSpec } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { providerNames, t } from '../i18n/pt-BR';
import { ChannelForm } from './ChannelForm';

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="link"
      onClick={() =>
        void navigator.clipboard?.writeText(text).then(
          () => setCopied(true),
          () => undefined,
        )
      }
      data-testid="channel-copy-webhook"
    >
      {copied ? t.channels.copied : t.channels.copy}
    </button>
  );
}

export function ChannelsPage() {
  const api = useApi();
  const { tenantId } = useSession();
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [providers, setProviders] = useState<ProviderSpec[]>([]);
  const [editing, setEditing] = useState<Channel | 'new' | null>(null);
  const [error, setError] = useState<unknown>(null);

  const reload = useCallback(async () => {
    try {
      setChannels((await api.listChannels(tenantId)).channels);
    } catch (caught) {
      setError(caught);
    }
  }, [api, tenantId]);

  useEffect(() => {
    void reload();
    api.getProviders().then((answer) => setProviders(answer.providers), setError);
  }, [api, reload]);

  async function act(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
      await reload();
    } catch (caught) {
      setError(caught);
    }
  }

  const specOf = (provider: string) => providers.find((spec) => spec.provider === provider);

  return (
    <div className="page">
      <header className="page-header">
        <h1>{t.channels.title}</h1>
        {editing === null ? (
          <button type="button" className="primary" disabled={!providers.length} onClick={() => setEditing('new')} data-testid="channel-new">
            {t.channels.connect}
          </button>
        ) : null}
      </header>
      <ErrorBanner error={error} />
      {editing !== null && providers.length ? (
        <ChannelForm
          key={editing === 'new' ? 'new' : editing.channel_id}
          providers={providers}
          channel={editing === 'new' ? undefined : editing}
          onCreate={async (request) => {
            await api.createChannel(tenantId, request);
            setEditing(null);
            await reload();
          }}
          onUpdate={async (channelId, request) => {
            await api.updateChannel(tenantId, channelId, request);
            setEditing(null);
            await reload();
          }}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      {channels === null ? (
        <div className="muted">{t.loading}</div>
      ) : channels.length === 0 ? (
        <p className="muted" data-testid="channel-list-empty">
          {t.channels.empty}
        </p>
      ) : (
        <table className="table" data-testid="channel-list">
          <thead>
            <tr>
              <th>{t.channels.id}</th>
              <th>{t.channels.provider}</th>
              <th>{t.channels.displayName}</th>
              <th>{t.channels.phone}</th>
              <th>{t.channels.status}</th>
              <th>{t.channels.webhook}</th>
              <th>{t.channels.secrets}</th>
              <th>{t.channels.actions}</th>
            </tr>
          </thead>
          <tbody>
            {channels.map((channel) => {
              const secretNames = specOf(channel.provider)?.secret_fields.map((field) => field.name) ?? channel.secrets_set;
              return (
                <tr
                  key={channel.channel_id}
                  data-testid="channel-row"
                  data-channel-id={channel.channel_id}
                  data-provider={channel.provider}
                  data-webhook-url={channel.webhook_url}
                  data-enabled={String(channel.enabled)}
                >
                  <td data-testid="channel-id">{channel.channel_id}</td>
                  <td>{providerNames[channel.provider] ?? channel.provider}</td>
                  <td>{channel.display_name ?? t.none}</td>
                  <td>{channel.business_phone ?? t.none}</td>
                  <td>
                    <span className={`badge ${channel.enabled ? 'badge-ok' : 'badge-muted'}`}>
                      {channel.enabled ? t.channels.enabled : t.channels.disabled}
                    </span>
                  </td>
                  <td className="webhook">
                    <code data-testid="channel-webhook-url">{channel.webhook_url}</code> <CopyButton text={channel.webhook_url} />
                  </td>
                  <td>
                    <ul className="plain small">
                      {secretNames.map((name) => (
                        <li key={name} data-testid={`channel-secret-status-${name}`} data-set={String(channel.secrets_set.includes(name))}>
                          {name}: {channel.secrets_set.includes(name) ? `✓ ${t.channels.secretSet}` : t.channels.secretMissing}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td className="row-actions">
                    <button type="button" className="link" onClick={() => setEditing(channel)} data-testid="channel-edit">
                      {t.edit}
                    </button>
                    <button
                      type="button"
                      className="link"
                      onClick={() => void act(() => api.updateChannel(tenantId, channel.channel_id, { enabled: !channel.enabled }))}
                      data-testid="channel-toggle"
                    >
                      {channel.enabled ? t.channels.disable : t.channels.enable}
                    </button>
                    <button
                      type="button"
                      className="link danger"
                      onClick={() => {
                        if (window.confirm(t.channels.confirmDelete(channel.channel_id))) void act(() => api.deleteChannel(tenantId, channel.channel_id));
                      }}
                      data-testid="channel-delete"
                    >
                      {t.channels.delete}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
