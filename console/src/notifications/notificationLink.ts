// Where a notification leads in the console.

/** The console path of a notification: its link (older "/inbox/<id>" paths become Conversas), or its conversation. */
export function notificationPath(link: string | null, conversationId: string | null): string | null {
  if (link) {
    if (/^https?:\/\//.test(link)) return link;
    const inbox = /^\/inbox(\/.*)?$/.exec(link);
    if (inbox) return `/conversas${inbox[1] ?? ''}`;
    return link.startsWith('/') ? link : `/${link}`;
  }
  return conversationId ? `/conversas/${encodeURIComponent(conversationId)}` : null;
}
