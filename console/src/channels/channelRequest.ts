// Channel form state and the request bodies built from a provider's field lists (GET /api/providers).
import type { Channel, ChannelPatch, NewChannel, ProviderSpec } from '../api/types';

export interface ChannelFormState {
  provider: string;
  displayName: string;
  businessPhone: string;
  config: Record<string, string>;
  /** Typed secrets only: never pre-filled, an empty one is not sent. */
  secrets: Record<string, string>;
}

export function emptyChannelForm(provider: string): ChannelFormState {
  return { provider, displayName: '', businessPhone: '', config: {}, secrets: {} };
}

export function channelToForm(channel: Channel): ChannelFormState {
  return {
    provider: channel.provider,
    displayName: channel.display_name ?? '',
    businessPhone: channel.business_phone ?? '',
    config: Object.fromEntries(Object.entries(channel.config ?? {}).map(([key, value]) => [key, value == null ? '' : String(value)])),
    secrets: {},
  };
}

function filled(fields: ProviderSpec['config_fields'], values: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const field of fields) {
    const value = (values[field.name] ?? '').trim();
    if (value) result[field.name] = value;
  }
  return result;
}

/** POST body: the provider's config and secret fields that were filled in. */
export function buildCreateRequest(spec: ProviderSpec, form: ChannelFormState): NewChannel {
  const request: NewChannel = {
    provider: spec.provider,
    config: filled(spec.config_fields, form.config),
    secrets: filled(spec.secret_fields, form.secrets),
  };
  if (form.displayName.trim()) request.display_name = form.displayName.trim();
  if (form.businessPhone.trim()) request.business_phone = form.businessPhone.trim();
  return request;
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => a[key] === b[key]);
}

/**
 * PATCH body: only what changed. The config goes as the provider's listed fields that are filled in (the
 * server merges them over the stored config, and refuses keys the provider does not list, such as the
 * webhook_url it keeps for Twilio); a secret left empty keeps the stored one, so only typed secrets go.
 */
export function buildUpdateRequest(spec: ProviderSpec, form: ChannelFormState, channel: Channel): ChannelPatch {
  const patch: ChannelPatch = {};
  if (form.displayName.trim() !== (channel.display_name ?? '')) patch.display_name = form.displayName.trim();
  if (form.businessPhone.trim() !== (channel.business_phone ?? '')) patch.business_phone = form.businessPhone.trim();
  const config = filled(spec.config_fields, form.config);
  const current = filled(spec.config_fields, channelToForm(channel).config);
  if (!sameMap(config, current)) patch.config = config;
  const secrets = filled(spec.secret_fields, form.secrets);
  if (Object.keys(secrets).length) patch.secrets = secrets;
  return patch;
}
