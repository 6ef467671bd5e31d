// End-to-end: issue 10's console pages, in a real Chromium against the local stack (Google, RD Station CRM and
// the lead are the provider simulator; the webhook receiver is a local HTTP server this script starts).
//
//   CONSOLE_URL=http://127.0.0.1:5002 SIMULATOR_URL=http://127.0.0.1:8700 ARTIFACTS_DIR=/tmp/e2e \
//   E2E_EMAIL=ana+5@example.com E2E_PASSWORD=senha-forte-1 node e2e/integrations.e2e.mjs
//
// Sign up → create the company → connect a Meta channel → a lead asks for a human (the agent hands off: a
// notification for the team) → Integrações: an API key, shown once, creates a contact through the public API →
// RD Station CRM connected with a fresh simulator account's token, "Funil de vendas" chosen and "Ganho" mapped to
// "Fechamento" (read back after a reload) → a webhook endpoint pointing at the local receiver
// (http://127.0.0.1:<port>) → its secret shown once → "Enviar teste" → the receiver gets a webhook.test whose
// Piloto-Signature verifies with that secret → the badge turns "Entregue" and the deliveries drawer lists it →
// Agenda: scheduling on, built-in calendar, saved → the next free slots show → "Conectar Google Agenda" → the
// simulated consent page → "Permitir" (google-allow) → back on /agenda?google=connected, "Conectado: <account>" →
// the bell counts the handoff notification; clicking it opens the conversation and marks it read. Screenshots agenda.png, google-consent.png, agenda-google.png, integrations-webhook.png,
// webhook-deliveries.png, api-key.png, crm.png, notifications.png.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { AGENT_WAIT_MS, byTestId, connectMetaChannel, scenario, scenarioEnv, signUpAndCreateCompany, simulatorClient, until } from './helpers.mjs';

const env = scenarioEnv('integrations.e2e');
const { step, log, run, exit } = scenario('integrations.e2e');
const simulator = simulatorClient(env.simulatorUrl);

const BUSINESS_PHONE = '+5511990005555';
const SECRETS = { app_secret: 'e2e-app-secret-5', verify_token: 'e2e-verify-token-5', access_token: 'e2e-access-token-5' };
const LEAD = { from: '+5511987650005', name: 'Joana' };
const COMPANY = `Clínica Integrações ${env.unique}`;

const shot = (page, name) => page.screenshot({ path: join(env.artifactsDir, name), fullPage: true });

/** A local webhook receiver: keeps every request with its raw body and headers, answers 200. */
function startReceiver() {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end('{"ok":true}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}/piloto` }));
  });
}

/** Check a delivery as the README tells receivers to: t within 5 minutes, v1 = HMAC-SHA256(secret, "t.body"). */
function verifySignature(delivery, secret) {
  const header = String(delivery.headers['piloto-signature'] ?? '');
  const parts = Object.fromEntries(header.split(',').map((item) => item.split('=', 2)));
  if (!parts.t || !parts.v1) throw new Error(`no t/v1 in Piloto-Signature "${header}"`);
  if (Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) throw new Error(`signature timestamp ${parts.t} is not within 5 minutes`);
  const expected = createHmac('sha256', secret).update(`${parts.t}.${delivery.body}`).digest('hex');
  if (expected.length !== parts.v1.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(parts.v1))) {
    throw new Error('Piloto-Signature does not verify with the secret the console showed');
  }
}

async function readSecret(page, prefix) {
  const value = ((await page.locator(byTestId('secret-value')).textContent()) ?? '').trim();
  if (!value.startsWith(prefix)) throw new Error(`the secret shown is "${value}", expected ${prefix}…`);
  const warning = (await page.locator(byTestId('secret-warning')).textContent()) ?? '';
  if (!warning.includes('não será mostrado de novo')) throw new Error(`no show-once warning: "${warning}"`);
  return value;
}

