import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import type { Channel, ProviderSpec } from '../api/types';
import { ChannelForm } from './ChannelForm';
import { buildUpdateRequest, channelToForm } from './channelRequest';

const providers: ProviderSpec[] = [
  {
    provider: 'meta',
    config_fields: [
      { name: 'phone_number_id', required: true },
      { name: 'api_base_url', required: false },
    ],
    secret_fields: [
      { name: 'app_secret', required: true },
      { name: 'verify_token', required: true },
      { name: 'access_token', required: true },
    ],
  },
  {
    provider: 'twilio',
    config_fields: [{ name: 'account_sid', required: true }],
    secret_fields: [{ name: 'auth_token', required: true }],
  },
];

const channel: Channel = {
  channel_id: 'meta-100000000000001',
  provider: 'meta',
  display_name: 'Clínica',
  business_phone: '+5511990009999',
  enabled: true,
  config: { phone_number_id: '100000000000001', api_base_url: 'http://127.0.0.1:8700/meta', webhook_url: 'kept by the server' },
  secrets_set: ['app_secret', 'verify_token', 'access_token'],
  webhook_url: 'https://example.test/webhooks/meta/meta-100000000000001',
};

const type = (testId: string, value: string) => fireEvent.change(screen.getByTestId(testId), { target: { value } });

describe('ChannelForm', () => {
  it('draws the provider fields (secrets as empty password inputs) and posts what was filled in', async () => {
    const onCreate = vi.fn().mockResolvedValue(undefined);
    render(<ChannelForm providers={providers} onCreate={onCreate} onUpdate={vi.fn()} onCancel={vi.fn()} />);
    for (const name of ['app_secret', 'verify_token', 'access_token']) {
      const input = screen.getByTestId(`channel-secret-${name}`) as HTMLInputElement;
      expect(input.type).toBe('password');
      expect(input.value).toBe('');
    }
    type('channel-display-name', 'Clínica');
    type('channel-config-phone_number_id', ' 123456789012345 ');
    type('channel-secret-app_secret', 's3cret');
    type('channel-secret-verify_token', 'verify');
    type('channel-secret-access_token', 'token');
    fireEvent.submit(screen.getByTestId('channel-form'));
    await waitFor(() => expect(onCreate).toHaveBeenCalledTimes(1));
    expect(onCreate.mock.calls[0]![0]).toEqual({
      provider: 'meta',
      display_name: 'Clínica',
      config: { phone_number_id: '123456789012345' },
      secrets: { app_secret: 's3cret', verify_token: 'verify', access_token: 'token' },
    });
  });

  it('switches the fields with the provider', () => {
    render(<ChannelForm providers={providers} onCreate={vi.fn()} onUpdate={vi.fn()} onCancel={vi.fn()} />);
    type('channel-provider', 'twilio');
    expect(screen.getByTestId('channel-config-account_sid')).toBeTruthy();
    expect(screen.getByTestId('channel-secret-auth_token')).toBeTruthy();
    expect(screen.queryByTestId('channel-config-phone_number_id')).toBeNull();
  });

  it('on edit, leaves secrets empty, does not send them unless typed, and sends only what changed', async () => {
    const onUpdate = vi.fn().mockResolvedValue(undefined);
    render(<ChannelForm providers={providers} channel={channel} onCreate={vi.fn()} onUpdate={onUpdate} onCancel={vi.fn()} />);
    const secret = screen.getByTestId('channel-secret-app_secret') as HTMLInputElement;
    expect(secret.value).toBe('');
    expect(secret.required).toBe(false);
    expect((screen.getByTestId('channel-config-phone_number_id') as HTMLInputElement).value).toBe('100000000000001');

    type('channel-display-name', 'Clínica Centro');
    fireEvent.submit(screen.getByTestId('channel-form'));
    await waitFor(() => expect(onUpdate).toHaveBeenCalledTimes(1));
    expect(onUpdate).toHaveBeenCalledWith('meta-100000000000001', { display_name: 'Clínica Centro' });
  });

  it('on edit, sends a typed secret and the listed config fields when one changed (never keys the server added)', async () => {
    const onUpdate = vi.fn().mockResolvedValue(undefined);
    render(<ChannelForm providers={providers} channel={channel} onCreate={vi.fn()} onUpdate={onUpdate} onCancel={vi.fn()} />);
    type('channel-secret-access_token', 'new-token');
    type('channel-config-api_base_url', 'http://127.0.0.1:9999/meta');
    fireEvent.submit(screen.getByTestId('channel-form'));
    await waitFor(() => expect(onUpdate).toHaveBeenCalledTimes(1));
    expect(onUpdate.mock.calls[0]![1]).toEqual({
      config: { phone_number_id: '100000000000001', api_base_url: 'http://127.0.0.1:9999/meta' },
      secrets: { access_token: 'new-token' },
    });
  });

  it('shows the server field errors beside the fields', async () => {
    const onCreate = vi.fn().mockRejectedValue(
      new ApiError(422, 'validation_failed', 'x', 'config.phone_number_id', [
        { field: 'config.phone_number_id', reason: 'must be 15 digits' },
        { field: 'secrets.app_secret', reason: 'required' },
      ]),
    );
    render(<ChannelForm providers={providers} onCreate={onCreate} onUpdate={vi.fn()} onCancel={vi.fn()} />);
    type('channel-config-phone_number_id', '12');
    for (const name of ['app_secret', 'verify_token', 'access_token']) type(`channel-secret-${name}`, 'x');
    fireEvent.submit(screen.getByTestId('channel-form'));
    expect((await screen.findByTestId('field-error-config.phone_number_id')).textContent).toBe('must be 15 digits');
    expect(screen.getByTestId('field-error-secrets.app_secret').textContent).toBe('required');
  });
});

describe('buildUpdateRequest', () => {
  it('is empty when nothing changed', () => {
    expect(buildUpdateRequest(providers[0]!, channelToForm(channel), channel)).toEqual({});
  });
});
