"""`make bench`: the webhook function against a bare functions-framework function (the floor).

Both are served by functions-framework's production server (gunicorn) on this machine; the
webhook verifies a signed Meta payload, reads its channel from the Firestore emulator (cached)
and waits for the Pub/Sub emulator to accept the event before answering. Measured, side by side:
requests per second and p50/p99 latency under load (wrk), and cold start (process start to
the first 200, median of several starts). Targets: throughput >= 50% of the floor, cold start
<= 1.5x the floor.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from emulators.stack import LocalStack, free_port
from shared.events.topology import ensure_topology
from shared.models.channel import Channel
from shared.store.channels import write_channel
from shared.store.firestore import firestore_client
from tests.support.providers import json_body, meta_signature, meta_text_payload

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-piloto-bench"
APP_SECRET = "bench-app-secret"
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "5"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))


@dataclass
class Target:
    """A function to measure and the request it is measured with."""

    name: str
    source: str
    function: str
    path: str


@dataclass
class Result:
    """What one target measured."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    cold_start_ms: float
    errors: int


def _start(target: Target, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/functions-framework"),
            "--target",
            target.function,
            "--source",
            str(ROOT / target.source),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, port


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _cold_start_ms(
    target: Target, env: dict[str, str], body: bytes, headers: dict[str, str]
) -> float:
    started = time.perf_counter()
    process, port = _start(target, env)
    url = f"http://127.0.0.1:{port}{target.path}"
    try:
        with httpx.Client(timeout=10) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{target.name} exited with {process.returncode}")
                try:
                    response = client.post(url, content=body, headers=headers)
                except httpx.TransportError:
                    time.sleep(0.005)
                    continue
                if response.status_code != 200:
                    raise RuntimeError(
                        f"{target.name} answered {response.status_code}: {response.text}"
                    )
                return (time.perf_counter() - started) * 1000
    finally:
        _stop(process)


def _load(
    target: Target, env: dict[str, str], body: bytes, headers: dict[str, str]
) -> tuple[float, float, float, int]:
    process, port = _start(target, env)
    url = f"http://127.0.0.1:{port}{target.path}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.post(url, content=body, headers=headers, timeout=10).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write('wrk.method = "POST"\n')
            script.write(f"wrk.body = [[{body.decode()}]]\n")
            for key, value in headers.items():
                script.write(f'wrk.headers["{key}"] = "{value}"\n')
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{DURATION}",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        os.unlink(script.name)
    finally:
        _stop(process)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return (
        rps,
        _latency(output, "50%"),
        _latency(output, "99%"),
        int(errors_match.group(1)) if errors_match else 0,
    )


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> int:
    """Run the benchmark and print the table."""
    if shutil.which("wrk") is None:
        sys.stderr.write("wrk is missing: apt-get install -y wrk (make bench installs it)\n")
        return 2
    body = json_body(meta_text_payload())
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(body, APP_SECRET),
    }
    targets = [
        Target("floor (bare function)", "tests/bench/floor_function.py", "floor", "/"),
        Target(
            "webhook (Meta → Pub/Sub)",
            "functions/webhook/main.py",
            "webhook",
            "/webhooks/meta/bench-meta",
        ),
    ]
    runtime = ROOT / ".piloto" / "bench"
    with LocalStack(PROJECT, only=("firestore", "pubsub"), runtime_dir=runtime) as stack:
        os.environ.update(stack.env())
        ensure_topology(PROJECT, {})
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
            **stack.env(),
            "PILOTO_BENCH_META_APP_SECRET": APP_SECRET,
            "PILOTO_LOG_LEVEL": "WARNING",
        }
        cold: dict[str, list[float]] = {target.name: [] for target in targets}
        for _ in range(COLD_STARTS):  # alternate so machine noise hits both alike
            for target in targets:
                cold[target.name].append(_cold_start_ms(target, env, body, headers))
        results = []
        for target in targets:
            rps, p50, p99, errors = _load(target, env, body, headers)
            results.append(
                Result(target.name, rps, p50, p99, statistics.median(cold[target.name]), errors)
            )
    _print_table(results)
    return 0


def _print_table(results: list[Result]) -> None:
    floor, webhook = results
    lines = [
        f"webhook benchmark: wrk {CONNECTIONS} connections x {DURATION}; "
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
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
