"""A lead from a click-to-WhatsApp ad: each provider's referral, as its real adapter reads it.

The simulator builds Meta ``messages[].referral``, Twilio's ``Referral*`` fields, Evolution
API ``contextInfo.externalAdReply`` and Z-API ``externalAdReply``; the adapters' verify and
parse must give back the ad the lead clicked, through the builders and through
``POST /leads/...`` over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from emulators.simulator import ProviderSimulator, simulated_channel
from shared.channels import adapter_for
from shared.channels.base import ProviderAdapter, WebhookRequest
from shared.models.channel import Channel
from shared.models.events import AdReferral, LeadMessage, Provider
from shared.simulator.payloads import (
    AdClick,
    BusinessAccount,
    InboundKind,
    InboundMessage,
    inbound_request,
    new_message_id,
)
from tests.unit.simulator.test_runtime_channels import Receiver, receiver

__all__ = ["receiver"]  # the stand-in for Piloto's webhook function

AT = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
LEAD = "+5511987654321"
URL = "https://piloto.example.com/webhooks/{provider}/ch-1"
PROVIDERS: tuple[Provider, ...] = ("meta", "twilio", "evolution", "zapi")
CONFIG = {
    "meta": {"phone_number_id": "106540352242922"},
    "twilio": {"account_sid": "AC" + "1" * 32},
    "evolution": {"instance": "loja-centro"},
    "zapi": {"instance_id": "3C0ZAPI"},
}
SECRETS = {
    "meta": {"app_secret": "meta-secret", "access_token": "meta-token"},
    "twilio": {"auth_token": "twilio-token"},
    "evolution": {"apikey": "evolution-key"},
    "zapi": {"client_token": "zapi-token", "instance_token": "zapi-instance"},
}
AD = AdClick(
    ctwa_clid="ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7J",
    source_id="120226305854810726",
    source_url="https://fb.me/3cr4Wqqkv",
    headline="Limpeza de pele com 20% off",
    body="Agende sua limpeza de pele profunda nesta semana.",
)
REFERRAL_JSON = {
    "ctwa_clid": AD.ctwa_clid,
    "source_id": AD.source_id,
    "source_url": AD.source_url,
    "source_type": "ad",
    "headline": AD.headline,
    "body": AD.body,
}
# How each provider names the creative's kind (Twilio gives its content type).
MEDIA_TYPES: dict[Provider, dict[str, str]] = {
    "meta": {"image": "image", "video": "video"},
    "twilio": {"image": "image/jpeg", "video": "video/mp4"},
    "evolution": {"image": "IMAGE", "video": "VIDEO"},
    "zapi": {"image": "1", "video": "2"},
}


def channel(provider: Provider) -> Channel:
    return Channel(
        channel_id="ch-1",
        tenant_id="t-1",
        provider=provider,
        business_phone="+5511933334444",
        config=CONFIG[provider],
    )


def adapter(provider: Provider) -> ProviderAdapter:
    found = adapter_for(provider)
    assert found is not None
    return found


def lead_message(provider: Provider, request: WebhookRequest) -> LeadMessage:
    """Verify and parse ``request`` with the provider's real adapter; return the one message."""
    on = channel(provider)
    adapter(provider).verify(request, on, SECRETS[provider])
    [event] = adapter(provider).parse(request, on, AT)
    assert isinstance(event, LeadMessage)
    return event


def expected(provider: Provider, ad: AdClick) -> AdReferral:
    return AdReferral(
        ctwa_clid=ad.ctwa_clid,
        source_id=ad.source_id,
        source_url=ad.source_url,
        source_type=ad.source_type,
        headline=ad.headline,
        body=ad.body,
        media_type=MEDIA_TYPES[provider][ad.media_type],
    )


def built(provider: Provider, ad: AdClick | None, kind: InboundKind = "text") -> WebhookRequest:
    message = InboundMessage(
        lead_phone=LEAD,
        message_id=new_message_id(provider, media=kind != "text"),
        at=AT,
        name="Mariana",
        kind=kind,
        text="Oi, vi o anúncio da limpeza de pele",
        media_url=f"https://media.example.com/{provider}/1" if kind != "text" else None,
        referral=ad,
    )
    request = inbound_request(
        provider,
        message,
        account=BusinessAccount.of(channel(provider)),
        url=URL.format(provider=provider),
        secrets=SECRETS[provider],
    )
    assert request is not None
    return request


