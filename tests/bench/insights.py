"""`make bench` (insights part): speed, Firestore cost and prompt size of insight agents.

On the Firestore emulator with the offline runner (``shared.insights.runner.InsightRunner``, no
model call), through the real code:

1. one event through ``InsightRunner.handle`` for a tenant with 1, 3 and 6 active agents (the
   template library stored as the admin API stores it; the templates whose triggers are not a
   lead's message get their first trigger re-pointed at NEW_MESSAGE_RECEIVED, throttles kept, so
   every agent matches) and for a macro press: wall time p50/p95 over 30 events (each on its own
   conversation, as per-conversation throttles allow one run), and the reads and writes per event
   counted at the Firestore client (documents fetched, query results included; write operations
   committed);
2. admission under contention (``shared.insights.throttle.admit``): 8 concurrent events on one
   conversation with max_per_conversation=1, and 8 on 8 conversations with max_per_day=3: total
   time, commits refused by a concurrent change (each one is a retry inside ``admit``) and the
   outcomes. A throttle exceeded (or not filled) is a correctness failure: exit status 1;
3. cost per insight with a real model is tokens: the prompt ``shared.insights.context`` builds for
   each template on a conversation with a full window (20 messages), in characters and estimated
   tokens (characters / 4), plus the JSON schema of the output fields that structured output
   sends. With PILOTO_LLM=vertex the model is still not called (noted in the report).

Timings are measured, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from google.cloud import firestore
from google.cloud.firestore_v1 import base_batch
from google.cloud.firestore_v1.batch import WriteBatch
from google.cloud.firestore_v1.document import DocumentReference
from google.cloud.firestore_v1.query import Query

from emulators.stack import LocalStack
from shared.insights.context import build_prompt
from shared.insights.events import inactivity_event, macro_event, message_event, ticket_event
from shared.insights.models import (
    Attribution,
    EventType,
    Insight,
    InsightAgent,
    InsightEvent,
    index_for,
)
from shared.insights.runner import InsightRunner
from shared.insights.schema import payload_model
from shared.insights.templates import TEMPLATES
from shared.insights.throttle import conversation_key, day_key, throttle_ref
from shared.models.conversation import SUMMARY_LIMIT, WINDOW_SIZE, Conversation, WindowMessage
from shared.store.conversations import conversation_ref, tenant_ref
from tests.unit.insights import (
    LEAD_TALK,
    NOW,
    conversation_document,
    make_agent,
    make_conversation,
)

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-piloto-bench-insights"
ZONE = ZoneInfo("America/Sao_Paulo")
EVENTS = 30
AGENT_COUNTS = (1, 3, 6)
ORDER = (
    "closing_coach",
    "conversion_auditor",
    "qa_auditor",
    "ghosting_sentinel",
    "icp_mapper",
    "traffic_feedback",
)
"""Which templates a tenant with n agents has: the first n (the first two listen to messages)."""
LEAD_TEXT = "Achei caro, vou pensar. Mas já paguei o sinal, segue o comprovante."
"""Holds a keyword of the closing coach ('caro') and of the conversion auditor ('paguei')."""
THREADS = 8
ROUNDS = 3


class Counter:
    """Documents read, write operations and refused commits seen by the Firestore client."""

    lock = threading.Lock()
    reads = 0
    writes = 0
    conflicts = 0

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.reads = cls.writes = cls.conflicts = 0

    @classmethod
    def add(cls, reads: int = 0, writes: int = 0, conflicts: int = 0) -> None:
        with cls.lock:
            cls.reads += reads
            cls.writes += writes
            cls.conflicts += conflicts


@contextmanager
def counting() -> Iterator[None]:
    """Count document fetches, query results, write operations and refused commits inside."""
    original_get = DocumentReference.get
    original_stream = Query.stream
    original_add = base_batch.BaseBatch._add_write_pbs
    original_commit = WriteBatch.commit

    def get(self: DocumentReference, *args: Any, **kwargs: Any) -> Any:
        Counter.add(reads=1)
        return original_get(self, *args, **kwargs)

    def stream(self: Query, *args: Any, **kwargs: Any) -> Iterator[Any]:
        found = 0
        for snapshot in original_stream(self, *args, **kwargs):
            found += 1
            yield snapshot
        Counter.add(reads=max(found, 1))  # an empty query is billed one read

    def add_write_pbs(self: Any, write_pbs: list[Any]) -> None:
        Counter.add(writes=len(write_pbs))
        original_add(self, write_pbs)

    def commit(self: WriteBatch, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_commit(self, *args, **kwargs)
        except Exception:
            Counter.add(conflicts=1)
            raise

    DocumentReference.get = get  # type: ignore[method-assign]
    Query.stream = stream  # type: ignore[assignment,method-assign]
    base_batch.BaseBatch._add_write_pbs = add_write_pbs  # type: ignore[method-assign]
    WriteBatch.commit = commit  # type: ignore[method-assign]
    try:
        yield
    finally:
        DocumentReference.get = original_get  # type: ignore[method-assign]
        Query.stream = original_stream  # type: ignore[method-assign]
        base_batch.BaseBatch._add_write_pbs = original_add  # type: ignore[method-assign]
        WriteBatch.commit = original_commit  # type: ignore[method-assign]


def bench_agent(key: str, tenant_id: str) -> InsightAgent:
    """Return the template as a stored agent whose trigger matches a lead's message."""
    spec = TEMPLATES[key].spec.model_dump()
    first = spec["triggers"][0]
    if first["event"] is not EventType.NEW_MESSAGE_RECEIVED:
        first = {**first, "event": EventType.NEW_MESSAGE_RECEIVED}
    return make_agent(key, tenant_id=tenant_id, **{**spec, "triggers": [first]})


