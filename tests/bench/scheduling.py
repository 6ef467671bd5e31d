"""`make bench` (scheduling and integrations part): what offering, holding and delivering cost.

Through the real code, on the Firestore emulator:

1. ``free_slots``: p50/p95 of computing an offer from two weeks of business hours with 40 busy
   intervals (pure Python, no I/O);
2. ``busy_intervals`` + ``free_slots``: what the agent's lazy slot lookup costs a scheduling turn
   (one batched read of the horizon's day documents);
3. ``hold``: p50/p95 of one slot hold (a transaction on the day document), and 16 threads
   holding the same slot at once: how long until all answered, and whether exactly one got it
   (two holds on one slot is a correctness failure: exit status 1);
4. a business event fanned out to 3 webhook endpoints and the CRM (deliveries created, tasks
   handed over, the outbox document marked), and one signed delivery attempt to a local
   receiver: p50/p95;
5. the outbox sweep (``functions/outbox``): one run over 200 unpublished events of 10 tenants
   (the collection-group query, the publish handed to a no-op, the marks), and a run a minute
   later that reads them again but finds none due yet (nobody took them in: backing off).

Timings are measured, never asserted.
"""

from __future__ import annotations

import http.server
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.integrations.delivery import DeliveryRunner
from shared.integrations.dispatch import Dispatcher
from shared.integrations.models import (
    BusinessEvent,
    BusinessEventType,
    DeliveryTask,
    EventContact,
    WebhookEndpoint,
)
from shared.integrations.outbox import stage_events, sweep_outbox
from shared.scheduling.availability import free_slots
from shared.scheduling.bookings import busy_intervals, hold
from shared.scheduling.models import Booking, CalendarSettings
from shared.settings import load_settings
from shared.store.conversations import tenant_ref

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-piloto-bench-scheduling"
TIMEZONE = "America/Sao_Paulo"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday, 09:00 in São Paulo
CALENDAR = CalendarSettings(enabled=True, meeting_minutes=30, buffer_after_minutes=10)
RUNS = 200
THREADS = 16
SECRET_VARIABLE = "PILOTO_BENCH_WEBHOOK_SECRET"


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Return p50 and p95 of samples in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def timed(action: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Run ``action`` ``runs`` times; return its p50 and p95 in milliseconds."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def booking(tenant_id: str, start: datetime, booking_id: str | None = None) -> Booking:
    """Return a booking for the meeting length at ``start``."""
    return Booking(
        booking_id=booking_id or uuid.uuid4().hex[:12],
        tenant_id=tenant_id,
        conversation_id="bench",
        start=start,
        end=start + timedelta(minutes=CALENDAR.meeting_minutes),
        created_at=NOW,
        updated_at=NOW,
    )


def offer_cost(client: Any) -> list[str]:
    """Time the offer alone and the lookup a scheduling turn makes (reads + offer)."""
    busy = [
        (NOW + timedelta(days=day, hours=hour), NOW + timedelta(days=day, hours=hour, minutes=30))
        for day in range(10)
        for hour in (1, 3, 5, 6)
    ]
    pure = timed(lambda: free_slots(CALENDAR, TIMEZONE, NOW, busy, limit=5), RUNS)
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    for day in range(10):  # ten days with a confirmed meeting each
        hold(client, tenant_id, booking(tenant_id, NOW + timedelta(days=day, hours=2)), CALENDAR,
             TIMEZONE, NOW)  # fmt: skip
    horizon = NOW + timedelta(days=CALENDAR.horizon_days)

    def lookup() -> None:
        found = busy_intervals(client, tenant_id, NOW, horizon, TIMEZONE, NOW)
        free_slots(CALENDAR, TIMEZONE, NOW, found, limit=5)

    looked = timed(lookup, 50)
    return [
        f"  offer from 14 days of hours, 40 busy: p50 {pure[0]:6.2f} ms  p95 {pure[1]:6.2f} ms",
        f"  lookup ({CALENDAR.horizon_days + 2} day documents, one batched read) + offer: "
        f"p50 {looked[0]:6.2f} ms  p95 {looked[1]:6.2f} ms",
    ]


def hold_cost(client: Any) -> tuple[list[str], bool]:
    """Time single holds, then race THREADS holds on one slot; check exactly one wins."""
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    starts = iter(  # ten a day from 09:00 local, a day after another
        NOW + timedelta(days=1 + index // 10, minutes=40 * (index % 10)) for index in range(1000)
    )
    single = timed(
        lambda: hold(client, tenant_id, booking(tenant_id, next(starts)), CALENDAR, TIMEZONE, NOW),
        50,
    )
    contested = NOW + timedelta(days=12, hours=2)  # a day the single holds left free

    def race(index: int) -> str:
        result = hold(
            client, tenant_id, booking(tenant_id, contested, f"race-{index}"), CALENDAR,
            TIMEZONE, NOW,
        )  # fmt: skip
        return str(result.status)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(race, range(THREADS)))
    elapsed = time.perf_counter() - started
    held = outcomes.count("held")
    lines = [
        f"  one hold (transaction on the day document): p50 {single[0]:6.2f} ms  "
        f"p95 {single[1]:6.2f} ms",
        f"  {THREADS} leads holding one slot at once: {elapsed:5.2f} s until all answered, "
        f"{held} held, {outcomes.count('taken')} taken",
    ]
    return lines, held == 1


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def delivery_cost(client: Any) -> list[str]:
    """Time a fan-out to 3 endpoints and the CRM, and signed delivery attempts."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    os.environ[SECRET_VARIABLE] = "whsec_bench_secret_0123456789abcdef"
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    tenant = tenant_ref(client, tenant_id)
    for index in range(3):
        endpoint = WebhookEndpoint(
            endpoint_id=f"ep{index}",
            url=url,
            events=[BusinessEventType.CONVERSATION_QUALIFIED],
            secret_ref=f"env:{SECRET_VARIABLE}",
            created_at=NOW,
        )
        tenant.collection("webhook_endpoints").document(endpoint.endpoint_id).set(
            endpoint.model_dump(mode="python")
        )
    tenant.collection("settings").document("crm").set(
        {"provider": "rdstation", "enabled": True, "token_ref": "env:X", "connected_at": NOW}
    )
    tasks: list[tuple[DeliveryTask, datetime]] = []
    dispatcher = Dispatcher(
        firestore=client, schedule=lambda task, at: tasks.append((task, at)), now=lambda: NOW
    )

    def event() -> BusinessEvent:
        return BusinessEvent(
            event_id=f"{uuid.uuid4().hex[:12]}.qualified",
            type=BusinessEventType.CONVERSATION_QUALIFIED,
            tenant_id=tenant_id,
            occurred_at=NOW,
            conversation_id="bench",
            contact=EventContact(contact_key="+5511999990001", phone="+5511999990001"),
            data={"stage": "qualified", "previous_stage": "qualifying"},
        )

    fan_out = timed(lambda: dispatcher.on_event(event()), 50)
    settings = load_settings({**os.environ, "GOOGLE_CLOUD_PROJECT": PROJECT})
    runner = DeliveryRunner(
        firestore=client,
        settings=settings,
        http=httpx.Client(),
        schedule=lambda task, at: tasks.append((task, at)),
        resolve_secret=lambda reference: os.environ[reference.removeprefix("env:")],
        now=lambda: NOW,
    )
    webhook_tasks = [task for task, _ in tasks if "~wh-" in task.delivery_id][:100]
    remaining = iter(webhook_tasks)
    attempt = timed(lambda: runner.run(next(remaining)), len(webhook_tasks))
    server.shutdown()
    return [
        f"  fan-out of one event (3 endpoints + CRM: 4 deliveries, 4 tasks): p50 "
        f"{fan_out[0]:6.2f} ms  p95 {fan_out[1]:6.2f} ms",
        f"  one signed webhook attempt to a local receiver (claim, POST, record): p50 "
        f"{attempt[0]:6.2f} ms  p95 {attempt[1]:6.2f} ms",
    ]


def sweep_cost(client: Any) -> list[str]:
    """Time outbox sweeps: 200 unpublished events of 10 tenants, then runs with none due yet."""
    at = NOW + timedelta(days=400)  # apart from the other parts' events
    batch = client.batch()
    for index in range(200):
        event = BusinessEvent(
            event_id=f"sweep-{uuid.uuid4().hex[:12]}.lost",
            type=BusinessEventType.CONVERSATION_LOST,
            tenant_id=f"bench-sweep-{index % 10}",
            occurred_at=at - timedelta(minutes=10, seconds=index),
            conversation_id=f"conv-{index}",
        )
        stage_events(batch, client, [event], "bench")
    batch.commit()
    published: list[BusinessEvent] = []
    logging.getLogger("piloto.integrations.outbox").setLevel(logging.ERROR)  # one line per tenant
    started = time.perf_counter()
    first = sweep_outbox(client, published.extend, at)
    full = (time.perf_counter() - started) * 1000
    idle = timed(lambda: sweep_outbox(client, published.extend, at + timedelta(minutes=1)), 20)
    return [
        f"  outbox sweep publishing {first.republished} events of {len(first.tenants)} tenants: "
        f"{full:6.1f} ms",
        f"  a minute later, the same 200 read and none due yet: p50 {idle[0]:6.2f} ms  p95 "
        f"{idle[1]:6.2f} ms",
    ]


def main() -> int:
    """Run the scheduling benchmark; 1 unless exactly one lead got the contested slot."""
    with LocalStack(
        PROJECT, only=("firestore",), runtime_dir=ROOT / ".piloto" / "bench-scheduling"
    ) as stack:
        os.environ.update(stack.env())
        client = firestore.Client(project=PROJECT)
        offers = offer_cost(client)
        holds, exact = hold_cost(client)
        deliveries = delivery_cost(client)
        sweeps = sweep_cost(client)
    lines = [
        "scheduling benchmark (Firestore emulator, noisy 2-core machine):",
        *offers,
        *holds,
        *deliveries,
        *sweeps,
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    if not exact:
        sys.stderr.write(
            "scheduling benchmark: not exactly one of the leads holding one slot got it\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
