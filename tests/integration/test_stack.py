"""Prove each local emulator really works, and that starting and stopping them is clean."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from emulators import stack
from emulators.stack import Emulator, EmulatorStartError, LocalStack, MissingComponent
from tests.integration.conftest import LOCATION, PRECREATED_QUEUE, PROJECT_ID


def unique(prefix: str) -> str:
    """Return `prefix` plus a short random suffix, so reruns never share names."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_stack_exports_one_variable_per_emulator(local_stack: LocalStack) -> None:
    expected = {
        "FIRESTORE_EMULATOR_HOST": local_stack.emulators["firestore"].host_port,
        "PUBSUB_EMULATOR_HOST": local_stack.emulators["pubsub"].host_port,
        "CLOUD_TASKS_EMULATOR_HOST": local_stack.emulators["tasks"].host_port,
        "FIREBASE_AUTH_EMULATOR_HOST": local_stack.emulators["firebase"].host_port,
        "GOOGLE_CLOUD_PROJECT": PROJECT_ID,
        "GCLOUD_PROJECT": PROJECT_ID,
    }
    assert local_stack.env() == expected
    assert {name: os.environ[name] for name in expected} == expected


def test_firestore_reads_back_what_it_wrote(firestore_emulator: Emulator) -> None:
    from google.cloud import firestore

    client = firestore.Client(project=PROJECT_ID)
    try:
        document = client.collection("stack_checks").document(unique("doc"))
        document.set({"greeting": "hola", "count": 2})
        assert document.get().to_dict() == {"greeting": "hola", "count": 2}
    finally:
        client.close()


def test_pubsub_delivers_a_published_message_to_a_pull_subscription(
    pubsub_emulator: Emulator,
) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    with pubsub_v1.SubscriberClient() as subscriber:
        topic = publisher.topic_path(PROJECT_ID, unique("topic"))
        subscription = subscriber.subscription_path(PROJECT_ID, unique("subscription"))
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscription, topic=topic)

        publisher.publish(topic, b"hola", origin="stack-test").result(timeout=10)

        received = []
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            response = subscriber.pull(subscription=subscription, max_messages=1, timeout=5)
            received = list(response.received_messages)
        assert received, "no message came back within 10 s"
        message = received[0].message
        assert (message.data, message.attributes["origin"]) == (b"hola", "stack-test")
        subscriber.acknowledge(subscription=subscription, ack_ids=[received[0].ack_id])


