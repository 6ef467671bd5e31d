"""Publish canonical events to Pub/Sub, ordered per contact, and wait until Pub/Sub has them.

Cloud Run throttles CPU after the response is sent, so an unawaited publish can be lost: the
webhook answers only after Pub/Sub has acknowledged every event. Publishing goes through the
Pub/Sub REST API: the webhook's cold start cannot afford the ~150 ms import of the gRPC client
library (see ``make bench``). For message ordering, point ``PILOTO_PUBSUB_ENDPOINT`` at a
regional endpoint in production.

Concurrent requests share calls ("group commit"): a caller that finds a free call slot (at
most ``max_calls_in_flight``) publishes everything queued; callers arriving while every slot is
busy queue up, and when a call returns, the oldest waiting caller is woken to publish the queue
in one call. At low load that is one call per request with no added wait; under load the calls
carry many events. Events of one request stay together and in order, in one call.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared.gcp.auth import Authorizer
from shared.gcp.http import HttpClient, HttpFailed
from shared.models.events import ConversationEvent, event_to_json

MAX_MESSAGES_PER_CALL = 500
MAX_BYTES_PER_CALL = 8 * 1024 * 1024  # the API takes 10 MB; base64 and JSON add the rest


class PublishFailed(RuntimeError):
    """Pub/Sub did not accept every event; the caller must not acknowledge the webhook."""


class EventSink(Protocol):
    """Anything that durably accepts events (Pub/Sub in production, a list in unit tests)."""

    def publish(self, events: Sequence[ConversationEvent]) -> list[str]: ...


def event_attributes(event: ConversationEvent) -> dict[str, str]:
    """Return the Pub/Sub attributes that let subscribers route without decoding the body."""
    return {
        "event_id": event.event_id,
        "kind": event.kind,
        "provider": event.provider,
        "tenant_id": event.tenant_id,
        "channel_id": event.channel_id,
        "contact": event.contact_key,
    }


def pubsub_message(event: ConversationEvent) -> dict[str, object]:
    """Return the REST representation of one event as a Pub/Sub message."""
    return {
        "data": base64.b64encode(event_to_json(event)).decode("ascii"),
        "attributes": event_attributes(event),
        "orderingKey": event.ordering_key,
    }


@dataclass(eq=False)
class _Pending:
    messages: list[dict[str, object]]
    size: int
    message_ids: list[str] = field(default_factory=list)
    error: str | None = None
    leads: bool = False
    wake: threading.Event = field(default_factory=threading.Event)  # promoted or finished
    finished: threading.Event = field(default_factory=threading.Event)


class PubSubEventPublisher:
    """Publish events to one topic through ``topics.publish``, sharing calls under load.

    A transport error or a 5xx is retried once; anything else fails the publish of every
    request in that call, and each provider retries its webhook.
    """

    def __init__(
        self,
        http: HttpClient,
        tokens: Authorizer,
        *,
        project_id: str,
        topic: str,
        base_url: str = "https://pubsub.googleapis.com",
        max_calls_in_flight: int = 2,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/topics/{topic}:publish"
        self._queue: list[_Pending] = []
        self._max_calls = max_calls_in_flight
        self._calls = 0  # call slots held by leading callers
        self._lock = threading.Lock()

    def publish(self, events: Sequence[ConversationEvent]) -> list[str]:
        """Publish every event and return the Pub/Sub message ids, or raise PublishFailed."""
        messages = [pubsub_message(event) for event in events]
        pending = _Pending(messages, size=sum(len(str(message["data"])) for message in messages))
        with self._lock:
            self._queue.append(pending)
            if self._calls < self._max_calls:
                self._calls += 1
                pending.leads = True
        if not pending.leads:
            pending.wake.wait()
        if pending.leads:
            self._lead(pending)
        pending.finished.wait()
        if pending.error is not None:
            raise PublishFailed(pending.error)
        return pending.message_ids

    def _lead(self, pending: _Pending) -> None:
        """Publish the queue until ``pending``'s events have been taken, then hand the slot on.

        Another leader may have taken them already; then this one only hands its slot on.
        """
        while True:
            with self._lock:
                batch = self._take_batch() if pending in self._queue else []
                if not batch:
                    successor = next((item for item in self._queue if not item.leads), None)
                    if successor is None:
                        self._calls -= 1
                    else:
                        successor.leads = True
                        successor.wake.set()
                    return
            self._send(batch)

    def _take_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        count = size = 0
        while self._queue:
            candidate = self._queue[0]
            too_big = (
                count + len(candidate.messages) > MAX_MESSAGES_PER_CALL
                or size + candidate.size > MAX_BYTES_PER_CALL
            )
            if batch and too_big:
                break
            batch.append(self._queue.pop(0))
            count += len(candidate.messages)
            size += candidate.size
        return batch

    def _send(self, batch: list[_Pending]) -> None:
        body = {"messages": [message for pending in batch for message in pending.messages]}
        try:
            message_ids, error = self._call(body)
        except Exception as unexpected:  # never leave the requests of this batch waiting
            message_ids, error = [], f"{type(unexpected).__name__}: {unexpected}"
        start = 0
        for pending in batch:
            if error:
                pending.error = f"publish to {self._url} failed: {error}"
            else:
                pending.message_ids = message_ids[start : start + len(pending.messages)]
            start += len(pending.messages)
            pending.finished.set()
            pending.wake.set()

    def _call(self, body: dict[str, list[dict[str, object]]]) -> tuple[list[str], str]:
        """Publish once, retrying once on a transport error or a 5xx; return ids and error."""
        error = ""
        for _attempt in range(2):
            try:
                answer = self._http.post_json(
                    self._url, body, headers={"Authorization": self._tokens.authorization()}
                )
            except HttpFailed as transport_error:
                error = str(transport_error)
                continue
            if answer.status == 200:
                message_ids = [str(item) for item in answer.json().get("messageIds", [])]
                if len(message_ids) != len(body["messages"]):
                    return [], f"{len(message_ids)} ids for {len(body['messages'])} messages"
                return message_ids, ""
            error = f"{answer.status} {answer.body[:300]!r}"
            if answer.status < 500:
                break
        return [], error
