// The typed admin API client: one function per endpoint of the contract, every path under /api.
import type {
  AgentMode,
  AgentSettings,
  ApiKey,
  ApiKeyWithSecret,
  Booking,
  BookingFilters,
  CalendarIn,
  CalendarOut,
  CrmInput,
  CrmPipeline,
  CrmSettings,
  NotificationList,
  NotificationPreferences,
  SlotsPreview,
  WebhookDelivery,
  WebhookInput,
  WebhookList,
  WebhookPatch,
  WebhookWithSecret,
  WebhookEndpoint,
  Billing,
  Channel,
  ChannelPatch,
  CheckoutSession,
  ClientWorkspaces,
  CloseReason,
  Conditional,
  ConversationDetail,
  CopilotIntents,
  ConversationFilters,
  ConversationPage,
  ConversationSummary,
  ConversionsInput,
  ConversionsSettings,
  ErrorDetail,
  Insight,
  InsightAgent,
  InsightAgentSpec,
  InsightFilters,
  InsightTemplate,
  Intent,
  IntentStats,
  KnowledgeEntry,
  KnowledgeInput,
  KnowledgeList,
  KnowledgeProposal,
  KnowledgeSearchResults,
  KnowledgeUpload,
  Me,
  Member,
  Message,
  Metrics,
  NewChannel,
  NewTenant,
  PlanCatalogue,
  ProposalApproval,
  ProposalStatus,
  ProviderSpec,
  PublicConfig,
  Role,
  SuggestionDismissed,
  Team,
  TeamInvite,
  Tenant,
  TrafficReport,
} from './types';

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  402: 'payment_required',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  503: 'unavailable',
};

/** A refusal or failure of an API call; `code` is the contract's error code ("network" when no answer came). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | null;
  readonly details: ErrorDetail[];

  constructor(status: number, code: string, message: string, field: string | null = null, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.details = details;
  }
}

export type TokenProvider = () => Promise<string | null>;
type Query = Record<string, string | number | boolean | null | undefined>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  etag?: string | null;
  auth?: boolean;
}

export interface ApiClientOptions {
  /** Returns the signed-in user's Firebase ID token (`user.getIdToken()`), or null when signed out. */
  getToken: TokenProvider;
  baseUrl?: string;
  fetch?: typeof fetch;
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * A 402 is either a plan limit (a quota, or a plan without client workspaces) or a workspace made read-only by
 * its subscription (canceled, trial over): the reason tells which, so the console can say it in Portuguese.
 */
export function paymentErrorCode(message: string): 'payment_required' | 'read_only' {
  return /read-only|read only|cancel+ed|trial (has )?(ended|expired)|subscription (is )?inactive/i.test(message) ? 'read_only' : 'payment_required';
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = (body as { error?: Partial<{ code: string; message: string; field: string | null; details: ErrorDetail[] }> } | null)
    ?.error;
  const message = (typeof error?.message === 'string' && error.message) || `HTTP ${response.status}`;
  const code =
    (response.status === 402 && paymentErrorCode(message)) ||
    (typeof error?.code === 'string' && error.code) ||
    STATUS_CODES[response.status] ||
    (response.status >= 500 ? 'server_error' : 'error');
  // A 402's details repeat its English reason; the console says it in Portuguese instead (errorMessages).
  const details = Array.isArray(error?.details) && response.status !== 402
    ? error.details.filter((d): d is ErrorDetail => typeof d?.field === 'string' && typeof d?.reason === 'string')
    : [];
  return new ApiError(
    response.status,
    code,
    message,
    typeof error?.field === 'string' ? error.field : null,
    details,
  );
}

