"""`make bench`: the webhook function against a bare functions-framework function (the floor).

Both are served by functions-framework's production server (gunicorn) on this machine. The
webhook verifies signed Meta payloads from many different leads, reads its channel from the
Firestore emulator (then from its cache) and waits for the Pub/Sub emulator to accept each event
before answering; the floor answers 200 to the same requests. Measured side by side: requests per
second and p50/p99 latency under load (wrk), and cold start (process start to the first 200,
median of several starts, alternating the two). Targets: throughput >= 50% of the floor, cold
start <= 1.5x the floor.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import google.cloud.pubsub_v1 as pubsub_v1
import httpx

from emulators.loop import stop_process
from emulators.stack import LocalStack, free_port
from shared.channels.base import WebhookRequest
from shared.events.publisher import pubsub_message
from shared.events.topology import CONVERSATION_EVENTS
from shared.models.channel import Channel
from shared.models.events import ConversationEvent
from shared.store.channels import write_channel
from shared.store.firestore import firestore_client
from shared.webhooks import WebhookHandler
from tests.support.providers import json_body, meta_signature, meta_text_payload

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-piloto-bench"
APP_SECRET = "bench-app-secret"
LEADS = 200
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "11"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
# gunicorn threads for both targets; the webhook's Cloud Run service sets the same THREADS.
THREADS = os.environ.get("BENCH_THREADS", "32")


@dataclass(frozen=True)
class Target:
    """A function to measure and the path it is measured on."""

    name: str
    source: str
    function: str
    path: str


@dataclass(frozen=True)
class SignedRequest:
    """One signed Meta webhook request."""

    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Result:
    """What one target measured."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    cold_start_ms: float
    errors: int


def signed_requests(count: int) -> list[SignedRequest]:
    """Return one signed text message from each of ``count`` different leads."""
    requests = []
    for index in range(count):
        body = json_body(
            meta_text_payload(
                wa_id=f"55119{index:08d}",
                message_id=f"wamid.bench{index:06d}",
                text=f"Oi, quanto custa? ({index})",
            )
        )
        requests.append(
            SignedRequest(
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": meta_signature(body, APP_SECRET),
                },
            )
        )
    return requests


def wrk_script(requests: list[SignedRequest]) -> str:
    """Return a wrk Lua script that cycles through the signed requests."""
    lines = ["bodies = {}", "signatures = {}"]
    for index, request in enumerate(requests, start=1):
        lines.append(f"bodies[{index}] = [[{request.body.decode()}]]")
        lines.append(f'signatures[{index}] = "{request.headers["X-Hub-Signature-256"]}"')
    lines += [
        "counter = 0",
        "request = function()",
        "  counter = counter + 1",
        "  local i = (counter % #bodies) + 1",
        '  local headers = {["Content-Type"] = "application/json",'
        ' ["X-Hub-Signature-256"] = signatures[i]}',
        '  return wrk.format("POST", nil, headers, bodies[i])',
        "end",
    ]
    return "\n".join(lines) + "\n"


def start(target: Target, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start the target with functions-framework's production server; return it and its URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/functions-framework"),
            f"--target={target.function}",
            f"--source={ROOT / target.source}",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}{target.path}"


def first_200(process: subprocess.Popen[bytes], url: str, request: SignedRequest) -> None:
    """Send the request until the target answers 200 (retrying only while it is not listening)."""
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=10) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}")
            try:
                response = client.post(url, content=request.body, headers=request.headers)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
                continue
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text}")
            return


def cold_start_ms(target: Target, env: dict[str, str], request: SignedRequest) -> float:
    """Measure process start to the first 200."""
    started = time.perf_counter()
    process, url = start(target, env)
    try:
        first_200(process, url, request)
        return (time.perf_counter() - started) * 1000
    finally:
        stop_process(process)


def load(
    target: Target, env: dict[str, str], requests: list[SignedRequest]
) -> tuple[float, float, float, int]:
    """Return requests/s, p50 ms, p99 ms and non-2xx count of a wrk run against the target."""
    process, url = start(target, env)
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    try:
        first_200(process, url, requests[0])
        script.write_text(wrk_script(requests), encoding="utf-8")
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{DURATION}",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        stop_process(process)
        script.unlink(missing_ok=True)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return (
        float(_field(output, r"Requests/sec:\s+([\d.]+)")[0]),
        _latency(output, "50%"),
        _latency(output, "99%"),
        int(errors.group(1)) if errors else 0,
    )


def _field(output: str, pattern: str) -> tuple[str, ...]:
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk output has no {pattern!r}:\n{output}")
    return match.groups()


