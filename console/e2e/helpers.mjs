// What the console's browser tests share: Chromium, steps with a failure report, waiting, the provider
// simulator, and the sign-up → company → Meta channel start every scenario needs.
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

export const WAIT_MS = 30_000;
export const AGENT_WAIT_MS = 60_000;
export const byTestId = (id) => `[data-testid="${id}"]`;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function required(script, name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${script}: set ${name}`);
    process.exit(2);
  }
  return value;
}

/** The environment every scenario reads (CONSOLE_URL, SIMULATOR_URL, ARTIFACTS_DIR, E2E_EMAIL, E2E_PASSWORD). */
export function scenarioEnv(script) {
  const unique = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  return {
    unique,
    consoleUrl: required(script, 'CONSOLE_URL').replace(/\/$/, ''),
    simulatorUrl: required(script, 'SIMULATOR_URL').replace(/\/$/, ''),
    artifactsDir: process.env.ARTIFACTS_DIR || '.',
    email: process.env.E2E_EMAIL || `e2e-${unique}@piloto.test`,
    password: process.env.E2E_PASSWORD || `senha-${unique}`,
  };
}

/** Steps that log themselves and, on failure, report which one failed with the browser's errors and a screenshot. */
export function scenario(script) {
  let currentStep = 'start';
  const log = (message) => console.log(`[${script} ${new Date().toISOString().slice(11, 23)}] ${message}`);
  return {
    log,
    async step(name, action) {
      currentStep = name;
      log(name);
      return action();
    },
    /** Launch Chromium, run `body(page)`, and exit 0 on success or 1 with the failed step. */
    async run(artifactsDir, body) {
      mkdirSync(artifactsDir, { recursive: true });
      const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'pt-BR' });
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const browserErrors = [];
      page.on('pageerror', (error) => browserErrors.push(`pageerror: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') browserErrors.push(`console: ${message.text()}`);
      });
      try {
        await body(page);
        log('ok');
        await browser.close();
        return 0;
      } catch (error) {
        console.error(`${script} FAILED at step "${currentStep}": ${error instanceof Error ? error.message : String(error)}`);
        if (browserErrors.length) console.error(`browser errors:\n  ${browserErrors.slice(-20).join('\n  ')}`);
        try {
          await page.screenshot({ path: join(artifactsDir, 'failure.png'), fullPage: true });
          console.error(`screenshot: ${join(artifactsDir, 'failure.png')}`);
        } catch (screenshotError) {
          console.error(`no screenshot: ${screenshotError}`);
        }
        await browser.close().catch(() => undefined);
        return 1;
      }
    },
    exit(promise) {
      promise.then(
        (code) => process.exit(code),
        (error) => {
          console.error(`${script} FAILED at step "${currentStep}": ${error?.stack ?? error}`);
          process.exit(1);
        },
      );
    },
  };
}

/** Poll `check` until it returns a truthy value or `timeoutMs` passes. */
export async function until(what, check, timeoutMs = WAIT_MS, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

export function simulatorClient(simulatorUrl) {
  async function call(method, path, body) {
    const response = await fetch(`${simulatorUrl}${path}`, {
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
  return {
    call,
    async outbox(channelId) {
      const answer = await call('GET', `/outbox?channel_id=${encodeURIComponent(channelId)}`);
      if (answer.status !== 200 || !Array.isArray(answer.json)) throw new Error(`GET /outbox answered ${answer.status}: ${answer.text}`);
      return answer.json;
    },
    /**
     * A lead writes to a Meta channel through the simulator, which signs and posts the webhook; `type` (audio,
     * image, video, document), `filename` and `document_text` send media the simulator serves behind Meta's API.
     */
    async leadWrites(channelId, message) {
      const answer = await call('POST', `/leads/meta/${encodeURIComponent(channelId)}/messages`, message);
      if (answer.status >= 300) throw new Error(`the simulator refused the lead message (${answer.status}): ${answer.text}`);
      const statuses = answer.json?.webhook_statuses ?? [answer.json?.webhook_status];
      if (!statuses.every((status) => status === 200)) throw new Error(`Piloto's webhook did not accept the lead message: ${answer.text}`);
    },
  };
}

/** Sign up with email and password, then create the company (the new user becomes its owner). */
export async function signUpAndCreateCompany(page, { consoleUrl, email, password, company }) {
  await page.goto(consoleUrl);
  await page.waitForSelector(byTestId('auth-form'));
  await page.click(byTestId('auth-mode-signup'));
  await page.waitForSelector(`${byTestId('auth-form')}[data-mode="signup"]`);
  await page.fill(byTestId('auth-email'), email);
  await page.fill(byTestId('auth-password'), password);
  await page.click(byTestId('auth-submit'));
  await page.waitForSelector(byTestId('tenant-form'));
  await page.fill(byTestId('tenant-name'), company);
  await page.click(byTestId('tenant-submit'));
  await page.waitForSelector(byTestId('nav-conversations'));
}

/** Connect a Meta channel whose API is the simulator, and register it with the simulator; → {channelId, webhookUrl}. */
export async function connectMetaChannel(page, simulator, { simulatorUrl, businessPhone, secrets }) {
  // A unique 15-digit Meta phone number id (the first digit is never 0).
  const phoneNumberId = `9${String(Date.now()).slice(-11)}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;
  await page.click(byTestId('nav-channels'));
  await page.click(byTestId('channel-new'));
  await page.waitForSelector(byTestId('channel-form'));
  await page.selectOption(byTestId('channel-provider'), 'meta');
  await page.fill(byTestId('channel-display-name'), 'WhatsApp E2E');
  await page.fill(byTestId('channel-business-phone'), businessPhone);
  await page.fill(byTestId('channel-config-phone_number_id'), phoneNumberId);
  await page.fill(byTestId('channel-config-api_base_url'), `${simulatorUrl}/meta`);
  for (const [name, value] of Object.entries(secrets)) await page.fill(byTestId(`channel-secret-${name}`), value);
  await page.click(byTestId('channel-submit'));
  const row = page.locator(`${byTestId('channel-row')}[data-provider="meta"]`).first();
  await row.waitFor();
  const channelId = await row.getAttribute('data-channel-id');
  const webhookUrl = await row.getAttribute('data-webhook-url');
  if (!channelId) throw new Error('the channel row has no data-channel-id');
  const answer = await simulator.call('POST', '/channels', {
    channel_id: channelId,
    provider: 'meta',
    business_phone: businessPhone,
    config: { phone_number_id: phoneNumberId },
    secrets,
  });
  // The admin API may have registered it already in local development.
  if (answer.status >= 300 && answer.status !== 409) throw new Error(`POST /channels answered ${answer.status}: ${answer.text}`);
  return { channelId, webhookUrl, phoneNumberId };
}

/** Open Conversas and the conversation of `lead` (by name), waiting for it to show up. */
export async function openConversationOf(page, lead, timeoutMs = AGENT_WAIT_MS) {
  await page.click(byTestId('nav-conversations'));
  const item = page.locator(byTestId('conversation-item'), { hasText: lead.name }).first();
  await item.waitFor({ timeout: timeoutMs });
  await item.click();
  await page.locator(byTestId('conversation-view')).waitFor();
  return page.locator(byTestId('conversation-view')).getAttribute('data-conversation-id');
}