def new_tenant(client: Any, agents: list[InsightAgent], conversations: int) -> str:
    """Store a tenant, its agents and index (as the admin API does) and some conversations."""
    tenant_id = agents[0].tenant_id
    tenant_ref(client, tenant_id).set({"name": "Clínica", "timezone": ZONE.key})
    for agent in agents:
        tenant_ref(client, tenant_id).collection("insight_agents").document(agent.agent_id).set(
            agent.model_dump(mode="python")
        )
    tenant_ref(client, tenant_id).collection("settings").document("insights").set(
        index_for(agents).model_dump(mode="json")
    )
    for index in range(conversations):
        conversation = make_conversation(f"conv-{index}", tenant_id=tenant_id)
        conversation_ref(client, tenant_id, conversation.conversation_id).set(
            conversation_document(conversation)
        )
    return tenant_id


def lead_event(tenant_id: str, conversation_id: str, seq: int) -> InsightEvent:
    """Return NEW_MESSAGE_RECEIVED for the lead's ``seq``-th message."""
    return message_event(
        tenant_id=tenant_id,
        conversation_id=conversation_id,
        inbound_seq=seq,
        message_id=f"wamid.{seq}",
        text=LEAD_TEXT,
        occurred_at=NOW,
    )


def measure_handle(client: Any, agent_count: int, *, macro: bool = False) -> dict[str, float]:
    """Handle EVENTS events (after one warm-up) for a tenant with the agents; return the costs."""
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    agents = [bench_agent(key, tenant_id) for key in ORDER[:agent_count]]
    if macro:
        press = {"trigger_id": "m", "event": "MACRO_BUTTON_CLICKED", "max_per_day": 500}
        spec = {**TEMPLATES["closing_coach"].spec.model_dump(), "triggers": [press]}
        agents = [make_agent("closing_coach", tenant_id=tenant_id, **spec)]
    new_tenant(client, agents, EVENTS + 1)
    runner = InsightRunner(firestore=client, now=lambda: NOW)

    def event(index: int) -> InsightEvent:
        if macro:
            return macro_event(
                tenant_id=tenant_id,
                conversation_id=f"conv-{index}",
                agent_id="closing_coach",
                actor_uid="seller-1",
                occurred_at=NOW,
            )
        return lead_event(tenant_id, f"conv-{index}", 4)

    runner.handle(event(EVENTS))  # warm-up
    Counter.reset()
    seconds = []
    with counting():
        for index in range(EVENTS):
            started = time.perf_counter()
            insights = runner.handle(event(index))
            seconds.append(time.perf_counter() - started)
            if len(insights) != len(agents):
                raise SystemExit(f"{len(agents)} agents made {len(insights)} insights")
    cuts = statistics.quantiles(seconds, n=20)
    return {
        "p50_ms": statistics.median(seconds) * 1000,
        "p95_ms": cuts[18] * 1000,
        "reads": Counter.reads / EVENTS,
        "writes": Counter.writes / EVENTS,
    }


