"""The whole Piloto loop on one machine: emulators, topics, demo tenant, functions, simulator.

``PilotoLoop`` is what ``make dev`` runs and waits on, what ``make demo`` plays a script
through, and what the end-to-end tests and the end-to-end benchmark start: the official
emulators (``emulators.stack``), the Pub/Sub topology, the seeded tenant, every function served
by functions-framework over real HTTP, and the provider simulator standing in for Meta, Twilio,
Evolution API and Z-API. Channels' ``api_base_url`` is pointed at the simulator, wherever it
listens. Leaving the ``with`` block stops every process it started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from emulators.simulator import ProviderSimulator, channels_from_seed, google
from emulators.simulator.stripe_objects import DEFAULT_SECRET_KEY as LOCAL_STRIPE_SECRET_KEY
from emulators.stack import LocalStack, free_port
from shared.events.topology import ensure_topology
from shared.seed import SeedFile, apply_seed, load_seed_file

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = ROOT / "emulators" / "seed" / "demo.yaml"
LOCATION = "southamerica-east1"

logger = logging.getLogger("piloto.loop")


@dataclass(frozen=True)
class LocalFunction:
    """A function served locally by functions-framework."""

    name: str
    signature_type: str
    port_name: str
    role: str


FUNCTIONS: tuple[LocalFunction, ...] = (
    LocalFunction("webhook", "http", "webhook", "provider webhooks"),
    LocalFunction("agent", "cloudevent", "agent", "Pub/Sub push from conversation-events"),
    LocalFunction("turn", "http", "turn", "Cloud Tasks target of debounced turns"),
    LocalFunction("sender", "http", "sender", "Pub/Sub push from outbound-messages"),
    LocalFunction("followup", "http", "followup", "Cloud Tasks target of follow-ups"),
    LocalFunction("admin", "http", "admin", "the console's API (/api), behind Hosting"),
    LocalFunction("insights", "cloudevent", "insights", "Pub/Sub push from insight-events"),
    LocalFunction("billing", "http", "billing", "Stripe webhooks (from the simulator's /stripe)"),
    LocalFunction(
        "integrations", "cloudevent", "integrations", "Pub/Sub push from business-events"
    ),
    LocalFunction("delivery", "http", "delivery", "Cloud Tasks target of webhook/CRM/e-mail"),
    LocalFunction("reminder", "http", "reminder", "Cloud Tasks target of meeting reminders"),
    LocalFunction("digest", "http", "digest", "the owners' daily digest (hourly, like Scheduler)"),
    LocalFunction(
        "outbox",
        "http",
        "outbox",
        "re-publishes business events whose publish failed (every 5 minutes, like Scheduler)",
    ),
)
ADMIN_SERVICE = "piloto-admin"  # the Cloud Run service firebase.json's /api/** rewrite names
CONSOLE_DIST = ROOT / "console" / "dist"
EMULATOR_PORTS = ("firestore", "pubsub", "tasks", "auth", "hosting")
LOCAL_STRIPE_WEBHOOK_SECRET = "whsec_piloto_local_webhook_signing_secret"  # noqa: S105 (local)
"""The simulated Stripe signs the billing function's events with this (never Stripe's)."""
LOCAL_OAUTH_STATE_SECRET = "piloto-local-oauth-state-key"  # noqa: S105 (local only)
"""Signs the OAuth state of Google Calendar connections in the local loop."""


class PilotoLoop:
    """Start the loop on entry, stop it on exit.

    ``ports`` fixes ports by name (the emulators', each function's, and "simulator"); anything
    not named gets a free port. ``agent`` overrides the seeded tenants' agent settings (the demo
    turns quiet hours off so it runs at any hour). ``clock_speed`` divides follow-up delays.
    """

    def __init__(
        self,
        *,
        project_id: str,
        runtime_dir: Path,
        env: Mapping[str, str],
        ports: Mapping[str, int] | None = None,
        seed_file: Path = SEED_FILE,
        agent: Mapping[str, Any] | None = None,
        clock_speed: float = 1.0,
        emulators: tuple[str, ...] = ("firestore", "pubsub", "tasks", "firebase"),
        hosting_public_dir: Path | None = None,
        stack: LocalStack | None = None,
    ) -> None:
        self.project_id = project_id
        self.runtime_dir = runtime_dir
        self.base_env = dict(env)
        self.ports = {name: int(port) for name, port in (ports or {}).items()}
        self.seed_file = seed_file
        self.agent = dict(agent or {})
        self.clock_speed = clock_speed
        self.turns_queue = f"projects/{project_id}/locations/{LOCATION}/queues/turns"
        self.followups_queue = f"projects/{project_id}/locations/{LOCATION}/queues/followups"
        self.deliveries_queue = f"projects/{project_id}/locations/{LOCATION}/queues/deliveries"
        self.owns_stack = stack is None
        self.stack = stack or LocalStack(
            project_id,
            only=emulators,
            runtime_dir=runtime_dir,
            queues=[self.turns_queue, self.followups_queue, self.deliveries_queue],
            hosting_public_dir=hosting_public_dir,
            ports={name: port for name, port in self.ports.items() if name in EMULATOR_PORTS},
        )
        self.simulator: ProviderSimulator | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.urls: dict[str, str] = {}
        self.env: dict[str, str] = {}

    def port(self, name: str) -> int:
        """Return the port fixed for ``name``, picking a free one the first time if none was."""
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    @property
    def webhook_url(self) -> str:
        """Return the webhook function's origin (providers post to /webhooks/<p>/<channel>)."""
        return self.urls["webhook"].rstrip("/")

    @property
    def billing_url(self) -> str:
        """Return the billing function's origin: the Stripe webhook endpoint."""
        return self.urls["billing"].rstrip("/") + "/"

    @property
    def simulator_url(self) -> str:
        """Return the provider simulator's origin."""
        assert self.simulator is not None, "the loop is not running"
        return self.simulator.url.rstrip("/")

    def __enter__(self) -> PilotoLoop:
        if self.owns_stack:
            self.stack.__enter__()
        else:  # a running stack (the tests'): create the queues it was not started with
            _create_queues(
                self.stack, (self.turns_queue, self.followups_queue, self.deliveries_queue)
            )
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        for function in FUNCTIONS:
            self.urls[function.name] = f"http://127.0.0.1:{self.port(function.port_name)}/"
        simulator_port = self.port("simulator")
        simulator_base = f"http://127.0.0.1:{simulator_port}"
        self.env = {
            **os.environ,
            **self.base_env,
            **self.stack.env(),
            "GOOGLE_CLOUD_PROJECT": self.project_id,
            "PILOTO_TASKS_QUEUE": self.turns_queue,
            "PILOTO_FOLLOWUP_QUEUE": self.followups_queue,
            "PILOTO_TURN_URL": self.urls["turn"],
            "PILOTO_FOLLOWUP_URL": self.urls["followup"],
            "PILOTO_PUBLIC_BASE_URL": self.webhook_url,
            "PILOTO_CLOCK_SPEED": str(self.clock_speed),
            # The admin API saves channel secrets here, every function resolves local:NAME here,
            # and channels connected to the simulator in the console are registered with it.
            "PILOTO_LOCAL_SECRETS_FILE": str(self.runtime_dir / "secrets.json"),
            "PILOTO_SIMULATOR_URL": simulator_base,
            # Applied sales go to the simulator's Meta Conversions API, never to Meta.
            "PILOTO_META_GRAPH_URL": f"{simulator_base}/meta",
            # A tenant's new insight agent is heard from its first event (no index cache).
            "PILOTO_INSIGHT_INDEX_CACHE_SECONDS": "0",
            # Stripe is the simulator's /stripe, never Stripe: its key and the webhook signing
            # secret are fixed local values, read through env: references like real secrets.
            "PILOTO_STRIPE_API_BASE": f"{simulator_base}/stripe",
            "PILOTO_STRIPE_SECRET_KEY": "env:PILOTO_DEV_STRIPE_SECRET_KEY",
            "PILOTO_STRIPE_WEBHOOK_SECRET": "env:PILOTO_DEV_STRIPE_WEBHOOK_SECRET",
            "PILOTO_DEV_STRIPE_SECRET_KEY": LOCAL_STRIPE_SECRET_KEY,  # the simulator's own
            "PILOTO_DEV_STRIPE_WEBHOOK_SECRET": LOCAL_STRIPE_WEBHOOK_SECRET,
            # Meetings: reminders on the follow-up queue; Google is the simulator's /google (its
            # OAuth client is a local stand-in), the OAuth state is signed with a local key.
            "PILOTO_REMINDER_URL": self.urls["reminder"],
            "PILOTO_GOOGLE_OAUTH_CLIENT_ID": google.CLIENT_ID,
            "PILOTO_GOOGLE_OAUTH_CLIENT_SECRET": "env:PILOTO_DEV_GOOGLE_CLIENT_SECRET",
            "PILOTO_DEV_GOOGLE_CLIENT_SECRET": google.CLIENT_SECRET,
            "PILOTO_GOOGLE_OAUTH_BASE": f"{simulator_base}/google",
            "PILOTO_GOOGLE_TOKEN_URL": f"{simulator_base}/google/token",
            "PILOTO_GOOGLE_CALENDAR_API_BASE": f"{simulator_base}/google/calendar/v3",
            "PILOTO_OAUTH_STATE_SECRET": "env:PILOTO_DEV_OAUTH_STATE_SECRET",
            "PILOTO_DEV_OAUTH_STATE_SECRET": LOCAL_OAUTH_STATE_SECRET,
            # Deliveries (webhooks, RD Station, e-mail) as their own tasks; RD Station and the
            # mail servers are the simulator's: nothing leaves the machine.
            "PILOTO_DELIVERY_URL": self.urls["delivery"],
            "PILOTO_DELIVERY_QUEUE": self.deliveries_queue,
            "PILOTO_RDSTATION_API_BASE": f"{simulator_base}/rdstation/api/v1",
            "PILOTO_MAIL_TRANSPORT": "smtp",
            "PILOTO_SMTP_HOST": "127.0.0.1",
            "PILOTO_SMTP_PORT": str(self.port("smtp")),
            "PILOTO_SMTP_SECURITY": "none",
            "PILOTO_MAIL_API_BASE": f"{simulator_base}/sendgrid",
        }
        if "firebase" in self.stack.emulators:  # Checkout and the portal return to the console
            self.env["PILOTO_CONSOLE_URL"] = self.console_url
        # The clients below (topology, seed, simulator secrets) need the emulators and secrets
        # too; what the caller's environment already says (a test session's) is kept.
        for key, value in {**self.stack.env(), **self.base_env}.items():
            os.environ.setdefault(key, value)
        for created in ensure_topology(self.project_id, self.urls):
            logger.info("created %s", created)
        seed = self._seed(simulator_base)
        from shared.store.firestore import firestore_client

        counts = apply_seed(firestore_client(self.project_id), seed)
        logger.info("seeded %(tenants)s tenant(s) and %(channels)s channel(s)", counts)
        self.simulator = ProviderSimulator(
            channels_from_seed(self.seed_file, self.project_id),
            webhook_base_url=self.webhook_url,
            host="127.0.0.1",
            port=simulator_port,
            smtp_port=self.port("smtp"),
        )
        self.simulator.start()
        logs = self.runtime_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for function in FUNCTIONS:
            self.processes[function.name] = serve_function(
                function.name,
                function.signature_type,
                self.port(function.port_name),
                self.env,
                logs,
            )
        for function in FUNCTIONS:
            wait_for_function(
                self.urls[function.name], self.processes[function.name], function.name
            )
        register_stripe_webhook(simulator_base, self.billing_url, LOCAL_STRIPE_WEBHOOK_SECRET)
        if "firebase" in self.stack.emulators:
            self.stack.register_cloud_run_service(ADMIN_SERVICE, self.urls["admin"].rstrip("/"))

    def run_digest(self) -> None:
        """Call the digest function as the hourly Cloud Scheduler job does (a failure is logged)."""
        try:
            httpx.post(self.urls["digest"], json={}, timeout=120).raise_for_status()
        except httpx.HTTPError as error:
            logger.warning("the hourly digest run failed: %s", error)

    def run_outbox(self) -> None:
        """Call the outbox function as the 5-minute Scheduler job does (a failure is logged)."""
        try:
            httpx.post(self.urls["outbox"], json={}, timeout=120).raise_for_status()
        except httpx.HTTPError as error:
            logger.warning("the outbox sweep run failed: %s", error)

    @property
    def console_url(self) -> str:
        """Return the Hosting emulator's origin: the console, and the admin API under /api."""
        firebase = self.stack.emulators["firebase"]
        return f"http://127.0.0.1:{firebase.extra_ports['hosting']}"

    def _seed(self, simulator_base: str) -> SeedFile:
        """Return the seed with channels pointed at the simulator and the agent overrides."""
        seed = load_seed_file(self.seed_file)
        tenants = []
        for tenant in seed.tenants:
            channels = []
            for channel in tenant.channels:
                config = dict(channel.config)
                if "api_base_url" in config:
                    config["api_base_url"] = f"{simulator_base}/{channel.provider}"
                channels.append(channel.model_copy(update={"config": config}))
            agent = tenant.agent.model_validate({**tenant.agent.model_dump(), **self.agent})
            tenants.append(tenant.model_copy(update={"channels": channels, "agent": agent}))
        return seed.model_copy(update={"tenants": tenants})

    def running(self) -> bool:
        """Return whether every function is still running."""
        return all(process.poll() is None for process in self.processes.values())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.simulator is not None:  # first, so no webhook goes to a stopped function
            self.simulator.stop()
            self.simulator = None
        for process in self.processes.values():
            stop_process(process)
        self.processes.clear()
        if self.owns_stack:
            self.stack.__exit__(exc_type, exc_value, traceback)


