// End-to-end: billing, in a real Chromium against the local stack (Stripe is the provider simulator's /stripe).
//
//   CONSOLE_URL=http://127.0.0.1:5002 SIMULATOR_URL=http://127.0.0.1:8700 ARTIFACTS_DIR=/tmp/e2e \
//   E2E_EMAIL=ana+4@example.com E2E_PASSWORD=senha-forte-1 node e2e/billing.e2e.mjs
//
// Sign up → create the company (a 14-day trial of Pro) → connect a Meta channel and have a lead write, so the home
// workspace has a conversation → Assinatura: "Em teste", usage bars, the plans → Agency's "Fazer upgrade" → the
// simulator's Stripe Checkout for Agency → "Assinar" → back on /assinatura?checkout=success → "Ativa", plan Agency
// (the billing function got the simulator's signed webhooks) → "Workspaces de clientes": create one → it is listed →
// switch to it with the workspace switcher → its inbox is empty (isolation), its Assinatura says billing is managed
// in the home workspace → back to the home workspace, whose conversation is there → "Faturas e forma de pagamento" →
// the simulated Customer Portal shows Agency → "Voltar" → Assinatura, still active → the portal again: cancel →
// Assinatura says "Cancelada: somente leitura, agente desligado", the banner shows on Equipe, and an invitation is
// refused in Portuguese (read-only). Screenshots billing-trial.png, stripe-checkout.png, billing-active.png,
// billing-workspaces.png, workspace-client-inbox.png, billing-client.png, stripe-portal.png, billing-canceled.png,
// billing-read-only-refusal.png.
import { join } from 'node:path';
import { AGENT_WAIT_MS, byTestId, connectMetaChannel, scenario, scenarioEnv, signUpAndCreateCompany, simulatorClient, until } from './helpers.mjs';

const env = scenarioEnv('billing.e2e');
const { step, log, run, exit } = scenario('billing.e2e');
const simulator = simulatorClient(env.simulatorUrl);

const BUSINESS_PHONE = '+5511990008888';
const SECRETS = { app_secret: 'e2e-app-secret-4', verify_token: 'e2e-verify-token-4', access_token: 'e2e-access-token-4' };
const LEAD = { from: '+5511987650007', name: 'Helena' };
const COMPANY = `Agência E2E ${env.unique}`;
const CLIENT = `Cliente E2E ${env.unique}`;

const shot = (page, name) => page.screenshot({ path: join(env.artifactsDir, name), fullPage: true });

async function statusOf(page) {
  const badge = page.locator(byTestId('billing-status'));
  await badge.waitFor();
  return { status: await badge.getAttribute('data-status'), text: (await badge.textContent()) ?? '' };
}

async function openBilling(page) {
  await page.click(byTestId('nav-billing'));
  await page.locator(byTestId('billing-status')).waitFor();
}

