"""`make bench` (engine part): Firestore reads and writes, prompt tokens and engine time per turn.

For a conversation with 1, 100 and 1,000 prior messages, one more lead message is taken in and
answered through the real intake and turn code on the Firestore emulator, with the offline
model. Reads and writes are counted at the Firestore client (documents fetched; write
operations committed); engine time excludes the model call. Targets: flat in conversation
length, at most 3 reads and 8 writes per answered message.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import base_batch
from google.cloud.firestore_v1.document import DocumentReference

from emulators.stack import LocalStack
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.engine import Engine
from shared.events.tasks import TurnRequest
from shared.models.conversation import Conversation
from shared.models.decision import Decision
from shared.models.events import LeadMessage
from shared.models.tenant import AgentSettings
from shared.turns import TurnRunner
from tests.support.events import lead_message

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "demo-piloto-bench-engine"
SETTINGS = AgentSettings(
    business_facts={"limpeza_de_pele": "Limpeza de pele profunda: R$ 180, 60 minutos"},
    qualification_fields=["nome", "procedimento_de_interesse"],
)
HISTORIES = (1, 100, 1000)


class Counter:
    """Documents read and write operations sent by the Firestore client."""

    reads = 0
    writes = 0


@contextmanager
def counting() -> Iterator[None]:
    """Count every document fetch and every write operation while inside."""
    original_get = DocumentReference.get
    original_add = base_batch.BaseBatch._add_write_pbs

    def get(self: DocumentReference, *args: Any, **kwargs: Any) -> Any:
        Counter.reads += 1
        return original_get(self, *args, **kwargs)

    def add_write_pbs(self: Any, write_pbs: list[Any]) -> None:
        Counter.writes += len(write_pbs)
        original_add(self, write_pbs)

    DocumentReference.get = get  # type: ignore[method-assign]
    base_batch.BaseBatch._add_write_pbs = add_write_pbs  # type: ignore[method-assign]
    try:
        yield
    finally:
        DocumentReference.get = original_get  # type: ignore[method-assign]
        base_batch.BaseBatch._add_write_pbs = original_add  # type: ignore[method-assign]


def measure(client: Any, history: int) -> dict[str, float]:
    """Build a conversation with ``history`` messages, then answer one more; return the costs."""
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    clock = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    due: list[TurnRequest] = []
    model_seconds = 0.0

    graph = graph_decider(OfflineChatModel(), lambda tenant_id: "America/Sao_Paulo")

    def decide(
        conversation: Conversation,
        texts: Sequence[str],
        settings: AgentSettings,
        decision_id: str,
        now: datetime,
    ) -> Decision:
        nonlocal model_seconds
        started = time.perf_counter()
        decision = graph(conversation, texts, settings, decision_id, now)
        model_seconds += time.perf_counter() - started
        return decision

    engine = Engine(
        firestore=client,
        max_event_age=timedelta(days=365),
        schedule_turn=lambda turn, at: due.append(turn),
        load_agent=lambda tenant_id: SETTINGS,
        now=lambda: clock,
    )
    runner = TurnRunner(
        firestore=client,
        decide=decide,
        load_settings=lambda tenant_id: (SETTINGS, "America/Sao_Paulo"),
        deliver=lambda conversation, decision: None,
        now=lambda: clock,
    )

    def lead(index: int, text: str) -> LeadMessage:
        return lead_message(tenant, f"wamid.{index}", text, clock)

    for index in range(history):  # the history: messages taken in, no turns run
        engine.take_in_event(lead(index, f"mensagem {index}"))
        clock += timedelta(seconds=1)
    due.clear()
    Counter.reads = Counter.writes = 0
    started = time.perf_counter()
    with counting():
        engine.take_in_event(lead(history, "Oi, quanto custa a limpeza de pele?"))
        clock += timedelta(seconds=5)
        result = runner.run(due[-1])
    elapsed = time.perf_counter() - started
    assert result.decision is not None and result.decision.messages, result
    return {
        "reads": Counter.reads,
        "writes": Counter.writes,
        "prompt_tokens": result.decision.prompt_tokens,
        "engine_ms": (elapsed - model_seconds) * 1000,
    }


def main() -> int:
    """Run the engine benchmark and print the table."""
    with LocalStack(
        PROJECT, only=("firestore",), runtime_dir=ROOT / ".piloto" / "bench-engine"
    ) as stack:
        os.environ.update(stack.env())
        client = firestore.Client(project=PROJECT)
        measure(client, 1)  # warm-up: first connections and imports
        rows = [(history, measure(client, history)) for history in HISTORIES]
    lines = [
        "engine benchmark: one answered lead message "
        "(intake + turn, offline model, Firestore emulator)",
        f"{'prior messages':>15} {'reads':>6} {'writes':>7} "
        f"{'prompt tokens':>14} {'engine ms':>10}",
    ]
    for history, row in rows:
        lines.append(
            f"{history:>15} {row['reads']:>6.0f} {row['writes']:>7.0f} "
            f"{row['prompt_tokens']:>14.0f} {row['engine_ms']:>10.1f}"
        )
    reads = max(row["reads"] for _, row in rows)
    writes = max(row["writes"] for _, row in rows)
    # Past the 20-message window the prompt grows only by the rolling summary, which is capped
    # (2,000 characters): 100 and 1,000 prior messages must cost about the same.
    tokens = {history: row["prompt_tokens"] for history, row in rows}
    same_io = len({(row["reads"], row["writes"]) for _, row in rows}) == 1
    flat = same_io and tokens[1000] <= 1.2 * tokens[100]
    lines.append(
        f"targets: reads <= 3 ({'met' if reads <= 3 else 'MISSED'}: {reads:.0f}), "
        f"writes <= 8 ({'met' if writes <= 8 else 'MISSED'}: {writes:.0f}), "
        f"flat in conversation length ({'met' if flat else 'MISSED'}); prompt tokens are the "
        "offline model's estimate (characters / 4)"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
