"""Posting webhooks to Piloto: at once (a lead's message) or later, in order (statuses).

One worker thread posts scheduled webhooks in due-time order (ties in scheduling order), so a
message's statuses arrive as scheduled and a send response never waits for a webhook. Every
attempt is recorded with the HTTP status Piloto answered.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.channels.base import WebhookRequest
from shared.models.events import Provider

logger = logging.getLogger("piloto.simulator.webhooks")


@dataclass(frozen=True)
class Webhook:
    """A webhook to post: what it reports and the signed request."""

    provider: Provider
    channel_id: str
    event: str
    """``message`` (a lead's or seller's message) or ``status:<sent|delivered|read>``."""
    message_id: str
    request: WebhookRequest


@dataclass(frozen=True)
class WebhookPost:
    """One webhook the simulator posted, and how Piloto answered."""

    index: int
    provider: Provider
    channel_id: str
    event: str
    message_id: str
    url: str
    status_code: int | None
    error: str | None
    posted_at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the record as ``GET /webhooks`` lists it."""
        return {
            "index": self.index,
            "provider": self.provider,
            "channel_id": self.channel_id,
            "event": self.event,
            "message_id": self.message_id,
            "url": self.url,
            "status_code": self.status_code,
            "error": self.error,
            "posted_at": self.posted_at.isoformat(),
        }


class WebhookPoster:
    """Post webhooks now or on schedule from one background thread; keep a log of them."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout_seconds)
        self._queue: list[tuple[float, int, Webhook]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopping = False
        self._log: list[WebhookPost] = []
        self._posting = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="simulator-webhooks", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker; webhooks still scheduled are dropped."""
        with self._changed:
            self._stopping = True
            self._queue.clear()
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self._client.close()

    def schedule(self, webhook: Webhook, delay_seconds: float) -> None:
        """Post ``webhook`` after ``delay_seconds`` from the worker thread."""
        with self._changed:
            if self._stopping:
                return
            due = time.monotonic() + max(delay_seconds, 0.0)
            heapq.heappush(self._queue, (due, next(self._order), webhook))
            self._changed.notify_all()

    def post(self, webhook: Webhook) -> WebhookPost:
        """Post ``webhook`` now and return how Piloto answered."""
        request = webhook.request
        status_code: int | None = None
        error: str | None = None
        try:
            response = self._client.post(
                request.url, content=request.body, headers=dict(request.headers)
            )
            status_code = response.status_code
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
            logger.warning(
                "webhook post failed",
                extra={"url": request.url, "event": webhook.event, "error": error},
            )
        with self._changed:
            record = WebhookPost(
                index=len(self._log),
                provider=webhook.provider,
                channel_id=webhook.channel_id,
                event=webhook.event,
                message_id=webhook.message_id,
                url=request.url,
                status_code=status_code,
                error=error,
                posted_at=datetime.now(UTC),
            )
            self._log.append(record)
            self._changed.notify_all()
        return record

    def history(self, since: int = 0) -> list[WebhookPost]:
        """Return every post from index ``since`` on, oldest first."""
        with self._changed:
            return self._log[since:]

    def wait_for(
        self, predicate: Callable[[WebhookPost], bool], count: int = 1, timeout: float = 5.0
    ) -> list[WebhookPost]:
        """Return the first ``count`` posts matching ``predicate``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [post for post in self._log if predicate(post)]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(found)} of {count} webhook posts matched within {timeout:.1f}s"
                    )
                self._changed.wait(remaining)

    def pending(self) -> int:
        """Return how many webhooks are scheduled or being posted."""
        with self._changed:
            return len(self._queue) + self._posting

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._changed.wait(timeout)
                if self._stopping:
                    return
                _, _, webhook = heapq.heappop(self._queue)
                self._posting += 1
            try:
                self.post(webhook)
            finally:
                with self._changed:
                    self._posting -= 1
                    self._changed.notify_all()
