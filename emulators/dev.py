"""`make dev`: the whole local stack with the demo tenant, stopped cleanly by Ctrl-C.

Starts the Firestore, Pub/Sub, Cloud Tasks and Firebase (Auth + Hosting) emulators, creates the
Pub/Sub topics and subscriptions, seeds the demo tenant from ``emulators/seed/demo.yaml`` (its
secrets come from ``.env`` or ``.env.example``), starts every function with functions-framework,
prints the local URLs and waits. Ctrl-C stops every process it started, by process group.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from emulators.stack import LocalStack
from shared.events.topology import ensure_topology
from shared.seed import apply_seed, load_seed_file
from shared.store.firestore import firestore_client

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / ".piloto" / "dev"
SEED_FILE = ROOT / "emulators" / "seed" / "demo.yaml"

logger = logging.getLogger("piloto.dev")


@dataclass(frozen=True)
class LocalFunction:
    """A function served locally by functions-framework."""

    name: str
    source: str
    signature_type: str
    port_variable: str
    default_port: int


FUNCTIONS: tuple[LocalFunction, ...] = (
    LocalFunction("webhook", "functions/webhook/main.py", "http", "PILOTO_DEV_WEBHOOK_PORT", 8001),
    LocalFunction("agent", "functions/agent/main.py", "cloudevent", "PILOTO_DEV_AGENT_PORT", 8002),
    LocalFunction("turn", "functions/turn/main.py", "http", "PILOTO_DEV_TURN_PORT", 8003),
    LocalFunction("sender", "functions/sender/main.py", "http", "PILOTO_DEV_SENDER_PORT", 8004),
)
TURNS_QUEUE = "projects/{project}/locations/southamerica-east1/queues/turns"


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


def _port(env: dict[str, str], name: str, default: int) -> int:
    return int(env.get(name, default))


def start_function(function: LocalFunction, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start one function with functions-framework, logging to .piloto/dev/logs/<name>.log."""
    port = _port(env, function.port_variable, function.default_port)
    log_path = RUNTIME / "logs" / f"{function.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "functions-framework"),
                "--target",
                function.name,
                "--source",
                str(ROOT / function.source),
                "--signature-type",
                function.signature_type,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_port(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until a local function answers HTTP (any status), or fail if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with code {process.returncode}; see .piloto/dev/logs")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process group: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def main() -> int:
    """Bring the stack up, print where everything is, and wait for Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env_file = load_env_file()
    project_id = env_file.get("GOOGLE_CLOUD_PROJECT", "demo-piloto")
    if not project_id.startswith("demo-"):
        sys.stderr.write(f"make dev needs a demo- project id to stay offline, got {project_id}\n")
        return 2
    ports = {
        "firestore": _port(env_file, "PILOTO_DEV_FIRESTORE_PORT", 8081),
        "pubsub": _port(env_file, "PILOTO_DEV_PUBSUB_PORT", 8085),
        "tasks": _port(env_file, "PILOTO_DEV_TASKS_PORT", 8123),
        "auth": _port(env_file, "PILOTO_DEV_AUTH_PORT", 9099),
        "hosting": _port(env_file, "PILOTO_DEV_HOSTING_PORT", 5002),
    }
    stop_requested = threading.Event()
    # Ctrl-C, a closed terminal or a kill all end the same way: every started process stopped.
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, lambda *_: stop_requested.set())
    processes: list[subprocess.Popen[bytes]] = []
    turns_queue = TURNS_QUEUE.format(project=project_id)
    with LocalStack(
        project_id,
        runtime_dir=RUNTIME,
        ports=ports,
        hosting_public_dir=ROOT / "console" / "public",
        queues=[turns_queue],
    ) as stack:
        turn_port = _port(env_file, "PILOTO_DEV_TURN_PORT", 8003)
        env = {
            **os.environ,
            **env_file,
            **stack.env(),
            "PILOTO_TASKS_QUEUE": turns_queue,
            "PILOTO_TURN_URL": f"http://127.0.0.1:{turn_port}/",
        }
        os.environ.update(env)
        push_endpoints = {
            function.name: "http://127.0.0.1:"
            f"{_port(env, function.port_variable, function.default_port)}/"
            for function in FUNCTIONS
        }
        for created in ensure_topology(project_id, push_endpoints):
            logger.info("created %s", created)
        counts = apply_seed(firestore_client(project_id), load_seed_file(SEED_FILE))
        logger.info("seeded %(tenants)s tenant(s) and %(channels)s channel(s)", counts)
        try:
            for function in FUNCTIONS:
                process = start_function(function, env)
                processes.append(process)
                port = _port(env, function.port_variable, function.default_port)
                wait_for_port(f"http://127.0.0.1:{port}/", process)
            _print_urls(env, ports)
            while not stop_requested.is_set():
                stop_requested.wait(0.5)
                for process in processes:
                    if process.poll() is not None:
                        raise RuntimeError(f"a function exited (code {process.returncode})")
        finally:
            sys.stdout.write("\nstopping the local stack...\n")
            for process in processes:
                stop_process(process)
    sys.stdout.write("stopped.\n")
    return 0


def _print_urls(env: dict[str, str], ports: dict[str, int]) -> None:
    webhook = f"http://127.0.0.1:{_port(env, 'PILOTO_DEV_WEBHOOK_PORT', 8001)}"
    lines = [
        "",
        "Piloto local stack is up (project " + env["GOOGLE_CLOUD_PROJECT"] + ")",
        "",
        "  webhooks   " + f"{webhook}/webhooks/<provider>/<channel_id>",
        "             demo channels: meta/demo-meta twilio/demo-twilio evolution/demo-evolution"
        " zapi/demo-zapi",
        f"  agent      http://127.0.0.1:{_port(env, 'PILOTO_DEV_AGENT_PORT', 8002)}/"
        "  (Pub/Sub push from conversation-events)",
        f"  turn       http://127.0.0.1:{_port(env, 'PILOTO_DEV_TURN_PORT', 8003)}/"
        "  (Cloud Tasks target of debounced turns)",
        f"  sender     http://127.0.0.1:{_port(env, 'PILOTO_DEV_SENDER_PORT', 8004)}/"
        "  (Pub/Sub push from outbound-messages)",
        f"  console    http://127.0.0.1:{ports['hosting']}/  (Firebase Hosting emulator)",
        f"  auth       http://127.0.0.1:{ports['auth']}/  (Firebase Auth emulator)",
        f"  firestore  127.0.0.1:{ports['firestore']}    pubsub 127.0.0.1:{ports['pubsub']}"
        f"    cloud tasks 127.0.0.1:{ports['tasks']}",
        "  logs       .piloto/dev/logs/",
        "",
        "  See events the webhook published:  make events   (or .venv/bin/piloto events pull)",
        "  Ctrl-C stops everything.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
