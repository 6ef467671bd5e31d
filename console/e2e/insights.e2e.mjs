// End-to-end: insight agents, in a real Chromium against the local stack (offline model).
//
//   CONSOLE_URL=http://127.0.0.1:5002 SIMULATOR_URL=http://127.0.0.1:8700 ARTIFACTS_DIR=/tmp/e2e \
//   E2E_EMAIL=ana+3@example.com E2E_PASSWORD=senha-forte-1 node e2e/insights.e2e.mjs
//
// Sign up → create the company → connect a Meta channel at the simulator → Agentes de IA: the template library →
// add "Auditor de conversão" (it opens in the builder with its keywords) → save → switch it off and on (read back
// after a reload) → build an agent of our own with a macro button, an enum and a list field → a lead writes
// "Paguei, segue o comprovante" → in the inbox the auditor's insight arrives (offline) → press our agent's button:
// its insight arrives, "Usar no compositor" fills the composer, dismiss it → apply the auditor's insight ("Aplicar e
// marcar como ganho"): applied, the conversation closed as won → the owner's feed lists both, linked to the
// conversation → "Tráfego" explains it needs the traffic agent → add "Feedback de tráfego" → another lead is closed
// as lost → the report counts her under leads without an ad. Screenshots insight-builder.png, insight-agents.png,
// inbox-insight.png, inbox-insight-applied.png, insights-feed.png, insights-traffic-empty.png, insights-traffic.png.
import { join } from 'node:path';
import {
  AGENT_WAIT_MS,
  byTestId,
  connectMetaChannel,
  openConversationOf,
  scenario,
  scenarioEnv,
  signUpAndCreateCompany,
  simulatorClient,
  until,
} from './helpers.mjs';

const env = scenarioEnv('insights.e2e');
const { step, log, run, exit } = scenario('insights.e2e');
const simulator = simulatorClient(env.simulatorUrl);

const BUSINESS_PHONE = '+5511990007777';
const SECRETS = { app_secret: 'e2e-app-secret-3', verify_token: 'e2e-verify-token-3', access_token: 'e2e-access-token-3' };
const LEAD = { from: '+5511987650005', name: 'Carla' };
const LOST_LEAD = { from: '+5511987650006', name: 'Diego' };
const PAID = 'Paguei, segue o comprovante';
const OWN_AGENT = {
  name: 'Resumo para o vendedor',
  icon: '📝',
  prompt: 'Resuma a conversa para o vendedor: temperatura do lead, próximos passos e uma mensagem curta para enviar.',
};

const card = (page, selector) => page.locator(`${byTestId('agent-card')}${selector}`);

