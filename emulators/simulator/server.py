"""``ProviderSimulator``: one local HTTP server standing in for Meta, Twilio, Evolution and Z-API.

It answers Piloto's send adapters where they post (``{url}/meta``, ``/twilio``, ``/evolution``,
``/zapi`` as the channels' ``api_base_url``), keeps what it accepted in an outbox, posts
signed status webhooks (sent, delivered, read) to Piloto's webhook function, plays a lead
(``POST /leads/...``), learns channels while it runs (``/channels``, as the console connects
one), takes Conversions API events for the datasets it knows (``/datasets``, ``/conversions``),
stands in for Stripe under ``/stripe`` (``emulators/simulator/stripe.py``) and misbehaves on
request (``/faults``). The HTTP API is described in
``emulators/README.md``.
"""

from __future__ import annotations

import logging
import secrets as random_tokens
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from emulators.simulator import conversions, evolution, google, media, meta, twilio, zapi
from emulators.simulator.channels import (
    ChannelConflict,
    ChannelRejected,
    SimulatedChannel,
    channel_from_registration,
    channel_json,
    clash,
    index_channels,
    same_settings,
)
from emulators.simulator.faults import SEND_ERROR_FAULTS, Fault, FaultBoard, FaultRejected
from emulators.simulator.mail import DEFAULT_SENDGRID_KEY, MailSimulator
from emulators.simulator.outbox import Outbox, OutboxMessage
from emulators.simulator.rdstation import RdStationSimulator
from emulators.simulator.routing import (
    BadRequest,
    Request,
    Response,
    RoutedHTTPServer,
    Router,
    json_response,
)
from emulators.simulator.sends import SendAccepted, SendApi, recipient
from emulators.simulator.stripe import StripeSimulator
from emulators.simulator.stripe_objects import DEFAULT_SECRET_KEY as DEFAULT_STRIPE_SECRET_KEY
from emulators.simulator.webhooks import Webhook, WebhookPost, WebhookPoster
from shared.models.channel import Channel
from shared.models.events import Provider
from shared.simulator.payloads import (
    DEFAULT_MIME_TYPES,
    STATUS_ORDER,
    AdClick,
    BusinessAccount,
    ChoiceReply,
    InboundKind,
    InboundMessage,
    inbound_request,
    new_message_id,
    status_request,
)

logger = logging.getLogger("piloto.simulator")

SEND_APIS: Mapping[Provider, SendApi] = {
    "meta": meta,
    "twilio": twilio,
    "evolution": evolution,
    "zapi": zapi,
}
DEFAULT_STATUS_DELAYS = (0.3, 1.0, 2.0)
ECHOING_PROVIDERS = ("evolution", "zapi")
"""The gateways drive a phone session: what Piloto sends comes back as a "fromMe" message."""
ECHO_DELAY_SECONDS = 0.05
MAX_SAMPLE_BYTES = 64 * 1024 * 1024
INBOUND_KINDS: tuple[InboundKind, ...] = ("text", "audio", "image", "video", "document")


@dataclass(frozen=True)
class LeadMessagePosted:
    """What ``send_lead_message`` posted: the provider's message id and Piloto's answers."""

    provider_message_id: str
    posts: tuple[WebhookPost, ...]

    @property
    def webhook_status(self) -> int | None:
        """Return the HTTP status Piloto gave the first post (None: unreachable)."""
        return self.posts[0].status_code if self.posts else None


_StoredMedia = media.StoredMedia


