"""The send adapters against a real loopback HTTP server that answers like each provider."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from shared.channels import evolution, meta, twilio, zapi
from shared.channels.sending import (
    Button,
    OutboundButtons,
    OutboundMedia,
    OutboundTemplate,
    OutboundText,
    RetryPolicy,
    SendFailed,
)
from shared.models.channel import Channel
from shared.models.events import Provider

LEAD = "+5511988887777"
LEAD_DIGITS = "5511988887777"
BUSINESS = "+5511933334444"


@dataclass(frozen=True)
class Received:
    """One request as the fake provider saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class FakeProvider:
    """A loopback server: queued answers first, then ``answer`` (the provider's normal reply)."""

    answer: Callable[[Received], Answer]
    queued: list[Answer] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def respond(self, request: Received) -> Answer:
        self.received.append(request)
        if self.delay:
            time.sleep(self.delay)
        return self.queued.pop(0) if self.queued else self.answer(request)


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeProvider]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[Received], Answer], **options: Any) -> FakeProvider:
        provider = FakeProvider(answer, **options)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    path=self.path,
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                status, document, headers = provider.respond(request)
                payload = json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        provider.url = f"http://127.0.0.1:{server.server_address[1]}"
        return provider

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as http_client:
        yield http_client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps.append, jitter=lambda: 1.0)


def channel(provider: Provider, base_url: str, **config: Any) -> Channel:
    return Channel(
        channel_id="ch-1",
        tenant_id="t-1",
        provider=provider,
        business_phone=BUSINESS,
        config={"api_base_url": base_url, **config},
    )


# Meta Cloud API

META_SECRETS = {"access_token": "meta-token"}


def meta_answer(request: Received) -> Answer:
    if request.headers.get("authorization") != "Bearer meta-token":
        error = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
        return 401, {"error": error}, {}
    document = request.json()
    if request.path != "/v21.0/PNID-1/messages" or document.get("messaging_product") != "whatsapp":
        return 400, {"error": {"message": "(#100) Invalid parameter", "code": 100}}, {}
    wa_id = document["to"]
    return (
        200,
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": wa_id, "wa_id": wa_id}],
            "messages": [{"id": f"wamid.{len(wa_id)}"}],
        },
        {},
    )


def meta_error(code: int, status: int = 400) -> Answer:
    return status, {"error": {"message": f"error {code}", "code": code, "fbtrace_id": "A"}}, {}


def send_meta(
    client: httpx.Client, server: FakeProvider, message: Any, policy: RetryPolicy, **secrets: str
) -> Any:
    return meta.send(
        client,
        channel("meta", server.url, phone_number_id="PNID-1"),
        secrets or META_SECRETS,
        LEAD,
        message,
        policy=policy,
    )


def test_meta_sends_text_with_bearer_token(serve, client, policy) -> None:
    server = serve(meta_answer)

    result = send_meta(client, server, OutboundText("Olá!"), policy)

    assert (result.provider_message_id, result.attempts) == ("wamid.13", 1)
    assert server.received[0].json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": LEAD_DIGITS,
        "type": "text",
        "text": {"preview_url": False, "body": "Olá!"},
    }


def test_meta_sends_template_with_body_parameters(serve, client, policy) -> None:
    server = serve(meta_answer)

    send_meta(client, server, OutboundTemplate("follow_up", "pt_BR", ("Ana", "amanhã")), policy)

    assert server.received[0].json()["template"] == {
        "name": "follow_up",
        "language": {"code": "pt_BR"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "amanhã"}],
            }
        ],
    }


def test_meta_sends_media_by_link(serve, client, policy) -> None:
    server = serve(meta_answer)
    document = OutboundMedia(
        "https://cdn.example.com/p.pdf", "document", caption="Catálogo", filename="p.pdf"
    )
    audio = OutboundMedia("https://cdn.example.com/a.ogg", "audio", caption="ignored")

    send_meta(client, server, document, policy)
    send_meta(client, server, audio, policy)

    first, second = (request.json() for request in server.received)
    assert first["type"] == "document"
    assert first["document"] == {
        "link": "https://cdn.example.com/p.pdf",
        "caption": "Catálogo",
        "filename": "p.pdf",
    }
    assert second["type"] == "audio"
    assert second["audio"] == {"link": "https://cdn.example.com/a.ogg"}


