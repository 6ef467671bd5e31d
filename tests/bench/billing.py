"""`make bench` (billing part): what the plan-quota check and the reply counters cost a turn.

On the Firestore emulator, through the real code (``shared.billing.usage``), for a workspace on
a billing account whose month already has 31 day documents:

1. a whole turn (intake, then ``TurnRunner.run`` with the offline model) without billing, with
   the billing check cached (the common path: one load per instance and minute) and uncached
   (every turn loads): reads and writes counted at the Firestore client, engine time;
2. the check alone: p50/p95 of ``BillingCheck.check`` cached and uncached (account: two reads;
   month: one query over the day documents), over 200 checks;
3. ``record_replies`` in a batch: p50/p95 of committing a decision-sized batch without and with
   the counter's merge-set (one more write operation), and ``month_replies`` over 31 days;
4. 16 threads x 10 concurrent batches on one day's counter: total time and whether the count is
   exact (a lost increment is a correctness failure: exit status 1).

Timings are measured, never asserted.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.cloud import firestore

from emulators.stack import LocalStack
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.billing.accounts import account_ref
from shared.billing.plans import load_catalogue
from shared.billing.usage import BillingCheck, month_replies, record_replies, usage_ref
from shared.engine import Engine
from shared.events.tasks import TurnRequest
from shared.models.tenant import AgentSettings
from shared.store.conversations import tenant_ref
from shared.turns import TurnRunner
from tests.bench.insights import Counter, counting
from tests.support.events import lead_message

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-piloto-bench-billing"
TIMEZONE = "America/Sao_Paulo"
NOW = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)  # the 31st: a month with 31 day documents
SETTINGS = AgentSettings(
    business_facts={"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"}
)
CHECKS = 200
BATCHES = 100
THREADS, PER_THREAD = 16, 10


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Return p50 and p95 of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def billed_tenant(client: Any) -> str:
    """Create a workspace on a Pro account with one usage document per day of March 2026."""
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    tenant_ref(client, tenant_id).set(
        {"name": "Bench", "timezone": TIMEZONE, "billing_account_id": tenant_id}
    )
    account_ref(client, tenant_id).set(
        {
            "account_id": tenant_id,
            "home_tenant_id": tenant_id,
            "plan_id": "pro",
            "status": "active",
            "workspaces": [tenant_id],
            "created_at": NOW - timedelta(days=60),
            "updated_at": NOW - timedelta(days=60),
        }
    )
    batch = client.batch()
    for day in range(1, 32):
        at = datetime(2026, 3, day, 15, 0, tzinfo=UTC)
        record_replies(batch, client, tenant_id, at, TIMEZONE, 10)
    batch.commit()
    return tenant_id


def turn_cost(client: Any, billing_ttl: float | None) -> dict[str, float]:
    """Answer one lead message (intake + turn); count reads/writes of the turn alone."""
    tenant_id = billed_tenant(client)
    due: list[TurnRequest] = []
    clock = NOW
    engine = Engine(
        firestore=client,
        max_event_age=timedelta(days=365),
        schedule_turn=lambda turn, at: due.append(turn),
        load_agent=lambda tenant: SETTINGS,
        now=lambda: clock,
    )
    billing = (
        None
        if billing_ttl is None
        else BillingCheck(client, load_catalogue(), ttl_seconds=billing_ttl)
    )
    runner = TurnRunner(
        firestore=client,
        decide=graph_decider(OfflineChatModel(), lambda tenant: TIMEZONE),
        load_settings=lambda tenant: (SETTINGS, TIMEZONE),
        deliver=lambda conversation, decision: None,
        now=lambda: clock,
        billing=billing,
    )
    if billing is not None:
        billing.check(tenant_id, clock, TIMEZONE)  # the instance's earlier turns loaded it
    samples: list[float] = []
    reads = writes = 0
    for index in range(10):
        engine.take_in_event(
            lead_message(tenant_id, f"wamid.{index}", "Quanto custa a limpeza de pele?", clock)
        )
        clock += timedelta(seconds=5)
        Counter.reset()
        started = time.perf_counter()
        with counting():
            result = runner.run(due[-1])
        samples.append(time.perf_counter() - started)
        assert result.decision is not None and result.decision.messages, result
        reads, writes = Counter.reads, Counter.writes
        clock += timedelta(minutes=1)
    return {"reads": reads, "writes": writes, "ms": statistics.median(samples) * 1000}


def timed(action: Callable[[], Any], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def check_cost(client: Any) -> list[str]:
    """Time the billing check cached and uncached, and count what each costs."""
    tenant_id = billed_tenant(client)
    lines = []
    for label, ttl in (("cached (60 s)", 60.0), ("uncached", 0.0)):
        check = BillingCheck(client, load_catalogue(), ttl_seconds=ttl)
        check.check(tenant_id, NOW, TIMEZONE)

        def one_check(check: BillingCheck = check) -> None:
            check.check(tenant_id, NOW, TIMEZONE)

        Counter.reset()
        with counting():
            p50, p95 = timed(one_check, CHECKS)
        lines.append(
            f"  {'check ' + label:<26} p50 {p50:7.3f} ms  p95 {p95:7.3f} ms  "
            f"reads/check {Counter.reads / CHECKS:5.1f}"
        )
    return lines


def counter_cost(client: Any) -> list[str]:
    """Time a decision-sized batch without and with the reply counter, and month_replies."""
    tenant_id = billed_tenant(client)
    decisions = tenant_ref(client, tenant_id).collection("bench_decisions")

    def batch(with_counter: bool) -> None:
        writes = client.batch()
        writes.create(decisions.document(), {"action": "speak", "at": NOW})
        if with_counter:
            record_replies(writes, client, tenant_id, NOW, TIMEZONE)
        writes.commit()

    lines = []
    for label, with_counter in (("without counter", False), ("with counter", True)):

        def one_batch(flag: bool = with_counter) -> None:
            batch(flag)

        Counter.reset()
        with counting():
            p50, p95 = timed(one_batch, BATCHES)
        lines.append(
            f"  {'batch ' + label:<26} p50 {p50:7.3f} ms  p95 {p95:7.3f} ms  "
            f"writes/batch {Counter.writes / BATCHES:4.1f}"
        )
    Counter.reset()
    with counting():
        p50, p95 = timed(lambda: month_replies(client, tenant_id, "2026-03"), 50)
    lines.append(
        f"  {'month_replies (31 days)':<26} p50 {p50:7.3f} ms  p95 {p95:7.3f} ms  "
        f"reads/call {Counter.reads / 50:5.1f}"
    )
    return lines


def contention(client: Any) -> tuple[list[str], bool]:
    """Commit THREADS x PER_THREAD counter batches at once on one day; check none is lost."""
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"

    def worker(_: int) -> None:
        for _index in range(PER_THREAD):
            batch = client.batch()
            record_replies(batch, client, tenant_id, NOW, TIMEZONE)
            batch.commit()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    elapsed = time.perf_counter() - started
    stored = usage_ref(client, tenant_id, NOW.date()).get().to_dict() or {}
    counted = int(stored.get("agent_replies", 0))
    expected = THREADS * PER_THREAD
    line = (
        f"  {THREADS} threads x {PER_THREAD} batches on one day: {elapsed:5.2f} s total, "
        f"{expected / elapsed:6.1f} commits/s, counted {counted} of {expected}"
    )
    return [line], counted == expected


def main() -> int:
    """Run the billing benchmark and print the tables; 1 when an increment was lost."""
    with LocalStack(
        PROJECT, only=("firestore",), runtime_dir=ROOT / ".piloto" / "bench-billing"
    ) as stack:
        os.environ.update(stack.env())
        client = firestore.Client(project=PROJECT)
        turn_cost(client, None)  # warm-up: the graph, the client's channel
        turns = [
            ("no billing", turn_cost(client, None)),
            ("billing cached", turn_cost(client, 60.0)),
            ("billing uncached", turn_cost(client, 0.0)),
        ]
        checks = check_cost(client)
        counters = counter_cost(client)
        contended, exact = contention(client)
    lines = [
        "billing benchmark: one answered turn (offline model, Firestore emulator; reads = "
        "documents fetched incl. query results, writes = operations committed)",
        f"  {'turn':<18} {'reads':>5} {'writes':>6} {'ms':>8}",
    ]
    for label, row in turns:
        lines.append(f"  {label:<18} {row['reads']:>5.0f} {row['writes']:>6.0f} {row['ms']:>8.1f}")
    lines.append(
        "  cached: the turn's one read (its conversation) and one more write (the day's "
        "counter); uncached adds the account (tenant + account) and the month's 31 day documents"
    )
    lines += checks + counters + contended
    sys.stdout.write("\n".join(lines) + "\n")
    if not exact:
        sys.stderr.write("billing benchmark: a concurrent reply increment was lost\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