DEMO_LOGIN = ("dono@clinica-demo.com.br", "piloto-demo")
"""The demo tenant's owner in the Auth emulator (make dev): email and password."""


def seed_demo_login(loop: PilotoLoop, tenant_id: str, email: str, password: str) -> str:
    """Create (or find) a verified Auth emulator user and make them the tenant's owner."""
    from shared.admin.access import member_ref, user_ref
    from shared.store.firestore import firestore_client

    auth = loop.stack.emulators["firebase"].host_port
    project = loop.project_id
    admin = {"Authorization": "Bearer owner"}
    base = f"http://{auth}/identitytoolkit.googleapis.com/v1"
    with httpx.Client(timeout=10, trust_env=False) as http:
        answer = http.post(
            f"{base}/projects/{project}/accounts",
            headers=admin,
            json={"email": email, "password": password, "emailVerified": True},
        )
        if answer.status_code == 200:
            uid = str(answer.json()["localId"])
        else:  # EMAIL_EXISTS: the emulator kept it (it does not persist across restarts)
            found = http.post(
                f"{base}/projects/{project}/accounts:lookup", headers=admin, json={"email": [email]}
            )
            found.raise_for_status()
            uid = str(found.json()["users"][0]["localId"])
    client = firestore_client(project)
    tenant = client.collection("tenants").document(tenant_id).get().to_dict() or {}
    member_ref(client, tenant_id, uid).set(
        {"uid": uid, "email": email, "role": "owner", "added_at": None, "added_by": None}
    )
    user_ref(client, uid).set(
        {
            "email": email,
            "memberships": {tenant_id: {"role": "owner", "tenant_name": tenant.get("name", "")}},
        },
        merge=True,
    )
    return uid