def test_meta_sends_reply_buttons(serve, client, policy) -> None:
    server = serve(meta_answer)
    buttons = OutboundButtons("Quer agendar?", (Button("yes", "Sim"), Button("no", "Não")))

    send_meta(client, server, buttons, policy)

    assert server.received[0].json()["interactive"] == {
        "type": "button",
        "body": {"text": "Quer agendar?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Sim"}},
                {"type": "reply", "reply": {"id": "no", "title": "Não"}},
            ]
        },
    }


def test_meta_retries_429_once_then_succeeds(serve, client, policy, sleeps) -> None:
    server = serve(meta_answer, queued=[meta_error(130429, status=429)])

    result = send_meta(client, server, OutboundText("oi"), policy)

    assert len(server.received) == 2
    assert result.attempts == 2
    assert sleeps == [0.5]


def test_meta_retries_pair_rate_limit_even_on_400(serve, client, policy, sleeps) -> None:
    server = serve(meta_answer, queued=[meta_error(131056), meta_error(131056)])

    result = send_meta(client, server, OutboundText("oi"), policy)

    assert (result.attempts, len(server.received)) == (3, 3)
    assert sleeps == [0.5, 1.0]


def test_meta_gives_up_after_four_5xx(serve, client, policy, sleeps) -> None:
    server = serve(meta_answer, queued=[meta_error(2, status=503)] * 5)

    with pytest.raises(SendFailed) as failure:
        send_meta(client, server, OutboundText("oi"), policy)

    assert len(server.received) == 4
    assert (failure.value.permanent, failure.value.attempts, failure.value.status) == (
        False,
        4,
        503,
    )
    assert sleeps == [0.5, 1.0, 2.0]


def test_meta_outside_window_is_permanent(serve, client, policy, sleeps) -> None:
    server = serve(meta_answer, queued=[meta_error(131047)])

    with pytest.raises(SendFailed) as failure:
        send_meta(client, server, OutboundText("oi"), policy)

    assert (failure.value.code, failure.value.permanent, failure.value.attempts) == (
        "131047",
        True,
        1,
    )
    assert len(server.received) == 1
    assert sleeps == []


def test_meta_honours_retry_after(serve, client, policy, sleeps) -> None:
    server = serve(meta_answer, queued=[(429, {}, {"Retry-After": "3"})])

    send_meta(client, server, OutboundText("oi"), policy)

    assert sleeps == [3.0]


def test_meta_wrong_token_is_unauthorized(serve, client, policy) -> None:
    server = serve(meta_answer)

    with pytest.raises(SendFailed) as failure:
        send_meta(client, server, OutboundText("oi"), policy, access_token="stale")

    assert (failure.value.code, failure.value.permanent, failure.value.status) == (
        "unauthorized",
        True,
        401,
    )
    assert len(server.received) == 1


def test_missing_secret_fails_before_any_request(serve, client, policy) -> None:
    server = serve(meta_answer)

    with pytest.raises(SendFailed) as failure:
        send_meta(client, server, OutboundText("oi"), policy, app_secret="not-the-token")

    assert (failure.value.code, failure.value.permanent) == ("missing_secret", True)
    assert server.received == []


def test_invalid_recipient_fails_before_any_request(serve, client, policy) -> None:
    server = serve(meta_answer)

    with pytest.raises(SendFailed) as failure:
        meta.send(
            client,
            channel("meta", server.url, phone_number_id="PNID-1"),
            META_SECRETS,
            "81896604192873@lid",
            OutboundText("oi"),
            policy=policy,
        )

    assert failure.value.code == "invalid_phone"
    assert server.received == []


def test_timeouts_are_retried_then_reported(serve, policy, sleeps) -> None:
    server = serve(meta_answer, delay=0.5)

    with httpx.Client(timeout=0.1) as impatient, pytest.raises(SendFailed) as failure:
        send_meta(impatient, server, OutboundText("oi"), policy)

    assert (failure.value.code, failure.value.permanent, failure.value.attempts) == (
        "timeout",
        False,
        4,
    )
    assert len(server.received) == 4


