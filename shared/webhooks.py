"""Where a provider's webhook becomes canonical events on Pub/Sub.

``WebhookHandler.handle`` routes ``/webhooks/{provider}/{channel_id}``, finds the channel,
checks the provider's signature over the raw body, parses the payload with the provider's
adapter and publishes every event before answering. Every rejection is a 4xx with a reason,
logged as structured JSON, and has no side effect. No LLM code is imported on this path.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.channels import adapter_for
from shared.channels.base import PayloadRejected, WebhookRejected, WebhookRequest
from shared.events.publisher import EventSink, PublishFailed, PubSubEventPublisher
from shared.gcp.auth import AccessTokens, AccessTokenUnavailable, EmulatorTokens
from shared.gcp.firestore_rest import FirestoreDocuments, FirestoreUnavailable
from shared.gcp.http import HttpClient
from shared.models.channel import Channel, ChannelRecordInvalid
from shared.secrets import SecretUnavailable, resolve_secret
from shared.settings import Settings
from shared.store.channels import CHANNELS_COLLECTION, ChannelDirectory

logger = logging.getLogger("piloto.webhook")

WEBHOOK_PREFIX = "/webhooks/"
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_UNAVAILABLE = (
    PublishFailed,
    SecretUnavailable,
    ChannelRecordInvalid,
    FirestoreUnavailable,
    AccessTokenUnavailable,
)


@dataclass(frozen=True)
class WebhookResponse:
    """What the webhook function answers."""

    status: int
    body: str
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def _json_response(http_status: int, **payload: object) -> WebhookResponse:
    return WebhookResponse(status=http_status, body=json.dumps(payload, ensure_ascii=False))


class WebhookHandler:
    """Turn one provider request into published events, or reject it without side effects."""

    def __init__(
        self,
        *,
        project_id: str,
        find_channel: Callable[[str], Channel | None],
        sink: EventSink,
        max_body_bytes: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._project_id = project_id
        self._find_channel = find_channel
        self._sink = sink
        self._max_body_bytes = max_body_bytes
        self._now = now

    def handle(self, request: WebhookRequest, path: str) -> WebhookResponse:
        """Answer one webhook request; never raises."""
        started = time.perf_counter()
        provider, channel_id = _route(path)
        context = {"provider": provider, "channel_id": channel_id, "method": request.method}
        try:
            response = self._handle(request, path, provider, channel_id)
        except WebhookRejected as rejection:
            logger.warning(
                "webhook rejected: %s",
                rejection.reason,
                extra={**context, "status": rejection.status, "reason": rejection.reason},
            )
            return _json_response(rejection.status, error=rejection.reason)
        except _UNAVAILABLE as error:
            logger.error(
                "webhook could not be accepted: %s",
                error,
                extra={**context, "status": 503, "reason": type(error).__name__},
            )
            return _json_response(503, error="temporarily unable to accept events; retry later")
        except Exception:
            # A bug must not become a 500 loop at the provider: record it and ask for a retry.
            logger.exception("webhook failed unexpectedly", extra={**context, "status": 503})
            return _json_response(503, error="temporarily unable to accept events; retry later")
        logger.info(
            "webhook accepted",
            extra={
                **context,
                "status": response.status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return response

    def _handle(
        self, request: WebhookRequest, path: str, provider: str, channel_id: str
    ) -> WebhookResponse:
        adapter = adapter_for(provider)
        if adapter is None or not channel_id:
            raise _NotFound(
                f"no webhook at {path[:200]}; expected /webhooks/{{provider}}/{{channel_id}}"
            )
        if request.method == "GET" and provider == "meta":
            from shared.channels import meta

            channel = self._channel(provider, channel_id)
            token = resolve_secret(channel.secrets.get("verify_token", ""), self._project_id)
            challenge = meta.answer_challenge(request.query, token)
            return WebhookResponse(status=200, body=challenge, content_type="text/plain")
        if request.method != "POST":
            raise _MethodNotAllowed(f"{request.method} is not accepted; providers POST events")
        if request.oversized or len(request.body) > self._max_body_bytes:
            raise _TooLarge(f"body larger than {self._max_body_bytes} bytes")
        channel = self._channel(provider, channel_id)
        secrets = {
            role: resolve_secret(channel.secrets.get(role, ""), self._project_id)
            for role in adapter.SECRET_ROLES
        }
        adapter.verify(request, channel, secrets)
        if not request.body:
            raise PayloadRejected("empty body")
        events = adapter.parse(request, channel, self._now())
        if not events:
            return _json_response(200, status="accepted", events=0)
        self._sink.publish(events)
        return _json_response(200, status="accepted", events=len(events))

    def _channel(self, provider: str, channel_id: str) -> Channel:
        channel = self._find_channel(channel_id)
        if channel is None or not channel.enabled:
            raise _NotFound(f"unknown channel {channel_id}")
        if channel.provider != provider:
            raise _NotFound(f"channel {channel_id} is not a {provider} channel")
        for role in adapter_roles(provider):
            if role not in channel.secrets:
                raise SecretUnavailable(f"channel {channel_id} has no {role} secret reference")
        return channel


def build_webhook_handler(settings: Settings) -> WebhookHandler:
    """Wire the handler to Firestore and Pub/Sub (their emulators when configured)."""
    http = HttpClient(timeout_seconds=settings.publish_timeout_seconds)
    tokens = AccessTokens(http)  # fetches nothing until a real Google API is called
    firestore_tokens = EmulatorTokens() if settings.firestore_emulator_host else tokens
    pubsub_tokens = EmulatorTokens() if settings.pubsub_emulator_host else tokens
    documents = FirestoreDocuments(
        http,
        firestore_tokens,
        project_id=settings.project_id,
        database=settings.firestore_database,
        base_url=settings.firestore_base_url,
    )

    def load_channel(channel_id: str) -> Channel | None:
        document = documents.get(f"{CHANNELS_COLLECTION}/{channel_id}")
        return None if document is None else Channel.from_document(channel_id, document)

    directory = ChannelDirectory(
        load_channel,
        ttl_seconds=settings.channel_cache_seconds,
        missing_ttl_seconds=settings.unknown_channel_cache_seconds,
    )
    publisher = PubSubEventPublisher(
        http,
        pubsub_tokens,
        project_id=settings.project_id,
        topic=settings.events_topic,
        max_calls_in_flight=settings.publish_calls_in_flight,
        base_url=settings.pubsub_base_url,
    )
    return WebhookHandler(
        project_id=settings.project_id,
        find_channel=directory.get,
        sink=publisher,
        max_body_bytes=settings.max_webhook_body_bytes,
    )


def adapter_roles(provider: str) -> tuple[str, ...]:
    """Return the secret roles the provider's adapter needs to verify requests."""
    adapter = adapter_for(provider)
    return adapter.SECRET_ROLES if adapter is not None else ()


def _route(path: str) -> tuple[str, str]:
    if not path.startswith(WEBHOOK_PREFIX):
        return "", ""
    parts = path.removeprefix(WEBHOOK_PREFIX).strip("/").split("/")
    if len(parts) != 2 or not all(_SEGMENT.match(part) for part in parts):
        return "", ""
    return parts[0], parts[1]


class _NotFound(WebhookRejected):
    status = 404


class _MethodNotAllowed(WebhookRejected):
    status = 405


class _TooLarge(WebhookRejected):
    status = 413
