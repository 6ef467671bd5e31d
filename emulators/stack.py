"""Start and stop the real local emulators (Firestore, Pub/Sub, Cloud Tasks, Firebase).

Every emulator listens on 127.0.0.1 only, on a port picked by the kernel, so two runs never collide.
Each one runs in its own process group with its output in `<log_dir>/<name>.log`; `stop()` ends the
whole group (the Firestore launcher is a shell script with a Java child, so killing the pid alone
would leave Java holding the port). `make dev` and the integration tests both use `LocalStack`.

The Firestore emulator enforces the project's `firestore.rules` (loaded before it counts as ready);
the server-side clients authenticate as `Bearer owner`, which the rules do not apply to. The
Hosting emulator resolves the `run` rewrites of `firebase.json` through a local stand-in for the
Cloud Run Admin API (`emulators/cloudrun.py`); register a service with
`LocalStack.register_cloud_run_service` before the first request that goes through its rewrite.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from emulators.cloudrun import LocalCloudRunApi

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
TASKS_VENV = REPO_ROOT / ".venv-tasks"
FIREBASE_BIN = REPO_ROOT / "emulators" / "node_modules" / ".bin" / "firebase"
PROJECT_FIREBASE_JSON = REPO_ROOT / "firebase.json"  # its hosting rules (rewrites...) are reused
PROJECT_FIRESTORE_RULES = REPO_ROOT / "firestore.rules"
LOOPBACK_HOST = "127.0.0.1"
ALL_EMULATORS = ("firestore", "pubsub", "tasks", "firebase")
READY_TIMEOUT_SECONDS = 60.0
LOG_TAIL_LINES = 40

_QUEUE_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/queues/[^/]+")
_PORT_IN_USE_MARKERS = ("address already in use", "eaddrinuse", "bindexception", "is not open on")
_TASKS_BOUND_MARKER = "piloto: Cloud Tasks emulator bound to"
# firebase-tools sends every request through HTTP(S)_PROXY and ignores NO_PROXY; the Hosting
# emulator only talks to loopback (the Cloud Run stand-in, local functions), so it gets none.
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")

# gcloud-tasks-emulator 0.6.2 binds its gRPC server to [::]:PORT (every interface) with
# SO_REUSEPORT, so a taken port goes unnoticed and the process keeps running without serving.
# This launcher runs the emulator's own `main()` with the server bound to 127.0.0.1 only, without
# SO_REUSEPORT, and ends the process at once if the bind fails, so the caller can pick another port.
_TASKS_LAUNCHER = f"""
import os, sys, grpc
from gcloud_tasks_emulator.__main__ import main

_grpc_server = grpc.server

def _loopback_server(*args, **kwargs):
    kwargs["options"] = [*(kwargs.get("options") or ()), ("grpc.so_reuseport", 0)]
    server = _grpc_server(*args, **kwargs)
    add_port = server.add_insecure_port

    def add_loopback_port(address):
        address = address.replace("[::]", "{LOOPBACK_HOST}")
        try:
            port = add_port(address)
        except RuntimeError as error:
            sys.stderr.write(f"piloto: cannot bind {{address}}: {{error}} (in use?)\\n")
            sys.stderr.flush()
            os._exit(98)
        sys.stderr.write(f"{_TASKS_BOUND_MARKER} {{address}}\\n")
        sys.stderr.flush()
        return port

    server.add_insecure_port = add_loopback_port
    return server

grpc.server = _loopback_server
sys.argv[0] = "gcloud-tasks-emulator"
main()
"""


class MissingComponent(RuntimeError):
    """A tool an emulator needs is not installed; the message says how to install it."""


class EmulatorStartError(RuntimeError):
    """An emulator exited or stayed silent before it was ready; the message ends with its log."""

    def __init__(self, message: str, *, port_in_use: bool) -> None:
        super().__init__(message)
        self.port_in_use = port_in_use


@dataclass
class Emulator:
    """One running emulator process (its process group) and where it listens."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    extra_ports: dict[str, int] = field(default_factory=dict)
    startup_seconds: float = 0.0
    cloud_run_api: LocalCloudRunApi | None = None
    """Firebase only: the Cloud Run Admin API stand-in Hosting asks; stops with the emulator."""

    @property
    def host_port(self) -> str:
        """Return `host:port`, the form the *_EMULATOR_HOST variables take."""
        return f"{self.host}:{self.port}"


