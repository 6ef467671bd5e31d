"""A per-instance TTL cache in front of a loader: one read per key per TTL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TTLCache(Generic[Value]):
    """Cache what ``loader`` returns per key; ``None`` (not found) is kept for a shorter time.

    Remembering misses briefly means a flood of requests for made-up keys does not become a
    flood of reads.
    """

    def __init__(
        self,
        loader: Callable[[str], Value | None],
        ttl_seconds: float,
        missing_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl_seconds
        self._missing_ttl = missing_ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Value | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Value | None:
        """Return the value, calling the loader only when the cached entry expired."""
        now = self._clock()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        value = self._loader(key)
        expires = now + (self._ttl if value is not None else self._missing_ttl)
        with self._lock:
            self._entries[key] = (expires, value)
        return value