def register_stripe_webhook(simulator_base: str, url: str, secret: str) -> None:
    """Tell the simulated Stripe to post its signed events to the billing function."""
    answer = httpx.post(
        f"{simulator_base}/stripe/_control/webhook",
        json={"url": url, "secret": secret},
        timeout=5,
        trust_env=False,
    )
    answer.raise_for_status()


def _create_queues(stack: LocalStack, queues: tuple[str, ...]) -> None:
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import tasks_v2

    from shared.events.tasks import TaskScheduler

    client = TaskScheduler(
        queue_path=queues[0], emulator_host=stack.emulators["tasks"].host_port
    )._client
    for queue in queues:
        with contextlib.suppress(AlreadyExists):
            client.create_queue(
                parent=queue.rsplit("/queues/", 1)[0], queue=tasks_v2.Queue(name=queue)
            )


def serve_function(
    name: str, signature_type: str, port: int, env: Mapping[str, str], logs: Path
) -> subprocess.Popen[bytes]:
    """Start ``functions/<name>/main.py`` with functions-framework; its log in ``logs/``."""
    with (logs / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "functions-framework"),
                f"--target={name}",
                f"--source={ROOT / 'functions' / name / 'main.py'}",
                f"--signature-type={signature_type}",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_function(
    url: str, process: subprocess.Popen[bytes], name: str, timeout: float = 30
) -> None:
    """Wait until a started function answers HTTP (any status), or fail if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode}; see its log")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer on {url} within {timeout:.0f}s")


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