def _latency(output: str, percentile: str) -> float:
    value, unit = _field(output, rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$")
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def handler_microseconds(requests: list[SignedRequest], rounds: int = 5000) -> float:
    """Return the webhook's own CPU per request: verify, parse, serialise; no server, no network."""
    channel = Channel(
        channel_id="bench-meta",
        tenant_id="bench-tenant",
        provider="meta",
        config={"phone_number_id": "100000000000001"},
        secrets={"app_secret": "env:PILOTO_BENCH_META_APP_SECRET"},
    )

    class SerialisingSink:
        def publish(self, events: Sequence[ConversationEvent]) -> list[str]:
            return [str(pubsub_message(event)["orderingKey"]) for event in events]

    handler = WebhookHandler(
        project_id=PROJECT,
        find_channel=lambda channel_id: channel,
        sink=SerialisingSink(),
        max_body_bytes=1024 * 1024,
    )
    webhook_requests = [
        WebhookRequest(
            method="POST",
            url="http://127.0.0.1/webhooks/meta/bench-meta",
            body=request.body,
            headers={key.lower(): value for key, value in request.headers.items()},
        )
        for request in requests
    ]
    logging.disable(logging.INFO)
    started = time.perf_counter()
    for index in range(rounds):
        answer = handler.handle(
            webhook_requests[index % len(webhook_requests)], "/webhooks/meta/bench-meta"
        )
        assert answer.status == 200, answer.body
    logging.disable(logging.NOTSET)
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> int:
    """Run the benchmark and print the table."""
    if shutil.which("wrk") is None:
        sys.stderr.write("wrk is missing: apt-get install -y wrk (make bench installs it)\n")
        return 2
    requests = signed_requests(LEADS)
    os.environ["PILOTO_BENCH_META_APP_SECRET"] = APP_SECRET
    own_cost = handler_microseconds(requests)
    targets = [
        Target("floor (bare function)", "tests/bench/floor_function.py", "floor", "/"),
        Target(
            "webhook (Meta -> Pub/Sub)",
            "functions/webhook/main.py",
            "webhook",
            "/webhooks/meta/bench-meta",
        ),
    ]
    with LocalStack(
        PROJECT, only=("firestore", "pubsub"), runtime_dir=ROOT / ".piloto" / "bench"
    ) as stack:
        os.environ.update(stack.env())
        # The topic alone: what the webhook pays is the publish, not delivery to subscribers.
        publisher = pubsub_v1.PublisherClient()
        publisher.create_topic(name=publisher.topic_path(PROJECT, CONVERSATION_EVENTS))
        write_channel(
            firestore_client(PROJECT),
            Channel(
                channel_id="bench-meta",
                tenant_id="bench-tenant",
                provider="meta",
                config={"phone_number_id": "100000000000001"},
                secrets={"app_secret": "env:PILOTO_BENCH_META_APP_SECRET"},
            ),
        )
        env = {
            **os.environ,
            "PILOTO_BENCH_META_APP_SECRET": APP_SECRET,
            "PILOTO_LOG_LEVEL": "WARNING",
            "THREADS": THREADS,
        }
        cold: dict[str, list[float]] = {target.name: [] for target in targets}
        for attempt in range(COLD_STARTS):  # alternate so machine noise hits both alike
            for target in targets:
                cold[target.name].append(cold_start_ms(target, env, requests[attempt]))
        results = []
        for target in targets:
            rps, p50, p99, errors = load(target, env, requests)
            median = statistics.median(cold[target.name])
            results.append(Result(target.name, rps, p50, p99, median, errors))
    sys.stdout.write(report(results))
    sys.stdout.write(
        f"webhook code alone (verify, parse, serialise; in-process, no network): "
        f"{own_cost:.0f} us per request\n"
    )
    return 0


def report(results: list[Result]) -> str:
    """Return the side-by-side table with the ratios against the targets."""
    floor, webhook = results
    lines = [
        f"webhook benchmark on {os.cpu_count()} cores: gunicorn 1 worker x {THREADS} threads, "
        f"wrk {CONNECTIONS} connections x {DURATION}, {LEADS} different leads; "
        f"cold start = median of {COLD_STARTS}",
        f"{'target':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cold start ms':>14} {'non-2xx':>8}",
    ]
    for result in results:
        lines.append(
            f"{result.name:<28} {result.rps:>9.0f} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
            f"{result.cold_start_ms:>14.0f} {result.errors:>8}"
        )
    throughput = webhook.rps / floor.rps
    cold = webhook.cold_start_ms / floor.cold_start_ms
    lines.append(
        f"ratios: throughput {throughput:.0%} of the floor (target >= 50%: "
        f"{'met' if throughput >= 0.5 else 'MISSED'}); cold start {cold:.2f}x the floor "
        f"(target <= 1.5x: {'met' if cold <= 1.5 else 'MISSED'})"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
