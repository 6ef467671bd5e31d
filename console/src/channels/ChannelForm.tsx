// Connect or edit a channel; its fields come from the provider's description (config fields, secret fields).
import { type FormEvent, useState } from 'react';
import type { Channel, ChannelPatch, NewChannel, ProviderSpec } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { fieldErrors } from '../i18n/format';
import { channelFieldLabels, providerNames, t } from '../i18n/pt-BR';
import { type ChannelFormState, buildCreateRequest, buildUpdateRequest, channelToForm, emptyChannelForm } from './channelRequest';

const label = (name: string) => channelFieldLabels[name] ?? name;

export function ChannelForm({
  providers,
  channel,
  onCreate,
  onUpdate,
  onCancel,
}: {
  providers: ProviderSpec[];
  channel?: Channel;
  onCreate: (request: NewChannel) => Promise<unknown>;
  onUpdate: (channelId: string, request: ChannelPatch) => Promise<unknown>;
  onCancel: () => void;
}) {
  const [form, setForm] = useState<ChannelFormState>(() =>
    channel ? channelToForm(channel) : emptyChannelForm(providers[0]?.provider ?? ''),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const errors = fieldErrors(error);
  const spec = providers.find((provider) => provider.provider === form.provider);
  const editing = channel !== undefined;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!spec) return;
    setBusy(true);
    setError(null);
    try {
      if (channel) await onUpdate(channel.channel_id, buildUpdateRequest(spec, form, channel));
      else await onCreate(buildCreateRequest(spec, form));
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  const placed = [
    'provider',
    'display_name',
    'business_phone',
    ...(spec?.config_fields ?? []).map((field) => `config.${field.name}`),
    ...(spec?.secret_fields ?? []).map((field) => `secrets.${field.name}`),
  ];

  return (
    <form className="card channel-form" onSubmit={(event) => void submit(event)} data-testid="channel-form" autoComplete="off">
      <h2>{editing ? t.channels.editTitle(channel.channel_id) : t.channels.newTitle}</h2>
      <label>
        {t.channels.provider}
        <select
          value={form.provider}
          disabled={editing}
          onChange={(event) => setForm({ ...emptyChannelForm(event.target.value), displayName: form.displayName, businessPhone: form.businessPhone })}
          data-testid="channel-provider"
        >
          {providers.map((provider) => (
            <option key={provider.provider} value={provider.provider}>
              {providerNames[provider.provider] ?? provider.provider}
            </option>
          ))}
        </select>
      </label>
      <FieldErrors errors={errors} field="provider" />
      <label>
        {t.channels.displayName}
        <input value={form.displayName} onChange={(event) => setForm({ ...form, displayName: event.target.value })} data-testid="channel-display-name" />
      </label>
      <FieldErrors errors={errors} field="display_name" />
      <label>
        {t.channels.businessPhone}
        <input
          value={form.businessPhone}
          placeholder="+5511999999999"
          onChange={(event) => setForm({ ...form, businessPhone: event.target.value })}
          data-testid="channel-business-phone"
        />
      </label>
      <FieldErrors errors={errors} field="business_phone" />
      {spec && spec.config_fields.length ? (
        <fieldset>
          <legend>{t.channels.config}</legend>
          {spec.config_fields.map((field) => (
            <div key={field.name}>
              <label>
                <span>
                  {label(field.name)}
                  {field.required ? <span className="muted"> ({t.required})</span> : null}
                </span>
                <input
                  name={`config.${field.name}`}
                  required={field.required}
                  value={form.config[field.name] ?? ''}
                  onChange={(event) => setForm({ ...form, config: { ...form.config, [field.name]: event.target.value } })}
                  data-testid={`channel-config-${field.name}`}
                />
              </label>
              <FieldErrors errors={errors} field={`config.${field.name}`} />
            </div>
          ))}
        </fieldset>
      ) : null}
      {spec && spec.secret_fields.length ? (
        <fieldset>
          <legend>{t.channels.secrets}</legend>
          {spec.secret_fields.map((field) => {
            const isSet = channel?.secrets_set.includes(field.name) ?? false;
            return (
              <div key={field.name}>
                <label>
                  <span>
                    {label(field.name)}
                    {field.required && !isSet ? <span className="muted"> ({t.required})</span> : null}
                  </span>
                  <input
                    type="password"
                    name={`secrets.${field.name}`}
                    autoComplete="new-password"
                    required={field.required && !isSet}
                    placeholder={isSet ? t.channels.secretKeep : ''}
                    value={form.secrets[field.name] ?? ''}
                    onChange={(event) => setForm({ ...form, secrets: { ...form.secrets, [field.name]: event.target.value } })}
                    data-testid={`channel-secret-${field.name}`}
                  />
                </label>
                <FieldErrors errors={errors} field={`secrets.${field.name}`} />
              </div>
            );
          })}
        </fieldset>
      ) : null}
      <ErrorBanner error={error} placedFields={placed} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy || !spec} data-testid="channel-submit">
          {editing ? t.channels.save : t.channels.create}
        </button>
        <button type="button" onClick={onCancel} data-testid="channel-cancel">
          {t.cancel}
        </button>
      </div>
    </form>
  );
}
