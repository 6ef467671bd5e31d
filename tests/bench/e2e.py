"""`make bench` (end-to-end part): from the provider's webhook POST to the reply at the provider.

The whole local loop runs (``emulators.loop``: Firestore, Pub/Sub and Cloud Tasks emulators,
every function over HTTP, the provider simulator) with the offline model and a zero debounce, so
the figure is the platform's own cost: webhook → Pub/Sub → agent (intake) → Cloud Tasks → turn
(policy, LangGraph) → Pub/Sub → sender (ledger, policy, rate) → the simulator's send endpoint.
In production the tenant's debounce (5 s by default) comes on top, on purpose.

Each lead is new (one question, one answer), over the Meta channel. Measured:

- latency p50/p95 with 1 conversation at a time, and with 20 at once;
- sustained throughput: leads arrive at a fixed rate for a while, the rate doubling each step,
  until the p50 latency passes twice the 1-conversation p50; the last rate below that is the
  sustained figure (messages per minute).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from emulators.dev import load_env_file
from emulators.loop import PilotoLoop
from emulators.simulator import ProviderSimulator

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / ".piloto" / "bench-e2e"
QUESTION = "Oi! Quanto custa a limpeza de pele?"
REPLY_TIMEOUT = 60.0
RATES_PER_MINUTE = (30, 60, 120, 240, 480, 960)
STEP_SECONDS = 20.0


@dataclass(frozen=True)
class Figures:
    """Latencies of one measurement, in milliseconds."""

    samples: list[float]
    lost: int

    @property
    def p50(self) -> float:
        """Return the median."""
        return statistics.median(self.samples) if self.samples else float("inf")

    @property
    def p95(self) -> float:
        """Return the 95th percentile."""
        if len(self.samples) < 2:
            return self.p50
        return statistics.quantiles(self.samples, n=20, method="inclusive")[-1]


def one_lead(simulator: ProviderSimulator) -> float | None:
    """Post one new lead's question; return ms until the reply reached the provider."""
    phone = f"+55119{uuid.uuid4().int % 10**8:08d}"
    started = time.time()
    simulator.send_lead_message("demo-meta", phone, QUESTION, name="Bench")
    try:
        reply = simulator.wait_for(lambda message: message.to == phone, timeout=REPLY_TIMEOUT)
    except TimeoutError:
        return None
    return (reply.accepted_at.timestamp() - started) * 1000


def concurrent(simulator: ProviderSimulator, conversations: int, rounds: int) -> Figures:
    """Keep ``conversations`` leads in flight, ``rounds`` each, one after the other."""
    samples: list[float] = []
    lost = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal lost
        for _ in range(rounds):
            latency = one_lead(simulator)
            with lock:
                if latency is None:
                    lost += 1
                else:
                    samples.append(latency)

    threads = [threading.Thread(target=worker) for _ in range(conversations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Figures(samples, lost)


def at_rate(simulator: ProviderSimulator, per_minute: int, seconds: float) -> Figures:
    """Start leads at a fixed rate for ``seconds`` (open loop), then wait for their replies."""
    interval = 60.0 / per_minute
    count = max(int(seconds / interval), 3)
    with ThreadPoolExecutor(max_workers=min(count, 256)) as pool:
        futures = []
        start = time.monotonic()
        for index in range(count):
            delay = start + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(one_lead, simulator))
        results = [future.result() for future in futures]
    samples = [latency for latency in results if latency is not None]
    return Figures(samples, len(results) - len(samples))


def main() -> int:
    """Run the measurements and print them (also to .piloto/bench-e2e/results.json)."""
    secrets = {key: value for key, value in load_env_file().items() if "_DEMO_" in key}
    out = sys.stdout
    out.write("end-to-end bench: starting the local loop...\n")
    out.flush()
    with PilotoLoop(
        project_id="demo-piloto-bench",
        runtime_dir=RUNTIME,
        env={**secrets, "PILOTO_LOG_LEVEL": "WARNING"},
        agent={"quiet_hours": {"start": "00:00", "end": "00:00"}, "debounce_seconds": 0},
        emulators=("firestore", "pubsub", "tasks"),
    ) as loop:
        assert loop.simulator is not None
        simulator = loop.simulator
        concurrent(simulator, 1, 3)  # warm every function up
        single = concurrent(simulator, 1, 20)
        out.write(
            f"  1 conversation:   p50 {single.p50:7.0f} ms   p95 {single.p95:7.0f} ms"
            f"   ({len(single.samples)} replies, {single.lost} lost)\n"
        )
        many = concurrent(simulator, 20, 3)
        out.write(
            f"  20 conversations: p50 {many.p50:7.0f} ms   p95 {many.p95:7.0f} ms"
            f"   ({len(many.samples)} replies, {many.lost} lost)\n"
        )
        out.flush()
        sustained = 0
        steps = []
        for rate in RATES_PER_MINUTE:
            figures = at_rate(simulator, rate, STEP_SECONDS)
            steps.append(
                {
                    "per_minute": rate,
                    "p50_ms": figures.p50,
                    "p95_ms": figures.p95,
                    "lost": figures.lost,
                }
            )
            out.write(
                f"  {rate:4d} leads/min:   p50 {figures.p50:7.0f} ms   p95 {figures.p95:7.0f} ms"
                f"   ({figures.lost} lost)\n"
            )
            out.flush()
            if figures.lost or figures.p50 > 2 * single.p50:
                break
            sustained = rate
        out.write(
            f"  sustained: {sustained} messages/min before the p50 latency doubles"
            f" (baseline p50 {single.p50:.0f} ms)\n"
        )
    results = {
        "single": {"p50_ms": single.p50, "p95_ms": single.p95},
        "twenty": {"p50_ms": many.p50, "p95_ms": many.p95},
        "steps": steps,
        "sustained_per_minute": sustained,
    }
    RUNTIME.mkdir(parents=True, exist_ok=True)
    (RUNTIME / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
