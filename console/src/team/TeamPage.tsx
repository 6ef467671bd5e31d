// "Equipe": members and their roles, pending invites; the owner invites, changes roles and removes.
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ROLES, type Role, type Team } from '../api/types';
import { useApi, useSession } from '../app/context';
import { ErrorBanner } from '../components/ErrorBanner';
import { FieldErrors } from '../components/FieldErrors';
import { dateTime, fieldErrors } from '../i18n/format';
import { roleNames, t } from '../i18n/pt-BR';

export function TeamPage() {
  const api = useApi();
  const { tenantId, role, me } = useSession();
  const owner = role === 'owner';
  const [team, setTeam] = useState<Team | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [inviteEmail, setInviteEmail] = useState('');
  const [inviteRole, setInviteRole] = useState<Role>('seller');
  const [inviteError, setInviteError] = useState<unknown>(null);

  const reload = useCallback(async () => {
    try {
      setTeam(await api.getTeam(tenantId));
    } catch (caught) {
      setError(caught);
    }
  }, [api, tenantId]);

  useEffect(() => {
    void reload();
  }, [reload]);

  async function act(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
      await reload();
    } catch (caught) {
      setError(caught);
    }
  }

  async function invite(event: FormEvent) {
    event.preventDefault();
    setInviteError(null);
    try {
      await api.invite(tenantId, { email: inviteEmail.trim(), role: inviteRole });
      setInviteEmail('');
      await reload();
    } catch (caught) {
      setInviteError(caught);
    }
  }

  const inviteErrors = fieldErrors(inviteError);

  return (
    <div className="page">
      <header className="page-header">
        <h1>{t.team.title}</h1>
      </header>
      {!owner ? <p className="muted">{t.team.ownerOnly}</p> : null}
      <ErrorBanner error={error} />
      {owner ? (
        <form className="card inline-form" onSubmit={(event) => void invite(event)} data-testid="invite-form">
          <h2>{t.team.inviteTitle}</h2>
          <label className="inline">
            {t.team.email}
            <input type="email" required value={inviteEmail} onChange={(event) => setInviteEmail(event.target.value)} data-testid="invite-email" />
          </label>
          <label className="inline">
            {t.team.role}
            <select value={inviteRole} onChange={(event) => setInviteRole(event.target.value as Role)} data-testid="invite-role">
              {ROLES.map((value) => (
                <option key={value} value={value}>
                  {roleNames[value]}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary" data-testid="invite-submit">
            {t.team.invite}
          </button>
          <FieldErrors errors={inviteErrors} field="email" />
          <FieldErrors errors={inviteErrors} field="role" />
          <ErrorBanner error={inviteError} placedFields={['email', 'role']} />
        </form>
      ) : null}
      {team ? (
        <>
          <h2>{t.team.members}</h2>
          <table className="table" data-testid="member-list">
            <thead>
              <tr>
                <th>{t.team.email}</th>
                <th>{t.team.role}</th>
                <th>{t.team.addedAt}</th>
                {owner ? <th /> : null}
              </tr>
            </thead>
            <tbody>
              {team.members.map((member) => (
                <tr key={member.uid} data-testid="member-row" data-uid={member.uid} data-role={member.role}>
                  <td>
                    {member.email ?? member.uid} {member.uid === me.uid ? <span className="muted">{t.team.youTag}</span> : null}
                  </td>
                  <td>
                    {owner ? (
                      <select
                        value={member.role}
                        onChange={(event) => void act(() => api.changeRole(tenantId, member.uid, event.target.value as Role))}
                        aria-label={`${t.team.role} ${member.email ?? member.uid}`}
                        data-testid="member-role"
                      >
                        {ROLES.map((value) => (
                          <option key={value} value={value}>
                            {roleNames[value]}
                          </option>
                        ))}
                      </select>
                    ) : (
                      roleNames[member.role]
                    )}
                  </td>
                  <td>{dateTime(member.added_at)}</td>
                  {owner ? (
                    <td>
                      <button
                        type="button"
                        className="link danger"
                        onClick={() => {
                          if (window.confirm(t.team.confirmRemove(member.email ?? member.uid))) void act(() => api.removeMember(tenantId, member.uid));
                        }}
                        data-testid="member-remove"
                      >
                        {t.team.removeMember}
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{t.team.invites}</h2>
          {team.invites.length ? (
            <table className="table" data-testid="invite-list">
              <thead>
                <tr>
                  <th>{t.team.email}</th>
                  <th>{t.team.role}</th>
                  <th>{t.team.invitedBy}</th>
                  {owner ? <th /> : null}
                </tr>
              </thead>
              <tbody>
                {team.invites.map((pending) => (
                  <tr key={pending.email} data-testid="invite-row" data-email={pending.email}>
                    <td>{pending.email}</td>
                    <td>{roleNames[pending.role] ?? pending.role}</td>
                    <td>
                      {pending.invited_by_email ?? t.none} · {dateTime(pending.invited_at)}
                    </td>
                    {owner ? (
                      <td>
                        <button type="button" className="link danger" onClick={() => void act(() => api.revokeInvite(tenantId, pending.email))} data-testid="invite-revoke">
                          {t.team.revoke}
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">{t.team.noInvites}</p>
          )}
        </>
      ) : !error ? (
        <div className="muted">{t.loading}</div>
      ) : null}
    </div>
  );
}
