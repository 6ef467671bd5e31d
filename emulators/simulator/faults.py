"""Fault switches: make the simulated providers misbehave the way real ones do.

A fault has a kind, an optional provider and channel it is limited to, and a ``count`` of
requests it applies to (None: until cleared). Send faults answer a send request with the
provider's own error; the others change how webhooks are posted.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from shared.models.events import PROVIDERS, Provider

FaultKind = Literal[
    "rate_limit",
    "throughput",
    "server_error",
    "slow",
    "duplicate_webhooks",
    "out_of_order_statuses",
    "window_closed",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
SEND_ERROR_FAULTS: tuple[FaultKind, ...] = (
    "rate_limit",
    "throughput",
    "server_error",
    "window_closed",
)
WINDOW_PROVIDERS: tuple[Provider, ...] = ("meta", "twilio")  # the gateways have no 24-hour window
DEFAULT_DELAYS: Mapping[FaultKind, float] = {"slow": 3.0, "rate_limit": 1.0}


class FaultRejected(ValueError):
    """A fault description that cannot be applied; the message says why."""


@dataclass
class Fault:
    """One active fault switch."""

    fault_id: int
    kind: FaultKind
    provider: Provider | None = None
    channel_id: str | None = None
    remaining: int | None = None
    """How many more requests it applies to; None until cleared."""
    delay_seconds: float = 0.0
    """``slow``: the wait before answering; ``rate_limit``: the ``Retry-After`` seconds."""
    applied: int = 0

    def matches(self, kind: FaultKind, provider: Provider, channel_id: str | None) -> bool:
        """Return True when this fault applies to a request of ``provider`` on ``channel_id``."""
        if self.kind != kind or self.remaining == 0:
            return False
        if self.provider is not None and self.provider != provider:
            return False
        if kind == "window_closed" and provider not in WINDOW_PROVIDERS:
            return False
        return self.channel_id is None or self.channel_id == channel_id

    def to_json(self) -> dict[str, Any]:
        """Return the fault as ``GET /faults`` lists it."""
        return {
            "id": self.fault_id,
            "kind": self.kind,
            "provider": self.provider,
            "channel_id": self.channel_id,
            "count": self.remaining,
            "delay_seconds": self.delay_seconds,
            "applied": self.applied,
        }


class FaultBoard:
    """The active faults; ``take`` uses one application of the first matching fault."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        provider: str | None = None,
        channel_id: str | None = None,
        count: int | None = None,
        delay_seconds: float | None = None,
    ) -> Fault:
        """Switch a fault on, or raise ``FaultRejected`` naming what is wrong."""
        if kind not in FAULT_KINDS:
            raise FaultRejected(f"kind must be one of {', '.join(FAULT_KINDS)}, got {kind!r}")
        if provider is not None and provider not in PROVIDERS:
            raise FaultRejected(f"provider must be one of {', '.join(PROVIDERS)} or null")
        if kind == "window_closed" and provider is not None and provider not in WINDOW_PROVIDERS:
            raise FaultRejected(
                "window_closed applies to meta and twilio only (no window elsewhere)"
            )
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise FaultRejected("count must be a positive whole number or null")
        if delay_seconds is not None and (
            isinstance(delay_seconds, bool)
            or not isinstance(delay_seconds, int | float)
            or not 0 <= delay_seconds <= 300
        ):
            raise FaultRejected("delay_seconds must be a number between 0 and 300")
        fault_kind: FaultKind = next(name for name in FAULT_KINDS if name == kind)
        checked_provider: Provider | None = next(
            (name for name in PROVIDERS if name == provider), None
        )
        with self._lock:
            fault = Fault(
                fault_id=next(self._ids),
                kind=fault_kind,
                provider=checked_provider,
                channel_id=channel_id,
                remaining=count,
                delay_seconds=float(
                    delay_seconds if delay_seconds is not None else DEFAULT_DELAYS.get(kind, 0.0)
                ),
            )
            self._faults.append(fault)
        return fault

    def add_from_json(self, document: object) -> Fault:
        """Switch on the fault a ``POST /faults`` body describes."""
        if not isinstance(document, dict):
            raise FaultRejected("body must be a JSON object")
        unknown = set(document) - {"kind", "provider", "channel_id", "count", "delay_seconds"}
        if unknown:
            raise FaultRejected(f"unknown fields: {', '.join(sorted(unknown))}")
        channel_id = document.get("channel_id")
        if channel_id is not None and not isinstance(channel_id, str):
            raise FaultRejected("channel_id must be a string or null")
        return self.add(
            str(document.get("kind")),
            provider=document.get("provider"),
            channel_id=channel_id,
            count=document.get("count"),
            delay_seconds=document.get("delay_seconds"),
        )

    def take(
        self, kinds: Iterable[FaultKind], provider: Provider, channel_id: str | None
    ) -> Fault | None:
        """Use one application of the first active fault of ``kinds`` matching the request."""
        wanted = tuple(kinds)
        with self._lock:
            for fault in self._faults:
                if any(fault.matches(kind, provider, channel_id) for kind in wanted):
                    fault.applied += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return Fault(**vars(fault))
            return None

    def active(self) -> list[Fault]:
        """Return the faults that still apply, oldest first."""
        with self._lock:
            return [Fault(**vars(fault)) for fault in self._faults if fault.remaining != 0]

    def clear(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._faults.clear()
