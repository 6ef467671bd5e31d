"""`make bench` (knowledge part): retrieval quality on a small Portuguese knowledge set.

The set (tests/fixtures/knowledge/clinica.yaml) is an aesthetics clinic that also sells a
course: 26 entries (prices, deadlines, guarantees, policies, address, procedures), 44 questions
as leads write them (paraphrases, no accents, typos) with the entries that answer them, and 11
questions it cannot answer. Entries are saved and questions retrieved through the real code
(``shared.knowledge.store``) on the Firestore emulator's vector search.

Reported per embedder: recall@3 (an expected entry among the top 3 snippets at or above the
embedder's relevance threshold), the same without the threshold (ranking alone), and the
false-match rate (unanswerable questions that still retrieve a snippet at the threshold), with
a sweep of thresholds around the chosen one. Targets: offline recall@3 >= 0.8 with at most 1 in
10 false matches. Vertex AI runs only with PILOTO_EMBEDDINGS=vertex (or PILOTO_LLM=vertex) and
credentials; otherwise it is skipped with a message.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from google.cloud import firestore

from emulators.stack import LocalStack
from shared.knowledge.embeddings import Embedder, OfflineEmbedder, relevance_threshold
from shared.knowledge.models import KnowledgeEntry, KnowledgeSnippet, qa_content
from shared.knowledge.store import retrieve, save_entry

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE_SET = ROOT / "tests" / "fixtures" / "knowledge" / "clinica.yaml"
PROJECT = "demo-piloto-bench-knowledge"
TOP = 3
RECALL_TARGET = 0.8
FALSE_MATCH_TARGET = 0.1


@dataclass
class KnowledgeSet:
    """Entries, questions with the entries that answer them, and questions nothing answers."""

    entries: list[dict[str, Any]]
    queries: list[tuple[str, list[str]]]
    unanswerable: list[str]


def load_knowledge_set(path: Path = KNOWLEDGE_SET) -> KnowledgeSet:
    """Read the knowledge set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return KnowledgeSet(
        entries=list(data["entries"]),
        queries=[(query["text"], list(query["expected"])) for query in data["queries"]],
        unanswerable=list(data["unanswerable"]),
    )


def entry_from(item: dict[str, Any], now: datetime | None = None) -> KnowledgeEntry:
    """Return a fixture item as an entry (a qa's content built from its question and answer)."""
    now = now or datetime.now(UTC)
    content = item.get("content") or qa_content(item["question"], item["answer"])
    return KnowledgeEntry(
        **{key: value for key, value in item.items() if key != "content"},
        content=content,
        created_at=now,
        updated_at=now,
    )


@dataclass
class Results:
    """Every question's snippets, whatever their score (the threshold is applied after)."""

    model: str
    threshold: float
    answered: list[tuple[str, list[str], list[KnowledgeSnippet]]] = field(default_factory=list)
    unanswered: list[tuple[str, list[KnowledgeSnippet]]] = field(default_factory=list)
    seconds_per_query: float = 0.0

    def recall(self, threshold: float) -> float:
        hits = sum(
            any(s.entry_id in expected and s.score >= threshold for s in snippets[:TOP])
            for _, expected, snippets in self.answered
        )
        return hits / len(self.answered)

    def false_matches(self, threshold: float) -> float:
        found = sum(any(s.score >= threshold for s in snippets) for _, snippets in self.unanswered)
        return found / len(self.unanswered)


def measure(client: Any, tenant_id: str, embedder: Embedder, data: KnowledgeSet) -> Results:
    """Save the set with the embedder and retrieve every question (no threshold)."""
    for item in data.entries:
        save_entry(client, tenant_id, entry_from(item), embedder)
    results = Results(embedder.model_name, relevance_threshold(embedder))
    started = time.perf_counter()
    for text, expected in data.queries:
        snippets = retrieve(client, tenant_id, [text], embedder, limit=TOP, min_score=0.0)
        results.answered.append((text, expected, snippets))
    for text in data.unanswerable:
        snippets = retrieve(client, tenant_id, [text], embedder, limit=TOP, min_score=0.0)
        results.unanswered.append((text, snippets))
    count = len(data.queries) + len(data.unanswerable)
    results.seconds_per_query = (time.perf_counter() - started) / count
    return results


