// End-to-end: the knowledge base and learning from handoffs, in a real Chromium against the local stack.
//
//   CONSOLE_URL=http://127.0.0.1:5002 SIMULATOR_URL=http://127.0.0.1:8700 ARTIFACTS_DIR=/tmp/e2e \
//   E2E_EMAIL=ana+2@example.com E2E_PASSWORD=senha-forte-1 node e2e/knowledge.e2e.mjs
//
// Sign up → create the company → connect a Meta channel at the simulator → Conhecimento: add a question/answer
// pair and a price list, upload a text file → "Testar busca" finds the pair → a lead asks what the base does not
// answer → the agent hands off with knowledge_gap → the seller answers in the inbox → the pair shows in
// "Aprendizado" (linked to the conversation) → approve it → it is in the base → another lead asks the same →
// the agent answers citing it ("Fontes") → a third lead sends a voice note (not understood offline: the agent asks
// her to write) and a PDF (its text under the bubble) → the dashboard shows "Copiloto por intenção" → Agente saves
// the promotion rule and voice replies. Screenshots
// knowledge.png, knowledge-search.png, knowledge-learning.png, knowledge-approved.png, inbox-sources.png,
// inbox-media.png, dashboard-copilot.png, agent.png; on failure the step, the browser's errors and failure.png, exit 1.
import { join } from 'node:path';
import {
  AGENT_WAIT_MS,
  byTestId,
  connectMetaChannel,
  scenario,
  scenarioEnv,
  signUpAndCreateCompany,
  simulatorClient,
  until,
} from './helpers.mjs';

const env = scenarioEnv('knowledge.e2e');
const { step, log, run, exit } = scenario('knowledge.e2e');
const simulator = simulatorClient(env.simulatorUrl);

const BUSINESS_PHONE = '+5511990008888';
const SECRETS = { app_secret: 'e2e-app-secret-2', verify_token: 'e2e-verify-token-2', access_token: 'e2e-access-token-2' };
const ASKING_LEAD = { from: '+5511987650002', name: 'Paula' };
const LATER_LEAD = { from: '+5511987650003', name: 'Rafael' };
const MEDIA_LEAD = { from: '+5511987650004', name: 'Júlia' };
const EXAM_TEXT = 'Hemograma completo: sem alterações. Glicemia em jejum: 88 mg/dL.';
const GAP_QUESTION = 'Tem estacionamento no local?';
const SELLER_ANSWER = 'Temos sim! Estacionamento gratuito no subsolo do prédio, com manobrista.';
const PAIR = { title: 'Formas de pagamento', question: 'Vocês aceitam Pix?', answer: 'Sim, aceitamos Pix e cartão de crédito em até 3 vezes sem juros.' };
const PRICES = { title: 'Tabela de preços', content: 'Limpeza de pele profunda: R$ 180\nPeeling de diamante: R$ 250\nDrenagem linfática: R$ 150' };
const FILE = {
  name: 'politica-de-cancelamento.txt',
  mimeType: 'text/plain',
  buffer: Buffer.from(
    'Política de cancelamento\n\nCancelamentos feitos com 24 horas de antecedência não são cobrados. ' +
      'Depois disso, cobramos 50% do valor do procedimento. Remarcações são gratuitas uma vez.\n',
    'utf8',
  ),
};

const entryTitled = (page, title) =>
  page.locator(byTestId('knowledge-entry'), { has: page.locator(byTestId('knowledge-entry-title'), { hasText: title }) });

async function openConversationOf(page, lead) {
  await page.click(byTestId('nav-conversations'));
  const item = page.locator(byTestId('conversation-item'), { hasText: lead.name }).first();
  await item.waitFor({ timeout: AGENT_WAIT_MS });
  await item.click();
  await page.locator(byTestId('conversation-view')).waitFor();
}