@pytest.mark.parametrize("kind", ["text", "image"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_ad_lead_parses_back_to_the_ad_clicked(provider: Provider, kind: InboundKind) -> None:
    event = lead_message(provider, built(provider, AD, kind))

    assert event.content.referral == expected(provider, AD)
    assert event.content.message_type.value == kind
    assert event.contact.phone == LEAD


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_video_ad_or_a_post_keeps_its_kind(provider: Provider) -> None:
    post = AdClick(source_id="998877", source_type="post", media_type="video", headline="Antes")

    event = lead_message(provider, built(provider, post))

    assert event.content.referral == expected(provider, post)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_organic_lead_has_no_referral(provider: Provider) -> None:
    assert lead_message(provider, built(provider, None)).content.referral is None


def test_each_provider_reports_the_ad_in_its_own_format() -> None:
    meta = json.loads(built("meta", AD).body)
    [item] = meta["entry"][0]["changes"][0]["value"]["messages"]
    twilio = {key: values[0] for key, values in parse_qs(built("twilio", AD).body.decode()).items()}
    evolution = json.loads(built("evolution", AD).body)["data"]["contextInfo"]
    zapi = json.loads(built("zapi", AD).body)

    assert item["referral"] == {
        "source_url": AD.source_url,
        "source_id": AD.source_id,
        "source_type": "ad",
        "body": AD.body,
        "headline": AD.headline,
        "media_type": "image",
        "image_url": AD.media_url,
        "thumbnail_url": AD.thumbnail,
        "ctwa_clid": AD.ctwa_clid,
    }
    assert AD.media_url.startswith("https://") and AD.media_url.endswith(".jpg")
    assert {key: value for key, value in twilio.items() if key.startswith("Referral")} == {
        "ReferralBody": AD.body,
        "ReferralHeadline": AD.headline,
        "ReferralSourceId": AD.source_id,
        "ReferralSourceType": "ad",
        "ReferralSourceUrl": AD.source_url,
        "ReferralMediaId": twilio["ReferralMediaId"],
        "ReferralMediaContentType": "image/jpeg",
        "ReferralMediaUrl": twilio["ReferralMediaUrl"],
        "ReferralNumMedia": "1",
        "ReferralCtwaClid": AD.ctwa_clid,
    }
    assert twilio["ReferralMediaId"].isdigit()
    assert twilio["ReferralMediaUrl"].startswith(
        f"https://api.twilio.com/2010-04-01/Accounts/{CONFIG['twilio']['account_sid']}/Messages/"
    )
    for reply, media_type in (
        (evolution["externalAdReply"], "IMAGE"),
        (zapi["externalAdReply"], 1),
    ):
        assert reply == {
            "title": AD.headline,
            "body": AD.body,
            "mediaType": media_type,
            "thumbnailUrl": AD.thumbnail,
            "sourceType": "ad",
            "sourceId": AD.source_id,
            "sourceUrl": AD.source_url,
            "containsAutoReply": False,
            "renderLargerThumbnail": True,
            "showAdAttribution": True,
            "ctwaClid": AD.ctwa_clid,
        }
    assert evolution["entryPointConversionSource"] == "ctwa_ad"
    assert zapi["text"]["message"] == "Oi, vi o anúncio da limpeza de pele"
    assert (zapi["text"]["title"], zapi["text"]["description"]) == (AD.headline, AD.body)


def test_a_video_creative_has_a_video_url_on_meta() -> None:
    video = AdClick(source_id="42", media_type="video", video_url="https://cdn.example.com/v.mp4")
    [item] = json.loads(built("meta", video).body)["entry"][0]["changes"][0]["value"]["messages"]

    assert item["referral"]["video_url"] == "https://cdn.example.com/v.mp4"
    assert "image_url" not in item["referral"]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("ad", "referral must be an object"),
        ({"source_id": "1", "campaign": "x"}, "unknown referral fields: campaign"),
        ({"source_id": 1}, "referral.source_id must be a string"),
        ({"headline": "Sem id"}, "a referral needs ctwa_clid, source_id or source_url"),
        ({"source_id": "1", "source_type": "story"}, "referral.source_type must be ad or post"),
        ({"source_id": "1", "media_type": "gif"}, "referral.media_type must be image or video"),
        (
            {"source_id": "1", "media_type": "video", "image_url": "https://x/1.jpg"},
            "referral.image_url goes with media_type image",
        ),
    ],
)
def test_a_malformed_referral_is_refused_with_its_reason(document: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        AdClick.from_json(document)


def test_the_business_phone_clicks_no_ads() -> None:
    with pytest.raises(ValueError, match="only a lead's message comes from an ad"):
        InboundMessage(
            lead_phone=LEAD, message_id="3EB0AA", at=AT, text="Oi", from_business=True, referral=AD
        )


# --- through the simulator's lead API, over HTTP ------------------------------------------------


@pytest.fixture
def simulator(receiver: Receiver) -> Iterator[ProviderSimulator]:
    channels = [
        simulated_channel(
            f"ads-{provider}",
            provider,
            business_phone="+5511933334444",
            config=CONFIG[provider],
            secrets=SECRETS[provider],
        )
        for provider in PROVIDERS
    ]
    with ProviderSimulator(channels, webhook_base_url=receiver.url, echo_sends=False) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False) as http:
        yield http


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_lead_writes_from_an_ad_through_the_lead_api(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    answer = client.post(
        f"{simulator.url}/leads/{provider}/ads-{provider}/messages",
        json={
            "from": LEAD,
            "name": "Mariana",
            "text": "Oi, vi o anúncio",
            "referral": REFERRAL_JSON,
        },
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["webhook_status"] == 200
    path = f"/webhooks/{provider}/ads-{provider}"
    headers, body = receiver.wait_for_path(path)
    request = WebhookRequest(method="POST", url=receiver.url + path, body=body, headers=headers)
    event = lead_message(provider, request)
    assert event.content.referral == expected(provider, AD)
    assert event.content.text == "Oi, vi o anúncio"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"referral": {"source_id": "1", "ctwa": "x"}}, "unknown referral fields: ctwa"),
        ({"referral": ["source_id"]}, "referral must be an object"),
        ({"referral": REFERRAL_JSON, "from_business": True}, "only a lead's message comes"),
    ],
)
def test_the_lead_api_refuses_a_bad_referral_and_posts_nothing(
    simulator: ProviderSimulator, client: httpx.Client, fields: dict[str, Any], reason: str
) -> None:
    answer = client.post(
        f"{simulator.url}/leads/evolution/ads-evolution/messages",
        json={"from": LEAD, "text": "Oi", **fields},
    )

    assert answer.status_code == 400
    assert reason in answer.text
    assert simulator.webhook_posts() == []