def test_refused_connection_is_retried_then_reported(client, policy) -> None:
    with pytest.raises(SendFailed) as failure:
        refused = FakeProvider(meta_answer, url="http://127.0.0.1:9")
        send_meta(client, refused, OutboundText("oi"), policy)

    assert (failure.value.code, failure.value.attempts) == ("transport_error", 4)


def test_accepted_but_unreadable_is_not_retried(serve, client, policy) -> None:
    server = serve(meta_answer, queued=[(200, {"messages": []}, {})])

    with pytest.raises(SendFailed) as failure:
        send_meta(client, server, OutboundText("oi"), policy)

    assert (failure.value.code, failure.value.permanent) == ("unreadable_response", True)
    assert len(server.received) == 1


# Twilio Messages API

TWILIO_SECRETS = {"auth_token": "twilio-token"}
TWILIO_BASIC = "Basic " + base64.b64encode(b"AC123:twilio-token").decode()


def twilio_answer(request: Received) -> Answer:
    if request.headers.get("authorization") != TWILIO_BASIC:
        return 401, {"code": 20003, "message": "Authenticate", "status": 401}, {}
    form = request.form()
    if request.path != "/2010-04-01/Accounts/AC123/Messages.json" or not form["To"].startswith(
        "whatsapp:+"
    ):
        return 400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, {}
    return 201, {"sid": "SM0001", "status": "queued", "to": form["To"]}, {}


def send_twilio(
    client: httpx.Client, server: FakeProvider, message: Any, policy: RetryPolicy, **secrets: str
) -> Any:
    return twilio.send(
        client,
        channel("twilio", server.url, account_sid="AC123"),
        secrets or TWILIO_SECRETS,
        LEAD,
        message,
        policy=policy,
    )


def test_twilio_sends_text_form_with_basic_auth(serve, client, policy) -> None:
    server = serve(twilio_answer)

    result = send_twilio(client, server, OutboundText("Olá!"), policy)

    assert result.provider_message_id == "SM0001"
    assert server.received[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert server.received[0].form() == {
        "To": f"whatsapp:{LEAD}",
        "From": f"whatsapp:{BUSINESS}",
        "Body": "Olá!",
    }


def test_twilio_sends_content_template_and_media(serve, client, policy) -> None:
    server = serve(twilio_answer)

    send_twilio(client, server, OutboundTemplate("HX1234", parameters=("Ana", "10h")), policy)
    send_twilio(
        client,
        server,
        OutboundMedia("https://cdn.example.com/i.jpg", "image", caption="Foto"),
        policy,
    )

    template, media = (request.form() for request in server.received)
    assert template["ContentSid"] == "HX1234"
    assert json.loads(template["ContentVariables"]) == {"1": "Ana", "2": "10h"}
    assert "Body" not in template
    assert (media["MediaUrl"], media["Body"]) == ("https://cdn.example.com/i.jpg", "Foto")


def test_twilio_sends_from_messaging_service_when_configured(serve, client, policy) -> None:
    server = serve(twilio_answer)
    service_channel = channel(
        "twilio", server.url, account_sid="AC123", messaging_service_sid="MG9"
    )

    twilio.send(client, service_channel, TWILIO_SECRETS, LEAD, OutboundText("oi"), policy=policy)

    assert server.received[0].form()["MessagingServiceSid"] == "MG9"
    assert "From" not in server.received[0].form()


def test_twilio_outside_window_is_permanent(serve, client, policy, sleeps) -> None:
    server = serve(twilio_answer, queued=[(400, {"code": 63016, "message": "outside window"}, {})])

    with pytest.raises(SendFailed) as failure:
        send_twilio(client, server, OutboundText("oi"), policy)

    assert (failure.value.code, failure.value.permanent, failure.value.attempts) == (
        "63016",
        True,
        1,
    )
    assert (len(server.received), sleeps) == (1, [])


def test_twilio_retries_too_many_requests(serve, client, policy) -> None:
    server = serve(twilio_answer, queued=[(429, {"code": 20429, "message": "Too Many"}, {})])

    result = send_twilio(client, server, OutboundText("oi"), policy)

    assert (result.attempts, len(server.received)) == (2, 2)


def test_twilio_wrong_token_is_unauthorized(serve, client, policy) -> None:
    server = serve(twilio_answer)

    with pytest.raises(SendFailed) as failure:
        send_twilio(client, server, OutboundText("oi"), policy, auth_token="wrong")

    assert (failure.value.code, failure.value.permanent) == ("unauthorized", True)


def test_twilio_buttons_are_unsupported_without_a_request(serve, client, policy) -> None:
    server = serve(twilio_answer)

    with pytest.raises(SendFailed) as failure:
        send_twilio(client, server, OutboundButtons("?", (Button("a", "A"),)), policy)

    assert (failure.value.code, failure.value.permanent) == ("buttons_unsupported", True)
    assert server.received == []


# Evolution API

EVOLUTION_SECRETS = {"apikey": "evo-key"}


def evolution_answer(request: Received) -> Answer:
    if request.headers.get("apikey") != "evo-key":
        return (
            401,
            {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}},
            {},
        )
    if not request.path.endswith("/inst-1") or request.json().get("number") != LEAD_DIGITS:
        return 400, {"status": 400, "error": "Bad Request", "response": {"message": ["bad"]}}, {}
    key = {"remoteJid": f"{LEAD_DIGITS}@s.whatsapp.net", "fromMe": True, "id": "BAE5F00D"}
    return 201, {"key": key, "status": "PENDING"}, {}


