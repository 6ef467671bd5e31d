"""The console in a real headless Chromium against the whole local stack.

The Hosting emulator serves the built console (``console/dist``) and rewrites ``/api/**`` to the
admin function, as production Hosting does; the Auth emulator signs the user in; the provider
simulator plays the lead. ``console/e2e/inbox.e2e.mjs`` (playwright-core driving Debian's
Chromium) signs up, connects a channel pointed at the simulator, waits for the lead's message,
the agent's reply and its decision in the inbox, takes over and sends as the seller (the text
reaches the simulator's outbox), checks the agent stays silent afterwards, and opens the
dashboard. Screenshots of the inbox and the dashboard land in ``test-artifacts/console/``.
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
SCRIPT = ROOT / "console" / "e2e" / "inbox.e2e.mjs"
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


def test_sign_up_connect_answer_take_over_and_dashboard_in_chromium(loop: PilotoLoop) -> None:
    missing = [f"{path} (make console)" for path in (CONSOLE_DIST, PLAYWRIGHT) if not path.exists()]
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium; make test installs it)")
    assert not missing, f"the browser test needs: {', '.join(missing)}"
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    run = subprocess.run(
        ["node", str(SCRIPT)],
        cwd=ROOT / "console",
        env={
            **os.environ,
            "CONSOLE_URL": loop.console_url,
            "SIMULATOR_URL": loop.simulator_url,
            "ARTIFACTS_DIR": str(ARTIFACTS),
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
    assert run.returncode == 0, f"the browser scenario failed\n{log}"
    for screenshot in ("inbox.png", "dashboard.png"):
        path = ARTIFACTS / screenshot
        assert path.exists() and path.stat().st_size > 10_000, f"{screenshot} missing\n{log}"
