// What every page needs: the API client, and who is signed in to which tenant with which role.
import type { User } from 'firebase/auth';
import { createContext, useContext } from 'react';
import type { ApiClient } from '../api/client';
import type { Me, Role, Tenant } from '../api/types';

export const ApiContext = createContext<ApiClient | null>(null);

export function useApi(): ApiClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside ApiContext');
  return api;
}

export interface Session {
  user: User;
  me: Me;
  tenantId: string;
  role: Role;
  /** The current tenant's record (name, time zone); null until loaded. */
  tenant: Tenant | null;
  switchTenant: (tenantId: string) => void;
  reloadMe: () => Promise<void>;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionContext');
  return session;
}

/** Owners and admins run channels, the agent, metrics and every conversation; sellers the inbox. */
export function canManage(role: Role): boolean {
  return role === 'owner' || role === 'admin';
}
