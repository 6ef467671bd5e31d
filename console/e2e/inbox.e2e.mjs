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
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const unique = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
const CONSOLE_URL = required('CONSOLE_URL').replace(/\/$/, '');
const SIMULATOR_URL = required('SIMULATOR_URL').replace(/\/$/, '');
const ARTIFACTS_DIR = process.env.ARTIFACTS_DIR || '.';
const EMAIL = process.env.E2E_EMAIL || `e2e-${unique}@piloto.test`;
const PASSWORD = process.env.E2E_PASSWORD || `senha-${unique}`;

const LEAD_PHONE = '+5511987650001';
const BUSINESS_PHONE = '+5511990009999';
const SELLER_TEXT = 'Oi Mariana, aqui é a Ana da clínica!';
const SECRETS = { app_secret: 'e2e-app-secret', verify_token: 'e2e-verify-token', access_token: 'e2e-access-token' };
// A unique 15-digit Meta phone number id (the first digit is never 0).
const PHONE_NUMBER_ID = `9${String(Date.now()).slice(-11)}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;

const WAIT_MS = 30_000;
const AGENT_WAIT_MS = 60_000;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`inbox.e2e: set ${name}`);
    process.exit(2);
  }
  return value;
}

function log(message) {
  console.log(`[inbox.e2e ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

let currentStep = 'start';
async function step(name, action) {
  currentStep = name;
  log(name);
  return action();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` until it returns a truthy value or `timeoutMs` passes. */
async function until(what, check, timeoutMs = WAIT_MS, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

async function simulator(method, path, body) {
  const response = await fetch(`${SIMULATOR_URL}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, json, text };
}

async function outbox(channelId) {
  const answer = await simulator('GET', `/outbox?channel_id=${encodeURIComponent(channelId)}`);
  if (answer.status !== 200 || !Array.isArray(answer.json)) throw new Error(`GET /outbox answered ${answer.status}: ${answer.text}`);
  return answer.json;
}

async function leadWrites(channelId, text) {
  const answer = await simulator('POST', `/leads/meta/${encodeURIComponent(channelId)}/messages`, {
    from: LEAD_PHONE,
    name: 'Mariana',
    text,
  });
  if (answer.status >= 300) throw new Error(`the simulator refused the lead message (${answer.status}): ${answer.text}`);
  const statuses = answer.json?.webhook_statuses ?? [answer.json?.webhook_status];
  if (!statuses.every((status) => status === 200)) {
    throw new Error(`Piloto's webhook did not accept the lead message: ${answer.text}`);
  }
}

const byTestId = (id) => `[data-testid="${id}"]`;

