import { useEffect, useState } from 'react';
import type { Member } from '../api/types';
import { canManage, useApi, useSession } from '../app/context';

/** The tenant's members for assignment pickers (owners and admins only; null for sellers or on error). */
export function useMembers(): Member[] | null {
  const api = useApi();
  const { tenantId, role } = useSession();
  const [members, setMembers] = useState<Member[] | null>(null);
  useEffect(() => {
    if (!canManage(role)) return undefined;
    let cancelled = false;
    api.getTeam(tenantId).then(
      (team) => !cancelled && setMembers(team.members),
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [api, tenantId, role]);
  return members;
}