exit(
  run(env.artifactsDir, async (page) => {
    await step(`sign up as ${env.email} and create the company`, () =>
      signUpAndCreateCompany(page, { consoleUrl: env.consoleUrl, email: env.email, password: env.password, company: COMPANY }),
    );
    const homeId = await page.evaluate(() => localStorage.getItem('piloto.tenant'));
    log(`home workspace ${homeId}`);

    const channel = await step('connect a meta channel at the provider simulator', () =>
      connectMetaChannel(page, simulator, { simulatorUrl: env.simulatorUrl, businessPhone: BUSINESS_PHONE, secrets: SECRETS }),
    );

    await step('a lead writes: the home workspace has a conversation', async () => {
      await simulator.leadWrites(channel.channelId, { from: LEAD.from, name: LEAD.name, text: 'Oi, quanto custa?' });
      await page.click(byTestId('nav-conversations'));
      await page.locator(byTestId('conversation-item'), { hasText: LEAD.name }).first().waitFor({ timeout: AGENT_WAIT_MS });
    });

    await step('Assinatura: a trial of Pro, the usage bars and the plans', async () => {
      await openBilling(page);
      const { status, text } = await statusOf(page);
      if (status !== 'trialing' || !text.startsWith('Em teste até')) throw new Error(`a new company shows status ${status} "${text}"`);
      const plan = await page.locator(byTestId('billing-plan')).getAttribute('data-plan-id');
      if (plan !== 'pro') throw new Error(`the trial is on plan ${plan}, expected pro`);
      const quotas = await page.locator(byTestId('usage-line')).evaluateAll((lines) => lines.map((line) => line.getAttribute('data-quota')));
      for (const quota of ['agent_replies', 'channels', 'seats', 'insight_agents', 'knowledge_mb']) {
        if (!quotas.includes(quota)) throw new Error(`no usage bar for ${quota}: ${JSON.stringify(quotas)}`);
      }
      // The page shows what the shell loaded at sign-up at once, then fetches it fresh: the channel counts then.
      await page.locator(`${byTestId('usage-line')}[data-quota="channels"][data-used="1"]`).waitFor({ timeout: 5000 });
      await page.locator(`${byTestId('plan-card')}[data-plan-id="agency"] ${byTestId('plan-action')}[data-action="upgrade"]`).waitFor();
      if (await page.locator(byTestId('client-workspaces')).count()) throw new Error('a Pro trial offers client workspaces');
      await shot(page, 'billing-trial.png');
    });

    await step('choose Agency: the simulated Stripe Checkout opens for it', async () => {
      await page.click(`${byTestId('plan-card')}[data-plan-id="agency"] ${byTestId('plan-action')}`);
      await page.waitForURL(/\/stripe\/checkout\//);
      const plan = (await page.locator(byTestId('stripe-plan')).textContent()) ?? '';
      if (!plan.includes('Agency')) throw new Error(`Checkout sells "${plan}", expected Agency`);
      log(`checkout at ${page.url()}`);
      await shot(page, 'stripe-checkout.png');
    });

    await step('"Assinar": back on Assinatura, the webhook activates Agency', async () => {
      await page.click(byTestId('stripe-pay'));
      await page.waitForURL(/\/assinatura\?checkout=success/);
      await page.locator(byTestId('checkout-notice')).waitFor();
      await page.locator(`${byTestId('checkout-notice')}[data-state="done"]`).waitFor({ timeout: AGENT_WAIT_MS });
      const { status, text } = await statusOf(page);
      if (status !== 'active' || text !== 'Ativa') throw new Error(`after paying the status is ${status} "${text}"`);
      await page.locator(`${byTestId('billing-plan')}[data-plan-id="agency"]`).waitFor();
      await page.locator(`${byTestId('billing-renewal')}`).waitFor();
      await page.locator(`${byTestId('plan-card')}[data-plan-id="agency"][data-current="true"]`).waitFor();
      await page.locator(byTestId('billing-portal')).waitFor();
      await shot(page, 'billing-active.png');
    });

    const clientId = await step('create a client workspace: it is listed with its replies', async () => {
      await page.locator(byTestId('client-workspaces')).waitFor();
      await page.locator(byTestId('workspaces-empty')).waitFor();
      await page.fill(byTestId('workspace-new-name'), CLIENT);
      await page.click(byTestId('workspace-submit'));
      await page.locator(byTestId('workspace-created')).waitFor();
      const row = page.locator(byTestId('workspace-row'), { hasText: CLIENT });
      await row.waitFor();
      const id = await row.getAttribute('data-tenant-id');
      if (!id || id === homeId) throw new Error(`the new workspace's id is ${id}`);
      const replies = row.locator(`${byTestId('usage-line')}[data-quota="agent_replies"]`);
      if ((await replies.getAttribute('data-used')) !== '0') throw new Error('a new workspace already has replies');
      const count = await page.locator(byTestId('workspaces-count')).getAttribute('data-used');
      if (count !== '1') throw new Error(`workspaces used ${count}, expected 1`);
      await shot(page, 'billing-workspaces.png');
      return id;
    });

    await step('switch to the client workspace: its own empty inbox', async () => {
      const switcher = page.locator(byTestId('tenant-switcher'));
      await switcher.waitFor();
      await page.selectOption(byTestId('tenant-switcher'), clientId);
      await page.click(byTestId('nav-conversations'));
      await page.locator(byTestId('conversation-list-empty')).waitFor();
      if (await page.locator(byTestId('conversation-item')).count()) throw new Error("the client workspace lists the home workspace's conversations");
      if ((await switcher.inputValue()) !== clientId) throw new Error(`the switcher shows ${await switcher.inputValue()}`);
      await shot(page, 'workspace-client-inbox.png');
    });

    await step("the client workspace's Assinatura: plan Agency, managed in the home workspace", async () => {
      await openBilling(page);
      const note = (await page.locator(byTestId('billing-managed-elsewhere')).textContent()) ?? '';
      if (!note.includes(COMPANY)) throw new Error(`the client workspace says "${note}"`);
      await page.locator(`${byTestId('billing-plan')}[data-plan-id="agency"]`).waitFor();
      if (await page.locator(byTestId('plan-action')).count()) throw new Error('a client workspace offers plan buttons');
      if (await page.locator(byTestId('billing-portal')).count()) throw new Error('a client workspace offers the portal');
      await shot(page, 'billing-client.png');
    });

    await step('back to the home workspace: its conversation is there', async () => {
      await page.selectOption(byTestId('tenant-switcher'), homeId);
      await page.click(byTestId('nav-conversations'));
      await page.locator(byTestId('conversation-item'), { hasText: LEAD.name }).first().waitFor();
    });

    await step('"Faturas e forma de pagamento": the simulated portal shows Agency, and returns', async () => {
      await openBilling(page);
      await page.click(byTestId('billing-portal'));
      await page.waitForURL(/\/stripe\/portal\//);
      const plan = (await page.locator(byTestId('stripe-portal-plan')).textContent()) ?? '';
      if (!plan.includes('Agency')) throw new Error(`the portal shows "${plan}"`);
      await shot(page, 'stripe-portal.png');
      await page.click(byTestId('stripe-portal-return'));
      await page.waitForURL(/\/assinatura$/);
      await until('the billing page after the portal', async () => (await statusOf(page)).status === 'active');
    });

    await step('cancel in the portal: Assinatura says read-only with the agent off, the banner shows everywhere', async () => {
      await page.click(byTestId('billing-portal'));
      await page.waitForURL(/\/stripe\/portal\//);
      await page.click(byTestId('stripe-portal-cancel'));
      await page.locator(byTestId('stripe-portal-status'), { hasText: 'cancelada' }).waitFor();
      await page.click(byTestId('stripe-portal-return'));
      await page.waitForURL(/\/assinatura$/);
      await until(
        'the cancellation to reach Assinatura',
        async () => {
          if ((await statusOf(page)).status === 'canceled') return true;
          await page.reload();
          return false;
        },
        AGENT_WAIT_MS,
        1000,
      );
      const badge = (await statusOf(page)).text;
      if (badge !== 'Cancelada: somente leitura, agente desligado') throw new Error(`a canceled subscription shows "${badge}"`);
      await page.locator(`${byTestId('billing-stopped')}[data-reason="canceled"]`).waitFor();
      await page.locator(`${byTestId('plan-card')}[data-plan-id="agency"] ${byTestId('plan-action')}[data-action="subscribe"]`).waitFor();
      await page.click(byTestId('nav-team'));
      await page.locator(`${byTestId('billing-banner')}[data-kind="stopped"]`).waitFor();
      await shot(page, 'billing-canceled.png');
    });

    await step('a change in the read-only workspace is refused in Portuguese, pointing to Assinatura', async () => {
      // The admin API reads the account at most every 10 s per instance: retry until it sees the cancellation.
      let attempt = 0;
      const banner = await until(
        'a read-only refusal',
        async () => {
          attempt += 1;
          await page.fill(byTestId('invite-email'), `vendedor${attempt}-${env.unique}@clinica.example.com`);
          await page.click(byTestId('invite-submit'));
          const refusal = page.locator(`${byTestId('invite-form')} ${byTestId('error-banner')}`);
          try {
            await refusal.waitFor({ timeout: 2000 });
          } catch {
            return null;
          }
          return refusal;
        },
        20_000,
        1000,
      );
      const code = await banner.getAttribute('data-code');
      const text = (await banner.textContent()) ?? '';
      if (code !== 'read_only' || !text.includes('somente leitura') || !text.includes('Assinatura')) {
        throw new Error(`the refusal reads ${code}: "${text}"`);
      }
      await shot(page, 'billing-read-only-refusal.png');
    });
  }),
);
