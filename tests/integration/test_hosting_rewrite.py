"""The Hosting emulator serves the console and sends /api/** to the local admin function.

The project's firebase.json, unchanged, rewrites ``/api/**`` to the Cloud Run service
piloto-admin; the stack's Cloud Run Admin API stand-in tells the emulator where that service
runs on this machine. A stand-in admin server records what arrives, over real HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from emulators.stack import PROJECT_FIREBASE_JSON, LocalStack
from tests.integration.conftest import PROJECT_ID

INDEX_HTML = "<!doctype html><title>Piloto console</title><div id=root></div>\n"
ASSET_JS = "console.log('piloto');\n"
ADMIN_SERVICE = "piloto-admin"
ADMIN_REGION = "southamerica-east1"


@dataclass(frozen=True)
class Arrived:
    """One request as the stand-in admin function saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class AdminStandIn:
    """Records every request and answers by path, like a tiny admin API."""

    url: str = ""
    arrived: list[Arrived] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Arrived) -> tuple[int, dict[str, object]]:
        with self.lock:
            self.arrived.append(request)
        if request.path == "/api/health":
            return 200, {"status": "ok"}
        if request.method == "POST" and request.path.startswith("/api/tenants"):
            return 201, {"tenant_id": json.loads(request.body)["tenant_id"], "created": True}
        return 403, {"error": "not a member of this tenant"}

    def last(self) -> Arrived:
        with self.lock:
            return self.arrived[-1]


@pytest.fixture(scope="module")
def admin() -> Iterator[AdminStandIn]:
    state = AdminStandIn()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._record_and_answer()

        def do_POST(self) -> None:
            self._record_and_answer()

        def _record_and_answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, document = state.answer(Arrived(self.command, self.path, headers, body))
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Admin", "stand-in")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def hosting(
    tmp_path_factory: pytest.TempPathFactory, admin: AdminStandIn
) -> Iterator[tuple[LocalStack, httpx.Client]]:
    site = tmp_path_factory.mktemp("console-dist")
    (site / "index.html").write_text(INDEX_HTML)
    (site / "assets").mkdir()
    (site / "assets" / "index-3f2a1b.js").write_text(ASSET_JS)
    runtime_dir = tmp_path_factory.mktemp("hosting-runtime")
    with LocalStack(
        PROJECT_ID, only=["firebase"], runtime_dir=runtime_dir, hosting_public_dir=site
    ) as stack:
        stack.register_cloud_run_service(ADMIN_SERVICE, admin.url)  # after start, before /api
        firebase = stack.emulators["firebase"]
        assert firebase.cloud_run_api is not None
        cloud_run_api_port = firebase.cloud_run_api.port
        port = firebase.extra_ports["hosting"]
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False
        ) as client:
            yield stack, client
    with pytest.raises(httpx.ConnectError):  # the Cloud Run stand-in stopped with the emulator
        httpx.get(f"http://127.0.0.1:{cloud_run_api_port}/", trust_env=False)


def test_the_project_firebase_json_is_the_one_served() -> None:
    hosting = json.loads(PROJECT_FIREBASE_JSON.read_text())["hosting"]

    assert hosting["public"] == "console/dist"
    assert hosting["rewrites"] == [
        {"source": "/api/**", "run": {"serviceId": ADMIN_SERVICE, "region": ADMIN_REGION}},
        {"source": "**", "destination": "/index.html"},
    ]


def test_a_get_reaches_the_admin_function_with_its_path(
    hosting: tuple[LocalStack, httpx.Client], admin: AdminStandIn
) -> None:
    stack, client = hosting

    answer = client.get("/api/health")

    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    assert answer.headers["x-admin"] == "stand-in"
    arrived = admin.last()
    assert (arrived.method, arrived.path) == ("GET", "/api/health")
    cloud_run_api = stack.emulators["firebase"].cloud_run_api
    assert cloud_run_api is not None
    lookups = cloud_run_api.lookups()
    assert [(lookup.project, lookup.region, lookup.service_id) for lookup in lookups] == [
        (PROJECT_ID, ADMIN_REGION, ADMIN_SERVICE)
    ]


def test_a_post_keeps_its_method_body_query_and_authorization(
    hosting: tuple[LocalStack, httpx.Client], admin: AdminStandIn
) -> None:
    _, client = hosting
    body = json.dumps({"tenant_id": "clinica-nova", "name": "Clínica Nova"}).encode()

    answer = client.post(
        "/api/tenants?dry_run=false",
        content=body,
        headers={
            "Authorization": "Bearer id-token-from-firebase-auth",
            "Content-Type": "application/json",
        },
    )

    assert (answer.status_code, answer.json()) == (
        201,
        {"tenant_id": "clinica-nova", "created": True},
    )
    arrived = admin.last()
    assert (arrived.method, arrived.path, arrived.body) == (
        "POST",
        "/api/tenants?dry_run=false",
        body,
    )
    assert arrived.headers["authorization"] == "Bearer id-token-from-firebase-auth"
    assert arrived.headers["content-type"] == "application/json"


def test_the_admin_function_status_comes_back(
    hosting: tuple[LocalStack, httpx.Client], admin: AdminStandIn
) -> None:
    _, client = hosting

    answer = client.get("/api/tenants/other/conversations")

    assert (answer.status_code, answer.json()) == (403, {"error": "not a member of this tenant"})
    assert admin.last().path == "/api/tenants/other/conversations"


def test_console_routes_fall_back_to_index_html(hosting: tuple[LocalStack, httpx.Client]) -> None:
    _, client = hosting

    for path in ("/", "/inbox/anything", "/settings/channels"):
        answer = client.get(path)

        assert (answer.status_code, answer.text) == (200, INDEX_HTML), path
        assert answer.headers["cache-control"] == "no-cache", path


def test_static_assets_are_served_with_a_long_cache(
    hosting: tuple[LocalStack, httpx.Client], admin: AdminStandIn
) -> None:
    _, client = hosting
    requests_before = len(admin.arrived)

    answer = client.get("/assets/index-3f2a1b.js")

    assert (answer.status_code, answer.text) == (200, ASSET_JS)
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(admin.arrived) == requests_before


def test_registering_a_service_needs_the_hosting_emulator(tmp_path: Path) -> None:
    with (
        LocalStack(PROJECT_ID, only=[], runtime_dir=tmp_path) as stack,
        pytest.raises(RuntimeError, match="not running"),
    ):
        stack.register_cloud_run_service(ADMIN_SERVICE, "http://127.0.0.1:8006")