def contend(client: Any, trigger: dict[str, Any], conversations: int) -> dict[str, Any]:
    """Send THREADS events at once to a one-agent tenant; return time, conflicts, outcomes."""
    tenant_id = f"bench-{uuid.uuid4().hex[:8]}"
    agent = make_agent("coach", tenant_id=tenant_id, triggers=[trigger])
    new_tenant(client, [agent], conversations)
    runner = InsightRunner(firestore=client, now=lambda: NOW)
    events = [
        lead_event(tenant_id, f"conv-{index % conversations}", index + 1)
        for index in range(THREADS)
    ]
    start = threading.Barrier(THREADS)

    def handle(event: InsightEvent) -> list[Insight]:
        start.wait()
        return runner.handle(event)

    Counter.reset()
    with counting(), ThreadPoolExecutor(max_workers=THREADS) as pool:
        started = time.perf_counter()
        results = list(pool.map(handle, events))
        elapsed = time.perf_counter() - started
        conflicts = Counter.conflicts
    stored = list(tenant_ref(client, tenant_id).collection("insights").stream())
    if trigger.get("max_per_conversation"):
        key = conversation_key("coach", trigger["trigger_id"], "conv-0")
        counted = len((throttle_ref(client, tenant_id, key).get().to_dict() or {}).get("runs", []))
    else:
        key = day_key("coach", trigger["trigger_id"], NOW.astimezone(ZONE).date().isoformat())
        counted = int((throttle_ref(client, tenant_id, key).get().to_dict() or {}).get("count", 0))
    return {
        "ms": elapsed * 1000,
        "conflicts": conflicts,
        "admitted": sum(len(result) for result in results),
        "stored": len(stored),
        "counted": counted,
    }


def contention(client: Any) -> tuple[list[str], bool]:
    """Run both contention scenarios ROUNDS times; return the report and whether all held."""
    scenarios = [
        (
            "8 events, 1 conversation, max_per_conversation=1",
            {"trigger_id": "t1", "event": "NEW_MESSAGE_RECEIVED", "max_per_conversation": 1},
            1,
            1,
        ),
        (
            "8 events, 8 conversations, max_per_day=3",
            {"trigger_id": "t1", "event": "NEW_MESSAGE_RECEIVED", "max_per_day": 3},
            THREADS,
            3,
        ),
    ]
    lines = [
        f"admission under contention ({THREADS} threads at once, offline runner, "
        f"{ROUNDS} rounds; conflicts: commits refused by a concurrent change, each retried)",
        f"  {'scenario':<50} {'total ms':>9} {'conflicts':>10} {'admitted':>9} "
        f"{'throttled':>10} {'held':>5}",
    ]
    held = True
    for label, trigger, conversations, limit in scenarios:
        for _ in range(ROUNDS):
            row = contend(client, trigger, conversations)
            ok = row["admitted"] == row["stored"] == row["counted"] == limit
            held = held and ok
            lines.append(
                f"  {label:<50} {row['ms']:>9.0f} {row['conflicts']:>10} "
                f"{row['admitted']:>9} {THREADS - row['admitted']:>10} "
                f"{'yes' if ok else 'NO':>5}"
            )
            if not ok:
                lines.append(
                    f"    limit {limit}: returned {row['admitted']}, stored {row['stored']}, "
                    f"counted in the throttle document {row['counted']}"
                )
    return lines, held


def full_window_conversation(summary: str) -> Conversation:
    """Return the fixture conversation with a full window (its talk repeated to 20 messages)."""
    window = [
        WindowMessage(
            role=LEAD_TALK[index % len(LEAD_TALK)][0],
            text=LEAD_TALK[index % len(LEAD_TALK)][1],
            at=NOW - timedelta(minutes=3 * (WINDOW_SIZE - index)),
        )
        for index in range(WINDOW_SIZE)
    ]
    return make_conversation(
        window=window, summary=summary, inbound_count=12, outbound_count=8
    ).model_copy(update={"fields": {"nome": "Ana", "procedimento": "clareamento"}})


def template_event(key: str) -> InsightEvent:
    """Return the event of the template's own first trigger on the fixture conversation."""
    common: dict[str, Any] = {"tenant_id": "clinica", "conversation_id": "conv-1"}
    kind = TEMPLATES[key].spec.triggers[0].event
    if kind is EventType.NEW_MESSAGE_RECEIVED:
        return message_event(
            **common, inbound_seq=12, message_id="wamid.12", text=LEAD_TEXT, occurred_at=NOW
        )
    if kind is EventType.INACTIVITY_2H:
        return inactivity_event(**common, last_activity=NOW - timedelta(hours=2), occurred_at=NOW)
    won = kind is EventType.TICKET_WON
    return ticket_event(**common, won=won, actor_uid="seller-1", occurred_at=NOW)


