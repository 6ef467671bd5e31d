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
