"""The console in a real headless Chromium against the whole local stack.

The Hosting emulator serves the built console (``console/dist``) and rewrites ``/api/**`` to the
admin function, as production Hosting does; the Auth emulator signs the user in; the provider
simulator plays the lead. ``console/e2e/inbox.e2e.mjs`` (playwright-core driving Debian's
Chromium) signs up, connects a channel pointed at the simulator, waits for the lead's message,
the agent's reply and its decision in the inbox, takes over and sends as the seller (the text
reaches the simulator's outbox), checks the agent stays silent afterwards, and opens the
dashboard. ``console/e2e/knowledge.e2e.mjs`` adds knowledge entries and a file, finds one with the
test search, has a lead ask what the base does not answer (a ``knowledge_gap`` handoff), answers as
the seller, approves the proposal that answer became, and sees the agent answer another lead from
it, citing it; a third lead's voice note (not understood offline) and PDF (its text shown under
the bubble) follow. ``console/e2e/insights.e2e.mjs`` adds the conversion auditor from the template
library, switches it off and on, builds an agent with a macro button, has a lead write that she
paid, waits for the auditor's (offline) insight in the inbox, presses the macro, and applies the
auditor's insight, which closes the conversation as won; with the traffic feedback agent added, a
lead the seller closes as lost shows in the traffic report. ``console/e2e/billing.e2e.mjs`` opens
Assinatura on a new company's trial, buys Agency through the simulated Stripe Checkout, waits for
the billing function to activate it from the signed webhooks, creates a client workspace, switches
to it (its inbox is empty: isolation; its billing is managed in the home workspace), switches
back, opens and leaves the simulated Customer Portal, then cancels there: Assinatura shows the
workspace read-only with the agent off, the banner shows on other pages, and a change is refused
in Portuguese. ``console/e2e/integrations.e2e.mjs`` turns scheduling on (built-in calendar) and
sees the free slots, connects Google Calendar through the simulated consent page, creates a webhook
endpoint pointing at a receiver it starts (the secret shown once verifies the test event's
Piloto-Signature; the badge turns "Entregue" and the deliveries drawer lists it), creates an API
key that then creates a contact through the public API, connects RD Station CRM with a fresh
simulator account and maps a stage, and opens a lead's handoff from the notification bell.
Screenshots land in ``test-artifacts/console/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.dev import load_env_file
from emulators.loop import PilotoLoop
from emulators.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "console" / "e2e"
CONSOLE_DIST = ROOT / "console" / "dist" / "index.html"
PLAYWRIGHT = ROOT / "console" / "node_modules" / "playwright-core"
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def loop(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PilotoLoop]:
    """The loop on the session's emulators, quiet hours off and a 1-second debounce."""
    secrets = {key: value for key, value in load_env_file().items() if "_DEMO_" in key}
    with PilotoLoop(
        project_id=local_stack.project_id,
        runtime_dir=tmp_path_factory.mktemp("console"),
        env=secrets,
        agent={"quiet_hours": {"start": "00:00", "end": "00:00"}, "debounce_seconds": 1},
        stack=local_stack,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """The screenshot folder, emptied once for this module's scenarios."""
    missing = [f"{path} (make console)" for path in (CONSOLE_DIST, PLAYWRIGHT) if not path.exists()]
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium; make test installs it)")
    assert not missing, f"the browser test needs: {', '.join(missing)}"
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def run_scenario(script: str, loop: PilotoLoop, artifacts: Path) -> str:
    """Run one browser scenario as a new user; return its output, failing with it on exit != 0."""
    run = subprocess.run(
        ["node", str(E2E / script)],
        cwd=ROOT / "console",
        env={
            **os.environ,
            "CONSOLE_URL": loop.console_url,
            "SIMULATOR_URL": loop.simulator_url,
            "ARTIFACTS_DIR": str(artifacts),
            "E2E_EMAIL": f"dona-{uuid.uuid4().hex[:8]}@clinica.example.com",
            "E2E_PASSWORD": "senha-forte-123",
            "CHROMIUM_PATH": CHROMIUM,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = f"stdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}"
    assert run.returncode == 0, f"the browser scenario {script} failed\n{log}"
    return log


def assert_screenshots(artifacts: Path, names: tuple[str, ...], log: str) -> None:
    """Fail unless every screenshot was written and is not blank."""
    for name in names:
        path = artifacts / name
        assert path.exists() and path.stat().st_size > 10_000, f"{name} missing\n{log}"


def test_sign_up_connect_answer_take_over_and_dashboard_in_chromium(
    loop: PilotoLoop, artifacts: Path
) -> None:
    log = run_scenario("inbox.e2e.mjs", loop, artifacts)
    assert_screenshots(artifacts, ("inbox.png", "dashboard.png"), log)


def test_knowledge_search_and_learning_from_a_handoff_in_chromium(
    loop: PilotoLoop, artifacts: Path
) -> None:
    log = run_scenario("knowledge.e2e.mjs", loop, artifacts)
    assert_screenshots(
        artifacts,
        (
            "knowledge.png",
            "knowledge-search.png",
            "knowledge-learning.png",
            "knowledge-approved.png",
            "inbox-sources.png",
            "inbox-media.png",
            "dashboard-copilot.png",
        ),
        log,
    )


def test_insight_agents_template_builder_macro_and_apply_in_chromium(
    loop: PilotoLoop, artifacts: Path
) -> None:
    log = run_scenario("insights.e2e.mjs", loop, artifacts)
    assert_screenshots(
        artifacts,
        (
            "insight-builder.png",
            "insight-agents.png",
            "inbox-insight.png",
            "inbox-insight-applied.png",
            "insights-feed.png",
            "insights-traffic-empty.png",
            "insights-traffic.png",
        ),
        log,
    )


def test_billing_trial_checkout_agency_workspaces_portal_and_cancel_in_chromium(
    loop: PilotoLoop, artifacts: Path
) -> None:
    log = run_scenario("billing.e2e.mjs", loop, artifacts)
    assert_screenshots(
        artifacts,
        (
            "billing-trial.png",
            "stripe-checkout.png",
            "billing-active.png",
            "billing-workspaces.png",
            "workspace-client-inbox.png",
            "billing-client.png",
            "stripe-portal.png",
            "billing-canceled.png",
            "billing-read-only-refusal.png",
        ),
        log,
    )


def test_agenda_google_webhook_api_key_crm_and_notification_bell_in_chromium(
    loop: PilotoLoop, artifacts: Path
) -> None:
    log = run_scenario("integrations.e2e.mjs", loop, artifacts)
    assert_screenshots(
        artifacts,
        (
            "agenda.png",
            "google-consent.png",
            "agenda-google.png",
            "integrations-webhook.png",
            "webhook-deliveries.png",
            "api-key.png",
            "crm.png",
            "notifications.png",
        ),
        log,
    )
