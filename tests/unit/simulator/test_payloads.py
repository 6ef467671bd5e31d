"""Simulated provider webhooks are what the real adapters verify and parse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.channels import adapter_for
from shared.channels.base import ProviderAdapter, SignatureRejected, WebhookRequest
from shared.models.channel import Channel
from shared.models.events import (
    ConversationEvent,
    DeliveryStatus,
    LeadMessage,
    MessageType,
    Provider,
    SellerMessage,
    StatusUpdate,
)
from shared.simulator.payloads import (
    BusinessAccount,
    InboundKind,
    InboundMessage,
    StatusName,
    inbound_request,
    new_message_id,
    status_request,
    webhook_request,
)

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
    "meta": {"app_secret": "meta-secret"},
    "twilio": {"auth_token": "twilio-token"},
    "evolution": {"apikey": "evolution-key"},
    "zapi": {"client_token": "zapi-token"},
}


def channel(provider: Provider, **config: str) -> Channel:
    return Channel(
        channel_id="ch-1",
        tenant_id="t-1",
        provider=provider,
        business_phone="+5511933334444",
        config={**CONFIG[provider], **config},
    )


def adapter(provider: Provider) -> ProviderAdapter:
    found = adapter_for(provider)
    assert found is not None
    return found


def verified(provider: Provider, request: WebhookRequest, on: Channel) -> list[ConversationEvent]:
    adapter(provider).verify(request, on, SECRETS[provider])
    return adapter(provider).parse(request, on, AT)


@pytest.mark.parametrize("kind", ["text", "audio", "image"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_signed_lead_message_verifies_and_parses(provider: Provider, kind: InboundKind) -> None:
    on = channel(provider)
    message = InboundMessage(
        lead_phone=LEAD,
        message_id=new_message_id(provider, media=kind != "text"),
        at=AT,
        name="Mariana",
        kind=kind,
        text=None if kind == "audio" else "Quanto custa?",
        media_url="https://media.example.com/1",
    )
    request = inbound_request(
        provider,
        message,
        account=BusinessAccount.of(on),
        url=URL.format(provider=provider),
        secrets=SECRETS[provider],
    )
    assert request is not None

    [event] = verified(provider, request, on)

    assert isinstance(event, LeadMessage)
    assert (event.message_id, event.contact.phone) == (message.message_id, LEAD)
    assert event.contact.profile_name == "Mariana"
    if provider != "twilio":  # Twilio's form carries no timestamp
        assert event.occurred_at == AT
    expected = {"text": MessageType.TEXT, "audio": MessageType.AUDIO, "image": MessageType.IMAGE}
    assert event.content.message_type == expected[kind]
    if kind == "text":
        assert event.content.text == "Quanto custa?"
    else:
        assert event.content.media is not None
        assert event.content.media.mime_type == (
            "image/jpeg" if kind == "image" else "audio/ogg; codecs=opus"
        )


@pytest.mark.parametrize("status", ["sent", "delivered", "read"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_signed_status_verifies_and_parses(provider: Provider, status: StatusName) -> None:
    on = channel(provider)
    request = status_request(
        provider,
        message_id="m-1",
        lead_phone=LEAD,
        status=status,
        at=AT,
        account=BusinessAccount.of(on),
        url=URL.format(provider=provider),
        secrets=SECRETS[provider],
    )

    [event] = verified(provider, request, on)

    assert isinstance(event, StatusUpdate)
    assert (event.message_id, event.status) == ("m-1", DeliveryStatus(status))
    assert event.contact.phone == LEAD


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unsigned_requests_are_missing_their_credential(provider: Provider) -> None:
    request = status_request(
        provider, message_id="m-1", lead_phone=LEAD, status="sent", at=AT, url=URL
    )

    with pytest.raises(SignatureRejected) as rejected:
        adapter(provider).verify(request, channel(provider), SECRETS[provider])

    assert rejected.value.status == 401


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_account_addresses_the_channel_the_parser_expects(provider: Provider) -> None:
    on = channel(provider)
    other_account = {
        "meta": {"phone_number_id": "1"},
        "twilio": {"account_sid": "AC" + "2" * 32},
        "evolution": {"instance": "outra"},
        "zapi": {"instance_id": "OUTRA"},
    }[provider]
    elsewhere = channel(provider, **other_account)
    request = status_request(
        provider,
        message_id="m-1",
        lead_phone=LEAD,
        status="read",
        at=AT,
        account=BusinessAccount.of(elsewhere),
        url=URL,
        secrets=SECRETS[provider],
    )

    assert verified(provider, request, on) == []  # addressed to another number or instance


def test_twilio_signs_the_configured_public_url() -> None:
    on = channel("twilio", webhook_url="https://public.example.com/webhooks/twilio/ch-1")
    request = status_request(
        "twilio",
        message_id="SM1",
        lead_phone=LEAD,
        status="sent",
        at=AT,
        account=BusinessAccount.of(on),
        url="http://127.0.0.1:8001/webhooks/twilio/ch-1",
        secrets=SECRETS["twilio"],
    )

    adapter("twilio").verify(request, on, SECRETS["twilio"])
    with pytest.raises(SignatureRejected):
        adapter("twilio").verify(request, channel("twilio"), SECRETS["twilio"])


def test_signing_without_the_secret_role_is_refused() -> None:
    with pytest.raises(ValueError, match="app_secret"):
        status_request("meta", message_id="m", lead_phone=LEAD, status="sent", at=AT, secrets={})


@pytest.mark.parametrize("provider", ["evolution", "zapi"])
def test_the_business_phone_speaks_as_a_seller(provider: Provider) -> None:
    message = InboundMessage(LEAD, "3EB0AAAA", AT, name="Paula", text="Oi", from_business=True)
    request = inbound_request(provider, message, secrets=SECRETS[provider])
    assert request is not None

    [event] = verified(
        provider,
        request,
        channel(provider, **{"instance": "simulator", "instance_id": "simulator"}),
    )

    assert isinstance(event, SellerMessage)
    assert event.contact.phone == LEAD and event.contact.profile_name is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_webhook_request_still_builds_what_piloto_simulate_parses(provider: Provider) -> None:
    bare = Channel(channel_id=f"sim-{provider}", tenant_id="t", provider=provider)
    request = webhook_request(
        provider, lead_phone=LEAD, name="Mariana", message_id="m-9", text="Oi", at=AT
    )
    assert request is not None

    [event] = adapter(provider).parse(request, bare, AT)

    assert isinstance(event, LeadMessage)
    assert (event.message_id, event.content.text, event.contact.phone) == ("m-9", "Oi", LEAD)
    seller = webhook_request(
        provider, lead_phone=LEAD, name="M", message_id="m-10", text="x", at=AT, from_business=True
    )
    assert (seller is None) == (provider in ("meta", "twilio"))


def test_message_ids_look_like_the_providers() -> None:
    assert new_message_id("meta").startswith("wamid.HBgN")
    twilio_id = new_message_id("twilio")
    assert twilio_id.startswith("SM") and len(twilio_id) == 34
    assert new_message_id("twilio", media=True).startswith("MM")
    assert new_message_id("zapi", from_api=True).startswith("BAE5")
    assert new_message_id("evolution") != new_message_id("evolution")


def test_inbound_messages_need_text_and_an_aware_time() -> None:
    with pytest.raises(ValueError, match="text"):
        InboundMessage(LEAD, "m", AT)
    with pytest.raises(ValueError, match="timezone"):
        InboundMessage(LEAD, "m", datetime(2026, 3, 10), text="x")  # noqa: DTZ001
