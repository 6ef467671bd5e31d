"""An in-process stand-in for the Firestore client: the simulator's default store.

It implements only what the engine uses (documents and subcollections; get, set with a deep
merge and ``Increment`` values, update with a last-update-time precondition, create;
transactions through ``firestore.transactional`` with optimistic conflict detection; write
batches), and it passes
the same contract tests as the Firestore emulator (tests/integration, parametrised by store).
Values are stored as Firestore stores them: enums as strings, tuples as lists, datetimes in UTC.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from google.api_core.exceptions import Aborted, AlreadyExists, FailedPrecondition, NotFound
from google.cloud.firestore_v1.transforms import Increment

_Path = tuple[str, ...]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _stored(value: Any) -> Any:
    """Return a value as Firestore would hand it back."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, Mapping):
        return {str(key): _stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stored(item) for item in value]
    return value


def _merged(base: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``data`` merged into it, maps deeply, ``Increment`` values added."""
    for key, value in data.items():
        if isinstance(value, Increment):
            current = base.get(key)
            base[key] = (current if isinstance(current, int | float) else 0) + value.value
        elif isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merged(base[key], value)
        elif isinstance(value, Mapping):
            base[key] = _merged({}, value)
        else:
            base[key] = _stored(value)
    return base


class Snapshot:
    """A document as read."""

    def __init__(
        self, reference: Document, data: dict[str, Any] | None, update_time: datetime | None
    ):
        self.reference = reference
        self.id = reference.id
        self.exists = data is not None
        self._data = data
        self.update_time = update_time

    def to_dict(self) -> dict[str, Any] | None:
        """Return a copy of the document's fields, or None when it does not exist."""
        return copy.deepcopy(self._data)

    def get(self, field: str) -> Any:
        """Return one top-level field."""
        if self._data is None:
            raise KeyError(field)
        return copy.deepcopy(self._data[field])


class Precondition:
    """``client.write_option(last_update_time=...)``."""

    def __init__(self, last_update_time: datetime) -> None:
        self.last_update_time = last_update_time


class Document:
    """A document reference."""

    def __init__(self, client: MemoryFirestore, path: _Path) -> None:
        self._client = client
        self.path = "/".join(path)
        self._path = path
        self.id = path[-1]

    def collection(self, name: str) -> Collection:
        """Return a subcollection."""
        return Collection(self._client, (*self._path, name))

    def get(self, transaction: Transaction | None = None) -> Snapshot:
        """Read the document (inside a transaction: remembered for conflict detection)."""
        data, update_time = self._client._read(self._path)
        if transaction is not None:
            transaction._reads[self._path] = update_time
        return Snapshot(self, data, update_time)

    def set(self, data: Mapping[str, Any], merge: bool = False) -> None:
        """Create or replace the document (or merge into it)."""
        self._client._commit([("set", self._path, dict(data), merge, None)])

    def update(self, data: Mapping[str, Any], option: Precondition | None = None) -> None:
        """Change fields of an existing document."""
        self._client._commit([("update", self._path, dict(data), False, option)])

    def create(self, data: Mapping[str, Any]) -> None:
        """Create the document; AlreadyExists when it exists."""
        self._client._commit([("create", self._path, dict(data), False, None)])


class Collection:
    """A collection reference."""

    def __init__(self, client: MemoryFirestore, path: _Path) -> None:
        self._client = client
        self._path = path

    def document(self, document_id: str | None = None) -> Document:
        """Return a document of this collection."""
        return Document(self._client, (*self._path, document_id or uuid.uuid4().hex))

    def stream(self) -> list[Snapshot]:
        """Return every document directly in this collection."""
        return self._client._list(self._path)


class _Writes:
    def __init__(self, client: MemoryFirestore) -> None:
        self._client = client
        self._writes: list[tuple[str, _Path, dict[str, Any], bool, Precondition | None]] = []

    def create(self, reference: Document, data: Mapping[str, Any]) -> None:
        self._writes.append(("create", reference._path, dict(data), False, None))

    def set(self, reference: Document, data: Mapping[str, Any], merge: bool = False) -> None:
        self._writes.append(("set", reference._path, dict(data), merge, None))

    def update(
        self, reference: Document, data: Mapping[str, Any], option: Precondition | None = None
    ) -> None:
        self._writes.append(("update", reference._path, dict(data), False, option))


class Batch(_Writes):
    """A write batch: all writes or none."""

    def commit(self) -> None:
        """Apply every write atomically."""
        self._client._commit(self._writes)
        self._writes = []


class Transaction(_Writes):
    """A transaction run by ``firestore.transactional``: reads remembered, writes buffered."""

    _read_only = False

    def __init__(self, client: MemoryFirestore, max_attempts: int) -> None:
        super().__init__(client)
        self._max_attempts = max_attempts
        self._id: bytes | None = None
        self._reads: dict[_Path, datetime | None] = {}

    def _clean_up(self) -> None:
        self._writes, self._reads, self._id = [], {}, None

    def _begin(self, retry_id: bytes | None = None) -> None:
        self._id = uuid.uuid4().bytes

    def _rollback(self) -> None:
        self._clean_up()

    def _commit(self) -> list[Any]:
        self._client._commit(self._writes, reads=self._reads)
        self._clean_up()
        return []


class MemoryFirestore:
    """The in-process store (see the module docstring)."""

    def __init__(self) -> None:
        self._documents: dict[_Path, tuple[dict[str, Any], datetime]] = {}
        self._lock = threading.Lock()
        self._clock = itertools.count(1)

    def collection(self, name: str) -> Collection:
        """Return a top-level collection."""
        return Collection(self, (name,))

    def transaction(self, max_attempts: int = 5) -> Transaction:
        """Return a transaction for ``firestore.transactional``."""
        return Transaction(self, max_attempts)

    def batch(self) -> Batch:
        """Return a write batch."""
        return Batch(self)

    def write_option(self, last_update_time: datetime) -> Precondition:
        """Return a precondition on the document's last update time."""
        return Precondition(last_update_time)

    def _read(self, path: _Path) -> tuple[dict[str, Any] | None, datetime | None]:
        with self._lock:
            stored = self._documents.get(path)
        return (copy.deepcopy(stored[0]), stored[1]) if stored else (None, None)

    def _list(self, path: _Path) -> list[Snapshot]:
        with self._lock:
            paths = [p for p in self._documents if len(p) == len(path) + 1 and p[:-1] == path]
        return [Document(self, p).get() for p in sorted(paths)]

    def _commit(
        self,
        writes: list[tuple[str, _Path, dict[str, Any], bool, Precondition | None]],
        reads: Mapping[_Path, datetime | None] | None = None,
    ) -> None:
        with self._lock:
            for path, seen in (reads or {}).items():
                current = self._documents.get(path)
                if (current[1] if current else None) != seen:
                    raise Aborted(f"{'/'.join(path)} changed during the transaction")
            staged = dict(self._documents)
            moment = _EPOCH + timedelta(microseconds=next(self._clock))
            for kind, path, data, merge, option in writes:
                current = staged.get(path)
                if kind == "create" and current is not None:
                    raise AlreadyExists(f"{'/'.join(path)} already exists")
                if kind == "update":
                    if current is None:
                        raise NotFound(f"{'/'.join(path)} does not exist")
                    if option is not None and current[1] != option.last_update_time:
                        raise FailedPrecondition(f"{'/'.join(path)} changed since it was read")
                base = current[0] if current is not None and (merge or kind == "update") else {}
                if merge:  # set(merge=True) merges maps deeply and applies increments
                    staged[path] = (_merged(copy.deepcopy(base), data), moment)
                else:
                    staged[path] = ({**copy.deepcopy(base), **_stored(data)}, moment)
            self._documents = staged
