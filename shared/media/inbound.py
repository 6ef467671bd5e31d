"""A lead's media message, understood: find the channel, fetch with its auth, read it.

``understand_lead_media`` never raises for the media's sake: whatever goes wrong becomes a
``rejected`` or ``not_understood`` understanding with its reason, so the turn always hears of
the message (a voice note is never silently ignored). ``media_understander`` wires it to the
deployment: channel records (cached), secret references, an HTTP client, the limits in the
settings and Gemini on Vertex AI when ``PILOTO_LLM=vertex``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared.media.fetch import FetchPolicy, fetch_media
from shared.media.limits import MEDIA_KINDS, MediaKind, MediaLimits, MediaRejected
from shared.media.understand import MediaUnderstanding, understand_media
from shared.models.channel import Channel, ChannelRecordInvalid
from shared.models.events import LeadMessage, MessageContent
from shared.settings import Settings

if TYPE_CHECKING:
    import httpx
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger("piloto.media")

UnderstandLeadMedia = Callable[[LeadMessage], MediaUnderstanding]


def media_kind(content: MessageContent) -> MediaKind | None:
    """Return the kind of media a message carries (None: no media Piloto reads)."""
    kind = content.message_type.value
    return next((k for k in MEDIA_KINDS if k == kind), None) if content.media else None


def understand_lead_media(
    event: LeadMessage,
    *,
    channel: Channel | None,
    secrets: Callable[[Channel], Mapping[str, str]],
    http: httpx.Client,
    policy: FetchPolicy,
    model: BaseChatModel | None,
    text_chars: int = 3000,
) -> MediaUnderstanding:
    """Fetch and understand a lead's media; every failure is an understanding with a reason."""
    kind = media_kind(event.content)
    media = event.content.media
    if kind is None or media is None:
        return MediaUnderstanding.rejected("unsupported_type")
    if channel is None:
        return MediaUnderstanding.rejected("fetch_failed")
    log = {"tenant_id": event.tenant_id, "event_id": event.event_id, "kind": kind}
    try:
        fetched = fetch_media(http, channel, secrets(channel), kind, media, policy=policy)
    except MediaRejected as error:
        logger.info("media rejected", extra={**log, "reason": error.reason, "detail": error.detail})
        return MediaUnderstanding.rejected(error.reason)
    understanding = understand_media(fetched, kind, model=model, text_chars=text_chars)
    logger.info(
        "media understood" if understanding.status == "understood" else "media not understood",
        extra={**log, "reason": understanding.reason, "model": understanding.model},
    )
    return understanding


def media_understander(settings: Settings, firestore: Any) -> UnderstandLeadMedia:
    """Wire ``understand_lead_media`` to channel records, secrets, httpx and the chat model."""
    import httpx

    from shared.secrets import SecretUnavailable, resolve_secret
    from shared.store.cache import TTLCache
    from shared.store.channels import CHANNELS_COLLECTION

    def load_channel(channel_id: str) -> Channel | None:
        snapshot = firestore.collection(CHANNELS_COLLECTION).document(channel_id).get()
        if not snapshot.exists:
            return None
        try:
            return Channel.from_document(channel_id, snapshot.to_dict() or {})
        except ChannelRecordInvalid as error:
            logger.error("media of a channel whose record is invalid: %s", error)
            return None

    channels = TTLCache(
        load_channel,
        ttl_seconds=settings.channel_cache_seconds,
        missing_ttl_seconds=settings.unknown_channel_cache_seconds,
    )

    def secrets(channel: Channel) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for role, reference in channel.secrets.items():
            try:
                resolved[role] = resolve_secret(reference, settings.project_id)
            except SecretUnavailable as error:  # fetch_media names the missing role
                logger.error("channel secret unavailable: %s", error)
        return resolved

    http = httpx.Client(timeout=settings.media_fetch_timeout_seconds)
    policy = FetchPolicy(
        limits=MediaLimits.from_settings(settings),
        attempts=settings.media_fetch_attempts,
        timeout_seconds=settings.media_fetch_timeout_seconds,
    )
    model = _LazyModel(settings)

    def understand(event: LeadMessage) -> MediaUnderstanding:
        return understand_lead_media(
            event,
            channel=channels.get(event.channel_id),
            secrets=secrets,
            http=http,
            policy=policy,
            model=model.get(),
            text_chars=settings.media_text_chars,
        )

    return understand


class _LazyModel:
    """Gemini on Vertex AI, built on the first media (None offline: nothing is imported)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._model: BaseChatModel | None = None
        self._lock = threading.Lock()

    def get(self) -> BaseChatModel | None:
        if self._settings.llm != "vertex":
            return None
        with self._lock:
            if self._model is None:
                from shared.agent.llm import chat_model_from_settings

                self._model = chat_model_from_settings(self._settings)
            return self._model