export function createApiClient({ getToken, baseUrl = '', fetch: fetchImpl }: ApiClientOptions) {
  const doFetch: typeof fetch = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));

  async function send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (options.auth !== false) {
      const token = await getToken();
      if (!token) throw new ApiError(401, 'unauthenticated', 'not signed in');
      headers.Authorization = `Bearer ${token}`;
    }
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.etag) headers['If-None-Match'] = options.etag;
    let response: Response;
    try {
      response = await doFetch(`${baseUrl}/api${path}${queryString(options.query)}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        // Polling sends its own If-None-Match; the browser cache must not answer for the API.
        cache: 'no-store',
      });
    } catch (cause) {
      throw new ApiError(0, 'network', cause instanceof Error ? cause.message : 'network error');
    }
    if (response.status === 304) return response;
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async function json<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
    const response = await send(method, path, options);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async function conditional<T>(path: string, options: RequestOptions = {}): Promise<Conditional<T>> {
    const response = await send('GET', path, options);
    if (response.status === 304) return { notModified: true };
    return { notModified: false, data: (await response.json()) as T, etag: response.headers.get('ETag') };
  }

  const tenant = (t: string, ...rest: string[]) => ['/tenants', t, ...rest].map((part, i) => (i === 0 ? part : segment(part))).join('/');
  const conversation = (t: string, c: string, ...rest: string[]) => tenant(t, 'conversations', c, ...rest);

  return {
    // Public
    health: () => json<{ status: string }>('GET', '/health', { auth: false }),
    getConfig: () => json<PublicConfig>('GET', '/config', { auth: false }),
    getProviders: () => json<{ providers: ProviderSpec[] }>('GET', '/providers', { auth: false }),

    // Account
    getMe: () => json<Me>('GET', '/me'),
    createTenant: (body: NewTenant) => json<Tenant>('POST', '/tenants', { body }),
    acceptInvite: (t: string) => json<Tenant>('POST', tenant(t, 'invites', 'accept')),

    // Tenant
    getTenant: (t: string) => json<Tenant>('GET', tenant(t)),
    updateTenant: (t: string, body: Partial<Pick<Tenant, 'name' | 'timezone' | 'locale'>>) =>
      json<Tenant>('PATCH', tenant(t), { body }),

    // Team
    getTeam: (t: string) => json<Team>('GET', tenant(t, 'members')),
    invite: (t: string, body: { email: string; role: Role }) => json<TeamInvite>('POST', tenant(t, 'invites'), { body }),
    revokeInvite: (t: string, email: string) => json<void>('DELETE', tenant(t, 'invites', email)),
    changeRole: (t: string, uid: string, role: Role) => json<Member>('PATCH', tenant(t, 'members', uid), { body: { role } }),
    removeMember: (t: string, uid: string) => json<void>('DELETE', tenant(t, 'members', uid)),

    // Channels
    listChannels: (t: string) => json<{ channels: Channel[] }>('GET', tenant(t, 'channels')),
    createChannel: (t: string, body: NewChannel) => json<Channel>('POST', tenant(t, 'channels'), { body }),
    getChannel: (t: string, id: string) => json<Channel>('GET', tenant(t, 'channels', id)),
    updateChannel: (t: string, id: string, body: ChannelPatch) => json<Channel>('PATCH', tenant(t, 'channels', id), { body }),
    deleteChannel: (t: string, id: string) => json<void>('DELETE', tenant(t, 'channels', id)),

    // Agent settings
    getAgent: (t: string) => json<AgentSettings>('GET', tenant(t, 'agent')),
    putAgent: (t: string, body: AgentSettings) => json<AgentSettings>('PUT', tenant(t, 'agent'), { body }),

    // Conversations (the two GETs are conditional: pass the last ETag, get notModified on 304)
    listConversations: (t: string, filters: ConversationFilters = {}, etag?: string | null) =>
      conditional<ConversationPage>(tenant(t, 'conversations'), { query: { ...filters }, etag }),
    getConversation: (t: string, c: string, etag?: string | null) =>
      conditional<ConversationDetail>(conversation(t, c), { etag }),
    takeover: (t: string, c: string) => json<ConversationSummary>('POST', conversation(t, c, 'takeover')),
    release: (t: string, c: string) => json<ConversationSummary>('POST', conversation(t, c, 'release')),
    assign: (t: string, c: string, assigneeUid: string | null) =>
      json<ConversationSummary>('POST', conversation(t, c, 'assign'), { body: { assignee_uid: assigneeUid } }),
    close: (t: string, c: string, reason: CloseReason, note?: string) =>
      json<ConversationSummary>('POST', conversation(t, c, 'close'), { body: note ? { reason, note } : { reason } }),
    setMode: (t: string, c: string, mode: AgentMode) =>
      json<ConversationSummary>('POST', conversation(t, c, 'mode'), { body: { mode } }),
    sendMessage: (t: string, c: string, text: string) =>
      json<{ message: Message }>('POST', conversation(t, c, 'messages'), { body: { text } }),
    acceptSuggestion: (t: string, c: string, decisionId: string, index: number, text?: string) =>
      json<{ message: Message }>('POST', conversation(t, c, 'suggestions', 'accept'), {
        body: text === undefined ? { decision_id: decisionId, index } : { decision_id: decisionId, index, text },
      }),
    dismissSuggestion: (t: string, c: string, decisionId: string, index: number) =>
      json<SuggestionDismissed>('POST', conversation(t, c, 'suggestions', 'dismiss'), {
        body: { decision_id: decisionId, index },
      }),

    // Metrics
    getMetrics: (t: string, period: { from?: string; to?: string } = {}) =>
      json<Metrics>('GET', tenant(t, 'metrics'), { query: period }),

    // Knowledge (the two list GETs are conditional, for polling)
    listKnowledge: (t: string, etag?: string | null) => conditional<KnowledgeList>(tenant(t, 'knowledge'), { etag }),
    createKnowledge: (t: string, body: KnowledgeInput) => json<KnowledgeEntry>('POST', tenant(t, 'knowledge'), { body }),
    updateKnowledge: (t: string, entryId: string, body: KnowledgeInput) =>
      json<KnowledgeEntry>('PUT', tenant(t, 'knowledge', entryId), { body }),
    deleteKnowledge: (t: string, entryId: string) => json<unknown>('DELETE', tenant(t, 'knowledge', entryId)),
    uploadKnowledge: (t: string, body: KnowledgeUpload) => json<KnowledgeEntry>('POST', tenant(t, 'knowledge', 'files'), { body }),
    searchKnowledge: (t: string, query: string) =>
      json<KnowledgeSearchResults>('POST', tenant(t, 'knowledge', 'search'), { body: { query } }),
    listProposals: (t: string, status: ProposalStatus, etag?: string | null) =>
      conditional<{ proposals: KnowledgeProposal[] }>(tenant(t, 'knowledge', 'proposals'), { query: { status }, etag }),
    approveProposal: (t: string, proposalId: string, edits: ProposalApproval = {}) =>
      json<{ proposal: KnowledgeProposal; entry: KnowledgeEntry }>('POST', tenant(t, 'knowledge', 'proposals', proposalId, 'approve'), {
        body: edits,
      }),
    rejectProposal: (t: string, proposalId: string) =>
      json<KnowledgeProposal>('POST', tenant(t, 'knowledge', 'proposals', proposalId, 'reject'), { body: {} }),

    // Copilot per intent
    getCopilotIntents: (t: string, days?: number) => json<CopilotIntents>('GET', tenant(t, 'copilot', 'intents'), { query: { days } }),
    setIntentMode: (t: string, intent: Intent, mode: AgentMode) =>
      json<IntentStats>('PUT', tenant(t, 'copilot', 'intents', intent), { body: { mode } }),

    // Insight agents and insights (the insights list is conditional, for polling)
    listInsightTemplates: (t: string) => json<{ templates: InsightTemplate[] }>('GET', tenant(t, 'insight-templates')),
    listInsightAgents: (t: string) => json<{ agents: InsightAgent[] }>('GET', tenant(t, 'insight-agents')),
    getInsightAgent: (t: string, agentId: string) => json<InsightAgent>('GET', tenant(t, 'insight-agents', agentId)),
    createInsightAgent: (t: string, body: InsightAgentSpec) => json<InsightAgent>('POST', tenant(t, 'insight-agents'), { body }),
    addInsightTemplate: (t: string, template: string) =>
      json<InsightAgent>('POST', tenant(t, 'insight-agents', 'from-template'), { body: { template } }),
    updateInsightAgent: (t: string, agentId: string, body: InsightAgentSpec) =>
      json<InsightAgent>('PUT', tenant(t, 'insight-agents', agentId), { body }),
    setInsightAgentActive: (t: string, agentId: string, active: boolean) =>
      json<InsightAgent>('PATCH', tenant(t, 'insight-agents', agentId), { body: { active } }),
    deleteInsightAgent: (t: string, agentId: string) => json<void>('DELETE', tenant(t, 'insight-agents', agentId)),
    listInsights: (t: string, filters: InsightFilters = {}, etag?: string | null) =>
      conditional<{ insights: Insight[] }>(tenant(t, 'insights'), { query: { ...filters }, etag }),
    applyInsight: (t: string, insightId: string) => json<Insight>('POST', tenant(t, 'insights', insightId, 'apply'), { body: {} }),
    dismissInsight: (t: string, insightId: string) => json<Insight>('POST', tenant(t, 'insights', insightId, 'dismiss'), { body: {} }),
    pressMacro: (t: string, c: string, agentId: string) => json<{ event_id: string }>('POST', conversation(t, c, 'macros', agentId), { body: {} }),
    getTrafficReport: (t: string, days: number) => json<TrafficReport>('GET', tenant(t, 'insights', 'traffic-report'), { query: { days } }),

    // Meta Conversions API settings (owners)
    getConversions: (t: string) => json<ConversionsSettings>('GET', tenant(t, 'conversions')),
    putConversions: (t: string, body: ConversionsInput) => json<ConversionsSettings>('PUT', tenant(t, 'conversions'), { body }),
    deleteConversions: (t: string) => json<void>('DELETE', tenant(t, 'conversions')),

    // Billing (issue 9): plans, the workspace's subscription and usage, Stripe Checkout and portal, client workspaces
    getPlans: () => json<PlanCatalogue>('GET', '/plans'),
    getBilling: (t: string, etag?: string | null) => conditional<Billing>(tenant(t, 'billing'), { etag }),
    startCheckout: (t: string, planId: string) => json<CheckoutSession>('POST', tenant(t, 'billing', 'checkout'), { body: { plan_id: planId } }),
    changePlan: (t: string, planId: string) => json<Billing>('POST', tenant(t, 'billing', 'plan'), { body: { plan_id: planId } }),
    openBillingPortal: (t: string) => json<{ url: string }>('POST', tenant(t, 'billing', 'portal'), { body: {} }),
    listWorkspaces: (t: string) => json<ClientWorkspaces>('GET', tenant(t, 'workspaces')),
    createWorkspace: (t: string, body: NewTenant) => json<Tenant>('POST', tenant(t, 'workspaces'), { body }),

    // Scheduling (issue 10): calendar settings, the slots the agent would offer, bookings, Google Calendar
    getCalendar: (t: string) => json<CalendarOut>('GET', tenant(t, 'calendar')),
    putCalendar: (t: string, body: CalendarIn) => json<CalendarOut>('PUT', tenant(t, 'calendar'), { body }),
    getSlots: (t: string) => json<SlotsPreview>('GET', tenant(t, 'calendar', 'slots')),
    listBookings: (t: string, filters: BookingFilters = {}) => json<{ bookings: Booking[] }>('GET', tenant(t, 'bookings'), { query: { ...filters } }),
    cancelBooking: (t: string, bookingId: string, reason: string | null = null) =>
      json<Booking>('POST', tenant(t, 'bookings', bookingId, 'cancel'), { body: { reason } }),
    authorizeGoogle: (t: string) => json<{ url: string }>('POST', tenant(t, 'calendar', 'google', 'authorize'), { body: {} }),
    disconnectGoogle: (t: string) => json<CalendarOut>('DELETE', tenant(t, 'calendar', 'google')),

    // Outbound webhooks (managers)
    listWebhooks: (t: string) => json<WebhookList>('GET', tenant(t, 'webhooks')),
    createWebhook: (t: string, body: WebhookInput) => json<WebhookWithSecret>('POST', tenant(t, 'webhooks'), { body }),
    updateWebhook: (t: string, endpointId: string, body: WebhookPatch) =>
      json<WebhookEndpoint>('PATCH', tenant(t, 'webhooks', endpointId), { body }),
    deleteWebhook: (t: string, endpointId: string) => json<{ deleted: boolean }>('DELETE', tenant(t, 'webhooks', endpointId)),
    rotateWebhookSecret: (t: string, endpointId: string) =>
      json<WebhookWithSecret>('POST', tenant(t, 'webhooks', endpointId, 'secret'), { body: {} }),
    testWebhook: (t: string, endpointId: string) => json<{ delivery_id: string }>('POST', tenant(t, 'webhooks', endpointId, 'test'), { body: {} }),
    listWebhookDeliveries: (t: string, endpointId: string, limit = 20) =>
      json<{ deliveries: WebhookDelivery[] }>('GET', tenant(t, 'webhooks', endpointId, 'deliveries'), { query: { limit } }),
    redeliverWebhook: (t: string, endpointId: string, deliveryId: string) =>
      json<unknown>('POST', tenant(t, 'webhooks', endpointId, 'deliveries', deliveryId, 'redeliver'), { body: {} }),

    // API keys (owners)
    listApiKeys: (t: string) => json<{ keys: ApiKey[] }>('GET', tenant(t, 'api-keys')),
    createApiKey: (t: string, name: string) => json<ApiKeyWithSecret>('POST', tenant(t, 'api-keys'), { body: { name } }),
    revokeApiKey: (t: string, keyId: string) => json<unknown>('DELETE', tenant(t, 'api-keys', keyId)),

    // CRM: RD Station CRM (managers)
    getCrm: (t: string) => json<CrmSettings>('GET', tenant(t, 'crm')),
    putCrm: (t: string, body: CrmInput) => json<CrmSettings>('PUT', tenant(t, 'crm'), { body }),
    listCrmPipelines: (t: string) => json<{ pipelines: CrmPipeline[] }>('GET', tenant(t, 'crm', 'pipelines')),
    disconnectCrm: (t: string) => json<unknown>('DELETE', tenant(t, 'crm')),

    // Notifications: the caller's own (the list is conditional, for polling) and preferences
    listNotifications: (t: string, etag?: string | null, limit = 30) =>
      conditional<NotificationList>(tenant(t, 'notifications'), { query: { limit }, etag }),
    markNotificationsRead: (t: string, body: { ids: string[] } | { all: true }) =>
      json<{ unread: number }>('POST', tenant(t, 'notifications', 'read'), { body }),
    getNotificationPreferences: (t: string) => json<NotificationPreferences>('GET', tenant(t, 'notification-preferences')),
    putNotificationPreferences: (t: string, body: NotificationPreferences) =>
      json<NotificationPreferences>('PUT', tenant(t, 'notification-preferences'), { body }),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