class ProviderSimulator:
    """The four providers' send APIs, outbox, status webhooks, lead messages and faults."""

    def __init__(
        self,
        channels: Iterable[SimulatedChannel],
        webhook_base_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        status_delays: Sequence[float] = DEFAULT_STATUS_DELAYS,
        webhook_timeout_seconds: float = 10.0,
        echo_sends: bool = True,
        stripe_secret_key: str = DEFAULT_STRIPE_SECRET_KEY,
        stripe_webhook_url: str | None = None,
        stripe_webhook_secret: str | None = None,
        plans_file: str | None = None,
        smtp_port: int | None = None,
        sendgrid_key: str = DEFAULT_SENDGRID_KEY,
    ) -> None:
        if len(status_delays) != len(STATUS_ORDER) or any(delay < 0 for delay in status_delays):
            raise ValueError(
                "status_delays needs three non-negative seconds: sent, delivered, read"
            )
        self.channels: Mapping[str, SimulatedChannel] = index_channels(channels)
        """Channels by id. Replaced, never changed in place, so a reader's snapshot stays whole."""
        self._channels_lock = threading.Lock()
        self.webhook_base_url = webhook_base_url.rstrip("/") if webhook_base_url else None
        self.host = host
        self.requested_port = port
        self.status_delays = tuple(float(delay) for delay in status_delays)
        self.echo_sends = echo_sends
        self.faults = FaultBoard()
        self._outbox = Outbox()
        self._webhooks = WebhookPoster(webhook_timeout_seconds)
        self._media: dict[str, _StoredMedia] = {}
        self._media_by_message: dict[str, str] = {}
        """Evolution API finds a message's media by the message id."""
        self._media_lock = threading.Lock()
        self.conversions_api = conversions.ConversionsApi()
        """Meta's Conversions API: datasets and the events they received."""
        self.stripe = StripeSimulator(
            lambda: self.url,
            secret_key=stripe_secret_key,
            webhook_url=stripe_webhook_url,
            webhook_secret=stripe_webhook_secret,
            plans_file=plans_file,
            webhook_timeout_seconds=webhook_timeout_seconds,
        )
        """Stripe under ``/stripe``: its API, hosted pages and signed event deliveries."""
        self.google = google.GoogleSimulator()
        """Google under ``/google``: OAuth consent and tokens, Calendar API v3."""
        self.rdstation = RdStationSimulator()
        """RD Station CRM's API v1 under ``/rdstation/api/v1`` (``simulator/rdstation.py``)."""
        self.mail = MailSimulator(smtp_port=smtp_port, host=host, sendgrid_key=sendgrid_key)
        """E-mail: an SMTP sink (with ``smtp_port``; 0 = a free one) and ``/sendgrid``."""
        self._server: RoutedHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._router = self._routes()

    # Life cycle

    def start(self) -> Self:
        """Bind the port and serve from a background thread."""
        if self._server is not None:
            return self
        self._server = RoutedHTTPServer((self.host, self.requested_port), self._router)
        self._webhooks.start()
        self.stripe.start()
        self.mail.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="provider-simulator",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "provider simulator listening",
            extra={"url": self.url, "channels": sorted(self.channels)},
        )
        return self

    def stop(self) -> None:
        """Stop serving and drop webhooks not yet posted."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._webhooks.stop()
        self.stripe.stop()
        self.mail.stop()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Return the bound port (the server must be started)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return int(self._server.server_address[1])

    @property
    def smtp_port(self) -> int:
        """Return the SMTP sink's port (the simulator needs ``smtp_port`` and to be started)."""
        return self.mail.smtp_port

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8700``."""
        return f"http://{self.host}:{self.port}"

    def api_base_url(self, provider: Provider) -> str:
        """Return the ``config.api_base_url`` that points a channel's sending here."""
        return f"{self.url}/{provider}"

    def piloto_channel(self, channel_id: str) -> Channel:
        """Return the channel record with ``api_base_url`` pointing at this simulator."""
        channel = self._channel(channel_id).channel
        config = {**channel.config, "api_base_url": self.api_base_url(channel.provider)}
        return replace(channel, config=config)

    def webhook_url(self, channel: SimulatedChannel) -> str | None:
        """Return Piloto's webhook URL for ``channel`` (None without a webhook base URL)."""
        if self.webhook_base_url is None:
            return None
        return f"{self.webhook_base_url}/webhooks/{channel.provider}/{channel.channel_id}"

    # Python API for tests and make dev

    def outbox(
        self, *, channel_id: str | None = None, to: str | None = None, since: int = 0
    ) -> list[OutboxMessage]:
        """Return the accepted messages, oldest first."""
        return self._outbox.messages(channel_id=channel_id, to=to, since=since)

    def clear_outbox(self) -> None:
        """Forget the accepted messages."""
        self._outbox.clear()

    def wait_for(
        self, predicate: Callable[[OutboxMessage], bool], timeout: float = 5.0
    ) -> OutboxMessage:
        """Return the first accepted message matching ``predicate``, waiting up to ``timeout``."""
        return self._outbox.wait_for(predicate, timeout)

    def webhook_posts(self, since: int = 0) -> list[WebhookPost]:
        """Return the webhooks posted to Piloto, oldest first."""
        return self._webhooks.history(since)

    def wait_for_webhooks(
        self, predicate: Callable[[WebhookPost], bool], count: int = 1, timeout: float = 5.0
    ) -> list[WebhookPost]:
        """Return the first ``count`` webhook posts matching ``predicate``, waiting for them."""
        return self._webhooks.wait_for(predicate, count, timeout)

    def add_dataset(self, dataset_id: str, access_token: str) -> bool:
        """Accept Conversions API events for a Meta dataset with its token; return if new."""
        return self.conversions_api.add_dataset(dataset_id, access_token)

    def received_conversions(
        self, *, dataset_id: str | None = None, since: int = 0
    ) -> list[conversions.ReceivedConversion]:
        """Return the Conversions API events accepted, oldest first."""
        return self.conversions_api.received(dataset_id=dataset_id, since=since)

    def wait_for_conversion(
        self, predicate: Callable[[conversions.ReceivedConversion], bool], timeout: float = 5.0
    ) -> conversions.ReceivedConversion:
        """Return the first accepted Conversions API event matching ``predicate``, waiting."""
        return self.conversions_api.wait_for(predicate, timeout)

    def add_channel(
        self,
        channel_id: str,
        provider: Provider,
        *,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        business_phone: str | None = None,
    ) -> SimulatedChannel:
        """Start standing in for one more channel, as for a seeded one; return it.

        ``config`` and ``secrets`` take the keys and roles a seed's channel has, with the secret
        values themselves. Registering the same settings again is a no-op. Raises
        ``ChannelRejected`` for bad input and ``ChannelConflict`` when the id is taken with other
        settings or another channel already has the number, instance or sender.
        """
        document: dict[str, Any] = {
            "channel_id": channel_id,
            "provider": provider,
            "config": dict(config),
            "secrets": dict(secrets),
        }
        if business_phone is not None:
            document["business_phone"] = business_phone
        registered, _ = self._register(channel_from_registration(document))
        return registered

    def remove_channel(self, channel_id: str) -> bool:
        """Stop standing in for a channel; return whether the simulator had it."""
        with self._channels_lock:
            if channel_id not in self.channels:
                return False
            self.channels = {
                key: value for key, value in self.channels.items() if key != channel_id
            }
        logger.info("channel removed", extra={"channel_id": channel_id})
        return True

    def _register(self, channel: SimulatedChannel) -> tuple[SimulatedChannel, bool]:
        """Add ``channel``; return the registered one and whether it is new."""
        with self._channels_lock:
            existing = self.channels.get(channel.channel_id)
            if existing is not None:
                if same_settings(existing, channel):
                    return existing, False
                raise ChannelConflict(
                    f"channel {channel.channel_id} is already registered with other settings"
                )
            problem = clash(channel, self.channels.values())
            if problem is not None:
                raise ChannelConflict(problem)
            self.channels = {**self.channels, channel.channel_id: channel}
        logger.info(
            "channel registered",
            extra={"channel_id": channel.channel_id, "provider": channel.provider},
        )
        return channel, True

    def add_fault(
        self,
        kind: str,
        *,
        provider: Provider | None = None,
        channel_id: str | None = None,
        count: int | None = None,
        delay_seconds: float | None = None,
    ) -> Fault:
        """Switch a fault on (see ``emulators/simulator/faults.py``)."""
        return self.faults.add(
            kind, provider=provider, channel_id=channel_id, count=count, delay_seconds=delay_seconds
        )

    def send_lead_message(
        self,
        channel_id: str,
        phone: str,
        text: str | None = None,
        *,
        name: str | None = None,
        kind: InboundKind = "text",
        from_business: bool = False,
        media_url: str | None = None,
        mime_type: str | None = None,
        message_id: str | None = None,
        filename: str | None = None,
        size_bytes: int | None = None,
        document_text: str | None = None,
        referral: AdClick | None = None,
        reply: ChoiceReply | None = None,
    ) -> LeadMessagePosted:
        """Post a lead's message (or the business phone's) to Piloto's webhook, signed.

        Media without ``media_url`` is a sample file the simulator serves behind the provider's
        download API and auth (``emulators/simulator/media.py``): ``document_text`` is what a
        PDF, DOCX or text document holds, ``size_bytes`` pads the sample to that size.
        ``referral`` is the click-to-WhatsApp ad the lead came from, in the provider's format.
        """
        channel = self._channel(channel_id)
        provider = channel.provider
        url = self.webhook_url(channel)
        if url is None:
            raise RuntimeError("the simulator has no webhook_base_url to post to")
        lead_phone = recipient(phone)
        if lead_phone is None:
            raise ValueError(f"{phone!r} is not a phone number")
        message_id = message_id or new_message_id(provider, media=kind != "text")
        media_id = None
        if kind == "image" and media_url is None and mime_type is None:
            mime_type = media.SAMPLE_IMAGE_TYPE  # the sample is a PNG
        if kind != "text" and media_url is None:
            media_id, media_url, size_bytes = self._store_lead_media(
                channel,
                kind,
                message_id,
                mime_type or DEFAULT_MIME_TYPES[kind],
                filename=filename,
                text=document_text,
                size_bytes=size_bytes,
            )
        message = InboundMessage(
            lead_phone=lead_phone,
            message_id=message_id,
            at=datetime.now(UTC),
            name=name,
            kind=kind,
            text=text,
            media_url=media_url,
            media_id=media_id,
            mime_type=mime_type,
            from_business=from_business,
            filename=filename,
            size_bytes=size_bytes,
            referral=referral,
            reply=reply,
        )
        request = inbound_request(
            provider,
            message,
            account=BusinessAccount.of(channel.channel),
            url=url,
            secrets=channel.secrets,
        )
        if request is None:
            raise ValueError(f"{provider} does not report messages the business's phone sends")
        webhook = Webhook(provider, channel.channel_id, "message", message_id, request)
        copies = 2 if self.faults.take(("duplicate_webhooks",), provider, channel_id) else 1
        posts = tuple(self._webhooks.post(webhook) for _ in range(copies))
        return LeadMessagePosted(provider_message_id=message_id, posts=posts)

    def tap_choice(
        self,
        channel_id: str,
        phone: str,
        *,
        choice_id: str | None = None,
        index: int | None = None,
        provider_message_id: str | None = None,
        name: str | None = None,
    ) -> LeadMessagePosted:
        """Post the lead's tap on a row or button of a list or buttons message sent to them.

        The message is ``provider_message_id`` or the latest one; the row is ``choice_id`` or
        the ``index``-th (from 1). The webhook is the provider's own list/button reply.
        """
        lead_phone = recipient(phone)
        if lead_phone is None:
            raise ValueError(f"{phone!r} is not a phone number")
        sent = [
            message
            for message in self.outbox(channel_id=channel_id, to=lead_phone)
            if message.kind in ("list", "buttons")
            and provider_message_id in (None, message.provider_message_id)
        ]
        if not sent:
            raise ValueError("no list or buttons message was sent to this lead to tap")
        tapped = sent[-1]
        rows = tapped.content.buttons
        if choice_id is not None:
            row = next((item for item in rows if item["id"] == choice_id), None)
        elif index is not None and 1 <= index <= len(rows):
            row = rows[index - 1]
        else:
            row = None
        if row is None:
            raise ValueError(f"the message has no such choice (it has {len(rows)})")
        reply = ChoiceReply(
            id=row["id"],
            title=row["title"],
            description=row.get("description"),
            kind="list" if tapped.kind == "list" else "button",
            context_id=tapped.provider_message_id,
        )
        return self.send_lead_message(channel_id, lead_phone, None, name=name, reply=reply)

    # Routes

    def _routes(self) -> Router:
        router = Router()
        router.add("GET", r"/health", self._health)
        router.add("GET", r"/outbox", self._list_outbox)
        router.add("DELETE", r"/outbox", self._clear_outbox)
        router.add("GET", r"/faults", self._list_faults)
        router.add("POST", r"/faults", self._add_fault)
        router.add("DELETE", r"/faults", self._clear_faults)
        router.add("GET", r"/webhooks", self._list_webhooks)
        router.add("GET", r"/channels", self._list_channels)
        router.add("POST", r"/channels", self._add_channel)
        router.add("GET", r"/channels/(?P<channel_id>[^/]+)", self._get_channel)
        router.add("DELETE", r"/channels/(?P<channel_id>[^/]+)", self._remove_channel)
        router.add("POST", r"/leads/(?P<provider>[^/]+)/(?P<channel_id>[^/]+)/messages", self._lead)
        router.add("POST", r"/leads/(?P<provider>[^/]+)/(?P<channel_id>[^/]+)/taps", self._tap)
        router.add("GET", media.PUBLIC_ROUTE, self._media_content)
        router.add("GET", media.META_DESCRIBE_ROUTE, self._meta_media)
        router.add("GET", media.META_DOWNLOAD_ROUTE, self._meta_media_download)
        router.add("GET", media.TWILIO_MEDIA_ROUTE, self._twilio_media)
        router.add("POST", media.EVOLUTION_BASE64_ROUTE, self._evolution_media)
        router.add("GET", media.ZAPI_STORAGE_ROUTE, self._zapi_media)
        router.add("POST", meta.MEDIA_UPLOAD_ROUTE, self._meta_upload)
        capi = self.conversions_api
        router.add("POST", conversions.EVENTS_ROUTE, capi.events)
        router.add("GET", conversions.DATASETS_ROUTE, capi.list_datasets)
        router.add("POST", conversions.DATASETS_ROUTE, capi.register_dataset)
        router.add("DELETE", conversions.DATASET_ROUTE, capi.delete_dataset)
        router.add("GET", conversions.RECEIVED_ROUTE, capi.list_received)
        router.add("DELETE", conversions.RECEIVED_ROUTE, capi.clear_received)
        for api in SEND_APIS.values():
            router.add("POST", api.SEND_ROUTE, self._send_handler(api))
        self.stripe.add_routes(router)
        self.google.add_routes(router)
        self.rdstation.add_routes(router)
        self.mail.add_routes(router)
        return router

    def _health(self, request: Request, params: Mapping[str, str]) -> Response:
        channels = [
            {"channel_id": c.channel_id, "provider": c.provider} for c in self.channels.values()
        ]
        return json_response(
            200,
            {
                "status": "ok",
                "channels": channels,
                "webhook_base_url": self.webhook_base_url,
                "outbox": len(self._outbox.messages()),
                "faults": len(self.faults.active()),
                "webhooks_pending": self._webhooks.pending(),
            },
        )

    def _list_outbox(self, request: Request, params: Mapping[str, str]) -> Response:
        to = request.query.get("to")
        if to is not None:
            to = recipient(to) or to
        messages = self.outbox(
            channel_id=request.query.get("channel_id"), to=to, since=_index(request, "since")
        )
        return json_response(200, [message.to_json() for message in messages])

    def _clear_outbox(self, request: Request, params: Mapping[str, str]) -> Response:
        self.clear_outbox()
        return Response(204)

    def _list_faults(self, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, [fault.to_json() for fault in self.faults.active()])

    def _add_fault(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            fault = self.faults.add_from_json(request.json())
        except FaultRejected as error:
            return json_response(400, {"error": str(error)})
        logger.info("fault switched on", extra={"fault": fault.to_json()})
        return json_response(201, fault.to_json())

    def _clear_faults(self, request: Request, params: Mapping[str, str]) -> Response:
        self.faults.clear()
        return Response(204)

    def _list_webhooks(self, request: Request, params: Mapping[str, str]) -> Response:
        posts = self.webhook_posts(_index(request, "since"))
        return json_response(200, [post.to_json() for post in posts])

    def _list_channels(self, request: Request, params: Mapping[str, str]) -> Response:
        channels = sorted(self.channels.values(), key=lambda channel: channel.channel_id)
        return json_response(200, [self._channel_json(channel) for channel in channels])

    def _get_channel(self, request: Request, params: Mapping[str, str]) -> Response:
        channel = self.channels.get(params["channel_id"])
        if channel is None:
            return json_response(404, {"error": f"no channel {params['channel_id']}"})
        return json_response(200, self._channel_json(channel))

    def _add_channel(self, request: Request, params: Mapping[str, str]) -> Response:
        try:
            channel, created = self._register(channel_from_registration(request.json()))
        except ChannelRejected as error:
            return json_response(400, {"error": str(error)})
        except ChannelConflict as error:
            return json_response(409, {"error": str(error)})
        return json_response(201 if created else 200, self._channel_json(channel))

    def _remove_channel(self, request: Request, params: Mapping[str, str]) -> Response:
        if not self.remove_channel(params["channel_id"]):
            return json_response(404, {"error": f"no channel {params['channel_id']}"})
        return Response(204)

    def _channel_json(self, channel: SimulatedChannel) -> dict[str, Any]:
        """Return the channel with where Piloto sends (api_base_url) and where it is posted."""
        return {
            **channel_json(channel),
            "api_base_url": self.api_base_url(channel.provider),
            "webhook_url": self.webhook_url(channel),
        }

    def _lead(self, request: Request, params: Mapping[str, str]) -> Response:
        channel = self.channels.get(params["channel_id"])
        if channel is None or channel.provider != params["provider"]:
            return json_response(
                404, {"error": f"no {params['provider']} channel {params['channel_id']}"}
            )
        if self.webhook_base_url is None:
            return json_response(409, {"error": "the simulator has no webhook_base_url"})
        document = request.json_object()
        unknown = set(document) - {
            "from",
            "name",
            "text",
            "type",
            "from_business",
            "media_url",
            "mime_type",
            "message_id",
            "filename",
            "size_bytes",
            "document_text",
            "referral",
        }
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        kind = document.get("type", "text")
        if kind not in INBOUND_KINDS:
            raise BadRequest(f"type must be one of {', '.join(INBOUND_KINDS)}")
        from_business = document.get("from_business", False)
        if not isinstance(from_business, bool):
            raise BadRequest("from_business must be a boolean")
        if kind == "text" and not isinstance(document.get("text"), str):
            raise BadRequest("a text message needs text")
        size_bytes = document.get("size_bytes")
        if size_bytes is not None and (
            isinstance(size_bytes, bool)
            or not isinstance(size_bytes, int)
            or not 0 < size_bytes <= MAX_SAMPLE_BYTES
        ):
            raise BadRequest(f"size_bytes must be a whole number from 1 to {MAX_SAMPLE_BYTES}")
        try:
            referral = (
                AdClick.from_json(document["referral"])
                if document.get("referral") is not None
                else None
            )
            posted = self.send_lead_message(
                channel.channel_id,
                str(document.get("from") or ""),
                _optional_text(document, "text"),
                name=_optional_text(document, "name"),
                kind=next(name for name in INBOUND_KINDS if name == kind),
                from_business=from_business,
                media_url=_optional_text(document, "media_url"),
                mime_type=_optional_text(document, "mime_type"),
                message_id=_optional_text(document, "message_id"),
                filename=_optional_text(document, "filename"),
                size_bytes=size_bytes,
                document_text=_optional_text(document, "document_text"),
                referral=referral,
            )
        except ValueError as error:
            raise BadRequest(str(error)) from error
        first = posted.posts[0]
        return json_response(
            200,
            {
                "provider_message_id": posted.provider_message_id,
                "webhook_url": first.url,
                "webhook_status": first.status_code,
                "webhook_statuses": [post.status_code for post in posted.posts],
                "error": first.error,
            },
        )

    def _tap(self, request: Request, params: Mapping[str, str]) -> Response:
        channel = self.channels.get(params["channel_id"])
        if channel is None or channel.provider != params["provider"]:
            return json_response(
                404, {"error": f"no {params['provider']} channel {params['channel_id']}"}
            )
        if self.webhook_base_url is None:
            return json_response(409, {"error": "the simulator has no webhook_base_url"})
        document = request.json_object()
        unknown = set(document) - {"from", "name", "choice_id", "index", "message_id"}
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
        index = document.get("index")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise BadRequest("index must be a whole number")
        try:
            posted = self.tap_choice(
                channel.channel_id,
                str(document.get("from") or ""),
                choice_id=_optional_text(document, "choice_id"),
                index=index,
                provider_message_id=_optional_text(document, "message_id"),
                name=_optional_text(document, "name"),
            )
        except ValueError as error:
            raise BadRequest(str(error)) from error
        first = posted.posts[0]
        return json_response(
            200,
            {
                "provider_message_id": posted.provider_message_id,
                "webhook_status": first.status_code,
                "error": first.error,
            },
        )

    # Media a lead sent, behind each provider's download API (emulators/simulator/media.py)

    def _media_content(self, request: Request, params: Mapping[str, str]) -> Response:
        return media.public_file(request, params, self._stored_media)

    def _meta_media(self, request: Request, params: Mapping[str, str]) -> Response:
        channels = self._provider_channels("meta")
        return media.meta_describe(request, params, channels, self._stored_media, self.url)

    def _meta_media_download(self, request: Request, params: Mapping[str, str]) -> Response:
        channels = self._provider_channels("meta")
        return media.meta_download(request, params, channels, self._stored_media)

    def _twilio_media(self, request: Request, params: Mapping[str, str]) -> Response:
        channels = self._provider_channels("twilio")
        return media.twilio_media(request, params, channels, self._stored_media, self.url)

    def _evolution_media(self, request: Request, params: Mapping[str, str]) -> Response:
        channels = self._provider_channels("evolution")
        return media.evolution_base64(request, params, channels, self._message_media)

    def _zapi_media(self, request: Request, params: Mapping[str, str]) -> Response:
        channels = self._provider_channels("zapi")
        return media.zapi_storage(request, params, channels, self._stored_media)

    def _stored_media(self, media_id: str) -> _StoredMedia | None:
        with self._media_lock:
            return self._media.get(media_id)

    def _message_media(self, message_id: str) -> _StoredMedia | None:
        with self._media_lock:
            media_id = self._media_by_message.get(message_id)
            return self._media.get(media_id) if media_id is not None else None

    def _meta_upload(self, request: Request, params: Mapping[str, str]) -> Response:
        """Keep an uploaded file (a voice reply) for a later send by id, as Graph does."""
        upload = meta.accept_upload(request, params, self._provider_channels("meta"))
        if not isinstance(upload, meta.UploadAccepted):
            return upload
        media_id = str(10**15 + random_tokens.randbelow(9 * 10**15))
        with self._media_lock:
            self._media[media_id] = _StoredMedia(
                upload.mime_type, upload.content, channel_id=upload.channel.channel_id
            )
        return json_response(200, {"id": media_id})

    def _with_uploaded_media(self, accepted: SendAccepted) -> SendAccepted:
        """Add the size of media sent by an uploaded id to what the outbox records."""
        media = accepted.content.media or {}
        with self._media_lock:
            stored = self._media.get(str(media.get("id") or ""))
        if stored is None:
            return accepted
        described = {**media, "bytes": len(stored.body), "mime_type": stored.mime_type}
        if stored.body.startswith(b"OggS"):
            described["container"] = "ogg"
        return replace(accepted, content=replace(accepted.content, media=described))

    def _send_handler(self, api: SendApi) -> Callable[[Request, Mapping[str, str]], Response]:
        def handle(request: Request, params: Mapping[str, str]) -> Response:
            return self._send(api, request, params)

        return handle

    # Sending

    def _send(self, api: SendApi, request: Request, params: Mapping[str, str]) -> Response:
        provider = api.PROVIDER
        now = datetime.now(UTC)
        outcome = api.accept_send(request, params, self._provider_channels(provider), now)
        channel_id = outcome.channel.channel_id if isinstance(outcome, SendAccepted) else None
        slow = self.faults.take(("slow",), provider, channel_id)
        if slow is not None:
            time.sleep(slow.delay_seconds)
        if not isinstance(outcome, SendAccepted):
            return outcome
        fault = self.faults.take(SEND_ERROR_FAULTS, provider, channel_id)
        if fault is not None:
            logger.info("fault applied", extra={"fault": fault.to_json()})
            return api.fault_response(fault)
        outcome = self._with_uploaded_media(outcome)
        self._outbox.add(
            provider=provider,
            channel_id=outcome.channel.channel_id,
            to=outcome.to,
            content=outcome.content,
            provider_message_id=outcome.message_id,
            accepted_at=now,
            request=outcome.request,
        )
        logger.info(
            "provider accepted a message",
            extra={
                "provider": provider,
                "channel_id": outcome.channel.channel_id,
                "kind": outcome.content.kind,
                "provider_message_id": outcome.message_id,
            },
        )
        self._schedule_statuses(outcome, now)
        self._schedule_echo(outcome, now)
        return outcome.response

    def _schedule_echo(self, accepted: SendAccepted, accepted_at: datetime) -> None:
        """Report the sent message back as "fromMe", as the phone-session gateways do."""
        channel = accepted.channel
        url = self.webhook_url(channel)
        text = accepted.content.text if accepted.content.kind == "text" else None
        if not self.echo_sends or url is None or channel.provider not in ECHOING_PROVIDERS:
            return
        if not text:
            return  # (media echoes are left out: Piloto sends text)
        message = InboundMessage(
            lead_phone=accepted.to,
            message_id=accepted.message_id,
            at=accepted_at,
            name=None,
            kind="text",
            text=text,
            media_url=None,
            media_id=None,
            mime_type=None,
            from_business=True,
        )
        request = inbound_request(
            channel.provider,
            message,
            account=BusinessAccount.of(channel.channel),
            url=url,
            secrets=channel.secrets,
        )
        if request is not None:
            webhook = Webhook(
                channel.provider, channel.channel_id, "echo", accepted.message_id, request
            )
            self._schedule(webhook, ECHO_DELAY_SECONDS)

    def _schedule_statuses(self, accepted: SendAccepted, accepted_at: datetime) -> None:
        channel = accepted.channel
        url = accepted.status_callback or self.webhook_url(channel)
        if url is None:
            return
        provider = channel.provider
        reverse = self.faults.take(("out_of_order_statuses",), provider, channel.channel_id)
        offsets: list[float] = []
        elapsed = 0.0
        for delay in self.status_delays:
            elapsed += delay
            offsets.append(elapsed)
        posting_order = list(reversed(STATUS_ORDER)) if reverse else list(STATUS_ORDER)
        for position, status in enumerate(posting_order):
            # Event times follow what happened (sent < delivered < read) even when posts do not.
            happened_at = accepted_at + timedelta(seconds=offsets[STATUS_ORDER.index(status)])
            request = status_request(
                provider,
                message_id=accepted.message_id,
                lead_phone=accepted.to,
                status=status,
                at=happened_at,
                account=BusinessAccount.of(channel.channel),
                url=url,
                secrets=channel.secrets,
            )
            webhook = Webhook(
                provider, channel.channel_id, f"status:{status}", accepted.message_id, request
            )
            self._schedule(webhook, offsets[position])

    def _schedule(self, webhook: Webhook, delay: float) -> None:
        copies = (
            2
            if self.faults.take(("duplicate_webhooks",), webhook.provider, webhook.channel_id)
            else 1
        )
        for _ in range(copies):
            self._webhooks.schedule(webhook, delay)

    # Helpers

    def _channel(self, channel_id: str) -> SimulatedChannel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise KeyError(f"the simulator has no channel {channel_id}")
        return channel

    def _provider_channels(self, provider: Provider) -> list[SimulatedChannel]:
        return [c for c in self.channels.values() if c.provider == provider]

    def _store_lead_media(
        self,
        channel: SimulatedChannel,
        kind: InboundKind,
        message_id: str,
        mime_type: str,
        *,
        filename: str | None,
        text: str | None,
        size_bytes: int | None,
    ) -> tuple[str | None, str | None, int]:
        """Keep a sample file for a lead's media; return Meta's media id, the URL, the size.

        Meta sends a media id (no URL); Evolution API fetches by message id (the webhook carries
        WhatsApp's encrypted CDN URL); Twilio and Z-API send a URL on their own API.
        """
        body = media.sample_media(kind, mime_type, text=text, size_bytes=size_bytes)
        media_id = media.new_media_id()
        if channel.provider == "twilio":
            media_id = "ME" + random_tokens.token_hex(16)
        stored = _StoredMedia(
            mime_type, body, filename=filename, channel_id=channel.channel_id, kind=kind
        )
        with self._media_lock:
            self._media[media_id] = stored
            self._media_by_message[message_id] = media_id
        if channel.provider == "meta":
            return media_id, None, len(body)
        if channel.provider == "twilio":
            account_sid = BusinessAccount.of(channel.channel).account_sid
            url = (
                f"{self.url}/twilio/2010-04-01/Accounts/{account_sid}/Messages/{message_id}"
                f"/Media/{media_id}"
            )
            return None, url, len(body)
        if channel.provider == "zapi":
            return (
                None,
                f"{self.url}/zapi/storage/{media_id}.{media.extension(mime_type)}",
                len(body),
            )
        return None, None, len(body)


def _index(request: Request, name: str) -> int:
    raw = request.query.get(name, "0")
    if not raw.isdigit():
        raise BadRequest(f"{name} must be a whole number")
    return int(raw)


def _optional_text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value or None