async function main() {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'pt-BR' });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const browserErrors = [];
  page.on('pageerror', (error) => browserErrors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') browserErrors.push(`console: ${message.text()}`);
  });

  try {
    await step('open the console', async () => {
      await page.goto(CONSOLE_URL);
      await page.waitForSelector(byTestId('auth-form'));
    });

    await step(`sign up as ${EMAIL}`, async () => {
      await page.click(byTestId('auth-mode-signup'));
      await page.waitForSelector(`${byTestId('auth-form')}[data-mode="signup"]`);
      await page.fill(byTestId('auth-email'), EMAIL);
      await page.fill(byTestId('auth-password'), PASSWORD);
      await page.click(byTestId('auth-submit'));
      await page.waitForSelector(byTestId('tenant-form'));
    });

    await step('create the company', async () => {
      await page.fill(byTestId('tenant-name'), `Clínica E2E ${unique}`);
      await page.click(byTestId('tenant-submit'));
      await page.waitForSelector(byTestId('nav-conversations'));
    });

    const channel = await step(`connect a meta channel (phone_number_id ${PHONE_NUMBER_ID})`, async () => {
      await page.click(byTestId('nav-channels'));
      await page.click(byTestId('channel-new'));
      await page.waitForSelector(byTestId('channel-form'));
      await page.selectOption(byTestId('channel-provider'), 'meta');
      await page.fill(byTestId('channel-display-name'), 'WhatsApp E2E');
      await page.fill(byTestId('channel-business-phone'), BUSINESS_PHONE);
      await page.fill(byTestId('channel-config-phone_number_id'), PHONE_NUMBER_ID);
      await page.fill(byTestId('channel-config-api_base_url'), `${SIMULATOR_URL}/meta`);
      for (const [name, value] of Object.entries(SECRETS)) await page.fill(byTestId(`channel-secret-${name}`), value);
      await page.click(byTestId('channel-submit'));
      const row = page.locator(`${byTestId('channel-row')}[data-provider="meta"]`).first();
      await row.waitFor();
      const channelId = await row.getAttribute('data-channel-id');
      const webhookUrl = await row.getAttribute('data-webhook-url');
      if (!channelId) throw new Error('the channel row has no data-channel-id');
      log(`channel ${channelId}, webhook ${webhookUrl}`);
      return { channelId, webhookUrl };
    });

    await step('register the channel with the provider simulator', async () => {
      const answer = await simulator('POST', '/channels', {
        channel_id: channel.channelId,
        provider: 'meta',
        business_phone: BUSINESS_PHONE,
        config: { phone_number_id: PHONE_NUMBER_ID },
        secrets: SECRETS,
      });
      // The admin API may have registered it already in local development.
      if (answer.status >= 300 && answer.status !== 409) {
        throw new Error(`POST /channels answered ${answer.status}: ${answer.text}`);
      }
    });

    await step('the lead writes', () => leadWrites(channel.channelId, 'Oi! Quanto custa a limpeza de pele?'));

    await step("wait for the conversation, the agent's reply and its decision in Conversas", async () => {
      await page.click(byTestId('nav-conversations'));
      const item = page.locator(byTestId('conversation-item')).first();
      await item.waitFor({ timeout: AGENT_WAIT_MS });
      await item.click();
      await page.locator(`${byTestId('message')}[data-role="lead"]`).first().waitFor();
      await page.locator(`${byTestId('message')}[data-role="agent"]`).first().waitFor({ timeout: AGENT_WAIT_MS });
      await page.locator(byTestId('decision')).first().waitFor({ timeout: AGENT_WAIT_MS });
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'inbox.png'), fullPage: true });
    });

    await step('take the conversation over', async () => {
      await page.click(byTestId('takeover-button'));
      await page.waitForSelector(byTestId('release-button'));
    });

    const sellerIndex = await step('send a message as the seller and see it at the provider', async () => {
      await page.fill(byTestId('composer-input'), SELLER_TEXT);
      await page.click(byTestId('composer-send'));
      const sent = await until(
        'the seller message in the simulator outbox',
        async () => (await outbox(channel.channelId)).find((message) => message.text === SELLER_TEXT),
      );
      await page.locator(`${byTestId('message')}[data-role="seller"]`, { hasText: SELLER_TEXT }).waitFor();
      return sent.index;
    });

    await step('the lead writes again; the agent stays silent because a human is active', async () => {
      const agentMessagesBefore = await page.locator(`${byTestId('message')}[data-role="agent"]`).count();
      const silentBefore = await page.locator(`${byTestId('decision')}[data-reasons*="human_active"]`).count();
      await leadWrites(channel.channelId, 'Que ótimo! Vocês atendem no sábado?');
      await page.locator(`${byTestId('message')}[data-role="lead"]`, { hasText: 'sábado' }).waitFor({ timeout: AGENT_WAIT_MS });
      await until(
        'a decision with reason human_active',
        async () => (await page.locator(`${byTestId('decision')}[data-reasons*="human_active"]`).count()) > silentBefore,
        AGENT_WAIT_MS,
      );
      await sleep(3000); // give a wrong send time to reach the provider before asserting none came
      const after = (await outbox(channel.channelId)).filter((message) => message.index > sellerIndex);
      if (after.length) throw new Error(`the agent sent while a human was active: ${JSON.stringify(after.map((m) => m.text))}`);
      const agentMessagesAfter = await page.locator(`${byTestId('message')}[data-role="agent"]`).count();
      if (agentMessagesAfter !== agentMessagesBefore) {
        throw new Error(`the thread shows ${agentMessagesAfter - agentMessagesBefore} new agent message(s) while a human was active`);
      }
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'inbox-human-active.png'), fullPage: true });
    });

    await step('the dashboard counts the conversation', async () => {
      await page.click(byTestId('nav-dashboard'));
      const card = page.locator(byTestId('metric-conversations_started'));
      await card.waitFor();
      const value = Number(await card.getAttribute('data-value'));
      if (!(value >= 1)) throw new Error(`conversations_started is ${value}, expected at least 1`);
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard.png'), fullPage: true });
    });

    log('ok');
    await browser.close();
    return 0;
  } catch (error) {
    console.error(`inbox.e2e FAILED at step "${currentStep}": ${error instanceof Error ? error.message : String(error)}`);
    if (browserErrors.length) console.error(`browser errors:\n  ${browserErrors.slice(-20).join('\n  ')}`);
    try {
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'failure.png'), fullPage: true });
      console.error(`screenshot: ${join(ARTIFACTS_DIR, 'failure.png')}`);
    } catch (screenshotError) {
      console.error(`no screenshot: ${screenshotError}`);
    }
    await browser.close().catch(() => undefined);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`inbox.e2e FAILED at step "${currentStep}": ${error?.stack ?? error}`);
    process.exit(1);
  },
);