def send_evolution(
    client: httpx.Client, server: FakeProvider, message: Any, policy: RetryPolicy, **secrets: str
) -> Any:
    return evolution.send(
        client,
        channel("evolution", server.url, instance="inst-1"),
        secrets or EVOLUTION_SECRETS,
        LEAD,
        message,
        policy=policy,
    )


def test_evolution_sends_each_kind_to_its_endpoint(serve, client, policy) -> None:
    server = serve(evolution_answer)
    messages = [
        OutboundText("Olá!"),
        OutboundMedia(
            "https://cdn.example.com/i.png", "image", mime_type="image/png", caption="Foto"
        ),
        OutboundMedia("https://cdn.example.com/a.ogg", "audio"),
        OutboundButtons("Quer agendar?", (Button("yes", "Sim"),)),
    ]

    results = [send_evolution(client, server, message, policy) for message in messages]

    assert {result.provider_message_id for result in results} == {"BAE5F00D"}
    assert [request.path for request in server.received] == [
        "/message/sendText/inst-1",
        "/message/sendMedia/inst-1",
        "/message/sendWhatsAppAudio/inst-1",
        "/message/sendButtons/inst-1",
    ]
    text, image, audio, buttons = (request.json() for request in server.received)
    assert text == {"number": LEAD_DIGITS, "text": "Olá!"}
    assert image == {
        "number": LEAD_DIGITS,
        "mediatype": "image",
        "media": "https://cdn.example.com/i.png",
        "mimetype": "image/png",
        "caption": "Foto",
    }
    assert audio == {"number": LEAD_DIGITS, "audio": "https://cdn.example.com/a.ogg"}
    assert buttons["buttons"] == [{"type": "reply", "displayText": "Sim", "id": "yes"}]
    assert buttons["title"] == "Quer agendar?"


def test_evolution_wrong_apikey_is_unauthorized(serve, client, policy) -> None:
    server = serve(evolution_answer)

    with pytest.raises(SendFailed) as failure:
        send_evolution(client, server, OutboundText("oi"), policy, apikey="wrong")

    assert (failure.value.code, failure.value.permanent, len(server.received)) == (
        "unauthorized",
        True,
        1,
    )


def test_evolution_bad_request_is_permanent(serve, client, policy) -> None:
    rejection = {"status": 400, "error": "Bad Request", "response": {"message": ["bad number"]}}
    server = serve(evolution_answer, queued=[(400, rejection, {})])

    with pytest.raises(SendFailed) as failure:
        send_evolution(client, server, OutboundText("oi"), policy)

    assert (failure.value.code, failure.value.permanent, failure.value.attempts) == (
        "http_400",
        True,
        1,
    )
    assert "bad number" in failure.value.reason


