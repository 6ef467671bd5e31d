"""`make dev`: the whole local loop with the demo tenant, stopped cleanly by Ctrl-C.

Starts the Firestore, Pub/Sub, Cloud Tasks and Firebase (Auth + Hosting) emulators, creates the
Pub/Sub topics and subscriptions, seeds the demo tenant from ``emulators/seed/demo.yaml`` (its
secrets come from ``.env`` or ``.env.example``), starts every function with functions-framework
and the provider simulator (``emulators.loop``), prints the local URLs and waits. Ctrl-C stops
every process it started, by process group.

``--clock-speed N`` (or ``PILOTO_CLOCK_SPEED``) divides follow-up delays, so a demo sees a
1-day follow-up in a minute at 1440.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from emulators.loop import DEMO_LOGIN, FUNCTIONS, PilotoLoop, seed_demo_login
from emulators.simulator import rdstation

DEMO_TENANT = "demo-clinica"

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / ".piloto" / "dev"

logger = logging.getLogger("piloto.dev")

PORT_VARIABLES = {
    "firestore": "PILOTO_DEV_FIRESTORE_PORT",
    "pubsub": "PILOTO_DEV_PUBSUB_PORT",
    "tasks": "PILOTO_DEV_TASKS_PORT",
    "auth": "PILOTO_DEV_AUTH_PORT",
    "hosting": "PILOTO_DEV_HOSTING_PORT",
    "webhook": "PILOTO_DEV_WEBHOOK_PORT",
    "agent": "PILOTO_DEV_AGENT_PORT",
    "turn": "PILOTO_DEV_TURN_PORT",
    "sender": "PILOTO_DEV_SENDER_PORT",
    "followup": "PILOTO_DEV_FOLLOWUP_PORT",
    "admin": "PILOTO_DEV_ADMIN_PORT",
    "insights": "PILOTO_DEV_INSIGHTS_PORT",
    "billing": "PILOTO_DEV_BILLING_PORT",
    "integrations": "PILOTO_DEV_INTEGRATIONS_PORT",
    "delivery": "PILOTO_DEV_DELIVERY_PORT",
    "reminder": "PILOTO_DEV_REMINDER_PORT",
    "digest": "PILOTO_DEV_DIGEST_PORT",
    "outbox": "PILOTO_DEV_OUTBOX_PORT",
    "smtp": "PILOTO_DEV_SMTP_PORT",
    "simulator": "PILOTO_DEV_SIMULATOR_PORT",
}


def load_env_file() -> dict[str, str]:
    """Read ``.env`` if present, else ``.env.example``, without overriding the environment."""
    path = ROOT / ".env" if (ROOT / ".env").exists() else ROOT / ".env.example"
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip('"').strip("'")
    return {**values, **{key: os.environ[key] for key in values if key in os.environ}}


def fixed_ports(env: dict[str, str]) -> dict[str, int]:
    """Return the ports named in the environment (``.env.example`` names all of them)."""
    return {
        name: int(env[variable]) for name, variable in PORT_VARIABLES.items() if env.get(variable)
    }


def main(argv: list[str] | None = None) -> int:
    """Bring the loop up, print where everything is, and wait for Ctrl-C."""
    parser = argparse.ArgumentParser(prog="make dev", description=__doc__.split("\n")[0])
    parser.add_argument("--clock-speed", type=float, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env_file = load_env_file()
    project_id = env_file.get("GOOGLE_CLOUD_PROJECT", "demo-piloto")
    if not project_id.startswith("demo-"):
        sys.stderr.write(f"make dev needs a demo- project id to stay offline, got {project_id}\n")
        return 2
    clock_speed = args.clock_speed or float(env_file.get("PILOTO_CLOCK_SPEED") or 1)
    stop_requested = threading.Event()
    # Ctrl-C, a closed terminal or a kill all end the same way: every started process stopped.
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, lambda *_: stop_requested.set())
    loop = PilotoLoop(
        project_id=project_id,
        runtime_dir=RUNTIME,
        env=env_file,
        ports=fixed_ports(env_file),
        clock_speed=clock_speed,
        hosting_public_dir=ROOT / "console" / "dist",
    )
    with loop:
        seed_demo_login(loop, DEMO_TENANT, *DEMO_LOGIN)
        _print_urls(loop)
        next_digest = _next_hour(time.time())
        next_outbox = _next_five_minutes(time.time())
        try:
            while not stop_requested.is_set():
                stop_requested.wait(0.5)
                if not loop.running():
                    raise RuntimeError("a function exited; see .piloto/dev/logs")
                # What Cloud Scheduler does in production (scheduler.tf).
                if time.time() >= next_digest:
                    next_digest = _next_hour(time.time())
                    loop.run_digest()
                if time.time() >= next_outbox:
                    next_outbox = _next_five_minutes(time.time())
                    loop.run_outbox()
        finally:
            sys.stdout.write("\nstopping the local stack...\n")
    sys.stdout.write("stopped.\n")
    return 0


def _next_hour(now: float) -> float:
    """Return the next top of the hour (the digest job's schedule, ``0 * * * *``)."""
    return (int(now) // 3600 + 1) * 3600


def _next_five_minutes(now: float) -> float:
    """Return the next multiple of five minutes (the outbox job's schedule, ``*/5 * * * *``)."""
    return (int(now) // 300 + 1) * 300


def _print_urls(loop: PilotoLoop) -> None:
    ports = loop.ports
    lines = [
        "",
        f"Piloto local stack is up (project {loop.project_id}, clock speed {loop.clock_speed:g})",
        "",
        f"  webhooks   {loop.webhook_url}/webhooks/<provider>/<channel_id>",
        "             demo channels: meta/demo-meta twilio/demo-twilio evolution/demo-evolution"
        " zapi/demo-zapi",
        *(
            f"  {function.name:<10} {loop.urls[function.name]}  ({function.role})"
            for function in FUNCTIONS
            if function.name != "webhook"
        ),
        f"  simulator  {loop.simulator_url}/  (Meta, Twilio, Evolution API and Z-API; outbox at"
        " /outbox)",
        f"             {loop.simulator_url}/stripe  (Stripe: API, Checkout and portal pages;"
        f" events signed to {loop.billing_url})",
        f"             {loop.simulator_url}/google  (Google consent and Calendar API),"
        " /rdstation (RD Station CRM; token for the console: "
        f"{rdstation.DEFAULT_TOKEN})",
        f"             e-mail: SMTP sink 127.0.0.1:{ports['smtp']}, read at"
        f" {loop.simulator_url}/mail/_control/messages",
        f"  console    {loop.console_url}/  (Firebase Hosting emulator; the API under /api)",
        f"             sign in as {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]} (owner of {DEMO_TENANT})",
        f"  auth       http://127.0.0.1:{ports['auth']}/  (Firebase Auth emulator)",
        f"  firestore  127.0.0.1:{ports['firestore']}    pubsub 127.0.0.1:{ports['pubsub']}"
        f"    cloud tasks 127.0.0.1:{ports['tasks']}",
        "  logs       .piloto/dev/logs/",
        "",
        "  Write to the demo clinic as a lead:  make chat   (CHANNEL=twilio|evolution|zapi)",
        "  See events the webhook published:   make events",
        "  Ctrl-C stops everything.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