@pytest.fixture
def task_target() -> Iterator[tuple[str, queue.Queue[tuple[str, dict[str, str], bytes]]]]:
    """Serve http://127.0.0.1:<port>; record each POST as (path, lower-cased headers, body)."""
    requests: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()

    class RecordingHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            requests.put((self.path, headers, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_cloud_tasks_dispatches_an_http_task_to_its_url(
    tasks_emulator: Emulator,
    task_target: tuple[str, queue.Queue[tuple[str, dict[str, str], bytes]]],
) -> None:
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    target_url, requests = task_target
    channel = grpc.insecure_channel(tasks_emulator.host_port)
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    parent = f"projects/{PROJECT_ID}/locations/{LOCATION}"
    queue_name = f"{parent}/queues/{unique('queue')}"

    queue_names = [existing.name for existing in client.list_queues(parent=parent)]
    assert PRECREATED_QUEUE in queue_names
    client.create_queue(parent=parent, queue=tasks_v2.Queue(name=queue_name))
    task = client.create_task(
        parent=queue_name,
        task=tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(
                url=f"{target_url}/tasks/follow-up",
                http_method=tasks_v2.HttpMethod.POST,
                headers={"Content-Type": "application/json"},
                body=json.dumps({"conversation": "c-1"}).encode(),
            )
        ),
    )

    path, headers, body = requests.get(timeout=10)
    assert path == "/tasks/follow-up"
    assert json.loads(body) == {"conversation": "c-1"}
    assert headers["content-type"] == "application/json"
    assert headers["x-cloudtasks-queuename"] == queue_name
    assert headers["x-cloudtasks-taskname"] == task.name.rsplit("/", 1)[-1]
    channel.close()


def test_firebase_auth_issues_id_tokens_that_firebase_admin_verifies(
    firebase_emulator: Emulator,
) -> None:
    import firebase_admin
    from firebase_admin import auth

    sign_up_url = (
        f"http://{firebase_emulator.host_port}/identitytoolkit.googleapis.com/v1/"
        "accounts:signUp?key=any"
    )
    email = f"{unique('seller')}@example.com"
    with httpx.Client(trust_env=False, timeout=10) as http:
        response = http.post(
            sign_up_url,
            json={"email": email, "password": "a-long-password", "returnSecureToken": True},
        )
    response.raise_for_status()
    signed_up = response.json()

    app = firebase_admin.initialize_app(options={"projectId": PROJECT_ID}, name=unique("test"))
    try:
        claims = auth.verify_id_token(signed_up["idToken"], app=app)
        assert claims["uid"] == signed_up["localId"]
        assert claims["email"] == email
        assert auth.get_user(signed_up["localId"], app=app).email == email
    finally:
        firebase_admin.delete_app(app)


def test_firebase_hosting_serves_the_site(firebase_emulator: Emulator) -> None:
    hosting_url = f"http://{firebase_emulator.host}:{firebase_emulator.extra_ports['hosting']}/"
    with httpx.Client(trust_env=False, timeout=10) as http:
        response = http.get(hosting_url)
    assert response.status_code == 200
    assert "Piloto" in response.text


def test_firebase_config_keeps_project_hosting_rules_and_points_at_the_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_json = tmp_path / "firebase.json"
    rewrites = [{"source": "**", "destination": "/index.html"}]
    project_json.write_text(json.dumps({"hosting": {"public": "dist", "rewrites": rewrites}}))
    monkeypatch.setattr(stack, "PROJECT_FIREBASE_JSON", project_json)
    site = tmp_path / "site"

    config = stack._firebase_config({"auth": 1, "hosting": 2}, site, tmp_path / "work")

    assert config["hosting"] == {"public": "../site", "rewrites": rewrites}


def live_members_of(process_group: int) -> list[str]:
    """Return `pid command` of every process in the group that is not a zombie."""
    listing = subprocess.run(
        ["ps", "-A", "-o", "pid=,pgid=,stat=,comm="], capture_output=True, text=True, check=True
    ).stdout
    members = []
    for line in listing.splitlines():
        pid, pgid, state, command = line.split(None, 3)
        if int(pgid) == process_group and not state.startswith("Z"):
            members.append(f"{pid} {command}")
    return members


def can_listen_on(port: int) -> bool:
    """Return whether a new server could listen on the port (SO_REUSEADDR, as servers bind).

    Without SO_REUSEADDR a port can look taken for a minute after its server closed
    connections (TIME_WAIT), though nothing listens on it any more.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


STARTERS: dict[str, Callable[[Path], Emulator]] = {
    "firestore": lambda log_dir: stack.start_firestore(PROJECT_ID, log_dir=log_dir),
    "pubsub": lambda log_dir: stack.start_pubsub(PROJECT_ID, log_dir=log_dir),
    "tasks": lambda log_dir: stack.start_tasks(log_dir=log_dir),
    "firebase": lambda log_dir: stack.start_firebase(
        PROJECT_ID, auth_port=stack.free_port(), hosting_port=stack.free_port(), log_dir=log_dir
    ),
}


@pytest.mark.parametrize("name", list(STARTERS))
def test_stop_ends_the_whole_process_group_and_frees_its_ports(name: str, tmp_path: Path) -> None:
    emulator = STARTERS[name](tmp_path / "logs")
    ports = [emulator.port, *emulator.extra_ports.values()]
    process_group = emulator.process.pid
    members = live_members_of(process_group)
    if name == "firestore":
        assert len(members) == 2, members  # the launcher script and its Java child

    stack.stop(emulator)

    assert live_members_of(process_group) == []
    assert [port for port in ports if not can_listen_on(port)] == []
    stack.stop(emulator)  # stopping twice is harmless


def test_missing_tasks_venv_says_how_to_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "TASKS_VENV", tmp_path / ".venv-tasks")
    with pytest.raises(MissingComponent, match="make deps"):
        stack.start_tasks(log_dir=tmp_path)


def test_missing_firebase_tools_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "FIREBASE_BIN", tmp_path / "firebase")
    with pytest.raises(MissingComponent, match="make deps"):
        LocalStack(PROJECT_ID, only=["tasks", "firebase"], runtime_dir=tmp_path).__enter__()


def fake_firebase_cli(tmp_path: Path) -> Path:
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin" / "firebase"
    script.write_text("#!/bin/sh\necho 'fake firebase: cannot start' >&2\nexit 3\n")
    script.chmod(0o755)
    return script


def test_emulator_that_exits_early_fails_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "FIREBASE_BIN", fake_firebase_cli(tmp_path))
    with pytest.raises(EmulatorStartError, match=r"(?s)exited with code 3.*fake firebase"):
        stack.start_firebase(PROJECT_ID, log_dir=tmp_path / "logs")


def test_stack_stops_what_started_when_another_emulator_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "FIREBASE_BIN", fake_firebase_cli(tmp_path))
    with pytest.raises(EmulatorStartError, match="fake firebase"):
        LocalStack(PROJECT_ID, only=["tasks", "firebase"], runtime_dir=tmp_path).__enter__()
    assert "127.0.0.1" in (tmp_path / "logs" / "tasks.log").read_text()  # tasks did start
    assert [e for e in stack._running.values() if tmp_path in e.log_path.parents] == []


def test_taken_port_fails_fast_when_given_and_is_replaced_when_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken_port = squatter.getsockname()[1]

        started_at = time.monotonic()
        with pytest.raises(EmulatorStartError, match="in use"):
            stack.start_tasks(port=taken_port, log_dir=tmp_path / "given")
        assert time.monotonic() - started_at < 10

        fixed_on_taken_port = LocalStack(
            PROJECT_ID, only=["tasks"], runtime_dir=tmp_path, ports={"tasks": taken_port}
        )
        with pytest.raises(RuntimeError, match=f"tasks={taken_port}"):
            fixed_on_taken_port.__enter__()
        assert time.monotonic() - started_at < 10

        ports = iter([taken_port, stack.free_port()])
        monkeypatch.setattr(stack, "free_port", lambda: next(ports))
        emulator = stack.start_tasks(log_dir=tmp_path / "chosen")
        try:
            assert emulator.port != taken_port
        finally:
            stack.stop(emulator)


def test_next_stack_stops_emulators_left_by_a_killed_run(tmp_path: Path) -> None:
    repo_root = Path(stack.__file__).resolve().parent.parent
    killed_run = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from emulators.stack import LocalStack\n"
            "LocalStack('demo-x', only=['tasks'], runtime_dir=Path(sys.argv[1])).__enter__()\n"
            "print('ready', flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        cwd=repo_root,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert killed_run.stdout is not None
    assert killed_run.stdout.readline().strip() == "ready"
    killed_run.kill()  # SIGKILL: no atexit, no cleanup
    killed_run.wait()
    left_over_group = int((tmp_path / "pids" / "tasks.pid").read_text().split()[0])
    assert live_members_of(left_over_group)

    with LocalStack(PROJECT_ID, only=["tasks"], runtime_dir=tmp_path):
        assert live_members_of(left_over_group) == []