@pytest.mark.parametrize("send", [evolution.send, zapi.send])
def test_gateways_reject_templates_without_a_request(serve, client, policy, send) -> None:
    server = serve(evolution_answer)
    gateway = channel("evolution", server.url, instance="inst-1", instance_id="I1")
    secrets = {**EVOLUTION_SECRETS, "instance_token": "t", "client_token": "c"}

    with pytest.raises(SendFailed) as failure:
        send(client, gateway, secrets, LEAD, OutboundTemplate("follow_up"), policy=policy)

    assert (failure.value.code, failure.value.permanent) == ("template_unsupported", True)
    assert server.received == []


# Z-API

ZAPI_SECRETS = {"instance_token": "inst-token", "client_token": "client-token"}


def zapi_answer(request: Received) -> Answer:
    if request.headers.get("client-token") != "client-token":
        return 403, {"error": "Client-Token not allowed"}, {}
    if not request.path.startswith("/instances/I1/token/inst-token/"):
        return 400, {"error": "Instance not found"}, {}
    return 200, {"zaapId": "Z1", "messageId": "3EB0C0FFEE", "id": "3EB0C0FFEE"}, {}


def send_zapi(
    client: httpx.Client, server: FakeProvider, message: Any, policy: RetryPolicy, **secrets: str
) -> Any:
    return zapi.send(
        client,
        channel("zapi", server.url, instance_id="I1"),
        secrets or ZAPI_SECRETS,
        LEAD,
        message,
        policy=policy,
    )


def test_zapi_sends_each_kind_to_its_endpoint(serve, client, policy) -> None:
    server = serve(zapi_answer)
    messages = [
        OutboundText("Olá!"),
        OutboundMedia("https://cdn.example.com/i.jpg", "image", caption="Foto"),
        OutboundMedia("https://cdn.example.com/files/x", "document", filename="Tabela.PDF"),
        OutboundButtons("Quer agendar?", (Button("yes", "Sim"), Button("no", "Não"))),
    ]

    results = [send_zapi(client, server, message, policy) for message in messages]

    assert {result.provider_message_id for result in results} == {"3EB0C0FFEE"}
    prefix = "/instances/I1/token/inst-token/"
    assert [request.path.removeprefix(prefix) for request in server.received] == [
        "send-text",
        "send-image",
        "send-document/pdf",
        "send-button-list",
    ]
    text, image, document, buttons = (request.json() for request in server.received)
    assert text == {"phone": LEAD_DIGITS, "message": "Olá!"}
    assert image == {
        "phone": LEAD_DIGITS,
        "image": "https://cdn.example.com/i.jpg",
        "caption": "Foto",
    }
    assert document["fileName"] == "Tabela.PDF"
    assert buttons == {
        "phone": LEAD_DIGITS,
        "message": "Quer agendar?",
        "buttonList": {"buttons": [{"id": "yes", "label": "Sim"}, {"id": "no", "label": "Não"}]},
    }


def test_zapi_wrong_client_token_is_unauthorized(serve, client, policy) -> None:
    server = serve(zapi_answer)

    with pytest.raises(SendFailed) as failure:
        send_zapi(
            client,
            server,
            OutboundText("oi"),
            policy,
            instance_token="inst-token",
            client_token="x",
        )

    assert (failure.value.code, failure.value.status, len(server.received)) == (
        "unauthorized",
        403,
        1,
    )


def test_zapi_missing_client_token_fails_before_any_request(serve, client, policy) -> None:
    server = serve(zapi_answer)

    with pytest.raises(SendFailed) as failure:
        send_zapi(client, server, OutboundText("oi"), policy, instance_token="inst-token")

    assert failure.value.code == "missing_secret"
    assert server.received == []


# The pieces themselves


def test_backoff_doubles_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=2.0, jitter=lambda: 0.0)

    assert [policy.delay_before(attempt, None) for attempt in (2, 3, 4, 5)] == [
        0.25,
        0.5,
        1.0,
        1.0,
    ]
    assert policy.delay_before(2, 120.0) == policy.max_retry_after


def test_outbound_messages_validate_their_shape() -> None:
    with pytest.raises(ValueError, match="1 to 3 buttons"):
        OutboundButtons("?", tuple(Button(str(n), str(n)) for n in range(4)))
    with pytest.raises(ValueError, match="media kind"):
        OutboundMedia("https://cdn.example.com/s.webp", "sticker")  # type: ignore[arg-type]
