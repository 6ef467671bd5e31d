// A stand-in for the local stack, to run the console's browser test before (or without) the real backend:
// the real Firebase Auth emulator (from emulators/node_modules), a Hosting-like server for console/dist with
// an in-memory admin API under /api that follows /work/api-contract.md, and a provider simulator with the
// endpoints the test uses (POST /channels, POST /leads/meta/{channel}/messages, GET /outbox) whose "agent"
// answers a lead after a second, or stays silent with human_active while a seller holds the conversation;
// questions about parking, payment, guarantees or cancellation it answers only from the knowledge base (word
// overlap standing in for vector search), else hands off with knowledge_gap and records the open question,
// which the seller's answer turns into a proposal to review. Insight agents (issue 8) run on the lead's messages,
// closes and macro buttons, producing an offline payload after a moment.
//
//   node e2e/mock-stack.mjs           start everything, run e2e/inbox.e2e.mjs, knowledge.e2e.mjs and insights.e2e.mjs, stop
//   node e2e/mock-stack.mjs knowledge start everything, run only e2e/knowledge.e2e.mjs, stop
//   node e2e/mock-stack.mjs --serve   start everything and keep serving (print the URLs)
//
// It is a test double of the contract, not the product: the product is functions/admin.
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const CONSOLE_DIR = resolve(HERE, '..');
const DIST = join(CONSOLE_DIR, 'dist');
const FIREBASE_BIN = resolve(CONSOLE_DIR, '../emulators/node_modules/.bin/firebase');
const PROJECT = 'demo-piloto-console';
const AGENT_DELAY_MS = 1000;

const log = (message) => console.log(`[mock-stack] ${message}`);
const now = () => new Date().toISOString();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------- Firebase Auth emulator