_running: dict[int, Emulator] = {}
_running_lock = threading.Lock()
_no_proxy_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@functools.cache
def gcloud_sdk_root() -> Path:
    """Return the Google Cloud CLI installation root (asks `gcloud info` once per process)."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise MissingComponent(
            "Google Cloud CLI (gcloud) not found on PATH; the Firestore and Pub/Sub emulators come "
            "with it. Install it with: apt-get install google-cloud-cli "
            "(or see https://cloud.google.com/sdk/docs/install)"
        )
    result = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
    )
    sdk_root = result.stdout.strip()
    if result.returncode != 0 or not sdk_root:
        raise MissingComponent(
            f"`gcloud info` did not report the SDK root (exit {result.returncode}): "
            f"{result.stderr.strip()}"
        )
    return Path(sdk_root)


def firestore_emulator_path() -> Path:
    """Return the Firestore emulator launcher, or raise MissingComponent."""
    path = gcloud_sdk_root() / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator"
    if not path.is_file():
        raise MissingComponent(
            f"Firestore emulator not found at {path}. Install it with: gcloud components install "
            "cloud-firestore-emulator (or apt-get install google-cloud-cli-firestore-emulator)"
        )
    _require_java("Firestore")
    return path


def pubsub_emulator_path() -> Path:
    """Return the Pub/Sub emulator launcher, or raise MissingComponent."""
    path = gcloud_sdk_root() / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
    if not path.is_file():
        raise MissingComponent(
            f"Pub/Sub emulator not found at {path}. Install it with: gcloud components install "
            "pubsub-emulator (or apt-get install google-cloud-cli-pubsub-emulator)"
        )
    _require_java("Pub/Sub")
    return path


def tasks_emulator_python() -> Path:
    """Return the Python of the Cloud Tasks emulator venv, or raise MissingComponent."""
    python = TASKS_VENV / "bin" / "python"
    entry_point = TASKS_VENV / "bin" / "gcloud-tasks-emulator"
    if not (python.exists() and entry_point.is_file()):
        raise MissingComponent(
            f"Cloud Tasks emulator not found at {entry_point} (its own venv, pinned by "
            "emulators/requirements-tasks.txt). Create it with: make deps"
        )
    return python


def firebase_cli_path() -> Path:
    """Return the pinned firebase-tools CLI, or raise MissingComponent."""
    if shutil.which("node") is None:
        raise MissingComponent(
            "Node.js not found on PATH; firebase-tools (Auth and Hosting emulators) runs on it. "
            "Install Node.js 20 or newer (apt-get install nodejs), then run: make deps"
        )
    if not FIREBASE_BIN.exists():
        raise MissingComponent(
            f"firebase-tools not found at {FIREBASE_BIN} (pinned in emulators/package.json). "
            "Install it with: make deps"
        )
    return FIREBASE_BIN


def _require_java(emulator_label: str) -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return
    if shutil.which("java") is None:
        raise MissingComponent(
            f"Java not found on PATH (or JAVA_HOME); the {emulator_label} emulator runs on "
            "Java 17. Install it with: apt-get install openjdk-17-jre-headless"
        )


def start_firestore(
    project_id: str,
    *,
    port: int | None = None,
    log_dir: Path,
    rules: Path | None = PROJECT_FIRESTORE_RULES,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> Emulator:
    """Start the Firestore emulator (Native mode), load `rules` and wait until it answers.

    With `rules=None` the emulator allows every request, as it does without rules. The rules are
    loaded through the emulator's API rather than its `--rules` flag: the flag accepts a file that
    does not compile and then fails every request, the API refuses it with the compiler's error.
    """
    launcher = firestore_emulator_path()
    rules_text = rules.read_text() if rules is not None else None

    def launch() -> Emulator:
        chosen_port = port or free_port()
        command = [
            str(launcher),
            "start",
            f"--host={LOOPBACK_HOST}",
            f"--port={chosen_port}",
            f"--project_id={project_id}",
        ]
        emulator = _launch(
            "firestore",
            command,
            port=chosen_port,
            log_dir=log_dir,
            timeout=timeout,
            is_ready=lambda emulator: _http_body(emulator.port) == "Ok",
        )
        if rules_text is not None:
            try:
                load_firestore_rules(emulator, project_id, rules_text)
            except BaseException:
                stop(emulator)
                raise
        return emulator

    return _retry_if_port_taken(launch, port_was_given=port is not None)


def load_firestore_rules(
    emulator: Emulator, project_id: str, rules: str, *, file_name: str = "firestore.rules"
) -> None:
    """Replace the security rules the Firestore emulator enforces for `project_id`.

    Clients that present `Authorization: Bearer owner` (the Google client libraries and
    `shared.gcp.auth.EmulatorTokens` in emulator mode) are not subject to them. Raises
    EmulatorStartError with the compiler's message if the rules do not compile.
    """
    body = json.dumps({"rules": {"files": [{"name": file_name, "content": rules}]}}).encode()
    request = urllib.request.Request(
        f"http://{emulator.host_port}/emulator/v1/projects/{project_id}:securityRules",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    try:
        with _no_proxy_opener.open(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        raise EmulatorStartError(
            f"the Firestore emulator refused {file_name} ({error.code}): {detail}",
            port_in_use=False,
        ) from error
    except OSError as error:
        raise EmulatorStartError(
            f"cannot load {file_name} into the Firestore emulator: {error}", port_in_use=False
        ) from error
    logger.debug("loaded %s into the Firestore emulator for %s", file_name, project_id)


def start_pubsub(
    project_id: str,
    *,
    port: int | None = None,
    log_dir: Path,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> Emulator:
    """Start the Pub/Sub emulator (any project id is accepted) and wait until it answers."""
    launcher = pubsub_emulator_path()

    def launch() -> Emulator:
        chosen_port = port or free_port()
        command = [str(launcher), f"--host={LOOPBACK_HOST}", f"--port={chosen_port}"]
        return _launch(
            "pubsub",
            command,
            port=chosen_port,
            log_dir=log_dir,
            timeout=timeout,
            is_ready=lambda emulator: _http_body(emulator.port) == "Ok",
        )

    logger.debug("starting the Pub/Sub emulator for project %s", project_id)
    return _retry_if_port_taken(launch, port_was_given=port is not None)


def start_tasks(
    *,
    port: int | None = None,
    log_dir: Path,
    queues: Sequence[str] = (),
    max_retries: int | None = None,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> Emulator:
    """Start gcloud-tasks-emulator with `queues` (full names) created; wait until it listens.

    It dispatches HTTP-target tasks to `http_request.url` as given, so tasks that point at
    `http://127.0.0.1:<port>/...` reach a local function. `max_retries` caps re-dispatch of a task
    that failed (default: forever, about ten times a second).
    """
    python = tasks_emulator_python()
    for queue in queues:
        if not _QUEUE_NAME.fullmatch(queue):
            raise ValueError(f"queue {queue!r} must be projects/<p>/locations/<l>/queues/<q>")

    def launch() -> Emulator:
        chosen_port = port or free_port()
        command = [str(python), "-c", _TASKS_LAUNCHER, "start", f"--port={chosen_port}"]
        command += [f"--default-queue={queue}" for queue in queues]
        if max_retries is not None:
            command.append(f"--max-retries={max_retries}")
        return _launch(
            "tasks",
            command,
            port=chosen_port,
            log_dir=log_dir,
            timeout=timeout,
            is_ready=_tasks_emulator_is_ready,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore::FutureWarning"},
        )

    return _retry_if_port_taken(launch, port_was_given=port is not None)


def start_firebase(
    project_id: str,
    *,
    auth_port: int | None = None,
    hosting_port: int | None = None,
    log_dir: Path,
    hosting_public_dir: Path | None = None,
    work_dir: Path | None = None,
    cloud_run_services: Mapping[str, str] | None = None,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> Emulator:
    """Start the Firebase Auth and Hosting emulators; `port` is Auth's, Hosting's is in extra_ports.

    `work_dir` (default: `<log_dir>/../firebase`) holds the generated firebase.json and the CLI's
    own config and temp files, so it never reads the user's login nor calls the network.

    Hosting resolves the `run` rewrites (`/api/**` → piloto-admin) through a local stand-in for
    the Cloud Run Admin API, `emulator.cloud_run_api`, which starts and stops with the emulator.
    `cloud_run_services` (service id → URL such as http://127.0.0.1:8006) are registered before
    Hosting starts; more can be registered later with `emulator.cloud_run_api.register`, but
    only before the first request through that service's rewrite (Hosting caches the URL).
    """
    firebase = firebase_cli_path()
    work_dir = work_dir or log_dir.parent / "firebase"
    public_dir = hosting_public_dir or _placeholder_public_dir(work_dir)
    for sub_dir in ("config", "tmp"):
        (work_dir / sub_dir).mkdir(parents=True, exist_ok=True)
    cloud_run_api = LocalCloudRunApi()
    for service_id, url in (cloud_run_services or {}).items():
        cloud_run_api.register(service_id, url)
    cloud_run_api.start()

    def launch() -> Emulator:
        ports = {
            "auth": auth_port or free_port(),
            "hosting": hosting_port or free_port(),
            "hub": free_port(),
            "logging": free_port(),
        }
        config_path = work_dir / "firebase.json"
        config_path.write_text(
            json.dumps(_firebase_config(ports, public_dir, work_dir), indent=2) + "\n"
        )
        command = [
            str(firebase),
            "emulators:start",
            "--only",
            "auth,hosting",
            "--project",
            project_id,
            "--config",
            str(config_path),
        ]
        env = {
            **{name: value for name, value in os.environ.items() if name not in _PROXY_VARIABLES},
            "CI": "true",  # skips the MOTD fetch from firebaseio.com and the update check
            "NO_UPDATE_NOTIFIER": "1",
            "XDG_CONFIG_HOME": str(work_dir / "config"),  # no user login, no usage analytics
            "TMPDIR": str(work_dir / "tmp"),  # hub locator file is per run, not /tmp/hub-<id>.json
            "CLOUD_RUN_API_URL": cloud_run_api.url,  # http:// → firebase-tools sends no real token
        }
        emulator = _launch(
            "firebase",
            command,
            port=ports["auth"],
            log_dir=log_dir,
            timeout=timeout,
            is_ready=_firebase_is_ready,
            env=env,
            cwd=work_dir,
            extra_ports={name: number for name, number in ports.items() if name != "auth"},
        )
        emulator.cloud_run_api = cloud_run_api  # from here on stop(emulator) stops it too
        return emulator

    try:
        return _retry_if_port_taken(
            launch, port_was_given=auth_port is not None or hosting_port is not None
        )
    except BaseException:
        cloud_run_api.stop()
        raise


def _firebase_config(
    ports: dict[str, int], public_dir: Path, config_dir: Path
) -> dict[str, object]:
    emulators: dict[str, object] = {
        name: {"host": LOOPBACK_HOST, "port": port} for name, port in ports.items()
    }
    emulators["ui"] = {"enabled": False}
    emulators["singleProjectMode"] = True
    hosting = _project_hosting_rules()
    # Hosting joins `public` onto the config file's directory even when it is absolute.
    hosting["public"] = os.path.relpath(public_dir.resolve(), config_dir.resolve())
    return {"emulators": emulators, "hosting": hosting}


def _project_hosting_rules() -> dict[str, object]:
    """Return the project's Hosting settings (rewrites, headers...) so local serving matches."""
    try:
        hosting = json.loads(PROJECT_FIREBASE_JSON.read_text()).get("hosting", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return dict(hosting) if isinstance(hosting, dict) else {}


def _placeholder_public_dir(work_dir: Path) -> Path:
    public_dir = work_dir / "public"
    public_dir.mkdir(parents=True, exist_ok=True)
    (public_dir / "index.html").write_text(
        "<!doctype html><title>Piloto</title><p>Piloto Hosting emulator: no site was given.</p>\n"
    )
    return public_dir


def stop(emulator: Emulator, timeout: float = 10.0) -> None:
    """Stop the emulator's whole process group: SIGTERM, then SIGKILL after `timeout` seconds."""
    process_group = emulator.process.pid  # start_new_session=True makes the child a group leader
    _signal_group(process_group, signal.SIGTERM)
    try:
        emulator.process.wait(timeout)
    except subprocess.TimeoutExpired:
        logger.warning("%s emulator ignored SIGTERM for %.0f s; killing it", emulator.name, timeout)
        _signal_group(process_group, signal.SIGKILL)
        emulator.process.wait()
    # The leader can exit before its children (the Firestore script before its Java process).
    if not _wait_for_group_to_end(process_group, timeout):
        _signal_group(process_group, signal.SIGKILL)
        _wait_for_group_to_end(process_group, 5.0)
    if emulator.cloud_run_api is not None:
        emulator.cloud_run_api.stop()
    with _running_lock:
        _running.pop(emulator.process.pid, None)
    logger.info("stopped %s emulator (%s)", emulator.name, emulator.host_port)


def emulator_env(emulators: Iterable[Emulator], project_id: str) -> dict[str, str]:
    """Return the variables that point the Google and Firebase client libraries at `emulators`."""
    variable_by_name = {
        "firestore": "FIRESTORE_EMULATOR_HOST",
        "pubsub": "PUBSUB_EMULATOR_HOST",
        "tasks": "CLOUD_TASKS_EMULATOR_HOST",
        "firebase": "FIREBASE_AUTH_EMULATOR_HOST",
    }
    env = {"GOOGLE_CLOUD_PROJECT": project_id, "GCLOUD_PROJECT": project_id}
    for emulator in emulators:
        env[variable_by_name[emulator.name]] = emulator.host_port
    return env


class LocalStack:
    """Start the named emulators together (in parallel) and stop all of them on exit.

    `ports` fixes ports by "firestore", "pubsub", "tasks", "auth" or "hosting"; the others are
    free ports picked at start. Logs go to `<runtime_dir>/logs/<name>.log` and process ids to
    `<runtime_dir>/pids/<name>.pid`; emulators left by a run that was killed are stopped when
    the next one starts.

    Firestore enforces `firestore_rules` (the project's `firestore.rules`; None: allow all).
    Hosting's `run` rewrites reach the URLs in `cloud_run_services` (service id → URL), and
    those given later to `register_cloud_run_service`.
    """

    def __init__(
        self,
        project_id: str,
        *,
        only: Sequence[str] = ALL_EMULATORS,
        runtime_dir: Path,
        queues: Sequence[str] = (),
        hosting_public_dir: Path | None = None,
        ports: Mapping[str, int] | None = None,
        firestore_rules: Path | None = PROJECT_FIRESTORE_RULES,
        cloud_run_services: Mapping[str, str] | None = None,
    ) -> None:
        unknown = sorted(set(only) - set(ALL_EMULATORS))
        if unknown:
            raise ValueError(f"unknown emulators {unknown}; choose from {list(ALL_EMULATORS)}")
        port_names = ("firestore", "pubsub", "tasks", "auth", "hosting")
        unknown = sorted(set(ports or {}) - set(port_names))
        if unknown:
            raise ValueError(f"unknown port names {unknown}; choose from {list(port_names)}")
        self.project_id = project_id
        self.only = tuple(name for name in ALL_EMULATORS if name in only)
        self.runtime_dir = runtime_dir
        self.queues = tuple(queues)
        self.hosting_public_dir = hosting_public_dir
        self.ports = dict(ports or {})
        self.firestore_rules = firestore_rules
        self.cloud_run_services = dict(cloud_run_services or {})
        self.emulators: dict[str, Emulator] = {}

    @property
    def log_dir(self) -> Path:
        """Return the directory holding one log file per emulator."""
        return self.runtime_dir / "logs"

    def env(self) -> dict[str, str]:
        """Return the emulator variables for the running emulators."""
        return emulator_env(self.emulators.values(), self.project_id)

    def register_cloud_run_service(self, service_id: str, url: str) -> None:
        """Make Hosting's `run` rewrites to `service_id` reach `url` (e.g. http://127.0.0.1:8006).

        Call it once the stack has started and before the first request through that rewrite:
        the Hosting emulator looks the service up once and keeps the URL until it stops.
        """
        firebase = self.emulators.get("firebase")
        if firebase is None or firebase.cloud_run_api is None:
            raise RuntimeError("the firebase emulator (Hosting) is not running in this stack")
        firebase.cloud_run_api.register(service_id, url)
        self.cloud_run_services[service_id] = url

    def __enter__(self) -> LocalStack:
        require_components(self.only)
        pid_dir = self.runtime_dir / "pids"
        pid_dir.mkdir(parents=True, exist_ok=True)
        _stop_leftovers(pid_dir)
        taken = [f"{name}={port}" for name, port in self.ports.items() if not _can_listen(port)]
        if taken:
            raise RuntimeError(f"ports already in use on {LOOPBACK_HOST}: {', '.join(taken)}")
        started_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(self.only) or 1) as pool:
            futures = {name: pool.submit(self._start_one, name) for name in self.only}
        errors: list[BaseException] = []
        for name, future in futures.items():
            error = future.exception()
            if error is None:
                self.emulators[name] = emulator = future.result()
                _write_pid_file(pid_dir / f"{name}.pid", emulator.process.pid)
            else:
                errors.append(error)
        if errors:  # stop the ones that did start
            self.__exit__(None, None, None)
            raise errors[0]
        logger.info(
            "local stack ready in %.1f s: %s",
            time.monotonic() - started_at,
            ", ".join(f"{e.name}={e.host_port}" for e in self.emulators.values()),
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        running = list(self.emulators.values())
        with ThreadPoolExecutor(max_workers=len(running) or 1) as pool:
            list(pool.map(stop, running))
        for emulator in running:
            (self.runtime_dir / "pids" / f"{emulator.name}.pid").unlink(missing_ok=True)
        self.emulators.clear()

    def _start_one(self, name: str) -> Emulator:
        port = self.ports.get(name)
        if name == "firestore":
            return start_firestore(
                self.project_id, port=port, log_dir=self.log_dir, rules=self.firestore_rules
            )
        if name == "pubsub":
            return start_pubsub(self.project_id, port=port, log_dir=self.log_dir)
        if name == "tasks":
            return start_tasks(port=port, log_dir=self.log_dir, queues=self.queues)
        return start_firebase(
            self.project_id,
            auth_port=self.ports.get("auth"),
            hosting_port=self.ports.get("hosting"),
            log_dir=self.log_dir,
            hosting_public_dir=self.hosting_public_dir,
            work_dir=self.runtime_dir / "firebase",
            cloud_run_services=self.cloud_run_services,
        )


def require_components(names: Sequence[str] = ALL_EMULATORS) -> None:
    """Raise one MissingComponent listing everything the named emulators lack, with the fixes."""
    checks: dict[str, Callable[[], object]] = {
        "firestore": firestore_emulator_path,
        "pubsub": pubsub_emulator_path,
        "tasks": tasks_emulator_python,
        "firebase": firebase_cli_path,
    }
    missing: list[str] = []
    for name in names:
        try:
            checks[name]()
        except MissingComponent as error:
            if str(error) not in missing:
                missing.append(str(error))
    if missing:
        raise MissingComponent("\n".join(missing))


def _launch(
    name: str,
    command: list[str],
    *,
    port: int,
    log_dir: Path,
    timeout: float,
    is_ready: Callable[[Emulator], bool],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    extra_ports: dict[str, int] | None = None,
) -> Emulator:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    started_at = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
    emulator = Emulator(name, LOOPBACK_HOST, port, process, log_path, extra_ports or {})
    with _running_lock:
        _running[process.pid] = emulator
    try:
        _wait_until_ready(emulator, is_ready, timeout)
    except BaseException:
        stop(emulator)
        raise
    emulator.startup_seconds = time.monotonic() - started_at
    logger.info(
        "started %s emulator on %s in %.1f s (log: %s)",
        name,
        emulator.host_port,
        emulator.startup_seconds,
        log_path,
    )
    return emulator


def _wait_until_ready(
    emulator: Emulator, is_ready: Callable[[Emulator], bool], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        exit_code = emulator.process.poll()
        if exit_code is not None:
            tail = _log_tail(emulator.log_path)
            raise EmulatorStartError(
                f"{emulator.name} emulator exited with code {exit_code} before it was ready. "
                f"Last {LOG_TAIL_LINES} lines of {emulator.log_path}:\n{tail}",
                port_in_use=any(marker in tail.lower() for marker in _PORT_IN_USE_MARKERS),
            )
        if is_ready(emulator):
            return
        if time.monotonic() > deadline:
            raise EmulatorStartError(
                f"{emulator.name} emulator did not answer on {emulator.host_port} within "
                f"{timeout:.0f} s. Last {LOG_TAIL_LINES} lines of {emulator.log_path}:\n"
                f"{_log_tail(emulator.log_path)}",
                port_in_use=False,
            )
        time.sleep(0.1)


def _retry_if_port_taken(launch: Callable[[], Emulator], *, port_was_given: bool) -> Emulator:
    attempts = 1 if port_was_given else 3
    for attempt in range(1, attempts + 1):
        try:
            return launch()
        except EmulatorStartError as error:
            if not error.port_in_use or attempt == attempts:
                raise
            logger.warning("port taken between choosing and binding it; retrying on another one")
    raise AssertionError("unreachable")


def _http_body(port: int, path: str = "/") -> str | None:
    """Return the body of GET http://127.0.0.1:port/path, or None if nothing answers yet."""
    try:
        with _no_proxy_opener.open(f"http://{LOOPBACK_HOST}:{port}{path}", timeout=2) as response:
            body: bytes = response.read()
    except urllib.error.HTTPError as error:
        return error.read().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return body.decode(errors="replace").strip()


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK_HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _can_listen(port: int) -> bool:
    """Return whether a server could listen on the port now (binding as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK_HOST, port))
        except OSError:
            return False
        return True


def _tasks_emulator_is_ready(emulator: Emulator) -> bool:
    bound = _TASKS_BOUND_MARKER in emulator.log_path.read_text(errors="replace")
    return bound and _accepts_connections(emulator.port)


def _firebase_is_ready(emulator: Emulator) -> bool:
    try:
        auth_status = json.loads(_http_body(emulator.port) or "{}")
    except ValueError:
        return False
    auth_ready = isinstance(auth_status, dict) and auth_status.get("authEmulator", {}).get("ready")
    return auth_ready is True and _http_body(emulator.extra_ports["hosting"]) is not None


def _log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as error:
        return f"(cannot read the log: {error})"
    return "\n".join(text.splitlines()[-lines:])


def _signal_group(process_group: int, signal_number: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process_group, signal_number)


def _group_is_alive(process_group: int) -> bool:
    try:
        os.killpg(process_group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_group_to_end(process_group: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_is_alive(process_group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _process_start_marker(pid: int) -> str | None:
    """Return what tells this process apart from a later one given the same pid, or None if gone."""
    if Path("/proc/self/stat").exists():
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        except (OSError, IndexError):
            return None
    result = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None


def _write_pid_file(path: Path, pid: int) -> None:
    path.write_text(f"{pid} {_process_start_marker(pid) or ''}\n")


def _stop_leftovers(pid_dir: Path) -> None:
    """Stop emulators recorded in `pid_dir` by an earlier run that did not get to stop them."""
    for pid_file in sorted(pid_dir.glob("*.pid")):
        pid_text, _, marker = pid_file.read_text().strip().partition(" ")
        pid_file.unlink(missing_ok=True)
        if not pid_text.isdigit() or not marker or _process_start_marker(int(pid_text)) != marker:
            continue
        logger.warning("stopping %s emulator left over from an earlier run", pid_file.stem)
        _signal_group(int(pid_text), signal.SIGTERM)
        if not _wait_for_group_to_end(int(pid_text), 10.0):
            _signal_group(int(pid_text), signal.SIGKILL)


@atexit.register
def _stop_all_running() -> None:
    """Stop whatever this process started and did not stop (safety net for crashes and Ctrl-C)."""
    with _running_lock:
        leftovers = list(_running.values())
    for emulator in leftovers:
        with contextlib.suppress(Exception):
            stop(emulator, timeout=5.0)
