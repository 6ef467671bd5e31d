// End-to-end: the console in a real Chromium against the local stack (Hosting emulator serving console/dist,
// admin API, Auth emulator, provider simulator, the agent with the offline model).
//
//   CONSOLE_URL=http://127.0.0.1:5002 SIMULATOR_URL=http://127.0.0.1:8700 ARTIFACTS_DIR=/tmp/e2e \
//   E2E_EMAIL=ana+1@example.com E2E_PASSWORD=senha-forte-1 node e2e/inbox.e2e.mjs
//
// Sign up → create the company → connect a Meta channel pointing at the simulator → a lead writes →
// the agent answers (reply and decision line in the inbox) → the seller takes over and writes → the lead
// writes again → the agent stays silent (human_active) and sends nothing → the dashboard counts the
// conversation. Exit 0 on success; on failure print the step, save failure.png, exit 1.
import { join } from 'node:path';
import {
  AGENT_WAIT_MS,
  byTestId,
  connectMetaChannel,
  scenario,
  scenarioEnv,
  signUpAndCreateCompany,
  simulatorClient,
  sleep,
  until,
} from './helpers.mjs';

const env = scenarioEnv('inbox.e2e');
const { step, log, run, exit } = scenario('inbox.e2e');
const simulator = simulatorClient(env.simulatorUrl);

const LEAD = { from: '+5511987650001', name: 'Mariana' };
const BUSINESS_PHONE = '+5511990009999';
const SELLER_TEXT = 'Oi Mariana, aqui é a Ana da clínica!';
const SECRETS = { app_secret: 'e2e-app-secret', verify_token: 'e2e-verify-token', access_token: 'e2e-access-token' };

exit(
  run(env.artifactsDir, async (page) => {
    await step(`sign up as ${env.email} and create the company`, () =>
      signUpAndCreateCompany(page, { consoleUrl: env.consoleUrl, email: env.email, password: env.password, company: `Clínica E2E ${env.unique}` }),
    );

    const channel = await step('connect a meta channel at the provider simulator', async () => {
      const connected = await connectMetaChannel(page, simulator, { simulatorUrl: env.simulatorUrl, businessPhone: BUSINESS_PHONE, secrets: SECRETS });
      log(`channel ${connected.channelId} (phone_number_id ${connected.phoneNumberId}), webhook ${connected.webhookUrl}`);
      return connected;
    });

    await step('the lead writes', () => simulator.leadWrites(channel.channelId, { ...LEAD, text: 'Oi! Quanto custa a limpeza de pele?' }));

    await step("wait for the conversation, the agent's reply and its decision in Conversas", async () => {
      await page.click(byTestId('nav-conversations'));
      const item = page.locator(byTestId('conversation-item')).first();
      await item.waitFor({ timeout: AGENT_WAIT_MS });
      await item.click();
      await page.locator(`${byTestId('message')}[data-role="lead"]`).first().waitFor();
      await page.locator(`${byTestId('message')}[data-role="agent"]`).first().waitFor({ timeout: AGENT_WAIT_MS });
      await page.locator(byTestId('decision')).first().waitFor({ timeout: AGENT_WAIT_MS });
      await page.screenshot({ path: join(env.artifactsDir, 'inbox.png'), fullPage: true });
    });

    await step('take the conversation over', async () => {
      await page.click(byTestId('takeover-button'));
      await page.waitForSelector(byTestId('release-button'));
    });

    const sellerIndex = await step('send a message as the seller and see it at the provider', async () => {
      await page.fill(byTestId('composer-input'), SELLER_TEXT);
      await page.click(byTestId('composer-send'));
      const sent = await until('the seller message in the simulator outbox', async () =>
        (await simulator.outbox(channel.channelId)).find((message) => message.text === SELLER_TEXT),
      );
      await page.locator(`${byTestId('message')}[data-role="seller"]`, { hasText: SELLER_TEXT }).waitFor();
      return sent.index;
    });

    await step('the lead writes again; the agent stays silent because a human is active', async () => {
      const agentMessagesBefore = await page.locator(`${byTestId('message')}[data-role="agent"]`).count();
      const silentBefore = await page.locator(`${byTestId('decision')}[data-reasons*="human_active"]`).count();
      await simulator.leadWrites(channel.channelId, { ...LEAD, text: 'Que ótimo! Vocês atendem no sábado?' });
      await page.locator(`${byTestId('message')}[data-role="lead"]`, { hasText: 'sábado' }).waitFor({ timeout: AGENT_WAIT_MS });
      await until(
        'a decision with reason human_active',
        async () => (await page.locator(`${byTestId('decision')}[data-reasons*="human_active"]`).count()) > silentBefore,
        AGENT_WAIT_MS,
      );
      await sleep(3000); // give a wrong send time to reach the provider before asserting none came
      const after = (await simulator.outbox(channel.channelId)).filter((message) => message.index > sellerIndex);
      if (after.length) throw new Error(`the agent sent while a human was active: ${JSON.stringify(after.map((m) => m.text))}`);
      const agentMessagesAfter = await page.locator(`${byTestId('message')}[data-role="agent"]`).count();
      if (agentMessagesAfter !== agentMessagesBefore) {
        throw new Error(`the thread shows ${agentMessagesAfter - agentMessagesBefore} new agent message(s) while a human was active`);
      }
      await page.screenshot({ path: join(env.artifactsDir, 'inbox-human-active.png'), fullPage: true });
    });

    await step('the dashboard counts the conversation', async () => {
      await page.click(byTestId('nav-dashboard'));
      const card = page.locator(byTestId('metric-conversations_started'));
      await card.waitFor();
      const value = Number(await card.getAttribute('data-value'));
      if (!(value >= 1)) throw new Error(`conversations_started is ${value}, expected at least 1`);
      await page.screenshot({ path: join(env.artifactsDir, 'dashboard.png'), fullPage: true });
    });
  }),
);
