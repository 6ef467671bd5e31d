"""The admin function served over real HTTP against the emulators, once per test module.

Firestore, Pub/Sub and the Auth emulator are the session's ``local_stack``; channel secrets go
to a temporary local secret file; what seller messages publish is read from a pull subscription
on the real ``outbound-messages`` topic; Stripe is the provider simulator's (``/stripe``), one
per session, reached through the ``stripe`` library as in production.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1
import httpx
import pytest
from google.cloud import firestore

from emulators.loop import serve_function, stop_process, wait_for_function
from emulators.simulator import ProviderSimulator
from emulators.simulator.google import CLIENT_ID as GOOGLE_CLIENT_ID
from emulators.simulator.google import CLIENT_SECRET as GOOGLE_CLIENT_SECRET
from emulators.simulator.stripe_objects import DEFAULT_SECRET_KEY as STRIPE_SECRET_KEY
from emulators.stack import LocalStack, free_port
from shared.billing.accounts import account_ref
from shared.events.topology import OUTBOUND_MESSAGES, ensure_topology
from shared.sender import OutboundJob
from shared.store.channels import CHANNELS_COLLECTION
from shared.store.conversations import tenant_ref
from tests.integration.admin.support import (
    AuthEmulator,
    ContractClient,
    User,
    snapshot_tree,
)
from tests.integration.conftest import PRECREATED_QUEUE


@dataclass
class Published:
    """One message the API published to outbound-messages."""

    job: OutboundJob
    ordering_key: str
    attributes: dict[str, str]


@dataclass
class AdminStack:
    """The served admin function and what the tests use around it."""

    api: ContractClient
    auth: AuthEmulator
    db: firestore.Client
    project_id: str
    secrets_file: Path
    subscriber: Any
    tap: str
    stripe_url: str
    """The simulated Stripe's API base (``PILOTO_STRIPE_API_BASE`` of the served admin)."""
    _received: dict[str, list[Published]] = field(default_factory=lambda: defaultdict(list))
    delivery_tasks: list[dict[str, Any]] = field(default_factory=list)
    """H6: the DeliveryTask bodies Cloud Tasks dispatched to the delivery URL (a local sink)."""

    def published(self, tenant_id: str, *, expect: int = 0, settle: float = 0.5) -> list[Published]:
        """Return (and forget) what was published for a tenant: wait for ``expect`` messages,
        then ``settle`` seconds more so an extra one would show."""
        deadline = time.monotonic() + 15
        quiet_until: float | None = None
        while True:
            answer = self.subscriber.pull(
                request={
                    "subscription": self.tap,
                    "max_messages": 100,
                    "return_immediately": True,
                },
                timeout=5,
            )
            received = list(answer.received_messages)
            if received:
                self.subscriber.acknowledge(
                    request={"subscription": self.tap, "ack_ids": [m.ack_id for m in received]}
                )
            for each in received:
                attributes = dict(each.message.attributes)
                self._received[attributes.get("tenant_id", "")].append(
                    Published(
                        job=OutboundJob.from_json(each.message.data),
                        ordering_key=each.message.ordering_key,
                        attributes=attributes,
                    )
                )
            now = time.monotonic()
            if len(self._received[tenant_id]) >= expect:
                quiet_until = quiet_until or now + settle
                if now >= quiet_until:
                    break
            elif now > deadline:
                break
            if not received:
                time.sleep(0.1)
        return self._received.pop(tenant_id, [])

    def tenant_state(self, tenant_id: str) -> dict[str, Any]:
        """Return every document of a tenant: its tree, its channels, invitations, users and
        billing account."""
        state = snapshot_tree(self.db, tenant_ref(self.db, tenant_id))
        for name, key in ((CHANNELS_COLLECTION, "tenant_id"), ("invites", "tenant_id")):
            query = self.db.collection(name).where(
                filter=firestore.FieldFilter(key, "==", tenant_id)
            )
            for snapshot in query.stream():
                state[snapshot.reference.path] = snapshot.to_dict()
        for path in [p for p in state if "/members/" in p]:
            uid = path.rsplit("/", 1)[1]
            user = self.db.collection("users").document(uid).get()
            if user.exists:
                memberships = (user.to_dict() or {}).get("memberships") or {}
                state[f"users/{uid}#{tenant_id}"] = memberships.get(tenant_id)
        account_id = (state.get(f"tenants/{tenant_id}") or {}).get("billing_account_id")
        if account_id:
            state[f"billing_accounts/{account_id}"] = (
                account_ref(self.db, account_id).get().to_dict()
            )
        state["secrets-file"] = self.secrets_file.read_text() if self.secrets_file.exists() else ""
        return state

    def tenant(self, owner: User, name: str = "Clínica") -> str:
        """Sign up a new tenant owned by ``owner``; return its id."""
        answer = self.api.post("/api/tenants", owner, {"name": f"{name} {uuid.uuid4().hex[:6]}"})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["tenant_id"])

    def join(self, owner: User, tenant_id: str, user: User, role: str) -> None:
        """Invite a verified user with a role and have them accept."""
        invited = self.api.post(
            f"/api/tenants/{tenant_id}/invites", owner, {"email": user.email, "role": role}
        )
        assert invited.status_code == 201, invited.text
        accepted = self.api.post(f"/api/tenants/{tenant_id}/invites/accept", user)
        assert accepted.status_code == 200, accepted.text

    def audit(self, tenant_id: str) -> list[dict[str, Any]]:
        """Return the tenant's audit entries straight from Firestore, oldest first."""
        entries = tenant_ref(self.db, tenant_id).collection("audit").stream()
        return sorted((s.to_dict() or {} for s in entries), key=lambda entry: entry["at"])