exit(
  run(env.artifactsDir, async (page) => {
    await step(`sign up as ${env.email} and create the company`, () =>
      signUpAndCreateCompany(page, { consoleUrl: env.consoleUrl, email: env.email, password: env.password, company: `Loja E2E ${env.unique}` }),
    );

    const channel = await step('connect a meta channel at the provider simulator', () =>
      connectMetaChannel(page, simulator, { simulatorUrl: env.simulatorUrl, businessPhone: BUSINESS_PHONE, secrets: SECRETS }),
    );

    await step('Agentes de IA: no agent yet, the six templates in the library', async () => {
      await page.click(byTestId('nav-insight-agents'));
      await page.locator(byTestId('agents-empty')).waitFor();
      await page.locator(byTestId('template-card')).first().waitFor();
      const keys = await page.locator(byTestId('template-card')).evaluateAll((cards) => cards.map((item) => item.getAttribute('data-template')));
      const expected = ['qa_auditor', 'closing_coach', 'ghosting_sentinel', 'icp_mapper', 'traffic_feedback', 'conversion_auditor'];
      const missing = expected.filter((key) => !keys.includes(key));
      if (missing.length) throw new Error(`the library lacks ${missing.join(', ')}: ${JSON.stringify(keys)}`);
      await page.locator(byTestId('conversions-settings')).waitFor(); // the owner sees the Conversions API settings
    });

    const auditorId = await step('add "Auditor de conversão": it opens in the builder with its keywords', async () => {
      await page.locator(`${byTestId('template-card')}[data-template="conversion_auditor"] ${byTestId('template-add')}`).click();
      const builder = page.locator(byTestId('builder-page'));
      await builder.waitFor();
      await page.locator(byTestId('builder-note')).waitFor();
      const id = await builder.getAttribute('data-agent-id');
      const keywords = (await page.inputValue(`${byTestId('trigger')}[data-event="NEW_MESSAGE_RECEIVED"] ${byTestId('trigger-keywords')}`)).toLowerCase();
      if (!keywords.includes('paguei') || !keywords.includes('comprovante')) throw new Error(`the auditor's keywords are ${JSON.stringify(keywords)}`);
      const action = await page.inputValue(byTestId('builder-apply-action'));
      if (action !== 'mark_won') throw new Error(`the auditor's apply action is ${action}`);
      log(`auditor ${id}: keywords ${keywords}`);
      await page.screenshot({ path: join(env.artifactsDir, 'insight-builder.png'), fullPage: true });
      await page.click(byTestId('builder-save'));
      await card(page, `[data-agent-id="${id}"][data-active="true"]`).waitFor();
      return id;
    });

    await step('switch the auditor off and on again (read back after a reload)', async () => {
      const toggle = card(page, `[data-agent-id="${auditorId}"]`).locator(byTestId('agent-card-toggle'));
      await toggle.click({ force: true });
      await card(page, `[data-agent-id="${auditorId}"][data-active="false"]`).waitFor();
      await page.reload();
      await card(page, `[data-agent-id="${auditorId}"][data-active="false"]`).waitFor();
      await card(page, `[data-agent-id="${auditorId}"]`).locator(byTestId('agent-card-toggle')).click({ force: true });
      await card(page, `[data-agent-id="${auditorId}"][data-active="true"]`).waitFor();
      await page.reload();
      await card(page, `[data-agent-id="${auditorId}"][data-active="true"]`).waitFor();
    });

    const ownId = await step('build an agent of our own: a macro button, an enum, a list and a message field', async () => {
      await page.click(byTestId('agent-new'));
      await page.locator(byTestId('builder-form')).waitFor();
      await page.fill(byTestId('builder-icon'), OWN_AGENT.icon);
      await page.fill(byTestId('builder-name'), OWN_AGENT.name);
      await page.fill(byTestId('builder-prompt'), OWN_AGENT.prompt);
      await page.selectOption(`${byTestId('trigger')}[data-index="0"] ${byTestId('trigger-event')}`, 'MACRO_BUTTON_CLICKED');
      const addField = async (name, type, description) => {
        await page.click(byTestId('field-add'));
        const row = page.locator(byTestId('output-field')).last();
        await row.locator(byTestId('field-name')).fill(name);
        await row.locator(byTestId('field-type')).selectOption(type);
        await row.locator(byTestId('field-description')).fill(description);
        return row;
      };
      const temperature = await addField('temperatura', 'enum', 'Temperatura do lead');
      // An enum needs two options: saving with one is refused beside the field, before any request.
      await temperature.locator(byTestId('field-options-add')).click();
      await temperature.locator(byTestId('field-options-0')).fill('quente');
      await page.click(byTestId('builder-save'));
      await page.locator(byTestId('field-error-fields.0')).waitFor();
      for (const [index, option] of [[1, 'morno'], [2, 'frio']]) {
        await temperature.locator(byTestId('field-options-add')).click();
        await temperature.locator(byTestId(`field-options-${index}`)).fill(option);
      }
      await addField('proximos_passos', 'array', 'Próximos passos');
      await addField('mensagem', 'string', 'Mensagem sugerida para o lead');
      await page.selectOption(byTestId('builder-message-field'), 'mensagem');
      await page.click(byTestId('builder-save'));
      const own = page.locator(`${byTestId('agent-card')}[data-template=""]`, { hasText: OWN_AGENT.name });
      await own.first().waitFor();
      const id = await own.first().getAttribute('data-agent-id');
      const triggers = await own.first().locator(byTestId('agent-card-triggers')).textContent();
      if (!/Botão na conversa/.test(triggers)) throw new Error(`our agent's triggers read ${JSON.stringify(triggers)}`);
      await page.screenshot({ path: join(env.artifactsDir, 'insight-agents.png'), fullPage: true });
      return id;
    });

    const conversationId = await step(`the lead writes "${PAID}"; the auditor's insight arrives in the inbox`, async () => {
      await simulator.leadWrites(channel.channelId, { ...LEAD, text: PAID });
      const id = await openConversationOf(page, LEAD);
      const bubble = page.locator(`${byTestId('insight')}[data-agent-id="${auditorId}"][data-status="SUGGESTION"]`);
      await bubble.waitFor({ timeout: AGENT_WAIT_MS });
      if ((await bubble.getAttribute('data-offline')) !== 'true') throw new Error('the insight is not labelled offline');
      await bubble.locator(byTestId('insight-offline')).waitFor();
      const apply = await bubble.locator(byTestId('insight-apply')).textContent();
      if (apply !== 'Aplicar e marcar como ganho') throw new Error(`the apply button reads ${JSON.stringify(apply)}`);
      const fields = await bubble.locator(byTestId('insight-field')).count();
      if (!fields) throw new Error('the insight shows no payload field');
      return id;
    });

    await step("press our agent's button: its insight arrives; its message goes to the composer; dismiss it", async () => {
      await page.locator(`${byTestId('macro-button')}[data-agent-id="${ownId}"]`).click();
      await page.locator(byTestId('macro-feedback')).waitFor();
      const bubble = page.locator(`${byTestId('insight')}[data-agent-id="${ownId}"][data-status="SUGGESTION"]`);
      await bubble.waitFor({ timeout: AGENT_WAIT_MS });
      const temperature = await bubble.locator(`${byTestId('insight-field')}[data-field="temperatura"] ${byTestId('insight-chip')}`).textContent();
      if (!['quente', 'morno', 'frio'].includes(temperature)) throw new Error(`the enum shows ${JSON.stringify(temperature)}`);
      const message = await bubble.locator(`${byTestId('insight-field')}[data-field="mensagem"] dd`).textContent();
      await bubble.locator(byTestId('insight-use-text')).click();
      if (!message) throw new Error('the insight has no message');
      await until('the message in the composer', async () => (await page.inputValue(byTestId('composer-input'))) === message, 5000, 100);
      await page.fill(byTestId('composer-input'), '');
      await page.screenshot({ path: join(env.artifactsDir, 'inbox-insight.png'), fullPage: true });
      await bubble.locator(byTestId('insight-dismiss')).click();
      await page.locator(`${byTestId('insight')}[data-agent-id="${ownId}"][data-status="DISMISSED"]`).waitFor();
    });

    await step('apply the auditor\'s insight: applied, the conversation closed as won', async () => {
      const bubble = page.locator(`${byTestId('insight')}[data-agent-id="${auditorId}"]`);
      await bubble.locator(byTestId('insight-apply')).click();
      await page.locator(`${byTestId('insight')}[data-agent-id="${auditorId}"][data-status="APPLIED"]`).waitFor();
      await page.locator(`${byTestId('conversation-status')}[data-status="closed"]`).waitFor();
      const details = await page.locator(byTestId('details-panel')).textContent();
      if (!details.includes('Ganho')) throw new Error(`the details panel does not say won: ${details}`);
      const conversion = bubble.locator(byTestId('insight-conversion'));
      if (await conversion.count()) log(`conversion: ${await conversion.getAttribute('data-status')}: ${await conversion.textContent()}`);
      await page.screenshot({ path: join(env.artifactsDir, 'inbox-insight-applied.png'), fullPage: true });
    });

    await step("the owner's feed lists both insights, each linked to the conversation", async () => {
      await page.click(byTestId('nav-insights'));
      await page.locator(byTestId('insights-list')).waitFor();
      await page.locator(`${byTestId('insight')}[data-agent-id="${auditorId}"][data-status="APPLIED"]`).waitFor();
      await page.locator(`${byTestId('insight')}[data-agent-id="${ownId}"][data-status="DISMISSED"]`).waitFor();
      await page.selectOption(byTestId('insights-status-filter'), 'APPLIED');
      await until('only applied insights', async () => {
        const statuses = await page.locator(byTestId('insight')).evaluateAll((items) => items.map((item) => item.getAttribute('data-status')));
        return statuses.length > 0 && statuses.every((status) => status === 'APPLIED');
      });
      await page.screenshot({ path: join(env.artifactsDir, 'insights-feed.png'), fullPage: true });
      await page.locator(`${byTestId('insight')}[data-agent-id="${auditorId}"] ${byTestId('insight-conversation')}`).click();
      await page.locator(`${byTestId('conversation-view')}[data-conversation-id="${conversationId}"]`).waitFor();
    });

    await step('Tráfego: empty, explaining it needs the traffic feedback agent', async () => {
      await page.click(byTestId('nav-insights'));
      await page.click(byTestId('insights-tab-traffic'));
      await page.selectOption(byTestId('traffic-days'), '90');
      const empty = await page.locator(byTestId('traffic-empty')).textContent();
      if (!empty.includes('Feedback de tráfego')) throw new Error(`the empty report reads ${JSON.stringify(empty)}`);
      await page.screenshot({ path: join(env.artifactsDir, 'insights-traffic-empty.png'), fullPage: true });
    });

    const trafficId = await step('add "Feedback de tráfego" from the library', async () => {
      await page.click(byTestId('nav-insight-agents'));
      await page.locator(`${byTestId('template-card')}[data-template="traffic_feedback"] ${byTestId('template-add')}`).click();
      const id = await page.locator(byTestId('builder-page')).getAttribute('data-agent-id');
      await page.click(byTestId('builder-cancel'));
      await card(page, `[data-agent-id="${id}"][data-template="traffic_feedback"][data-active="true"]`).waitFor();
      return id;
    });

    await step('another lead is closed as lost by the seller: the traffic agent analyses it', async () => {
      await simulator.leadWrites(channel.channelId, { ...LOST_LEAD, text: 'Achei caro, vou ver em outro lugar.' });
      await openConversationOf(page, LOST_LEAD);
      await page.click(byTestId('close-button'));
      await page.selectOption(byTestId('close-reason'), 'lost');
      await page.fill(byTestId('close-note'), 'achou caro');
      await page.click(byTestId('close-confirm'));
      await page.locator(`${byTestId('conversation-status')}[data-status="closed"]`).waitFor();
      await page.locator(`${byTestId('insight')}[data-agent-id="${trafficId}"][data-status="SUGGESTION"]`).waitFor({ timeout: AGENT_WAIT_MS });
    });

    await step('Tráfego counts the lost lead under leads without an ad, with its reason', async () => {
      await page.click(byTestId('nav-insights'));
      await page.click(byTestId('insights-tab-traffic'));
      const campaign = page.locator(`${byTestId('traffic-campaign')}[data-key="organic"]`);
      await campaign.waitFor();
      const lost = await campaign.getAttribute('data-lost');
      if (lost !== '1') throw new Error(`the organic campaign counts ${lost} lost leads`);
      const reasons = await campaign.locator(byTestId('traffic-reason')).evaluateAll((items) => items.map((item) => `${item.getAttribute('data-reason')}=${item.getAttribute('data-count')}`));
      if (reasons.length !== 1 || !reasons[0].endsWith('=1')) throw new Error(`the campaign's reasons are ${JSON.stringify(reasons)}`);
      log(`traffic: organic, reasons ${reasons.join(', ')}`);
      await page.screenshot({ path: join(env.artifactsDir, 'insights-traffic.png'), fullPage: true });
    });
  }),
);