async function startAuthEmulator() {
  if (!existsSync(FIREBASE_BIN)) throw new Error(`${FIREBASE_BIN} is missing: run make deps (firebase-tools)`);
  const dir = mkdtempSync(join(tmpdir(), 'piloto-console-auth-'));
  const [auth, hub, logging] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'firebase.json'),
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port: auth },
        hub: { host: '127.0.0.1', port: hub },
        logging: { host: '127.0.0.1', port: logging },
        ui: { enabled: false },
        singleProjectMode: true,
      },
    }),
  );
  const child = spawn(FIREBASE_BIN, ['emulators:start', '--only', 'auth', '--project', PROJECT], {
    cwd: dir,
    env: { ...process.env, CI: 'true', NO_UPDATE_NOTIFIER: '1', XDG_CONFIG_HOME: join(dir, 'config'), TMPDIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${auth}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the Auth emulator exited:\n${output.slice(-2000)}`);
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(300);
  }
  if (Date.now() >= deadline) throw new Error(`the Auth emulator did not start:\n${output.slice(-2000)}`);
  log(`Auth emulator ${url}`);
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        await Promise.race([exited, sleep(10_000)]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- in-memory state

const PROVIDERS = [
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
    config_fields: [
      { name: 'account_sid', required: true },
      { name: 'from_number', required: false },
      { name: 'api_base_url', required: false },
    ],
    secret_fields: [{ name: 'auth_token', required: true }],
  },
  {
    provider: 'evolution',
    config_fields: [
      { name: 'instance', required: true },
      { name: 'api_base_url', required: true },
    ],
    secret_fields: [{ name: 'api_key', required: true }],
  },
  {
    provider: 'zapi',
    config_fields: [
      { name: 'instance_id', required: true },
      { name: 'api_base_url', required: false },
    ],
    secret_fields: [
      { name: 'instance_token', required: true },
      { name: 'client_token', required: true },
    ],
  },
];

const DEFAULT_AGENT = {
  mode: 'pilot',
  language: 'pt-BR',
  persona: 'Atendente simpática e objetiva.',
  instructions: '',
  business_facts: {},
  qualification_fields: [],
  debounce_seconds: 5,
  quiet_hours: { start: '21:00:00', end: '08:00:00' },
  followups: ['1h', '1d', '3d'],
  max_unanswered: 3,
  human_takeover_minutes: 30,
  opt_out_acknowledgement: null,
  rejection_acknowledgement: null,
  handoff_acknowledgement: null,
  templates: { followup: null, reengagement: null },
  pilot_intents: [],
  copilot_promotion: { threshold: 0.85, min_samples: 20 },
  voice_replies: false,
};

const tenants = new Map(); // tenant_id → tenant
const outboxMessages = [];
const simulatorChannels = new Map();

class HttpError extends Error {
  constructor(status, code, message, field = null, details = []) {
    super(message);
    Object.assign(this, { status, code, field, details });
  }
}
const notFound = (what) => new HttpError(404, 'not_found', `${what} not found`);
const invalid = (field, reason) => new HttpError(422, 'validation_failed', `${field}: ${reason}`, field, [{ field, reason }]);

function caller(request) {
  const header = request.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : '';
  const payload = token.split('.')[1];
  if (!payload) throw new HttpError(401, 'unauthenticated', 'missing Authorization header (Bearer <Firebase ID token>)');
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return { uid: claims.user_id ?? claims.sub, email: claims.email ?? null, email_verified: Boolean(claims.email_verified) };
  } catch {
    throw new HttpError(401, 'unauthenticated', 'invalid token');
  }
}

function tenantView(tenant, uid) {
  return { tenant_id: tenant.tenant_id, name: tenant.name, timezone: tenant.timezone, locale: tenant.locale, role: tenant.members.get(uid)?.role };
}

function member(tenantId, who, roles = ['owner', 'admin', 'seller']) {
  const tenant = tenants.get(tenantId);
  const membership = tenant?.members.get(who.uid);
  if (!tenant || !membership) throw new HttpError(403, 'forbidden', 'not a member of this tenant');
  if (!roles.includes(membership.role)) throw new HttpError(403, 'forbidden', `role ${membership.role} may not do this`);
  return { tenant, role: membership.role };
}

function summary(conversation) {
  const { messages, decisions, fields, summary: text, unanswered_count, followups_sent, followup_due_at, ...rest } = conversation;
  const last = messages.at(-1);
  return {
    ...rest,
    last_message: last ? { role: last.role, text: last.text, at: last.at } : null,
    pending_suggestions: decisions.flatMap((d) => d.suggestions).filter((s) => s.state === 'pending').length,
  };
}

// As functions/admin does: a takeover holds until released; a seller's message also opens a window.
function humanActive(conversation) {
  return Boolean(conversation.taken_over_by) || (Boolean(conversation.human_active_until) && Date.parse(conversation.human_active_until) > Date.now());
}

function takeOver(conversation, who) {
  conversation.taken_over_by ??= who.uid;
  conversation.assignee_uid ??= who.uid;
  conversation.assignee_email ??= who.email;
  conversation.updated_at = now();
}

function toOutbox(channel, to, text) {
  const entry = {
    index: outboxMessages.length,
    provider: channel.provider,
    channel_id: channel.channel_id,
    to,
    kind: 'text',
    text,
    provider_message_id: `wamid.${randomUUID()}`,
    accepted_at: now(),
  };
  outboxMessages.push(entry);
  return entry;
}

function markStatuses(message) {
  for (const [status, delay] of [['sent', 300], ['delivered', 1000], ['read', 2500]]) {
    setTimeout(() => {
      message.status = status;
    }, delay);
  }
}

// The "agent": answer the lead after a moment, or stay silent while a human holds the conversation.
function agentTurn(tenant, conversation, channel) {
  setTimeout(() => {
    const decided_at = now();
    const asked = conversation.messages.filter((m) => m.role === 'lead').at(-1)?.text ?? '';
    if (humanActive(conversation)) {
      conversation.decisions.push(decision('stay_silent', ['human_active'], decided_at));
    } else if (conversation.messages.at(-1)?.understanding?.status === 'not_understood') {
      const text = 'Não consegui ouvir seu áudio por aqui. Pode me escrever sua dúvida?';
      conversation.decisions.push({ ...decision('speak', ['media_not_understood'], decided_at), specialist: 'media', messages: [{ text, template: null }] });
      const message = { message_id: randomUUID(), role: 'agent', text, at: new Date(Date.now() + 50).toISOString(), status: 'queued', author_email: null };
      conversation.messages.push(message);
      markStatuses(message);
      toOutbox(channel, conversation.contact_phone, text);
    } else if (KNOWLEDGE_TOPICS.test(normalized(asked))) {
      knowledgeTurn(tenant, conversation, channel, asked, decided_at);
    } else if (tenant.agent.mode === 'copilot' || conversation.mode === 'copilot') {
      const made = decision('stay_silent', ['copilot_mode'], decided_at);
      made.suggestions = [{ index: 0, text: 'A limpeza de pele custa R$ 180 e leva 60 minutos.', state: 'pending' }];
      conversation.decisions.push(made);
    } else {
      const text = 'Oi, Mariana! A limpeza de pele profunda custa R$ 180 e leva 60 minutos. Quer agendar?';
      conversation.decisions.push({ ...decision('speak', ['lead_replied'], decided_at), messages: [{ text, template: null }] });
      const message = { message_id: randomUUID(), role: 'agent', text, at: new Date(Date.now() + 50).toISOString(), status: 'queued', author_email: null };
      conversation.messages.push(message);
      markStatuses(message);
      toOutbox(channel, conversation.contact_phone, text);
      conversation.unanswered_count += 1;
      conversation.stage = 'pricing';
      conversation.summary = 'A lead perguntou o preço da limpeza de pele; o agente informou R$ 180.';
      conversation.fields = { procedimento: 'limpeza de pele' };
    }
    conversation.updated_at = now();
  }, AGENT_DELAY_MS);
}

// Questions about these topics are answered only from the knowledge base, as the real agent does for
// prices, payment, deadlines, guarantees and policies: no source → a knowledge_gap handoff and an open question.
const KNOWLEDGE_TOPICS = /estacionamento|garantia|pix|parcel|cancel/;

function normalized(text) {
  return String(text ?? '')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

const STOPWORDS = new Set(
  'voce voces quanto qual quais como sobre para pela pelo local aqui tem ter sim nao com por que dos das nos nas uma sao foi aos ate'.split(' '),
);
const words = (text) => new Set(normalized(text).split(/[^a-z0-9$]+/).filter((word) => word.length >= 3 && !STOPWORDS.has(word)));

function entryText(entry) {
  return entry.kind === 'qa' ? `${entry.question}\n${entry.answer}` : entry.content;
}

/** Word overlap, best first: a stand-in for the vector search. */
function searchKnowledge(tenant, query) {
  const asked = words(query);
  return tenant.knowledge
    .map((entry) => {
      const found = words(`${entry.title} ${entryText(entry)}`);
      const shared = [...asked].filter((word) => found.has(word)).length;
      return { entry_id: entry.entry_id, title: entry.title, kind: entry.kind, text: entryText(entry).slice(0, 500), score: asked.size ? shared / asked.size : 0, entry };
    })
    .filter((result) => result.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, 5);
}

function knowledgeTurn(tenant, conversation, channel, asked, decided_at) {
  const [best] = searchKnowledge(tenant, asked);
  if (!best) {
    const made = { ...decision('handoff', ['knowledge_gap', 'handoff_requested'], decided_at), specialist: 'handoff', stage: 'handoff' };
    made.handoff_summary = `O lead perguntou: "${asked}" e a base de conhecimento não responde.`;
    conversation.decisions.push(made);
    conversation.status = 'handoff';
    conversation.needs_human = true;
    conversation.attention_reason = 'knowledge_gap';
    tenant.proposals.push({
      proposal_id: randomUUID().slice(0, 12),
      conversation_id: conversation.conversation_id,
      decision_id: made.decision_id,
      question: asked,
      answer: null,
      status: 'open',
      answered_by_email: null,
      answered_at: null,
      created_at: decided_at,
      entry_id: null,
    });
    return;
  }
  const text = `Claro! ${best.entry.kind === 'qa' ? best.entry.answer : best.text}`;
  const made = { ...decision('speak', ['lead_replied'], decided_at), messages: [{ text, template: null }] };
  made.knowledge_used = [{ entry_id: best.entry_id, title: best.title }];
  conversation.decisions.push(made);
  const message = { message_id: randomUUID(), role: 'agent', text, at: new Date(Date.now() + 50).toISOString(), status: 'queued', author_email: null };
  conversation.messages.push(message);
  markStatuses(message);
  toOutbox(channel, conversation.contact_phone, text);
}

const INTENTS = ['qualify', 'sell', 'schedule', 'close', 'handoff'];

function copilotIntents(tenant, days) {
  const { threshold, min_samples } = tenant.agent.copilot_promotion;
  // Fixed figures for the stand-in: "sell" is eligible until the owner switches it.
  const figures = { qualify: [12, 9, 1, 1, 1], sell: [42, 33, 6, 2, 1], schedule: [8, 7, 1, 0, 0], close: [15, 6, 3, 4, 2], handoff: [0, 0, 0, 0, 0] };
  return {
    threshold,
    min_samples,
    days,
    intents: INTENTS.map((intent) => {
      const [offered, accepted, edited, ignored, dismissed] = figures[intent];
      const rate = offered ? (accepted + edited) / offered : null;
      return {
        intent,
        // As shared/copilot.py: a pilot tenant's agent answers every intent.
        mode: tenant.agent.mode === 'pilot' || tenant.agent.pilot_intents.includes(intent) ? 'pilot' : 'copilot',
        offered,
        accepted,
        edited,
        ignored,
        dismissed,
        acceptance_rate: rate,
        mean_similarity: edited ? 0.86 : null,
        eligible: rate !== null && rate >= threshold && offered >= min_samples,
      };
    }),
  };
}

function validateKnowledge(body) {
  const details = [];
  if (!['qa', 'fact', 'price_list', 'policy'].includes(body?.kind)) details.push({ field: 'kind', reason: "Input should be 'qa', 'fact', 'price_list' or 'policy'" });
  if (!String(body?.title ?? '').trim()) details.push({ field: 'title', reason: 'String should have at least 1 character' });
  if (body?.kind === 'qa') {
    if (!String(body.question ?? '').trim()) details.push({ field: 'question', reason: 'a question/answer entry needs a question' });
    if (!String(body.answer ?? '').trim()) details.push({ field: 'answer', reason: 'a question/answer entry needs an answer' });
  } else if (!String(body?.content ?? '').trim()) details.push({ field: 'content', reason: 'this kind needs content' });
  if (details.length) throw new HttpError(422, 'validation_failed', `${details[0].field}: ${details[0].reason}`, details[0].field, details);
}

function knowledgeEntry(tenant, who, fields, previous = null) {
  const at = now();
  const entry = {
    entry_id: previous?.entry_id ?? randomUUID().slice(0, 12),
    kind: fields.kind,
    title: fields.title.trim(),
    question: fields.kind === 'qa' ? fields.question.trim() : null,
    answer: fields.kind === 'qa' ? fields.answer.trim() : null,
    content: fields.kind === 'qa' ? `${fields.question.trim()}\n${fields.answer.trim()}` : String(fields.content).trim(),
    source: fields.source ?? previous?.source ?? 'manual',
    filename: fields.filename ?? null,
    mime_type: fields.mime_type ?? null,
    size_bytes: fields.size_bytes ?? null,
    chunk_count: 1,
    embedding_model: 'mock-word-overlap',
    created_at: previous?.created_at ?? at,
    updated_at: at,
    created_by_email: previous?.created_by_email ?? who.email,
  };
  entry.chunk_count = Math.max(1, Math.ceil(entry.content.length / 800));
  return entry;
}

function knowledgeApi(tenant, role, who, method, rest, query, body) {
  const manager = ['owner', 'admin'].includes(role);
  const managersOnly = () => {
    if (!manager) throw new HttpError(403, 'forbidden', 'owners and admins only');
  };
  if (rest === '/knowledge' && method === 'GET') {
    const entries = [...tenant.knowledge].sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    return [200, { entries, embedding_model: 'mock-word-overlap', offline: true }, true];
  }
  if (rest === '/knowledge' && method === 'POST') {
    managersOnly();
    validateKnowledge(body);
    const entry = knowledgeEntry(tenant, who, body);
    tenant.knowledge.push(entry);
    return [201, entry];
  }
  if (rest === '/knowledge/files' && method === 'POST') {
    managersOnly();
    const bytes = Buffer.from(String(body?.content_base64 ?? ''), 'base64');
    if (bytes.length > 10 * 1024 * 1024) throw new HttpError(413, 'payload_too_large', 'file over 10 MB');
    if (body?.mime_type !== 'text/plain') throw new HttpError(415, 'unsupported_media_type', 'the stand-in reads text files only');
    const text = bytes.toString('utf8').trim();
    if (!text) throw invalid('content_base64', 'no text in the file');
    const entry = knowledgeEntry(tenant, who, {
      kind: 'file',
      title: body.title || body.filename,
      content: text,
      source: 'upload',
      filename: body.filename,
      mime_type: body.mime_type,
      size_bytes: bytes.length,
    });
    tenant.knowledge.push(entry);
    return [201, entry];
  }
  if (rest === '/knowledge/search' && method === 'POST') {
    if (!String(body?.query ?? '').trim()) throw invalid('query', 'String should have at least 1 character');
    return [200, { results: searchKnowledge(tenant, body.query).map(({ entry, ...result }) => result) }];
  }
  if (rest === '/knowledge/proposals' && method === 'GET') {
    const status = query.get('status');
    const proposals = tenant.proposals.filter((p) => !status || p.status === status).sort((a, b) => b.created_at.localeCompare(a.created_at));
    return [200, { proposals }, true];
  }
  let m = rest.match(/^\/knowledge\/proposals\/([^/]+)\/(approve|reject)$/);
  if (m && method === 'POST') {
    managersOnly();
    const proposal = tenant.proposals.find((p) => p.proposal_id === decodeURIComponent(m[1]));
    if (!proposal) throw notFound('proposal');
    if (proposal.status !== 'proposed') throw new HttpError(409, 'conflict', `proposal is ${proposal.status}`);
    Object.assign(proposal, { reviewed_by_email: who.email, reviewed_at: now() });
    if (m[2] === 'reject') {
      proposal.status = 'rejected';
      return [200, proposal];
    }
    const question = body?.question ?? proposal.question;
    const answer = body?.answer ?? proposal.answer;
    const entry = knowledgeEntry(tenant, who, { kind: 'qa', title: body?.title ?? question, question, answer, source: 'learned' });
    tenant.knowledge.push(entry);
    Object.assign(proposal, { status: 'approved', question, answer, entry_id: entry.entry_id });
    return [200, { proposal, entry }];
  }
  m = rest.match(/^\/knowledge\/([^/]+)$/);
  if (m && ['PUT', 'DELETE'].includes(method)) {
    managersOnly();
    const previous = tenant.knowledge.find((e) => e.entry_id === decodeURIComponent(m[1]));
    if (!previous) throw notFound('knowledge entry');
    if (method === 'DELETE') {
      tenant.knowledge = tenant.knowledge.filter((e) => e !== previous);
      return [204, null];
    }
    validateKnowledge(body);
    const entry = knowledgeEntry(tenant, who, body, previous);
    tenant.knowledge = tenant.knowledge.map((e) => (e === previous ? entry : e));
    return [200, entry];
  }
  if (rest === '/copilot/intents' && method === 'GET') return [200, copilotIntents(tenant, Number(query.get('days') ?? 30))];
  m = rest.match(/^\/copilot\/intents\/([^/]+)$/);
  if (m && method === 'PUT') {
    if (role !== 'owner') throw new HttpError(403, 'forbidden', 'owners only');
    const intent = decodeURIComponent(m[1]);
    if (!INTENTS.includes(intent)) throw notFound('intent');
    if (!['pilot', 'copilot'].includes(body?.mode)) throw invalid('mode', "Input should be 'pilot' or 'copilot'");
    const others = tenant.agent.pilot_intents.filter((name) => name !== intent);
    tenant.agent.pilot_intents = body.mode === 'pilot' ? [...others, intent] : others;
    return [200, copilotIntents(tenant, 30).intents.find((item) => item.intent === intent)];
  }
  return null;
}

function decision(action, reasons, decided_at) {
  return {
    decision_id: randomUUID(),
    action,
    reasons,
    messages: [],
    suggestions: [],
    decided_at,
    specialist: 'sell',
    stage: 'pricing',
    handoff_summary: null,
    offline_model: true,
  };
}

// ---------------------------------------------------------------- insight agents (issue 8)
// Agents, templates, a runner that plays the offline model (a deterministic payload after a moment), throttles per
// conversation and per day, apply/dismiss (mark_won/mark_lost close the conversation and fire TICKET_*), macros,
// the traffic report and the Conversions API settings, per docs of the admin API contract (issue8-api).

const INSIGHT_EVENTS = ['NEW_MESSAGE_RECEIVED', 'TICKET_WON', 'TICKET_LOST', 'INACTIVITY_2H', 'MACRO_BUTTON_CLICKED'];
const FIELD_TYPES = ['string', 'number', 'boolean', 'array', 'enum'];
const INSIGHT_DELAY_MS = 1200;
const MAX_INSIGHT_AGENTS = 30;

const trigger = (event, extra = {}) => ({
  trigger_id: '',
  event,
  keywords: [],
  mode: 'any',
  min_lead_messages: 0,
  max_per_conversation: null,
  conversation_window_minutes: 60,
  max_per_day: null,
  ...extra,
});
const outputField = (name, type, description, extra = {}) => ({
  name,
  type,
  description,
  required: true,
  options: [],
  items: 'string',
  minimum: null,
  maximum: null,
  ...extra,
});
const spec = (extra) => ({ icon: '✨', description: '', model: 'fast', active: true, apply_action: 'none', message_field: null, send_conversion: false, template: null, ...extra });

const INSIGHT_TEMPLATES = [
  {
    key: 'qa_auditor',
    name: 'Auditor de qualidade',
    icon: '🧐',
    description: 'Ao fechar uma conversa, dá notas de 0 a 10 ao atendimento, com os motivos.',
    spec: spec({
      prompt: 'Você audita o atendimento de uma conversa encerrada: SLA, empatia, perguntas de descoberta, objeções e próximo passo.',
      triggers: [trigger('TICKET_WON'), trigger('TICKET_LOST')],
      fields: [
        outputField('sla_met', 'boolean', 'SLA de resposta cumprido'),
        outputField('empathy_score', 'number', 'Empatia (0 a 10)', { minimum: 0, maximum: 10 }),
        outputField('discovery_score', 'number', 'Perguntas de descoberta (0 a 10)', { minimum: 0, maximum: 10 }),
        outputField('next_step_agreed', 'boolean', 'Próximo passo combinado'),
        outputField('reasons', 'string', 'Motivos das notas'),
      ],
    }),
  },
  {
    key: 'closing_coach',
    name: 'Coach de fechamento',
    icon: '🎯',
    description: 'Quando o lead hesita ou objeta, sopra uma dica ao vendedor (só no copiloto).',
    spec: spec({
      prompt: 'Você é um coach de vendas. Dê ao vendedor uma dica curta para a objeção do lead.',
      triggers: [
        trigger('NEW_MESSAGE_RECEIVED', { keywords: ['caro', 'vou pensar', 'desconto', 'depois'], mode: 'copilot', max_per_conversation: 1 }),
        trigger('MACRO_BUTTON_CLICKED'),
      ],
      fields: [
        outputField('objection', 'enum', 'Objeção', { options: ['preço', 'prazo', 'confiança', 'concorrência', 'outro'] }),
        outputField('tip', 'string', 'Dica para o vendedor'),
      ],
    }),
  },
  {
    key: 'ghosting_sentinel',
    name: 'Sentinela de vácuo',
    icon: '👻',
    description: 'Quando um lead engajado some por 2 horas, sugere uma mensagem de resgate.',
    spec: spec({
      prompt: 'O lead parou de responder. Sugira uma mensagem curta e gentil para retomar a conversa.',
      triggers: [trigger('INACTIVITY_2H', { min_lead_messages: 3 })],
      fields: [
        outputField('engagement', 'enum', 'Engajamento', { options: ['alto', 'médio', 'baixo'] }),
        outputField('rescue_message', 'string', 'Mensagem de resgate'),
      ],
      message_field: 'rescue_message',
    }),
  },
  {
    key: 'icp_mapper',
    name: 'Mapeador de ICP',
    icon: '🧭',
    description: 'Em cada venda, anota o perfil de quem comprou.',
    spec: spec({
      prompt: 'Extraia o perfil do comprador desta conversa ganha.',
      triggers: [trigger('TICKET_WON')],
      fields: [
        outputField('segment', 'string', 'Segmento'),
        outputField('decision_maker', 'boolean', 'Fala com quem decide'),
        outputField('pains', 'array', 'Dores', { items: 'string' }),
      ],
    }),
  },
  {
    key: 'traffic_feedback',
    name: 'Feedback de tráfego',
    icon: '📣',
    description: 'Por que os leads de cada anúncio foram perdidos, num relatório por campanha.',
    spec: spec({
      prompt: 'A conversa foi perdida. Classifique o motivo e descreva-o em uma frase.',
      triggers: [trigger('TICKET_LOST')],
      fields: [
        outputField('lost_reason', 'enum', 'Motivo da perda', { options: ['preço', 'timing', 'concorrente', 'fora do perfil', 'sem resposta', 'outro'] }),
        outputField('detail', 'string', 'Detalhe'),
      ],
    }),
  },
  {
    key: 'conversion_auditor',
    name: 'Auditor de conversão',
    icon: '💰',
    description: 'Detecta uma compra confirmada que a equipe não registrou ("paguei", "segue o comprovante") e sugere marcar a conversa como ganha.',
    spec: spec({
      prompt: 'O lead diz que pagou? Confirme pela conversa e extraia o valor, se houver.',
      triggers: [trigger('NEW_MESSAGE_RECEIVED', { keywords: ['paguei', 'comprovante', 'pix feito', 'transferi'], max_per_conversation: 1, conversation_window_minutes: 1440 })],
      fields: [
        outputField('purchase_confirmed', 'boolean', 'Compra confirmada'),
        outputField('evidence', 'string', 'Evidência na conversa'),
        outputField('value', 'number', 'Valor (R$)', { required: false, minimum: 0 }),
      ],
      apply_action: 'mark_won',
      send_conversion: true,
    }),
  },
].map((template) => ({ ...template, spec: { ...template.spec, name: template.name, icon: template.icon, description: template.description, template: template.key } }));

function validateInsightSpec(body) {
  const details = [];
  const bad = (field, reason) => details.push({ field, reason });
  if (!body || typeof body !== 'object') throw invalid('body', 'Input should be an object');
  const name = String(body.name ?? '');
  if (!name || name.length > 60) bad('name', 'String should have 1 to 60 characters');
  if (!String(body.prompt ?? '')) bad('prompt', 'String should have at least 1 character');
  if (!['fast', 'precise'].includes(body.model ?? 'fast')) bad('model', "Input should be 'fast' or 'precise'");
  const triggers = Array.isArray(body.triggers) ? body.triggers : [];
  if (triggers.length < 1 || triggers.length > 5) bad('triggers', 'List should have 1 to 5 items');
  triggers.forEach((item, i) => {
    if (!INSIGHT_EVENTS.includes(item.event)) bad(`triggers.${i}.event`, 'unknown event');
    if ((item.keywords ?? []).length && item.event !== 'NEW_MESSAGE_RECEIVED') bad(`triggers.${i}`, 'keywords apply only to NEW_MESSAGE_RECEIVED triggers');
  });
  const fields = Array.isArray(body.fields) ? body.fields : [];
  if (fields.length < 1 || fields.length > 20) bad('fields', 'List should have 1 to 20 items');
  fields.forEach((field, i) => {
    if (!/^[a-z][a-z0-9_]{0,39}$/.test(field.name ?? '')) bad(`fields.${i}`, `field name '${field.name}' must start with a lowercase letter and use only lowercase letters, digits and '_' (at most 40 characters)`);
    if (!FIELD_TYPES.includes(field.type)) bad(`fields.${i}.type`, 'unknown type');
    const options = field.options ?? [];
    if (field.type === 'enum' && (options.length < 2 || options.length > 20)) bad(`fields.${i}`, `enum field '${field.name}' needs between 2 and 20 options`);
    if (field.type !== 'enum' && options.length) bad(`fields.${i}`, `field '${field.name}' is not an enum: it takes no options`);
  });
  const names = fields.map((field) => field.name);
  const repeated = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
  if (repeated.length) bad('body', `output field names repeat: ${repeated.join(', ')}`);
  if (body.message_field != null && !fields.some((f) => f.name === body.message_field && f.type === 'string')) bad('body', `message_field '${body.message_field}' must name one of the string fields`);
  if (body.send_conversion && body.apply_action !== 'mark_won') bad('body', 'send_conversion needs apply_action mark_won');
  if (details.length) throw new HttpError(422, 'validation_failed', `${details[0].field}: ${details[0].reason}`, details[0].field, details);
}

function storedAgent(tenant, who, body, previous = null) {
  const at = now();
  return {
    ...spec({}),
    ...body,
    triggers: body.triggers.map((item) => ({ ...trigger(item.event), ...item, trigger_id: item.trigger_id || randomUUID().slice(0, 8) })),
    fields: body.fields.map((field) => outputField(field.name, field.type, field.description ?? '', field)),
    agent_id: previous?.agent_id ?? randomUUID().slice(0, 12),
    tenant_id: tenant.tenant_id,
    created_at: previous?.created_at ?? at,
    updated_at: at,
    created_by: previous?.created_by ?? who.uid,
  };
}

const agentOut = (agent) => ({ ...agent, macro: agent.active && agent.triggers.some((item) => item.event === 'MACRO_BUTTON_CLICKED') });

function offlinePayload(fields) {
  const payload = {};
  for (const field of fields) {
    if (field.type === 'string') payload[field.name] = `Exemplo offline: ${field.description || field.name}`;
    else if (field.type === 'number') payload[field.name] = field.maximum != null ? field.maximum : (field.minimum ?? 0);
    else if (field.type === 'boolean') payload[field.name] = true;
    else if (field.type === 'array') payload[field.name] = field.items === 'number' ? [1, 2] : field.items === 'boolean' ? [true] : ['exemplo 1', 'exemplo 2'];
    else payload[field.name] = field.options[0];
  }
  return payload;
}

function triggerMatches(item, event, conversation) {
  if (item.event !== event.type) return false;
  if (item.mode !== 'any' && item.mode !== conversation.mode) return false;
  const inbound = conversation.messages.filter((message) => message.role === 'lead').length;
  if (inbound < item.min_lead_messages) return false;
  if (event.type === 'NEW_MESSAGE_RECEIVED' && item.keywords.length) return item.keywords.some((word) => normalized(event.text).includes(normalized(word)));
  return true;
}

/** Admit a run under the trigger's throttles (the per-conversation window and the tenant's day), counting it. */
function admit(tenant, agent, item, conversation) {
  const windowKey = `${agent.agent_id}~${item.trigger_id}~c~${conversation.conversation_id}`;
  const dayKey = `${agent.agent_id}~${item.trigger_id}~d~${new Intl.DateTimeFormat('en-CA', { timeZone: tenant.timezone }).format(new Date())}`;
  const since = Date.now() - item.conversation_window_minutes * 60_000;
  const runs = (tenant.throttles.get(windowKey) ?? []).filter((at) => at > since);
  const today = tenant.throttles.get(dayKey) ?? 0;
  if (item.max_per_conversation && runs.length >= item.max_per_conversation) return false;
  if (item.max_per_day && today >= item.max_per_day) return false;
  tenant.throttles.set(windowKey, [...runs, Date.now()]);
  tenant.throttles.set(dayKey, today + 1);
  return true;
}

function fireInsightEvent(tenant, conversation, event) {
  for (const agent of tenant.insightAgents.filter((candidate) => candidate.active)) {
    if (event.type === 'MACRO_BUTTON_CLICKED' && event.agent_id !== agent.agent_id) continue;
    const item = agent.triggers.find((candidate) => triggerMatches(candidate, event, conversation));
    if (!item) continue;
    const insight_id = createHash('sha256').update(`${event.event_id}|${agent.agent_id}`).digest('hex').slice(0, 32);
    if (tenant.insights.some((insight) => insight.insight_id === insight_id)) continue;
    if (!admit(tenant, agent, item, conversation)) continue;
    const insight = {
      insight_id,
      tenant_id: tenant.tenant_id,
      conversation_id: conversation.conversation_id,
      contact_key: conversation.contact_key,
      contact_name: conversation.contact_name,
      agent_id: agent.agent_id,
      agent_name: agent.name,
      agent_icon: agent.icon,
      template: agent.template,
      event_id: event.event_id,
      event_type: event.type,
      trigger_id: item.trigger_id,
      status: 'RUNNING',
      payload: {},
      fields: structuredClone(agent.fields),
      error: null,
      attempts: 0,
      model: null,
      offline_model: false,
      prompt_tokens: 0,
      completion_tokens: 0,
      apply_action: agent.apply_action,
      message_field: agent.message_field,
      attribution: conversation.attribution ?? null,
      conversion: null,
      created_at: now(),
      completed_at: null,
      reviewed_by: null,
      reviewed_email: null,
      reviewed_at: null,
    };
    tenant.insights.push(insight);
    setTimeout(() => {
      let payload = offlinePayload(insight.fields);
      if (agent.template === 'traffic_feedback') {
        const reasons = insight.fields.find((field) => field.name === 'lost_reason')?.options ?? [];
        payload = { ...payload, lost_reason: reasons[tenant.insights.length % Math.max(1, reasons.length)], detail: `Perdido: ${event.reason ?? 'sem observação'}` };
      }
      Object.assign(insight, { status: 'SUGGESTION', payload, attempts: 1, model: 'offline-insights', offline_model: true, prompt_tokens: 420, completion_tokens: 64, completed_at: now() });
    }, INSIGHT_DELAY_MS);
  }
}

/** Close a conversation as won or lost and fire TICKET_WON/TICKET_LOST, as the admin API does after its commit. */
function closeAs(tenant, conversation, reason, note = null) {
  conversation.status = 'closed';
  conversation.close_reason = reason;
  conversation.updated_at = now();
  if (reason === 'won' || reason === 'lost') {
    fireInsightEvent(tenant, conversation, {
      event_id: `ticket:${conversation.conversation_id}:${reason}`,
      type: reason === 'won' ? 'TICKET_WON' : 'TICKET_LOST',
      reason: note,
    });
  }
}

function trafficReport(tenant, days) {
  const until = new Date();
  const since = new Date(until.getTime() - days * 86_400_000);
  const campaigns = new Map();
  const insights = tenant.insights
    .filter((insight) => insight.template === 'traffic_feedback' && insight.event_type === 'TICKET_LOST' && insight.status !== 'RUNNING' && insight.status !== 'FAILED')
    .filter((insight) => Date.parse(insight.created_at) >= since.getTime())
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  for (const insight of insights) {
    const ad = insight.attribution ?? {};
    const key = ad.source_id || ad.headline || 'organic';
    const campaign = campaigns.get(key) ?? { key, source_id: ad.source_id ?? null, headline: ad.headline ?? null, source_url: ad.source_url ?? null, lost: 0, reasons: new Map(), details: [] };
    campaign.lost += 1;
    const reason = String(insight.payload.lost_reason || 'unknown');
    campaign.reasons.set(reason, (campaign.reasons.get(reason) ?? 0) + 1);
    if (insight.payload.detail && campaign.details.length < 5) campaign.details.push(String(insight.payload.detail));
    campaigns.set(key, campaign);
  }
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    campaigns: [...campaigns.values()]
      .map((campaign) => ({ ...campaign, reasons: [...campaign.reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count) }))
      .sort((a, b) => b.lost - a.lost),
  };
}

function conversionsView(tenant) {
  const settings = tenant.conversions;
  return settings
    ? { configured: true, dataset_id: settings.dataset_id, currency: settings.currency, updated_at: settings.updated_at }
    : { configured: false, dataset_id: null, currency: null, updated_at: null };
}

function insightsApi(tenant, role, who, method, rest, query, body) {
  const manager = ['owner', 'admin'].includes(role);
  const managersOnly = () => {
    if (!manager) throw new HttpError(403, 'forbidden', 'owners and admins only');
  };
  if (rest === '/insight-templates' && method === 'GET') {
    managersOnly();
    return [200, { templates: INSIGHT_TEMPLATES }];
  }
  if (rest === '/insight-agents' && method === 'GET') {
    return [200, { agents: [...tenant.insightAgents].sort((a, b) => a.created_at.localeCompare(b.created_at)).map(agentOut) }];
  }
  if ((rest === '/insight-agents' || rest === '/insight-agents/from-template') && method === 'POST') {
    managersOnly();
    if (tenant.insightAgents.length >= MAX_INSIGHT_AGENTS) throw new HttpError(409, 'conflict', `at most ${MAX_INSIGHT_AGENTS} insight agents`);
    let definition = body;
    if (rest.endsWith('/from-template')) {
      const template = INSIGHT_TEMPLATES.find((candidate) => candidate.key === body?.template);
      if (!template) throw notFound('template');
      definition = { ...structuredClone(template.spec), active: true, template: template.key };
    }
    validateInsightSpec(definition);
    const agent = storedAgent(tenant, who, definition);
    tenant.insightAgents.push(agent);
    return [201, agentOut(agent)];
  }
  let m = rest.match(/^\/insight-agents\/([^/]+)$/);
  if (m) {
    const agent = tenant.insightAgents.find((candidate) => candidate.agent_id === decodeURIComponent(m[1]));
    if (!agent) throw notFound('insight agent');
    if (method === 'GET') return [200, agentOut(agent)];
    managersOnly();
    if (method === 'DELETE') {
      tenant.insightAgents = tenant.insightAgents.filter((candidate) => candidate !== agent);
      return [204, null];
    }
    if (method === 'PATCH') {
      if (typeof body?.active !== 'boolean') throw invalid('active', 'Input should be a valid boolean');
      agent.active = body.active;
      agent.updated_at = now();
      return [200, agentOut(agent)];
    }
    if (method === 'PUT') {
      validateInsightSpec(body);
      const updated = storedAgent(tenant, who, body, agent);
      tenant.insightAgents = tenant.insightAgents.map((candidate) => (candidate === agent ? updated : candidate));
      return [200, agentOut(updated)];
    }
  }
  if (rest === '/insights' && method === 'GET') {
    const conversationId = query.get('conversation_id');
    if (!manager) {
      const conversation = tenant.conversations.find((c) => c.conversation_id === conversationId);
      if (!conversation || (conversation.assignee_uid && conversation.assignee_uid !== who.uid)) throw new HttpError(403, 'forbidden', 'sellers pass a conversation_id they may work on');
    }
    const limit = Number(query.get('limit') ?? 50);
    if (!(limit >= 1 && limit <= 100)) throw invalid('limit', 'Input should be between 1 and 100');
    const insights = tenant.insights
      .filter((insight) => !conversationId || insight.conversation_id === conversationId)
      .filter((insight) => !query.get('status') || insight.status === query.get('status'))
      .filter((insight) => !query.get('agent_id') || insight.agent_id === query.get('agent_id'))
      .sort((a, b) => b.created_at.localeCompare(a.created_at))
      .slice(0, limit);
    return [200, { insights }, true];
  }
  if (rest === '/insights/traffic-report' && method === 'GET') {
    managersOnly();
    const days = Number(query.get('days') ?? 30);
    if (!(Number.isInteger(days) && days >= 1 && days <= 365)) throw invalid('days', 'Input should be between 1 and 365');
    return [200, trafficReport(tenant, days)];
  }
  m = rest.match(/^\/insights\/([^/]+)\/(apply|dismiss)$/);
  if (m && method === 'POST') {
    const insight = tenant.insights.find((candidate) => candidate.insight_id === decodeURIComponent(m[1]));
    if (!insight) throw notFound('insight');
    if (insight.status !== 'SUGGESTION') throw new HttpError(409, 'conflict', `insight is ${insight.status}`);
    Object.assign(insight, { status: m[2] === 'apply' ? 'APPLIED' : 'DISMISSED', reviewed_by: who.uid, reviewed_email: who.email, reviewed_at: now() });
    if (m[2] === 'apply' && insight.apply_action !== 'none') {
      const conversation = tenant.conversations.find((c) => c.conversation_id === insight.conversation_id);
      const reason = insight.apply_action === 'mark_won' ? 'won' : 'lost';
      if (conversation && conversation.status !== 'closed') closeAs(tenant, conversation, reason, `insight ${insight.agent_name}`);
      const agent = tenant.insightAgents.find((candidate) => candidate.agent_id === insight.agent_id);
      if (reason === 'won' && agent?.send_conversion) {
        const value = insight.payload?.value;
        const skipped = !tenant.conversions ? 'not_configured' : !insight.attribution?.ctwa_clid ? 'no_ctwa_clid' : !(typeof value === 'number' && value > 0) ? 'no_value' : null;
        insight.conversion = skipped
          ? { status: 'skipped', reason: skipped, events_received: null, fbtrace_id: null, at: now() }
          : { status: 'sent', reason: null, events_received: 1, fbtrace_id: `mock-${randomUUID().slice(0, 8)}`, at: now() };
      }
    }
    return [200, insight];
  }
  if (rest === '/conversions') {
    if (role !== 'owner') throw new HttpError(403, 'forbidden', 'owners only');
    if (method === 'GET') return [200, conversionsView(tenant)];
    if (method === 'DELETE') {
      tenant.conversions = null;
      return [204, null];
    }
    if (method === 'PUT') {
      const details = [];
      if (!/^\d{5,20}$/.test(String(body?.dataset_id ?? ''))) details.push({ field: 'dataset_id', reason: 'must be the digits of a Meta dataset id' });
      if (!body?.access_token && !tenant.conversions) details.push({ field: 'access_token', reason: 'required the first time the dataset is configured' });
      if (!/^[A-Z]{3}$/.test(String(body?.currency ?? 'BRL'))) details.push({ field: 'currency', reason: 'a 3-letter ISO currency code' });
      if (details.length) throw new HttpError(422, 'validation_failed', `${details[0].field}: ${details[0].reason}`, details[0].field, details);
      const token = body.access_token ?? tenant.conversions?.access_token;
      tenant.conversions = { dataset_id: body.dataset_id, access_token: token, currency: body.currency ?? 'BRL', updated_at: now() };
      return [200, conversionsView(tenant)];
    }
  }
  return null;
}

// ---------------------------------------------------------------- admin API

function slug(name) {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40);
}

function channelView(channel, consoleOrigin) {
  const { secrets, ...rest } = channel;
  return { ...rest, secrets_set: Object.keys(secrets), webhook_url: `${consoleOrigin}/webhooks/${channel.provider}/${channel.channel_id}` };
}

function validateChannel(provider, body, creating) {
  const spec = PROVIDERS.find((p) => p.provider === provider);
  if (!spec) throw invalid('provider', 'unknown provider');
  const details = [];
  if (creating) {
    for (const field of spec.config_fields) if (field.required && !body.config?.[field.name]) details.push({ field: `config.${field.name}`, reason: 'required' });
    for (const field of spec.secret_fields) if (field.required && !body.secrets?.[field.name]) details.push({ field: `secrets.${field.name}`, reason: 'required' });
  }
  if (body.config?.phone_number_id && !/^\d{15}$/.test(body.config.phone_number_id)) details.push({ field: 'config.phone_number_id', reason: 'must be 15 digits' });
  if (details.length) throw new HttpError(422, 'validation_failed', `${details[0].field}: ${details[0].reason}`, details[0].field, details);
}

function validateAgent(body) {
  const details = [];
  if (!['pilot', 'copilot'].includes(body.mode)) details.push({ field: 'mode', reason: "Input should be 'pilot' or 'copilot'" });
  if (!Number.isInteger(body.debounce_seconds) || body.debounce_seconds < 0 || body.debounce_seconds > 300)
    details.push({ field: 'debounce_seconds', reason: 'Input should be between 0 and 300' });
  if (!Number.isInteger(body.max_unanswered) || body.max_unanswered < 1 || body.max_unanswered > 20)
    details.push({ field: 'max_unanswered', reason: 'Input should be between 1 and 20' });
  (body.followups ?? []).forEach((step, i) => {
    if (!/^\d+[mhd]$/.test(step)) details.push({ field: `followups.${i}`, reason: `invalid duration '${step}'` });
  });
  if (details.length) throw new HttpError(422, 'validation_failed', `${details[0].field}: ${details[0].reason}`, details[0].field, details);
}

function metrics(tenant, query) {
  // Dates on the tenant's wall clock, as the contract says.
  const localDate = (iso) => new Intl.DateTimeFormat('en-CA', { timeZone: tenant.timezone }).format(new Date(iso));
  const to = query.get('to') ?? localDate(now());
  const from = query.get('from') ?? localDate(new Date(Date.now() - 29 * 86_400_000).toISOString());
  const started = tenant.conversations.filter((c) => localDate(c.created_at) >= from && localDate(c.created_at) <= to);
  const decisions = started.flatMap((c) => c.decisions);
  const silences = {};
  for (const d of decisions.filter((x) => x.action === 'stay_silent')) for (const r of d.reasons) silences[r] = (silences[r] ?? 0) + 1;
  const answered = started.filter((c) => c.messages.some((m) => m.role === 'agent'));
  const days = [];
  for (let day = new Date(`${from}T00:00:00Z`); day.toISOString().slice(0, 10) <= to; day.setUTCDate(day.getUTCDate() + 1)) {
    const date = day.toISOString().slice(0, 10);
    const ofDay = started.filter((c) => localDate(c.created_at) === date);
    days.push({ date, conversations_started: ofDay.length, answered_by_agent: ofDay.filter((c) => answered.includes(c)).length, handoffs: 0, meetings_booked: 0 });
  }
  return {
    from,
    to,
    timezone: tenant.timezone,
    conversations_started: started.length,
    answered_by_agent: answered.length,
    agent_messages: started.flatMap((c) => c.messages).filter((m) => m.role === 'agent').length,
    silences_by_reason: silences,
    handoffs: started.filter((c) => c.taken_over_by).length,
    meetings_booked: 0,
    followups_sent: 0,
    followups_answered: 0,
    median_first_response_seconds: answered.length ? AGENT_DELAY_MS / 1000 : null,
    suggestions_offered: decisions.flatMap((d) => d.suggestions).length,
    suggestions_accepted: decisions.flatMap((d) => d.suggestions).filter((s) => s.state === 'accepted' || s.state === 'edited').length,
    daily: days,
  };
}

async function api(request, path, query, body, consoleOrigin) {
  const method = request.method;
  if (path === '/health') return [200, { status: 'ok' }];
  if (path === '/providers') return [200, { providers: PROVIDERS }];
  if (path === '/config') throw new Error('handled by the server');
  const who = caller(request);

  if (path === '/me' && method === 'GET') {
    const memberships = [...tenants.values()]
      .filter((t) => t.members.has(who.uid))
      .map((t) => ({ tenant_id: t.tenant_id, tenant_name: t.name, role: t.members.get(who.uid).role }));
    const invites = [...tenants.values()].flatMap((t) =>
      t.invites.filter((i) => i.email === who.email).map((i) => ({ tenant_id: t.tenant_id, tenant_name: t.name, role: i.role, invited_by_email: i.invited_by_email })),
    );
    return [200, { uid: who.uid, email: who.email, email_verified: who.email_verified, memberships, invites }];
  }
  if (path === '/tenants' && method === 'POST') {
    const name = String(body?.name ?? '').trim();
    if (name.length < 2 || name.length > 80) throw invalid('name', 'String should have 2 to 80 characters');
    let id = slug(name) || 'empresa';
    while (tenants.has(id)) id = `${slug(name)}-${Math.floor(Math.random() * 10_000)}`;
    const tenant = {
      tenant_id: id,
      name,
      timezone: body.timezone ?? 'America/Sao_Paulo',
      locale: body.locale ?? 'pt-BR',
      members: new Map([[who.uid, { uid: who.uid, email: who.email, role: 'owner', added_at: now() }]]),
      invites: [],
      channels: [],
      agent: structuredClone(DEFAULT_AGENT),
      conversations: [],
      knowledge: [],
      proposals: [],
      insightAgents: [],
      insights: [],
      throttles: new Map(),
      conversions: null,
    };
    tenants.set(id, tenant);
    return [201, tenantView(tenant, who.uid)];
  }

  const match = path.match(/^\/tenants\/([^/]+)(\/.*)?$/);
  if (!match) throw notFound('route');
  const tenantId = decodeURIComponent(match[1]);
  const rest = match[2] ?? '';
  const manage = ['owner', 'admin'];

  if (rest === '') return [200, tenantView(member(tenantId, who).tenant, who.uid)];
  if (rest === '/members' && method === 'GET') {
    const { tenant } = member(tenantId, who, manage);
    return [200, { members: [...tenant.members.values()], invites: tenant.invites }];
  }
  if (rest === '/invites' && method === 'POST') {
    const { tenant } = member(tenantId, who, ['owner']);
    const invite = { email: String(body.email).toLowerCase(), role: body.role, invited_at: now(), invited_by_email: who.email };
    tenant.invites.push(invite);
    return [201, invite];
  }
  let m = rest.match(/^\/invites\/([^/]+)$/);
  if (m && method === 'DELETE') {
    const { tenant } = member(tenantId, who, ['owner']);
    tenant.invites = tenant.invites.filter((i) => i.email !== decodeURIComponent(m[1]));
    return [204, null];
  }
  m = rest.match(/^\/members\/([^/]+)$/);
  if (m) {
    const { tenant } = member(tenantId, who, ['owner']);
    const target = tenant.members.get(decodeURIComponent(m[1]));
    if (!target) throw notFound('member');
    const owners = [...tenant.members.values()].filter((x) => x.role === 'owner');
    if (method === 'PATCH') {
      if (target.role === 'owner' && body.role !== 'owner' && owners.length === 1) throw new HttpError(409, 'conflict', 'last owner');
      target.role = body.role;
      return [200, target];
    }
    if (method === 'DELETE') {
      if (target.role === 'owner' && owners.length === 1) throw new HttpError(409, 'conflict', 'last owner');
      tenant.members.delete(target.uid);
      return [204, null];
    }
  }
  if (rest === '/channels' && method === 'GET') {
    const { tenant } = member(tenantId, who, manage);
    return [200, { channels: tenant.channels.map((c) => channelView(c, consoleOrigin)) }];
  }
  if (rest === '/channels' && method === 'POST') {
    const { tenant } = member(tenantId, who, manage);
    validateChannel(body.provider, body, true);
    const channel = {
      channel_id: `${body.provider}-${body.config.phone_number_id ?? randomUUID().slice(0, 8)}`,
      provider: body.provider,
      display_name: body.display_name ?? null,
      business_phone: body.business_phone ?? null,
      enabled: true,
      config: body.config,
      secrets: body.secrets,
      tenant_id: tenant.tenant_id,
    };
    tenant.channels.push(channel);
    return [201, channelView(channel, consoleOrigin)];
  }
  m = rest.match(/^\/channels\/([^/]+)$/);
  if (m) {
    const { tenant } = member(tenantId, who, manage);
    const channel = tenant.channels.find((c) => c.channel_id === decodeURIComponent(m[1]));
    if (!channel) throw notFound('channel');
    if (method === 'GET') return [200, channelView(channel, consoleOrigin)];
    if (method === 'DELETE') {
      tenant.channels = tenant.channels.filter((c) => c !== channel);
      return [204, null];
    }
    if (method === 'PATCH') {
      validateChannel(channel.provider, body, false);
      for (const key of ['display_name', 'business_phone', 'enabled', 'config']) if (key in body) channel[key] = body[key];
      if (body.secrets) Object.assign(channel.secrets, body.secrets);
      return [200, channelView(channel, consoleOrigin)];
    }
  }
  if (rest === '/agent') {
    if (method === 'GET') return [200, member(tenantId, who).tenant.agent];
    if (method === 'PUT') {
      const { tenant } = member(tenantId, who, manage);
      validateAgent(body);
      tenant.agent = body;
      return [200, body];
    }
  }
  if (rest === '/metrics' && method === 'GET') return [200, metrics(member(tenantId, who, manage).tenant, query)];
  if (rest.startsWith('/insight') || rest === '/conversions') {
    const { tenant, role } = member(tenantId, who);
    const answer = insightsApi(tenant, role, who, method, rest, query, body);
    if (answer) return answer;
  }
  if (rest.startsWith('/knowledge') || rest.startsWith('/copilot')) {
    const { tenant, role } = member(tenantId, who);
    const answer = knowledgeApi(tenant, role, who, method, rest, query, body);
    if (answer) return answer;
  }
  if (rest === '/conversations' && method === 'GET') {
    const { tenant, role } = member(tenantId, who);
    let list = [...tenant.conversations];
    if (role === 'seller') list = list.filter((c) => !c.assignee_uid || c.assignee_uid === who.uid);
    const status = query.get('status');
    if (status) list = list.filter((c) => c.status === status);
    const assignee = query.get('assignee');
    if (assignee === 'me') list = list.filter((c) => c.assignee_uid === who.uid);
    else if (assignee === 'none') list = list.filter((c) => !c.assignee_uid);
    else if (assignee) list = list.filter((c) => c.assignee_uid === assignee);
    if (query.get('stage')) list = list.filter((c) => c.stage === query.get('stage'));
    if (query.get('channel_id')) list = list.filter((c) => c.channel_id === query.get('channel_id'));
    if (query.get('needs_human')) list = list.filter((c) => String(c.needs_human) === query.get('needs_human'));
    list.sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    return [200, { conversations: list.map(summary), next_cursor: null }, true];
  }
  m = rest.match(/^\/conversations\/([^/]+)(\/.*)?$/);
  if (m) {
    const { tenant, role } = member(tenantId, who);
    const conversation = tenant.conversations.find((c) => c.conversation_id === decodeURIComponent(m[1]));
    if (!conversation) throw notFound('conversation');
    const action = m[2] ?? '';
    if (action === '' && method === 'GET') {
      const { messages, decisions, ...info } = conversation;
      return [200, { conversation: { ...summary(conversation), ...info }, messages, decisions }, true];
    }
    if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'method not allowed');
    const open = () => {
      if (conversation.status === 'closed') throw new HttpError(409, 'conflict', 'conversation is closed');
    };
    const channel = tenant.channels.find((c) => c.channel_id === conversation.channel_id);
    const sellerSends = (text) => {
      open();
      if (!text || text.length > 4096) throw invalid('text', 'String should have 1 to 4096 characters');
      takeOver(conversation, who);
      conversation.human_active_until = new Date(Date.now() + tenant.agent.human_takeover_minutes * 60_000).toISOString();
      const message = { message_id: randomUUID(), role: 'seller', text, at: now(), status: 'queued', author_email: who.email };
      conversation.messages.push(message);
      markStatuses(message);
      toOutbox(channel, conversation.contact_phone, text);
      conversation.unanswered_count = 0;
      // The seller answered a question the agent handed off: the pair waits for review.
      for (const proposal of tenant.proposals.filter((p) => p.conversation_id === conversation.conversation_id && p.status === 'open')) {
        Object.assign(proposal, { status: 'proposed', answer: text, answered_by_email: who.email, answered_at: message.at });
      }
      return [202, { message }];
    };
    switch (action) {
      case '/takeover':
        open();
        takeOver(conversation, who);
        return [200, summary(conversation)];
      case '/release':
        open();
        conversation.taken_over_by = null;
        conversation.human_active_until = null;
        if (conversation.status === 'handoff') conversation.status = 'open';
        conversation.updated_at = now();
        return [200, summary(conversation)];
      case '/assign': {
        open();
        const uid = body.assignee_uid ?? null;
        if (role === 'seller' && uid && uid !== who.uid) throw new HttpError(403, 'forbidden', 'sellers assign to themselves');
        conversation.assignee_uid = uid;
        conversation.assignee_email = uid ? (tenant.members.get(uid)?.email ?? null) : null;
        conversation.updated_at = now();
        return [200, summary(conversation)];
      }
      case '/close':
        open();
        if (!['won', 'lost', 'no_interest', 'spam', 'other'].includes(body.reason)) throw invalid('reason', 'unknown reason');
        closeAs(tenant, conversation, body.reason, body.note ?? null);
        return [200, summary(conversation)];
      case '/mode':
        if (!manage.includes(role)) throw new HttpError(403, 'forbidden', 'owners and admins only');
        conversation.mode = body.mode;
        conversation.updated_at = now();
        return [200, summary(conversation)];
      case '/messages':
        return sellerSends(body?.text);
      case '/suggestions/accept':
      case '/suggestions/dismiss': {
        const found = conversation.decisions.find((d) => d.decision_id === body.decision_id)?.suggestions.find((s) => s.index === body.index);
        if (!found) throw notFound('suggestion');
        if (found.state !== 'pending') throw new HttpError(409, 'conflict', 'suggestion not pending');
        if (action.endsWith('dismiss')) {
          found.state = 'dismissed';
          conversation.updated_at = now();
          return [200, { decision_id: body.decision_id, index: body.index, state: 'dismissed' }];
        }
        const text = body.text ?? found.text;
        found.state = text === found.text ? 'accepted' : 'edited';
        return sellerSends(text);
      }
      default: {
        const macro = action.match(/^\/macros\/([^/]+)$/);
        if (macro) {
          const agent = tenant.insightAgents.find((candidate) => candidate.agent_id === decodeURIComponent(macro[1]));
          if (!agent) throw notFound('insight agent');
          if (!agentOut(agent).macro) throw new HttpError(409, 'conflict', 'the agent is inactive or has no MACRO_BUTTON_CLICKED trigger');
          const event_id = `macro:${randomUUID()}`;
          fireInsightEvent(tenant, conversation, { event_id, type: 'MACRO_BUTTON_CLICKED', agent_id: agent.agent_id });
          return [202, { event_id }];
        }
        throw notFound('route');
      }
    }
  }
  throw notFound('route');
}

// ---------------------------------------------------------------- provider simulator (the parts the test uses)

function leadMessage(channelId, body) {
  const channel = [...tenants.values()].flatMap((t) => t.channels).find((c) => c.channel_id === channelId);
  if (!channel || !simulatorChannels.has(channelId)) return [404, { error: `unknown channel ${channelId}` }];
  if (!channel.enabled) return [200, { provider_message_id: null, webhook_status: 404, webhook_statuses: [404], error: 'channel disabled' }];
  const tenant = tenants.get(channel.tenant_id);
  let conversation = tenant.conversations.find((c) => c.contact_key === body.from && c.channel_id === channelId && c.status !== 'closed');
  if (!conversation) {
    conversation = {
      conversation_id: randomUUID().slice(0, 12),
      channel_id: channelId,
      contact_key: body.from,
      contact_name: body.name ?? null,
      contact_phone: body.from,
      status: 'open',
      stage: 'new',
      mode: tenant.agent.mode,
      needs_human: false,
      attention_reason: null,
      assignee_uid: null,
      assignee_email: null,
      taken_over_by: null,
      human_active_until: null,
      close_reason: null,
      created_at: now(),
      updated_at: now(),
      fields: {},
      summary: '',
      unanswered_count: 0,
      followups_sent: 0,
      followup_due_at: null,
      messages: [],
      decisions: [],
    };
    tenant.conversations.push(conversation);
  }
  const id = `wamid.${randomUUID()}`;
  const type = body.type ?? 'text';
  const lead = { message_id: id, role: 'lead', text: body.text, at: now(), status: null, author_email: null };
  if (type !== 'text') {
    // As the offline stack does: documents are read locally, audio, images and video are not understood.
    lead.text = body.text ? `[${type}] ${body.text}` : `[${type}]`;
    lead.understanding =
      type === 'document'
        ? { status: 'understood', text: body.document_text ?? '', reason: null, model: 'local-extraction', offline: true }
        : { status: 'not_understood', text: null, reason: 'offline_model', model: null, offline: true };
  }
  conversation.messages.push(lead);
  conversation.unanswered_count = 0;
  conversation.updated_at = now();
  // First touch: a click-to-WhatsApp ad's referral (the stand-in takes it in the lead's body).
  if (body.referral && !conversation.attribution) conversation.attribution = { ctwa_clid: null, source_id: null, source_url: null, source_type: 'ad', headline: null, ...body.referral };
  fireInsightEvent(tenant, conversation, { event_id: `msg:${conversation.conversation_id}:${id}`, type: 'NEW_MESSAGE_RECEIVED', text: body.text ?? '' });
  agentTurn(tenant, conversation, channel);
  return [200, { provider_message_id: id, webhook_url: `/webhooks/meta/${channelId}`, webhook_status: 200, webhook_statuses: [200], error: null }];
}

function simulator(request, path, query, body) {
  if (path === '/health') return [200, { status: 'ok' }];
  if (path === '/channels' && request.method === 'POST') {
    if (simulatorChannels.has(body.channel_id)) return [409, { error: `channel ${body.channel_id} is already registered` }];
    simulatorChannels.set(body.channel_id, body);
    return [201, body];
  }
  if (path === '/outbox' && request.method === 'GET') {
    const channelId = query.get('channel_id');
    return [200, outboxMessages.filter((m) => !channelId || m.channel_id === channelId)];
  }
  const m = path.match(/^\/leads\/([^/]+)\/([^/]+)\/messages$/);
  if (m && request.method === 'POST') return leadMessage(decodeURIComponent(m[2]), body);
  return [404, { error: 'not found' }];
}

// ---------------------------------------------------------------- HTTP

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'bad_request', 'malformed JSON');
  }
}

function send(response, status, body, headers = {}) {
  if (body === null || status === 204 || status === 304) {
    response.writeHead(status, headers);
    response.end();
    return;
  }
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function serveStatic(response, path) {
  let file = join(DIST, path);
  if (!file.startsWith(DIST) || !existsSync(file) || path === '/' || !extname(path)) file = join(DIST, 'index.html');
  response.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
  response.end(readFileSync(file));
}

function listen(handler) {
  return new Promise((resolveServer) => {
    const server = createServer(async (request, response) => {
      const url = new URL(request.url, 'http://localhost');
      try {
        await handler(request, response, url);
      } catch (error) {
        if (error instanceof HttpError) {
          send(response, error.status, { error: { code: error.code, message: error.message, field: error.field, details: error.details } });
        } else {
          console.error(error);
          send(response, 500, { error: { code: 'internal', message: String(error), field: null, details: [] } });
        }
      }
    });
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  });
}

export async function startMockStack() {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error('console/dist is missing: run make console');
  const auth = await startAuthEmulator();
  const consoleServer = await listen(async (request, response, url) => {
    const origin = `http://127.0.0.1:${consoleServer.address().port}`;
    if (!url.pathname.startsWith('/api/')) return serveStatic(response, url.pathname);
    const path = url.pathname.slice(4);
    if (path === '/config') {
      return send(response, 200, { firebase: { api_key: 'fake-api-key', auth_domain: '127.0.0.1', project_id: PROJECT }, auth_emulator_url: auth.url });
    }
    const body = ['POST', 'PUT', 'PATCH'].includes(request.method) ? await readBody(request) : undefined;
    const [status, payload, conditional] = await api(request, path, url.searchParams, body, origin);
    if (conditional) {
      const etag = `"${createHash('sha1').update(JSON.stringify(payload)).digest('hex').slice(0, 16)}"`;
      if (request.headers['if-none-match'] === etag) return send(response, 304, null, { ETag: etag });
      return send(response, status, payload, { ETag: etag, 'Cache-Control': 'no-store' });
    }
    return send(response, status, payload);
  });
  const simulatorServer = await listen(async (request, response, url) => {
    const body = request.method === 'POST' ? await readBody(request) : undefined;
    const [status, payload] = simulator(request, url.pathname, url.searchParams, body);
    send(response, status, payload);
  });
  const consoleUrl = `http://127.0.0.1:${consoleServer.address().port}`;
  const simulatorUrl = `http://127.0.0.1:${simulatorServer.address().port}`;
  log(`console ${consoleUrl} · simulator ${simulatorUrl}`);
  return {
    consoleUrl,
    simulatorUrl,
    async stop() {
      consoleServer.close();
      simulatorServer.close();
      await auth.stop();
    },
  };
}

async function main() {
  const stack = await startMockStack();
  const stop = () => stack.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (process.argv.includes('--serve')) return;
  const artifacts = process.env.ARTIFACTS_DIR || join(tmpdir(), `piloto-console-e2e-${Date.now()}`);
  mkdirSync(artifacts, { recursive: true });
  const chosen = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const scripts = chosen.length ? chosen : ['inbox', 'knowledge', 'insights'];
  let code = 0;
  for (const script of scripts) {
    const child = spawn(process.execPath, [join(HERE, `${script}.e2e.mjs`)], {
      stdio: 'inherit',
      env: { ...process.env, CONSOLE_URL: stack.consoleUrl, SIMULATOR_URL: stack.simulatorUrl, ARTIFACTS_DIR: artifacts },
    });
    const exitCode = await new Promise((r) => child.on('exit', (value) => r(value ?? 1)));
    log(`${script}.e2e exited ${exitCode}; artifacts in ${artifacts}`);
    code ||= exitCode;
  }
  await stack.stop();
  process.exit(code);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