STRIPE_KEY_VARIABLE = "PILOTO_TEST_STRIPE_SECRET_KEY"
CONSOLE_URL = "http://console.piloto.test"


GOOGLE_SECRET_VARIABLE = "PILOTO_TEST_GOOGLE_OAUTH_CLIENT_SECRET"
STATE_KEY_VARIABLE = "PILOTO_TEST_OAUTH_STATE_SECRET"


def google_env(simulator_url: str) -> dict[str, str]:
    """Return the admin's Google Calendar settings: the simulated Google and its local client."""
    return {
        "PILOTO_GOOGLE_OAUTH_CLIENT_ID": GOOGLE_CLIENT_ID,
        "PILOTO_GOOGLE_OAUTH_CLIENT_SECRET": f"env:{GOOGLE_SECRET_VARIABLE}",
        GOOGLE_SECRET_VARIABLE: GOOGLE_CLIENT_SECRET,
        "PILOTO_OAUTH_STATE_SECRET": f"env:{STATE_KEY_VARIABLE}",
        STATE_KEY_VARIABLE: "local-oauth-state-key",
        "PILOTO_GOOGLE_OAUTH_BASE": f"{simulator_url}/google",
        "PILOTO_GOOGLE_TOKEN_URL": f"{simulator_url}/google/token",
        "PILOTO_GOOGLE_CALENDAR_API_BASE": f"{simulator_url}/google/calendar/v3",
    }


@pytest.fixture(scope="session")
def stripe_simulator() -> Iterator[ProviderSimulator]:
    """Serve the provider simulator, whose ``/stripe`` answers like Stripe's API."""
    with ProviderSimulator([]) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def delivery_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """H6: answer 200 to every delivery task Cloud Tasks dispatches, keeping their bodies
    (the admin schedules test events and redeliveries; the delivery function is not served)."""
    received: list[dict[str, Any]] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/delivery", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def admin_env() -> dict[str, str]:
    """Return extra environment for the served admin function (a test module may override it)."""
    return {}


@pytest.fixture(scope="module")
def admin(
    local_stack: LocalStack,
    tmp_path_factory: pytest.TempPathFactory,
    admin_env: dict[str, str],
    stripe_simulator: ProviderSimulator,
    delivery_sink: tuple[str, list[dict[str, Any]]],
) -> Iterator[AdminStack]:
    """Serve functions/admin (functions-framework) against the session's emulators."""
    project = local_stack.project_id
    env = {**os.environ, **local_stack.env()}
    ensure_topology(project, {})
    subscriber = pubsub_v1.SubscriberClient()
    tap = subscriber.subscription_path(project, f"admin-tap-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(
        request={
            "name": tap,
            "topic": f"projects/{project}/topics/{OUTBOUND_MESSAGES}",
            "enable_message_ordering": True,
        }
    )
    runtime = tmp_path_factory.mktemp("admin")
    secrets_file = runtime / "secrets.json"
    env |= {
        "GOOGLE_CLOUD_PROJECT": project,
        "PILOTO_ENVIRONMENT": "test",
        "PILOTO_LOCAL_SECRETS_FILE": str(secrets_file),
        "PILOTO_PUBLIC_BASE_URL": "http://127.0.0.1:9/",
        "PILOTO_OUTBOUND_TOPIC": OUTBOUND_MESSAGES,
        "PILOTO_STRIPE_API_BASE": f"{stripe_simulator.url}/stripe",
        "PILOTO_STRIPE_SECRET_KEY": f"env:{STRIPE_KEY_VARIABLE}",
        STRIPE_KEY_VARIABLE: STRIPE_SECRET_KEY,
        "PILOTO_CONSOLE_URL": CONSOLE_URL,
        "PILOTO_DELIVERY_URL": delivery_sink[0],  # H6: test events and redeliveries
        "PILOTO_DELIVERY_QUEUE": PRECREATED_QUEUE,
        **google_env(stripe_simulator.url),  # H2: Google Calendar through the simulated Google
        "PILOTO_RDSTATION_API_BASE": f"{stripe_simulator.url}/rdstation/api/v1",  # H7: CRM
    }
    env.pop("PILOTO_SIMULATOR_URL", None)
    env |= admin_env
    port = free_port()
    process = serve_function("admin", "http", port, env, runtime)
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client(timeout=15, trust_env=False)
    try:
        wait_for_function(f"{url}/api/health", process, "admin")
        api = ContractClient(url, http)
        api.load_contract()
        yield AdminStack(
            api=api,
            auth=AuthEmulator(local_stack.emulators["firebase"].host_port, project, http),
            db=firestore.Client(project=project),
            project_id=project,
            secrets_file=secrets_file,
            subscriber=subscriber,
            tap=tap,
            stripe_url=f"{stripe_simulator.url}/stripe",
            delivery_tasks=delivery_sink[1],
        )
    finally:
        http.close()  # first: gunicorn waits for open keep-alive connections before it stops
        stop_process(process)
        subscriber.delete_subscription(request={"subscription": tap})
        subscriber.close()
