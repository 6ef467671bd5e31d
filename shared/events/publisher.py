"""Publish canonical events to Pub/Sub, ordered per contact, and wait until Pub/Sub has them.

Cloud Run throttles CPU after the response is sent, so an unawaited publish can be lost: the
webhook answers only after Pub/Sub has acknowledged every event. Publishing goes through the
Pub/Sub REST API over a pooled ``httpx`` client: the webhook's cold start cannot afford the
~150 ms import of the gRPC client library (see ``make bench``). For message ordering, point
``PILOTO_PUBSUB_ENDPOINT`` at a regional endpoint in production.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Protocol

import httpx

from shared.gcp.firestore_rest import Authorizer
from shared.models.events import ConversationEvent


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
        "data": base64.b64encode(event.model_dump_json().encode("utf-8")).decode("ascii"),
        "attributes": event_attributes(event),
        "orderingKey": event.ordering_key,
    }


class PubSubEventPublisher:
    """Publish events to one topic in a single ``topics.publish`` call per webhook request.

    All events of one request go in one call, in order, so one contact's events keep their
    order; each carries the ordering key ``tenant_id:contact``. A transport error or a 5xx is
    retried once; anything else fails the publish and the provider retries the webhook.
    """

    def __init__(
        self,
        http: httpx.Client,
        tokens: Authorizer,
        *,
        project_id: str,
        topic: str,
        base_url: str = "https://pubsub.googleapis.com",
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/topics/{topic}:publish"

    def publish(self, events: Sequence[ConversationEvent]) -> list[str]:
        """Publish every event and return the Pub/Sub message ids, or raise PublishFailed."""
        body = {"messages": [pubsub_message(event) for event in events]}
        error: str = ""
        for _attempt in range(2):
            try:
                response = self._http.post(
                    self._url, json=body, headers={"Authorization": self._tokens.authorization()}
                )
            except httpx.HTTPError as transport_error:
                error = f"{type(transport_error).__name__}: {transport_error}"
                continue
            if response.status_code == 200:
                message_ids = [str(item) for item in response.json().get("messageIds", [])]
                if len(message_ids) != len(events):
                    raise PublishFailed(f"Pub/Sub acknowledged {len(message_ids)} of {len(events)}")
                return message_ids
            error = f"{response.status_code} {response.text[:300]}"
            if response.status_code < 500:
                break
        raise PublishFailed(f"publish to {self._url} failed: {error}")
