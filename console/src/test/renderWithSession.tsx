// Render a page inside the API and session contexts, with a real API client over a fake fetch.
import { render } from '@testing-library/react';
import type { User } from 'firebase/auth';
import type { ReactElement } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { createApiClient } from '../api/client';
import type { Role } from '../api/types';
import { ApiContext, type Session, SessionContext } from '../app/context';
import { type RecordedRequest, fakeFetch } from './fakeFetch';

export function renderWithSession(
  ui: ReactElement,
  handler: (request: RecordedRequest) => Response | Promise<Response>,
  { role = 'owner' as Role, path = '/' } = {},
) {
  const fake = fakeFetch(handler);
  const api = createApiClient({ getToken: async () => 'token', fetch: fake.fetch });
  const session: Session = {
    user: { uid: 'u-ana', email: 'ana@clinica.com' } as User,
    me: {
      uid: 'u-ana',
      email: 'ana@clinica.com',
      email_verified: true,
      memberships: [{ tenant_id: 'clinica', tenant_name: 'Clínica', role }],
      invites: [],
    },
    tenantId: 'clinica',
    role,
    tenant: { tenant_id: 'clinica', name: 'Clínica', timezone: 'America/Sao_Paulo', locale: 'pt-BR', role },
    switchTenant: () => undefined,
    reloadMe: async () => undefined,
    signOut: () => undefined,
  };
  const result = render(
    <ApiContext.Provider value={api}>
      <SessionContext.Provider value={session}>
        <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
      </SessionContext.Provider>
    </ApiContext.Provider>,
  );
  return { ...result, requests: fake.requests };
}