exit(
  run(env.artifactsDir, async (page) => {
    const receiver = await startReceiver();
    try {
      await step(`sign up as ${env.email} and create the company`, () =>
        signUpAndCreateCompany(page, { consoleUrl: env.consoleUrl, email: env.email, password: env.password, company: COMPANY }),
      );
      const tenantId = await page.evaluate(() => localStorage.getItem('piloto.tenant'));

      const channel = await step('connect a meta channel at the provider simulator', () =>
        connectMetaChannel(page, simulator, { simulatorUrl: env.simulatorUrl, businessPhone: BUSINESS_PHONE, secrets: SECRETS }),
      );

      await step('a lead asks for a human: the agent hands the conversation off', async () => {
        await simulator.leadWrites(channel.channelId, { from: LEAD.from, name: LEAD.name, text: 'Oi, quero falar com um atendente humano, por favor' });
      });

      await step('an API key, shown once, creates a contact through the public API', async () => {
        await page.click(byTestId('nav-integrations'));
        await page.locator(byTestId('integrations-page')).waitFor();
        await page.fill(byTestId('api-key-name'), 'Zapier');
        await page.click(byTestId('api-key-create'));
        await page.locator(byTestId('secret-reveal')).waitFor();
        const key = await readSecret(page, 'pk_live_');
        await page.locator(`${byTestId('api-key-row')}[data-revoked="false"]`).waitFor();
        await shot(page, 'api-key.png');
        await page.click(byTestId('secret-done'));
        const answer = await fetch(`${env.consoleUrl}/api/v1/contacts`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ phone: '+5511987650099', name: 'Contato via API' }),
        });
        if (answer.status !== 201 && answer.status !== 200) throw new Error(`POST /api/v1/contacts answered ${answer.status}: ${await answer.text()}`);
        const anonymous = await fetch(`${env.consoleUrl}/api/v1/contacts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"phone":"+5511987650098"}' });
        if (anonymous.status !== 401) throw new Error(`without the key the public API answered ${anonymous.status}`);
      });

      await step('connect RD Station CRM and map "Ganho" to "Fechamento"', async () => {
        const account = await simulator.call('POST', '/rdstation/_control/accounts', {});
        if (account.status !== 201 || !account.json?.token) throw new Error(`the simulator made no RD Station account: ${account.status} ${account.text}`);
        await page.fill(byTestId('crm-token'), account.json.token);
        await page.click(byTestId('crm-connect'));
        await page.locator(`${byTestId('crm-status')}[data-status="connected"]`).waitFor();
        await until('the RD Station funnels', async () => (await page.locator(`${byTestId('crm-pipeline')} option`).count()) > 1);
        await page.selectOption(byTestId('crm-pipeline'), { label: 'Funil de vendas' });
        await page.selectOption(byTestId('crm-stage-won'), { label: 'Fechamento' });
        await page.selectOption(byTestId('crm-stage-new'), { label: 'Sem contato' });
        await page.click(byTestId('crm-save'));
        await page.locator(byTestId('crm-saved')).waitFor();
        await page.reload();
        await page.locator(`${byTestId('crm-status')}[data-status="connected"]`).waitFor();
        await until('the saved mapping after a reload', async () => {
          const won = page.locator(byTestId('crm-stage-won'));
          if (!(await won.count())) return false;
          return ((await won.locator('option:checked').textContent()) ?? '') === 'Fechamento';
        });
        await shot(page, 'crm.png');
      });

      let secret = '';
      await step(`Integrações: a webhook endpoint to the local receiver ${receiver.url}, its secret shown once`, async () => {
        await page.click(byTestId('webhook-new'));
        await page.fill(byTestId('webhook-url'), receiver.url);
        await page.fill(byTestId('webhook-description'), 'Receptor local do teste');
        await page.check(byTestId('webhook-event-conversation.handoff'));
        await page.check(byTestId('webhook-event-conversation.won'));
        await page.click(byTestId('webhook-submit'));
        await page.locator(byTestId('secret-reveal')).waitFor();
        secret = await readSecret(page, 'whsec_');
        await page.click(byTestId('secret-done'));
        if (await page.locator(byTestId('secret-reveal')).count()) throw new Error('the secret is still on screen');
      });

      await step('send a test event: the receiver verifies it and the badge turns "Entregue"', async () => {
        const row = page.locator(byTestId('webhook-row')).first();
        await row.locator(byTestId('webhook-test')).click();
        await row.locator(byTestId('webhook-test-sent')).waitFor();
        const delivery = await until('the test event at the receiver', () => receiver.received.find((item) => item.headers['piloto-event-type'] === 'webhook.test'));
        verifySignature(delivery, secret);
        const body = JSON.parse(delivery.body);
        if (body.type !== 'webhook.test' || body.id !== delivery.headers['piloto-event-id'] || body.tenant_id !== tenantId) {
          throw new Error(`unexpected test body ${delivery.body}`);
        }
        if (!String(delivery.headers['user-agent'] ?? '').startsWith('Piloto-Webhooks/')) throw new Error(`User-Agent ${delivery.headers['user-agent']}`);
        const badge = row.locator(`${byTestId('webhook-status')}[data-status="succeeded"]`);
        await badge.waitFor({ timeout: 20_000 });
        const text = (await badge.textContent()) ?? '';
        if (!text.startsWith('Entregue')) throw new Error(`the badge reads "${text}"`);
        await page.locator(byTestId('signature-help')).click();
        await shot(page, 'integrations-webhook.png');
        await row.locator(byTestId('webhook-deliveries')).click();
        // The test's own delivery (other events the endpoint chose, a handoff, may be newer).
        const testEventId = delivery.headers['piloto-event-id'];
        const deliveryRow = page.locator(`${byTestId('delivery-row')}[data-status="succeeded"][data-delivery-id^="${testEventId}~"]`);
        await deliveryRow.waitFor();
        await deliveryRow.locator(byTestId('delivery-payload-toggle')).click();
        const payload = JSON.parse((await page.locator(byTestId('delivery-payload')).textContent()) ?? '{}');
        if (payload.type !== 'webhook.test') throw new Error(`the drawer's payload is ${JSON.stringify(payload)}`);
        await shot(page, 'webhook-deliveries.png');
        await page.click(byTestId('deliveries-close'));
      });

      await step('Agenda: turn scheduling on with the built-in calendar and see the next free slots', async () => {
        await page.click(byTestId('nav-agenda'));
        await page.locator(byTestId('calendar-form')).waitFor();
        if (!(await page.locator(byTestId('calendar-enabled')).isChecked())) await page.check(byTestId('calendar-enabled'));
        await page.selectOption(byTestId('calendar-provider'), 'builtin');
        // Open every day, so the preview has slots whatever day the test runs.
        for (const day of ['sat', 'sun']) {
          if ((await page.locator(`${byTestId('hours-day')}[data-day="${day}"]`).getAttribute('data-ranges')) === '0') await page.click(byTestId(`hours-add-${day}`));
        }
        await page.fill(byTestId('calendar-location'), 'Av. Paulista, 1000');
        await page.click(byTestId('calendar-save'));
        await page.locator(byTestId('calendar-saved')).waitFor();
        const slot = page.locator(byTestId('slot')).first();
        await slot.waitFor();
        const label = (await slot.textContent()) ?? '';
        if (!/^\w{3} \d\d\/\d\d às \d\d:\d\d$/.test(label)) throw new Error(`a slot reads "${label}"`);
        const count = await page.locator(byTestId('slot')).count();
        log(`${count} slots, the first "${label}"`);
        await page.locator(byTestId('bookings-empty')).waitFor();
        await page.locator(byTestId('slots-preview')).scrollIntoViewIfNeeded();
        await shot(page, 'agenda.png');
      });

      await step('connect Google Calendar through the simulated consent page', async () => {
        await page.click(byTestId('google-connect'));
        await page.waitForURL(/\/google\/o\/oauth2\//);
        await page.locator(byTestId('google-allow')).waitFor();
        await shot(page, 'google-consent.png');
        await page.click(byTestId('google-allow'));
        await page.waitForURL(/\/agenda\?google=connected/);
        const notice = page.locator(byTestId('google-notice'));
        await notice.waitFor();
        if ((await notice.getAttribute('data-state')) !== 'connected') throw new Error(`back from Google: ${await notice.textContent()}`);
        const status = page.locator(`${byTestId('google-status')}[data-status="connected"]`);
        await status.waitFor();
        const text = (await status.textContent()) ?? '';
        if (!text.startsWith('Conectado')) throw new Error(`Google status reads "${text}"`);
        // The slots now come from the built-in rules minus Google's busy time.
        await page.locator(byTestId('slot')).first().waitFor();
        await status.scrollIntoViewIfNeeded();
        await shot(page, 'agenda-google.png');
      });

      await step('the bell counts the handoff; clicking it opens the conversation and marks it read', async () => {
        const count = page.locator(byTestId('notification-count'));
        await until(
          'the handoff notification in the bell',
          async () => {
            if (await count.count()) return true;
            return false;
          },
          AGENT_WAIT_MS,
        );
        const before = Number(await count.getAttribute('data-value'));
        await page.click(byTestId('notification-bell'));
        const item = page.locator(`${byTestId('notification-item')}[data-type="handoff"][data-read="false"]`).first();
        await item.waitFor();
        await shot(page, 'notifications.png');
        await item.click();
        await page.waitForURL(/\/conversas\//);
        await page.locator(byTestId('conversation-view')).waitFor();
        await until('the unread count to drop', async () => {
          const left = (await count.count()) ? Number(await count.getAttribute('data-value')) : 0;
          return left < before;
        });
        log(`unread ${before} → fewer after opening it`);
      });
    } finally {
      receiver.server.close();
    }
  }),
);
