"""Each provider's media download (httpx.MockTransport): auth, limits, checksums, retries."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from shared.media.fetch import FetchPolicy, fetch_media
from shared.media.limits import MediaLimits, MediaRejected
from shared.models.channel import Channel
from shared.models.events import Media

OGG = b"OggS" + bytes(60)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)
PDF_BYTES = b"%PDF-1.4\n" + bytes(30)
LOOKASIDE = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=7&ext=1&hash=x"

META = Channel(
    channel_id="ch-meta",
    tenant_id="t",
    provider="meta",
    config={"phone_number_id": "100"},
    secrets={},
)
TWILIO = Channel(
    channel_id="ch-twilio", tenant_id="t", provider="twilio", config={"account_sid": "AC1"}
)
EVOLUTION = Channel(
    channel_id="ch-evo",
    tenant_id="t",
    provider="evolution",
    config={"instance": "clinica", "api_base_url": "https://evo.example.com"},
)
ZAPI = Channel(
    channel_id="ch-zapi",
    tenant_id="t",
    provider="zapi",
    config={"instance_id": "3C0", "api_base_url": "https://api.z-api.io"},
)

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests and answers from a function."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def no_sleep_policy() -> tuple[FetchPolicy, list[float]]:
    """Return a policy that records its backoff instead of sleeping, and the record."""
    slept: list[float] = []
    return FetchPolicy(sleep=slept.append, backoff_seconds=0.01), slept


def meta_graph(body: bytes, *, sha256: str | None = None, file_size: object = None) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != "Bearer meta-token":
            return httpx.Response(401, json={"error": {"code": 190}})
        if request.url.host == "graph.facebook.com":
            return httpx.Response(
                200,
                json={
                    "messaging_product": "whatsapp",
                    "url": LOOKASIDE,
                    "mime_type": "audio/ogg",
                    "sha256": sha256 or hashlib.sha256(body).hexdigest(),
                    "file_size": len(body) if file_size is None else file_size,
                    "id": "7",
                },
            )
        return httpx.Response(200, content=body, headers={"content-type": "audio/ogg"})

    return answer


def test_meta_resolves_the_media_id_then_downloads_with_the_same_token() -> None:
    recorder = Recorder(meta_graph(OGG))
    policy, _ = no_sleep_policy()

    fetched = fetch_media(
        recorder.client(),
        META,
        {"access_token": "meta-token"},
        "audio",
        Media(provider_media_id="7", mime_type="audio/ogg; codecs=opus", voice=True),
        policy=policy,
    )

    assert (fetched.data, fetched.mime_type, fetched.size_bytes) == (OGG, "audio/ogg", len(OGG))
    assert [str(r.url) for r in recorder.requests] == [
        "https://graph.facebook.com/v21.0/7",
        LOOKASIDE,
    ]
    assert all(r.headers["authorization"] == "Bearer meta-token" for r in recorder.requests)


def test_meta_bytes_that_do_not_hash_to_graphs_sha256_are_rejected() -> None:
    recorder = Recorder(meta_graph(OGG, sha256=hashlib.sha256(b"other").hexdigest()))

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            META,
            {"access_token": "meta-token"},
            "audio",
            Media(provider_media_id="7"),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "checksum_mismatch"


def test_meta_a_declared_file_size_over_the_cap_is_rejected_before_the_download() -> None:
    recorder = Recorder(meta_graph(OGG, file_size=str(17 * 1024 * 1024)))

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            META,
            {"access_token": "meta-token"},
            "audio",
            Media(provider_media_id="7"),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "too_large"
    assert len(recorder.requests) == 1  # Graph described it; the file was never requested


def test_meta_a_wrong_token_is_a_fetch_failure_without_retries() -> None:
    recorder = Recorder(meta_graph(OGG))
    policy, slept = no_sleep_policy()

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            META,
            {"access_token": "stolen"},
            "audio",
            Media(provider_media_id="7"),
            policy=policy,
        )

    assert rejected.value.reason == "fetch_failed" and "401" in rejected.value.detail
    assert (len(recorder.requests), slept) == (1, [])


def test_meta_never_sends_the_token_to_a_host_that_is_not_metas() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"url": "https://evil.example.com/x", "mime_type": "audio/ogg"}
        )

    recorder = Recorder(answer)
    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            META,
            {"access_token": "meta-token"},
            "audio",
            Media(provider_media_id="7"),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "fetch_failed"
    assert [r.url.host for r in recorder.requests] == ["graph.facebook.com"]


def twilio_cdn(body: bytes, content_type: str = "image/png", **headers: str) -> Handler:
    credentials = "Basic " + base64.b64encode(b"AC1:twilio-token").decode()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.twilio.com":
            if request.headers.get("authorization") != credentials:
                return httpx.Response(401, json={"code": 20003, "status": 401})
            return httpx.Response(307, headers={"location": "https://cdn.twilio.example/f/1"})
        assert "authorization" not in request.headers  # never carried across the redirect
        return httpx.Response(200, content=body, headers={"content-type": content_type, **headers})

    return answer


MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"


def test_twilio_uses_basic_auth_and_follows_the_redirect_without_it() -> None:
    recorder = Recorder(twilio_cdn(PNG))

    fetched = fetch_media(
        recorder.client(),
        TWILIO,
        {"auth_token": "twilio-token"},
        "image",
        Media(url=MEDIA_URL, mime_type="image/png"),
        policy=no_sleep_policy()[0],
    )

    assert fetched.data == PNG
    assert [r.url.host for r in recorder.requests] == ["api.twilio.com", "cdn.twilio.example"]


def test_twilio_a_content_length_over_the_cap_is_refused_before_reading() -> None:
    recorder = Recorder(twilio_cdn(PNG, **{"content-length": str(6 * 1024 * 1024)}))

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            TWILIO,
            {"auth_token": "twilio-token"},
            "image",
            Media(url=MEDIA_URL, mime_type="image/png"),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "too_large"


def test_a_body_larger_than_the_cap_is_abandoned_while_streaming() -> None:
    chunks_read: list[int] = []

    def stream() -> Iterator[bytes]:
        for _ in range(100):
            chunks_read.append(1)
            yield bytes(1024)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.twilio.com":
            return httpx.Response(307, headers={"location": "https://cdn.twilio.example/f/1"})
        return httpx.Response(200, content=stream(), headers={"content-type": "image/png"})

    policy = FetchPolicy(limits=MediaLimits(image=4096), sleep=lambda seconds: None)
    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            Recorder(answer).client(),
            TWILIO,
            {"auth_token": "twilio-token"},
            "image",
            Media(url=MEDIA_URL),
            policy=policy,
        )

    assert rejected.value.reason == "too_large"
    assert len(chunks_read) < 10  # stopped just past the cap, not after the whole body


def test_a_declared_type_the_kind_does_not_accept_is_rejected_without_a_request() -> None:
    recorder = Recorder(twilio_cdn(PNG))

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            TWILIO,
            {"auth_token": "twilio-token"},
            "image",
            Media(url=MEDIA_URL, mime_type="image/gif"),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "unsupported_type"
    assert recorder.requests == []


def test_a_served_type_the_kind_does_not_accept_is_rejected() -> None:
    recorder = Recorder(twilio_cdn(b"PK\x03\x04", content_type="application/zip"))

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            TWILIO,
            {"auth_token": "twilio-token"},
            "document",
            Media(url=MEDIA_URL),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "unsupported_type"


def test_twilio_credentials_never_go_to_a_url_that_is_not_twilios() -> None:
    recorder = Recorder(twilio_cdn(PNG))

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            TWILIO,
            {"auth_token": "twilio-token"},
            "image",
            Media(url="https://evil.example.com/x.png"),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "fetch_failed" and recorder.requests == []


def test_transient_failures_are_retried_with_backoff_then_succeed() -> None:
    answers = iter([httpx.Response(503), httpx.Response(429)])

    def answer(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or twilio_cdn(PNG)(request)

    recorder = Recorder(answer)
    policy, slept = no_sleep_policy()

    fetched = fetch_media(
        recorder.client(),
        TWILIO,
        {"auth_token": "twilio-token"},
        "image",
        Media(url=MEDIA_URL, mime_type="image/png"),
        policy=policy,
    )

    assert fetched.data == PNG
    assert len(slept) == 2 and all(delay > 0 for delay in slept)


def test_transient_failures_past_the_attempts_are_a_fetch_failure() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    recorder = Recorder(answer)
    policy, slept = no_sleep_policy()

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            TWILIO,
            {"auth_token": "twilio-token"},
            "image",
            Media(url=MEDIA_URL),
            policy=policy,
        )

    assert rejected.value.reason == "fetch_failed"
    assert (len(recorder.requests), len(slept)) == (policy.attempts, policy.attempts - 1)


def evolution_api(body: bytes, mimetype: str = "application/pdf") -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("apikey") != "evo-key":
            return httpx.Response(401, json={"status": 401, "error": "Unauthorized"})
        sent = json.loads(request.content)
        assert sent == {"message": {"key": {"id": "3EB0AA"}}, "convertToMp4": False}
        return httpx.Response(
            201,
            json={
                "mediaType": "documentMessage",
                "fileName": "exame.pdf",
                "size": {"fileLength": len(body)},
                "mimetype": mimetype,
                "base64": base64.b64encode(body).decode(),
            },
        )

    return answer


def test_evolution_fetches_by_message_id_with_the_apikey() -> None:
    recorder = Recorder(evolution_api(PDF_BYTES))

    fetched = fetch_media(
        recorder.client(),
        EVOLUTION,
        {"apikey": "evo-key"},
        "document",
        Media(
            provider_media_id="3EB0AA",
            url="https://mmg.whatsapp.net/v/t62/abc.enc",  # encrypted: never fetched
            mime_type="application/pdf",
        ),
        policy=no_sleep_policy()[0],
    )

    assert (fetched.data, fetched.filename) == (PDF_BYTES, "exame.pdf")
    [request] = recorder.requests
    assert str(request.url) == "https://evo.example.com/chat/getBase64FromMediaMessage/clinica"
    assert request.method == "POST"


def test_evolution_fetches_the_file_it_stored_when_the_webhook_carries_its_url() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert "apikey" not in request.headers
        return httpx.Response(200, content=OGG, headers={"content-type": "audio/ogg"})

    recorder = Recorder(answer)
    fetched = fetch_media(
        recorder.client(),
        EVOLUTION,
        {"apikey": "evo-key"},
        "audio",
        Media(provider_media_id="3EB0AA", url="https://minio.example.com/evo/3EB0AA.ogg"),
        policy=no_sleep_policy()[0],
    )

    assert fetched.data == OGG
    assert [r.url.host for r in recorder.requests] == ["minio.example.com"]


def test_evolution_a_declared_file_length_over_the_cap_is_rejected_before_any_request() -> None:
    recorder = Recorder(evolution_api(PDF_BYTES))

    with pytest.raises(MediaRejected) as rejected:
        fetch_media(
            recorder.client(),
            EVOLUTION,
            {"apikey": "evo-key"},
            "document",
            Media(provider_media_id="3EB0AA", size_bytes=21 * 1024 * 1024),
            policy=no_sleep_policy()[0],
        )

    assert rejected.value.reason == "too_large" and recorder.requests == []


def test_zapi_sends_the_client_token_only_to_its_own_hosts() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=OGG, headers={"content-type": "audio/ogg"})

    recorder = Recorder(answer)
    secrets = {"client_token": "zapi-token"}
    policy = no_sleep_policy()[0]
    for url in ("https://api.z-api.io/storage/a.ogg", "https://s3.example.com/a.ogg"):
        fetch_media(recorder.client(), ZAPI, secrets, "audio", Media(url=url), policy=policy)

    assert [r.headers.get("client-token") for r in recorder.requests] == ["zapi-token", None]
