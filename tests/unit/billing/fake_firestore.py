"""A dict-backed stand-in for the few Firestore calls stock counting and the read-only gate make.

Documents live at their full path; queries filter on equality, count() aggregates, and every
document read (``reads``) and aggregation (``aggregations``) is counted so tests can hold the
code to its cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


@dataclass
class Snapshot:
    id: str
    data: dict[str, Any] | None

    @property
    def exists(self) -> bool:
        return self.data is not None

    def to_dict(self) -> dict[str, Any] | None:
        return dict(self.data) if self.data is not None else None


@dataclass
class FakeFirestore:
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: int = 0
    aggregations: int = 0

    def collection(self, name: str) -> Query:
        return Query(self, name)

    def put(self, path: str, data: dict[str, Any]) -> None:
        """Store a document at ``path`` (``collection/id/collection/id``)."""
        self.documents[path] = data


@dataclass
class Document:
    client: FakeFirestore
    path: str

    @property
    def id(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def collection(self, name: str) -> Query:
        return Query(self.client, f"{self.path}/{name}")

    def get(self, transaction: Any = None) -> Snapshot:
        self.client.reads += 1
        return Snapshot(self.id, self.client.documents.get(self.path))


@dataclass
class Query:
    client: FakeFirestore
    path: str
    filters: tuple[tuple[str, Any], ...] = ()

    def document(self, document_id: str) -> Document:
        return Document(self.client, f"{self.path}/{document_id}")

    def where(self, *, filter: Any) -> Query:
        assert filter.op_string == "=="
        return Query(self.client, self.path, (*self.filters, (filter.field_path, filter.value)))

    def select(self, fields: list[str]) -> Query:
        return self

    def _matches(self) -> list[Snapshot]:
        found = []
        for path, data in sorted(self.client.documents.items()):
            parent, _, document_id = path.rpartition("/")
            if parent == self.path and all(data.get(k) == v for k, v in self.filters):
                found.append(Snapshot(document_id, data))
        return found

    def stream(self, transaction: Any = None) -> list[Snapshot]:
        found = self._matches()
        self.client.reads += max(1, len(found))
        return found

    def count(self) -> Aggregation:
        return Aggregation(self)


@dataclass
class Aggregation:
    query: Query

    def get(self, transaction: Any = None) -> list[list[Any]]:
        self.query.client.aggregations += 1
        return [[SimpleNamespace(alias="count", value=len(self.query._matches()))]]