def report(results: Results, *, offline: bool) -> list[str]:
    """Return the lines of one embedder's report."""
    chosen = results.threshold
    recall, false_matches = results.recall(chosen), results.false_matches(chosen)
    lines = [
        f"{results.model} ({'offline' if offline else 'Vertex AI'}): threshold {chosen:.2f}",
        f"  recall@{TOP} {recall:.3f} ({len(results.answered)} questions); "
        f"ranking alone {results.recall(0.0):.3f}; false matches {false_matches:.3f} "
        f"({len(results.unanswered)} unanswerable); {results.seconds_per_query * 1000:.0f} ms "
        "per question (embedding + vector search on the emulator)",
        f"  {'threshold':>9} {'recall@3':>9} {'false matches':>14}",
    ]
    for step in range(-4, 5):
        threshold = round(chosen + step * 0.02, 2)
        lines.append(
            f"  {threshold:>9.2f} {results.recall(threshold):>9.3f} "
            f"{results.false_matches(threshold):>14.3f}{'  <- chosen' if step == 0 else ''}"
        )
    for text, expected, snippets in results.answered:
        kept = [s for s in snippets[:TOP] if s.score >= chosen]
        if not any(s.entry_id in expected for s in kept):
            found = ", ".join(f"{s.entry_id} {s.score:.2f}" for s in snippets) or "nothing"
            lines.append(f"  miss: {text!r} (expected {'/'.join(expected)}; found {found})")
    for text, snippets in results.unanswered:
        over = [s for s in snippets if s.score >= chosen]
        if over:
            lines.append(f"  false match: {text!r} -> {over[0].entry_id} {over[0].score:.2f}")
    if offline:
        met = recall >= RECALL_TARGET and false_matches <= FALSE_MATCH_TARGET
        lines.append(
            f"  targets: recall@3 >= {RECALL_TARGET}, false matches <= {FALSE_MATCH_TARGET} "
            f"({'met' if met else 'MISSED'})"
        )
    return lines


def vertex_embedder() -> tuple[Embedder | None, str]:
    """Return the Vertex AI embedder when configured and reachable, or why it is skipped."""
    from shared.knowledge.embeddings import embedder_from_settings
    from shared.settings import SettingsError, load_settings

    if "vertex" not in (os.environ.get("PILOTO_EMBEDDINGS"), os.environ.get("PILOTO_LLM")):
        return None, "set PILOTO_EMBEDDINGS=vertex with Vertex AI credentials to measure it"
    try:
        embedder = embedder_from_settings(load_settings(os.environ))
        embedder.embed_query("teste")
    except SettingsError as error:
        return None, str(error)
    except Exception as error:  # no credentials, no access: report and carry on
        return None, f"Vertex AI is not reachable ({type(error).__name__}: {error})"[:300]
    return embedder, ""


def main() -> int:
    """Run the knowledge benchmark and print the report."""
    data = load_knowledge_set()
    vertex, skipped = vertex_embedder()
    with LocalStack(
        PROJECT, only=("firestore",), runtime_dir=ROOT / ".piloto" / "bench-knowledge"
    ) as stack:
        os.environ.update(stack.env())
        client = firestore.Client(project=PROJECT)
        offline = measure(client, "bench-offline", OfflineEmbedder(), data)
        online = measure(client, "bench-vertex", vertex, data) if vertex else None
    lines = [
        f"knowledge benchmark: {len(data.entries)} entries, {len(data.queries)} questions, "
        f"{len(data.unanswerable)} unanswerable (tests/fixtures/knowledge/clinica.yaml)",
        *report(offline, offline=True),
    ]
    lines += report(online, offline=False) if online else [f"Vertex AI: skipped ({skipped})"]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