exit(
  run(env.artifactsDir, async (page) => {
    const entry = (title) => entryTitled(page, title);
    await step(`sign up as ${env.email} and create the company`, () =>
      signUpAndCreateCompany(page, { consoleUrl: env.consoleUrl, email: env.email, password: env.password, company: `Estética E2E ${env.unique}` }),
    );

    const channel = await step('connect a meta channel at the provider simulator', async () => {
      const connected = await connectMetaChannel(page, simulator, { simulatorUrl: env.simulatorUrl, businessPhone: BUSINESS_PHONE, secrets: SECRETS });
      log(`channel ${connected.channelId}`);
      return connected;
    });

    await step('open Conhecimento: empty base, the embedding model named', async () => {
      await page.click(byTestId('nav-knowledge'));
      await page.locator(byTestId('knowledge-list-empty')).waitFor();
      const model = await page.locator(byTestId('knowledge-model')).textContent();
      const offline = await page.locator(byTestId('knowledge-offline')).count();
      log(`${model}${offline ? ' (offline label shown)' : ''}`);
    });

    const pairId = await step('add a question/answer pair', async () => {
      await page.click(byTestId('knowledge-new'));
      await page.selectOption(byTestId('knowledge-kind'), 'qa');
      await page.fill(byTestId('knowledge-title'), PAIR.title);
      await page.fill(byTestId('knowledge-question'), PAIR.question);
      await page.fill(byTestId('knowledge-answer'), PAIR.answer);
      await page.click(byTestId('knowledge-submit'));
      await entry(PAIR.title).waitFor();
      const id = await entry(PAIR.title).getAttribute('data-entry-id');
      if (!id) throw new Error('the new entry has no data-entry-id');
      return id;
    });

    await step('add a price list', async () => {
      await page.click(byTestId('knowledge-new'));
      await page.selectOption(byTestId('knowledge-kind'), 'price_list');
      await page.fill(byTestId('knowledge-title'), PRICES.title);
      await page.fill(byTestId('knowledge-content'), PRICES.content);
      await page.click(byTestId('knowledge-submit'));
      await entry(PRICES.title).waitFor();
    });

    await step('upload a text file', async () => {
      await page.click(byTestId('knowledge-upload'));
      await page.setInputFiles(byTestId('knowledge-file'), FILE);
      await page.fill(byTestId('knowledge-file-title'), 'Política de cancelamento');
      await page.click(byTestId('knowledge-upload-submit'));
      const file = page.locator(`${byTestId('knowledge-entry')}[data-kind="file"]`);
      await file.waitFor();
      const chunks = Number(await file.locator(byTestId('knowledge-entry-chunks')).getAttribute('data-value'));
      if (!(chunks >= 1)) throw new Error(`the uploaded file has ${chunks} chunks`);
      await page.screenshot({ path: join(env.artifactsDir, 'knowledge.png'), fullPage: true });
    });

    await step('"Testar busca" finds the pair for a paraphrase', async () => {
      await page.click(byTestId('knowledge-tab-search'));
      await page.fill(byTestId('knowledge-search-input'), 'aceita pix?');
      await page.click(byTestId('knowledge-search-submit'));
      await page.locator(`${byTestId('knowledge-search-results')}[data-query="aceita pix?"], ${byTestId('knowledge-search-empty')}`).first().waitFor();
      const found = await page.locator(byTestId('knowledge-search-result')).evaluateAll((items) => items.map((item) => item.getAttribute('data-entry-id')));
      if (!found.slice(0, 3).includes(pairId)) throw new Error(`the pair ${pairId} is not in the top 3: ${JSON.stringify(found)}`);
      await page.screenshot({ path: join(env.artifactsDir, 'knowledge-search.png'), fullPage: true });
    });

    await step('a lead asks what the base does not answer; the agent hands off with knowledge_gap', async () => {
      await simulator.leadWrites(channel.channelId, { ...ASKING_LEAD, text: GAP_QUESTION });
      await openConversationOf(page, ASKING_LEAD);
      await page.locator(`${byTestId('decision')}[data-reasons*="knowledge_gap"]`).first().waitFor({ timeout: AGENT_WAIT_MS });
    });

    const conversationId = await step('the seller answers the lead in the inbox', async () => {
      const id = await page.locator(byTestId('conversation-view')).getAttribute('data-conversation-id');
      await page.fill(byTestId('composer-input'), SELLER_ANSWER);
      await page.click(byTestId('composer-send'));
      await page.locator(`${byTestId('message')}[data-role="seller"]`, { hasText: 'subsolo' }).waitFor();
      await until('the seller answer at the provider', async () =>
        (await simulator.outbox(channel.channelId)).some((message) => message.text === SELLER_ANSWER),
      );
      return id;
    });

    const proposal = await step('the question and the answer wait for review in Aprendizado', async () => {
      await page.click(byTestId('nav-knowledge'));
      await page.click(byTestId('knowledge-tab-learning'));
      const card = page.locator(`${byTestId('proposal')}[data-status="proposed"]`, { hasText: 'estacionamento' }).first();
      await card.waitFor({ timeout: AGENT_WAIT_MS });
      const text = await card.textContent();
      if (!text.includes('subsolo')) throw new Error(`the proposal does not carry the seller's answer: ${text}`);
      const linked = await card.getAttribute('data-conversation-id');
      if (linked !== conversationId) throw new Error(`the proposal links conversation ${linked}, expected ${conversationId}`);
      await page.locator(byTestId('proposal-count')).waitFor();
      await page.screenshot({ path: join(env.artifactsDir, 'knowledge-learning.png'), fullPage: true });
      return card;
    });

    await step('the proposal links to its conversation', async () => {
      await proposal.locator(byTestId('proposal-conversation')).click();
      await page.locator(`${byTestId('conversation-view')}[data-conversation-id="${conversationId}"]`).waitFor();
      await page.goBack();
      await page.locator(byTestId('knowledge-proposals')).waitFor();
    });

    await step('approve it: it leaves the review list and enters the base as learned', async () => {
      const card = page.locator(`${byTestId('proposal')}[data-status="proposed"]`, { hasText: 'estacionamento' }).first();
      await card.locator(byTestId('proposal-approve')).click();
      await until('the proposal to leave the review list', async () => (await page.locator(`${byTestId('proposal')}[data-status="proposed"]`, { hasText: 'estacionamento' }).count()) === 0);
      await page.click(byTestId('knowledge-tab-entries'));
      const learned = page.locator(`${byTestId('knowledge-entry')}[data-source="learned"]`, { hasText: 'subsolo' });
      await learned.waitFor();
      await page.screenshot({ path: join(env.artifactsDir, 'knowledge-approved.png'), fullPage: true });
    });

    await step('another lead asks the same; the agent answers from the learned entry and cites it', async () => {
      await simulator.leadWrites(channel.channelId, { ...LATER_LEAD, text: 'Oi, tem estacionamento aí?' });
      await openConversationOf(page, LATER_LEAD);
      const answered = page.locator(`${byTestId('decision')}[data-action="speak"]`, { has: page.locator(byTestId('decision-sources')) }).first();
      await answered.waitFor({ timeout: AGENT_WAIT_MS });
      const handoffs = await page.locator(`${byTestId('decision')}[data-reasons*="knowledge_gap"]`).count();
      if (handoffs) throw new Error('the agent handed off a question the approved entry answers');
      await until('the answer at the provider', async () =>
        (await simulator.outbox(channel.channelId)).some((message) => message.text !== SELLER_ANSWER && /subsolo/i.test(message.text ?? '')),
      );
      log(`sources: ${await answered.locator(byTestId('decision-sources')).textContent()}`);
      await page.screenshot({ path: join(env.artifactsDir, 'inbox-sources.png'), fullPage: true });
    });

    await step('a lead sends a voice note: not understood offline, the agent asks her to write', async () => {
      await simulator.leadWrites(channel.channelId, { ...MEDIA_LEAD, type: 'audio' });
      await openConversationOf(page, MEDIA_LEAD);
      const note = page.locator(`${byTestId('message')}[data-role="lead"] ${byTestId('message-understanding')}`).first();
      await note.waitFor({ timeout: AGENT_WAIT_MS });
      const status = await note.getAttribute('data-status');
      log(`voice note: ${status}: ${await note.textContent()}`);
      if (status === 'understood') throw new Error('a voice note was understood with no model configured');
      await page.locator(`${byTestId('decision')}[data-reasons*="media_not_understood"]`).first().waitFor({ timeout: AGENT_WAIT_MS });
    });

    await step('she sends a PDF: its text shows under the bubble', async () => {
      await simulator.leadWrites(channel.channelId, { ...MEDIA_LEAD, type: 'document', text: 'meu exame', filename: 'exame.pdf', document_text: EXAM_TEXT });
      const note = page.locator(`${byTestId('message-understanding')}[data-status="understood"]`, { hasText: 'Glicemia' }).first();
      await note.waitFor({ timeout: AGENT_WAIT_MS });
      const text = await note.textContent();
      if (!text.startsWith('Conteúdo do documento')) throw new Error(`the document's note reads ${JSON.stringify(text)}`);
      await page.screenshot({ path: join(env.artifactsDir, 'inbox-media.png'), fullPage: true });
    });

    await step('the dashboard shows Copiloto por intenção', async () => {
      await page.click(byTestId('nav-dashboard'));
      await page.locator(byTestId('intent-table')).waitFor();
      const intents = await page.locator(byTestId('intent-row')).evaluateAll((rows) => rows.map((row) => row.getAttribute('data-intent')));
      if (intents.length < 5) throw new Error(`the copilot table lists ${JSON.stringify(intents)}`);
      await page.locator(byTestId('copilot-intents')).screenshot({ path: join(env.artifactsDir, 'dashboard-copilot.png') });
    });

    await step('Agente: the promotion rule and voice replies are saved and read back', async () => {
      await page.click(byTestId('nav-agent'));
      await page.locator(byTestId('agent-pilot-intents')).waitFor();
      await page.fill(byTestId('agent-promotion-threshold'), '90');
      await page.fill(byTestId('agent-promotion-min-samples'), '25');
      await page.check(byTestId('agent-voice-replies'));
      await page.click(byTestId('agent-save'));
      await page.locator(byTestId('agent-saved')).waitFor();
      await page.reload();
      await page.locator(byTestId('agent-form')).waitFor();
      const threshold = await page.inputValue(byTestId('agent-promotion-threshold'));
      const samples = await page.inputValue(byTestId('agent-promotion-min-samples'));
      const voice = await page.isChecked(byTestId('agent-voice-replies'));
      if (threshold !== '90' || samples !== '25' || !voice) throw new Error(`read back threshold ${threshold}%, ${samples} samples, voice ${voice}`);
      await page.screenshot({ path: join(env.artifactsDir, 'agent.png'), fullPage: true });
    });
  }),
);