def prompt_chars(
    agent: InsightAgent,
    conversation: Conversation,
    event: InsightEvent,
    attribution: Attribution,
) -> tuple[int, int]:
    """Return the characters of the system and the human message of one run's prompt."""
    system, human = build_prompt(
        agent, conversation, event, attribution=attribution, now=NOW, zone=ZONE
    )
    return len(str(system.content)), len(str(human.content))


def prompt_sizes() -> list[str]:
    """Return the report of each template's prompt size on a full-window conversation."""
    short = full_window_conversation(
        "Ana chegou por um anúncio de clareamento e pediu o preço; achou caro."
    )
    capped = full_window_conversation(
        ("Ana perguntou sobre clareamento e formas de pagamento. " * 40)[:SUMMARY_LIMIT]
    )
    document = conversation_document(short)
    attribution = Attribution.model_validate(document["attribution"])
    lines = [
        f"prompt per insight run (shared.insights.context on a {WINDOW_SIZE}-message window; "
        "tokens estimated as characters / 4)",
        f"  {'template':<19} {'model':<8} {'fields':>6} {'system':>7} {'human':>6} "
        f"{'schema':>7} {'~tokens in':>11} {'summary at cap':>15}",
    ]
    for key in ORDER:
        spec = TEMPLATES[key].spec
        agent = make_agent(key, **spec.model_dump())
        event = template_event(key)

        system, human = prompt_chars(agent, short, event, attribution)
        _, human_capped = prompt_chars(agent, capped, event, attribution)
        schema = len(json.dumps(payload_model(spec.fields).model_json_schema(), ensure_ascii=False))
        lines.append(
            f"  {key:<19} {spec.model:<8} {len(spec.fields):>6} {system:>7} {human:>6} "
            f"{schema:>7} {(system + human + schema) // 4:>11} "
            f"{(system + human_capped + schema) // 4:>15}"
        )
    lines.append(
        "  characters; system: directive + output fields, human: conversation state, summary, "
        "window, event; schema: the output model's JSON schema (structured output); "
        "an invalid answer is retried once (up to 2x the tokens)"
    )
    if os.environ.get("PILOTO_LLM") == "vertex":
        lines.append(
            "  PILOTO_LLM=vertex is set: this bench does not call Vertex AI (estimates only; "
            "stored insights record the model's real prompt_tokens/completion_tokens)"
        )
    else:
        lines.append("  Vertex AI: skipped (no model is called; estimates only)")
    return lines


def main() -> int:
    """Run the insights benchmark, print the tables; 1 when a throttle did not hold."""
    with LocalStack(
        PROJECT, only=("firestore",), runtime_dir=ROOT / ".piloto" / "bench-insights"
    ) as stack:
        os.environ.update(stack.env())
        client = firestore.Client(project=PROJECT)
        rows = [
            (f"{count} agent{'s' if count > 1 else ''}", measure_handle(client, count))
            for count in AGENT_COUNTS
        ]
        rows.append(("macro press, 1 agent", measure_handle(client, 1, macro=True)))
        contended, held = contention(client)
    lines = [
        f"insights benchmark: one event through InsightRunner.handle ({EVENTS} events, offline "
        "runner, Firestore emulator; reads = documents fetched incl. query results)",
        f"  {'tenant':<21} {'p50 ms':>7} {'p95 ms':>7} {'reads':>6} {'writes':>7}",
    ]
    for label, row in rows:
        lines.append(
            f"  {label:<21} {row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} "
            f"{row['reads']:>6.1f} {row['writes']:>7.1f}"
        )
    lines.append(
        "  counted at the client: per event 2 reads (conversation, tenant time zone) + 1 per "
        "agent (the agents query; a macro press gets its one agent); per agent 2 + T reads "
        "(insight at admission and at completion, T throttle documents) and 2 + T writes "
        "(one batch: RUNNING insight + T throttle documents; then the finished insight)"
    )
    lines += contended
    lines += prompt_sizes()
    sys.stdout.write("\n".join(lines) + "\n")
    if not held:
        sys.stderr.write("insights benchmark: a throttle did not hold under contention\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
