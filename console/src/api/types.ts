// The admin API's shapes, as the contract (issue 5) defines them. snake_case, as on the wire.

export const ROLES = ['owner', 'admin', 'seller'] as const;
export type Role = (typeof ROLES)[number];

export const PROVIDERS = ['meta', 'twilio', 'evolution', 'zapi'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const REASON_CODES = [
  'duplicate',
  'stale_event',
  'debounced',
  'closed',
  'opted_out',
  'rejection',
  'human_active',
  'quiet_hours',
  'outside_24h_window',
  'unanswered_limit',
  'handoff_requested',
  'quota_exceeded',
  'copilot_mode',
  'opt_in',
  'lead_replied',
  'followup_due',
  'model_error',
  'knowledge_gap',
  'no_response',
  'send_failed',
  'media_not_understood',
  'media_rejected',
  'subscription_inactive',
  'pilot_intent',
  'meeting_offered',
  'meeting_booked',
  'meeting_rescheduled',
  'meeting_canceled',
  'slot_taken',
  'no_free_slots',
  'calendar_unavailable',
  'meeting_reminder',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export const ACTIONS = ['speak', 'stay_silent', 'wait', 'handoff', 'close', 'schedule_followup'] as const;
export type Action = (typeof ACTIONS)[number];

export const ERROR_CODES = [
  'bad_request',
  'unauthenticated',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'validation_failed',
  'unavailable',
  'payment_required',
  'read_only',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const CONVERSATION_STATUSES = ['open', 'handoff', 'closed'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

export const CLOSE_REASONS = ['won', 'lost', 'no_interest', 'spam', 'other'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export type AgentMode = 'pilot' | 'copilot';
export type MessageRole = 'lead' | 'agent' | 'seller';
export type MessageStatus = 'queued' | 'held' | 'sent' | 'delivered' | 'read' | 'failed';
export type SuggestionState = 'pending' | 'accepted' | 'edited' | 'dismissed';

export interface ErrorDetail {
  field: string;
  reason: string;
}

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    field: string | null;
    details: ErrorDetail[];
  };
}

export interface PublicConfig {
  firebase: { api_key: string; auth_domain: string; project_id: string };
  auth_emulator_url: string | null;
}

export interface ProviderField {
  name: string;
  required: boolean;
}

export interface ProviderSpec {
  provider: Provider;
  config_fields: ProviderField[];
  secret_fields: ProviderField[];
}

export interface Membership {
  tenant_id: string;
  tenant_name: string;
  role: Role;
}

export interface PendingInvite {
  tenant_id: string;
  tenant_name: string;
  role: Role;
  invited_by_email: string | null;
}

export interface Me {
  uid: string;
  email: string | null;
  email_verified: boolean;
  memberships: Membership[];
  invites: PendingInvite[];
}

export interface Tenant {
  tenant_id: string;
  name: string;
  timezone: string;
  locale: string;
  role: Role;
}

export interface NewTenant {
  name: string;
  timezone?: string;
  locale?: string;
}

export interface Member {
  uid: string;
  email: string | null;
  role: Role;
  added_at: string | null;
}

export interface TeamInvite {
  email: string;
  role: Role;
  invited_at: string;
  invited_by_email: string | null;
}

export interface Team {
  members: Member[];
  invites: TeamInvite[];
}

export interface Channel {
  channel_id: string;
  provider: Provider;
  display_name: string | null;
  business_phone: string | null;
  enabled: boolean;
  config: Record<string, string>;
  secrets_set: string[];
  webhook_url: string;
}

export interface NewChannel {
  provider: Provider;
  display_name?: string;
  business_phone?: string;
  config: Record<string, string>;
  secrets: Record<string, string>;
}

export interface ChannelPatch {
  display_name?: string;
  business_phone?: string;
  enabled?: boolean;
  config?: Record<string, string>;
  secrets?: Record<string, string>;
}

export interface Template {
  name: string;
  language: string;
  parameters: string[];
}

export interface QuietHours {
  start: string;
  end: string;
}

export interface AgentSettings {
  mode: AgentMode;
  language: string;
  persona: string;
  instructions: string;
  business_facts: Record<string, string>;
  qualification_fields: string[];
  debounce_seconds: number;
  quiet_hours: QuietHours;
  followups: string[];
  max_unanswered: number;
  human_takeover_minutes: number;
  opt_out_acknowledgement: string | null;
  rejection_acknowledgement: string | null;
  handoff_acknowledgement: string | null;
  templates: { followup: Template | null; reengagement: Template | null };
  /** The intents the agent answers alone (pilot) while the rest stay copilot; switched on the dashboard. */
  pilot_intents: Intent[];
  /** When the console proposes switching an intent to pilot: acceptance rate (0..1) over at least min_samples. */
  copilot_promotion: { threshold: number; min_samples: number };
  /** Answer a voice note with a voice note (needs a text-to-speech model configured). */
  voice_replies: boolean;
  /** The synthetic voice (e.g. "pt-BR-Neural2-B"); null: the deployment's default. */
  voice_name?: string | null;
}

export interface LastMessage {
  role: MessageRole;
  text: string;
  at: string;
}

export interface ConversationSummary {
  conversation_id: string;
  channel_id: string;
  contact_key: string;
  contact_name: string | null;
  contact_phone: string | null;
  status: ConversationStatus;
  stage: string | null;
  mode: AgentMode;
  needs_human: boolean;
  attention_reason: string | null;
  assignee_uid: string | null;
  assignee_email: string | null;
  taken_over_by: string | null;
  human_active_until: string | null;
  close_reason: string | null;
  last_message: LastMessage | null;
  pending_suggestions: number;
  created_at: string;
  updated_at: string;
}

export interface ConversationDetailInfo extends ConversationSummary {
  fields: Record<string, unknown>;
  summary: string | null;
  unanswered_count: number;
  followups_sent: number;
  followup_due_at: string | null;
}

/** What the agent understood of media the lead sent (a voice note transcribed, a document's text, an image described). */
export interface Understanding {
  status: 'understood' | 'not_understood' | 'rejected';
  text: string | null;
  reason: string | null;
  model: string | null;
  offline: boolean;
}

export interface Message {
  message_id: string;
  role: MessageRole;
  text: string;
  at: string;
  status: MessageStatus | null;
  author_email: string | null;
  understanding?: Understanding | null;
}

export interface Suggestion {
  index: number;
  text: string;
  state: SuggestionState;
}

export interface Decision {
  decision_id: string;
  action: string;
  reasons: string[];
  messages: { text: string | null; template: string | null }[];
  suggestions: Suggestion[];
  decided_at: string;
  specialist: string | null;
  stage: string | null;
  handoff_summary: string | null;
  offline_model: boolean;
  /** The knowledge entries the answer drew on. */
  knowledge_used?: { entry_id: string; title: string }[];
  /** The lead's question the knowledge base could not answer (a knowledge_gap handoff). */
  open_question?: string | null;
}

export interface ConversationDetail {
  conversation: ConversationDetailInfo;
  messages: Message[];
  decisions: Decision[];
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  next_cursor: string | null;
}

export interface ConversationFilters {
  status?: ConversationStatus;
  assignee?: string; // "me", "none" or a member's uid
  stage?: string;
  channel_id?: string;
  needs_human?: boolean;
  limit?: number;
  cursor?: string;
}

export interface SuggestionDismissed {
  decision_id: string;
  index: number;
  state: 'dismissed';
}

export interface DailyMetrics {
  date: string;
  conversations_started: number;
  answered_by_agent: number;
  handoffs: number;
  meetings_booked: number;
}

export interface Metrics {
  from: string;
  to: string;
  timezone: string;
  conversations_started: number;
  answered_by_agent: number;
  agent_messages: number;
  silences_by_reason: Record<string, number>;
  handoffs: number;
  meetings_booked: number;
  followups_sent: number;
  followups_answered: number;
  median_first_response_seconds: number | null;
  suggestions_offered: number;
  suggestions_accepted: number;
  daily: DailyMetrics[];
}

export const KNOWLEDGE_KINDS = ['qa', 'fact', 'price_list', 'policy', 'file'] as const;
export type KnowledgeKind = (typeof KNOWLEDGE_KINDS)[number];
/** The kinds written in the console; files come from an upload. */
export type TypedKnowledgeKind = Exclude<KnowledgeKind, 'file'>;
export type KnowledgeSource = 'manual' | 'upload' | 'learned';

export interface KnowledgeEntry {
  entry_id: string;
  kind: KnowledgeKind;
  title: string;
  question: string | null;
  answer: string | null;
  /** For a file, `content` is a preview of its text; this is the whole text's length. */
  content: string;
  content_chars?: number;
  source: KnowledgeSource;
  filename: string | null;
  mime_type: string | null;
  size_bytes: number | null;
  chunk_count: number;
  embedding_model: string | null;
  created_at: string;
  updated_at: string;
  created_by_email: string | null;
}

export interface KnowledgeList {
  entries: KnowledgeEntry[];
  embedding_model: string;
  /** The deterministic local embedding (no Vertex AI): fine for development, weaker retrieval. */
  offline: boolean;
}

/** POST/PUT body: a question/answer pair needs question and answer; the other kinds need content. */
export interface KnowledgeInput {
  kind: TypedKnowledgeKind;
  title: string;
  question?: string;
  answer?: string;
  content?: string;
}

export interface KnowledgeUpload {
  filename: string;
  mime_type: string;
  content_base64: string;
  title?: string;
}

export interface KnowledgeSearchResult {
  entry_id: string;
  title: string;
  kind: KnowledgeKind;
  text: string;
  score: number;
}

export interface KnowledgeSearchResults {
  results: KnowledgeSearchResult[];
  /** Snippets below this score are not given to the agent. */
  min_score?: number;
  embedding_model?: string;
}

export const PROPOSAL_STATUSES = ['proposed', 'open', 'approved', 'rejected'] as const;
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

/** A question the agent could not answer (open) and, once a seller answered it, the pair to review (proposed). */
export interface KnowledgeProposal {
  proposal_id: string;
  conversation_id: string;
  decision_id: string;
  question: string;
  answer: string | null;
  status: ProposalStatus;
  answered_by_email: string | null;
  answered_at: string | null;
  created_at: string;
  entry_id: string | null;
  reviewed_by_email?: string | null;
  reviewed_at?: string | null;
}

export interface ProposalApproval {
  question?: string;
  answer?: string;
  title?: string;
}

export const INTENTS = ['qualify', 'sell', 'schedule', 'close', 'handoff'] as const;
export type Intent = (typeof INTENTS)[number];

export interface IntentStats {
  intent: Intent;
  mode: AgentMode;
  offered: number;
  accepted: number;
  edited: number;
  ignored: number;
  dismissed: number;
  acceptance_rate: number | null;
  mean_similarity: number | null;
  /** Acceptance at or above the threshold over at least min_samples suggestions. */
  eligible: boolean;
}

export interface CopilotIntents {
  threshold: number;
  min_samples: number;
  days: number;
  intents: IntentStats[];
}

/** The answer to a conditional GET: fresh data with its ETag, or "nothing changed" (304). */
export type Conditional<T> = { notModified: true } | { notModified: false; data: T; etag: string | null };

// Insight agents (issue 8): the owner's own agents, their triggers and output fields, and the insights they produce.

export const INSIGHT_EVENTS = ['NEW_MESSAGE_RECEIVED', 'TICKET_WON', 'TICKET_LOST', 'INACTIVITY_2H', 'MACRO_BUTTON_CLICKED'] as const;
export type InsightEventType = (typeof INSIGHT_EVENTS)[number];

export const FIELD_TYPES = ['string', 'number', 'boolean', 'array', 'enum'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const ARRAY_ITEM_TYPES = ['string', 'number', 'boolean'] as const;
export type ArrayItemType = (typeof ARRAY_ITEM_TYPES)[number];

export const TRIGGER_MODES = ['any', 'pilot', 'copilot'] as const;
export type TriggerMode = (typeof TRIGGER_MODES)[number];

export const APPLY_ACTIONS = ['none', 'mark_won', 'mark_lost'] as const;
export type ApplyAction = (typeof APPLY_ACTIONS)[number];

export type InsightModel = 'fast' | 'precise';

/** Limits of shared/insights/models.py. */
export const MAX_INSIGHT_FIELDS = 20;
export const MAX_INSIGHT_TRIGGERS = 5;

/** One field of the structured output an agent must return. */
export interface OutputField {
  name: string;
  type: FieldType;
  description: string;
  required: boolean;
  /** enum only: the allowed values (2 to 20). */
  options: string[];
  /** array only: the type of each item. */
  items: ArrayItemType;
  minimum: number | null;
  maximum: number | null;
}

/** When an agent runs: an event, optional conditions, and throttles. */
export interface InsightTrigger {
  trigger_id: string;
  event: InsightEventType;
  /** NEW_MESSAGE_RECEIVED only: run when the lead's message contains one of these (case and accents ignored). */
  keywords: string[];
  mode: TriggerMode;
  min_lead_messages: number;
  max_per_conversation: number | null;
  conversation_window_minutes: number;
  max_per_day: number | null;
}

/** What the builder writes (POST and PUT body). */
export interface InsightAgentSpec {
  name: string;
  icon: string;
  description: string;
  prompt: string;
  model: InsightModel;
  active: boolean;
  triggers: InsightTrigger[];
  fields: OutputField[];
  apply_action: ApplyAction;
  message_field: string | null;
  send_conversion: boolean;
  template: string | null;
}

export interface InsightAgent extends InsightAgentSpec {
  agent_id: string;
  tenant_id: string;
  created_at: string;
  updated_at: string;
  created_by?: string | null;
  /** Has an active MACRO_BUTTON_CLICKED trigger: the inbox shows its button. */
  macro: boolean;
}

export interface InsightTemplate {
  key: string;
  name: string;
  icon: string;
  description: string;
  spec: InsightAgentSpec;
}

export const INSIGHT_STATUSES = ['RUNNING', 'SUGGESTION', 'APPLIED', 'DISMISSED', 'FAILED'] as const;
export type InsightStatus = (typeof INSIGHT_STATUSES)[number];

/** The click-to-WhatsApp ad that brought the lead (first touch). */
export interface Attribution {
  ctwa_clid: string | null;
  source_id: string | null;
  source_url: string | null;
  source_type: string | null;
  headline: string | null;
}

/** What became of the Purchase sent to the Meta Conversions API for an applied insight. */
export interface ConversionResult {
  status: 'sent' | 'failed' | 'skipped';
  reason: string | null;
  events_received: number | null;
  fbtrace_id: string | null;
  at: string;
}

export interface Insight {
  insight_id: string;
  tenant_id: string;
  conversation_id: string;
  contact_key: string | null;
  contact_name: string | null;
  agent_id: string;
  agent_name: string;
  agent_icon: string;
  template: string | null;
  event_id: string;
  event_type: InsightEventType;
  trigger_id: string;
  status: InsightStatus;
  payload: Record<string, unknown>;
  /** The agent's output fields when it ran: how to show the payload. */
  fields: OutputField[];
  error: string | null;
  attempts: number;
  model: string | null;
  offline_model: boolean;
  prompt_tokens: number;
  completion_tokens: number;
  apply_action: ApplyAction;
  message_field: string | null;
  attribution: Attribution | null;
  conversion: ConversionResult | null;
  created_at: string;
  completed_at: string | null;
  reviewed_by: string | null;
  reviewed_email: string | null;
  reviewed_at: string | null;
}

export interface InsightFilters {
  conversation_id?: string;
  status?: InsightStatus;
  agent_id?: string;
  limit?: number;
}

export interface TrafficCampaign {
  /** source_id, else the headline, else "organic" (leads without an ad). */
  key: string;
  source_id: string | null;
  headline: string | null;
  source_url: string | null;
  lost: number;
  reasons: { reason: string; count: number }[];
  /** Up to 5 latest details. */
  details: string[];
}

export interface TrafficReport {
  since: string;
  until: string;
  campaigns: TrafficCampaign[];
}

/** GET/PUT T/conversions: the tenant's Meta dataset (never the token). */
export interface ConversionsSettings {
  configured: boolean;
  dataset_id: string | null;
  currency: string | null;
  updated_at: string | null;
}

export interface ConversionsInput {
  dataset_id: string;
  /** Write-only: never read back, so it is sent on every save. */
  access_token?: string;
  currency: string;
}

// ---------------------------------------------------------------- Billing, plans, quotas, workspaces (issue 9)

export const QUOTA_NAMES = ['agent_replies', 'channels', 'seats', 'insight_agents', 'knowledge_mb', 'workspaces'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

export const QUOTA_LEVELS = ['ok', 'warning', 'reached', 'exceeded'] as const;
export type QuotaLevel = (typeof QUOTA_LEVELS)[number];

export type SubscriptionStatus = 'trialing' | 'active' | 'past_due' | 'canceled';
export type StopReason = 'trial_expired' | 'past_due_expired' | 'canceled';
export type NoticeKind = 'quota_warning' | 'quota_reached' | 'quota_exceeded' | 'service_stopped';

export type Quotas = Record<QuotaName, number>;

export interface Plan {
  plan_id: string;
  name: string;
  price_cents: number;
  quotas: Quotas;
  grace_percent: number;
}

export interface PlanCatalogue {
  currency: string;
  trial_days: number;
  plans: Plan[];
}

/** One quota's usage: `ceiling` is where the service stops (limit plus grace for replies, the limit for stock). */
export interface UsageLine {
  quota: QuotaName;
  used: number;
  limit: number;
  ceiling: number;
  percent: number;
  level: QuotaLevel;
}

export interface BillingNotice {
  notice_id: string;
  kind: NoticeKind;
  created_at: string;
  month: string | null;
  quota: QuotaName | null;
}

export interface WorkspaceUsage {
  tenant_id: string;
  name: string;
  usage: UsageLine[];
}

export interface Billing {
  account_id: string;
  home_tenant_id: string;
  home_tenant_name: string;
  /** The caller owns the home workspace and this is it: Checkout, plan changes and the portal are theirs. */
  manages_billing: boolean;
  plan: Plan;
  status: SubscriptionStatus;
  trial_ends_at: string | null;
  past_due_since: string | null;
  grace_ends_at: string | null;
  current_period_end: string | null;
  cancel_at_period_end: boolean;
  has_subscription: boolean;
  agent_on: boolean;
  read_only: boolean;
  stop_reason: StopReason | null;
  month: string;
  usage: UsageLine[];
  notices: BillingNotice[];
  workspaces: WorkspaceUsage[];
}

export interface CheckoutSession {
  url: string;
  session_id: string;
}

export interface ClientWorkspace {
  tenant_id: string;
  name: string;
  created_at: string | null;
  usage: UsageLine[];
}

export interface ClientWorkspaces {
  workspaces: ClientWorkspace[];
  limit: number;
  used: number;
}

// Issue 10: scheduling, Google Calendar, outbound webhooks, API keys, CRM sync, notifications.

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Opening hours on one day, "HH:MM" in the tenant's time zone. */
export interface TimeRange {
  start: string;
  end: string;
}

export type CalendarProvider = 'builtin' | 'google';

export interface CalendarIn {
  enabled: boolean;
  provider: CalendarProvider;
  business_hours: Partial<Record<Weekday, TimeRange[]>>;
  meeting_minutes: number;
  buffer_before_minutes: number;
  buffer_after_minutes: number;
  min_notice_minutes: number;
  horizon_days: number;
  slots_offered: number;
  meeting_title: string;
  location: string | null;
  reminder_minutes_before: number;
}

export interface GoogleCalendarState {
  connected: boolean;
  account_email: string | null;
  calendar_id: string | null;
  status: 'connected' | 'failing' | null;
  error: string | null;
}

export interface CalendarOut {
  settings: CalendarIn;
  timezone: string;
  google: GoogleCalendarState;
  google_available: boolean;
}

export interface Slot {
  start: string;
  end: string;
  label: string;
}

export interface SlotsPreview {
  slots: Slot[];
  error: string | null;
}

export type BookingStatus = 'held' | 'confirmed' | 'canceled';

export interface Booking {
  booking_id: string;
  conversation_id: string | null;
  contact_name: string | null;
  phone: string | null;
  email: string | null;
  start: string;
  end: string;
  status: BookingStatus;
  provider: CalendarProvider;
  calendar_synced: boolean;
  sync_error: string | null;
  reminder_at: string | null;
  reminder_sent_at: string | null;
  source: 'agent' | 'seller' | 'api';
  created_at: string;
}

export interface BookingFilters {
  status?: BookingStatus;
  from?: string;
  to?: string;
}

export interface LastDelivery {
  delivery_id: string;
  event_type: string;
  status: 'succeeded' | 'failed' | 'retrying';
  http_status: number | null;
  error: string | null;
  at: string;
}

export interface WebhookEndpoint {
  endpoint_id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  secret_hint: string;
  created_at: string;
  failing_since: string | null;
  disabled_at: string | null;
  disabled_reason: string | null;
  last_delivery: LastDelivery | null;
}

export interface WebhookList {
  endpoints: WebhookEndpoint[];
  event_types: { type: string; label: string }[];
}

export interface WebhookInput {
  url: string;
  description?: string;
  events: string[];
}

export interface WebhookPatch {
  url?: string;
  description?: string;
  events?: string[];
  enabled?: boolean;
}

export interface WebhookWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'discarded';

export interface WebhookDelivery {
  delivery_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  last_http_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
  payload: Record<string, unknown> | null;
}

export interface ApiKey {
  key_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ApiKeyWithSecret {
  key: ApiKey;
  secret: string;
}

export interface CrmSettings {
  connected: boolean;
  provider: 'rdstation';
  enabled: boolean;
  token_hint: string | null;
  pipeline_id: string | null;
  stage_mapping: Record<string, string>;
  deal_name: string | null;
  status: 'connected' | 'failing' | null;
  error: string | null;
  last_synced_at: string | null;
  piloto_stages: string[];
}

export interface CrmInput {
  token?: string;
  enabled?: boolean;
  pipeline_id?: string | null;
  stage_mapping?: Record<string, string>;
  deal_name?: string;
}

export interface CrmPipeline {
  id: string;
  name: string;
  stages: { id: string; name: string }[];
}

export const NOTIFICATION_TYPES = ['handoff', 'insight', 'meeting', 'account', 'daily_digest'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface Notification {
  notification_id: string;
  type: NotificationType | string;
  title: string;
  body: string;
  link: string | null;
  conversation_id: string | null;
  created_at: string;
  read_at: string | null;
}

export interface NotificationList {
  notifications: Notification[];
  unread: number;
}

export interface ChannelPreference {
  email: boolean;
  console: boolean;
}

export interface NotificationPreferences {
  types: Partial<Record<NotificationType, ChannelPreference>>;
  email: string;
  mail_enabled: boolean;
}
