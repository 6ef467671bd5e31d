"""Twilio WhatsApp: X-Twilio-Signature and the documented form parameters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from shared.channels import twilio
from shared.channels.base import PayloadRejected, SignatureRejected, WebhookRequest
from shared.models.events import (
    AdReferral,
    ContactRef,
    DeliveryStatus,
    InteractiveReply,
    LeadMessage,
    Location,
    Media,
    MessageContent,
    MessageType,
    StatusUpdate,
)

from .support import RECEIVED_AT, channel_for, fixture_form, form_request, twilio_signature

AUTH_TOKEN = "twilio-auth-token"
PUBLIC_URL = "https://hooks.example.com/webhooks/twilio/ch-1"
INTERNAL_URL = "http://localhost:8080/webhooks/twilio/ch-1"
ACCOUNT_SID = "AC1f0e8d0c6f2b4b7a9e3d5c7b1a2f4e6d"
CHANNEL = channel_for("twilio", account_sid=ACCOUNT_SID, webhook_url=PUBLIC_URL)
MARIA = ContactRef(phone="+5511988887777", wa_id="5511988887777", profile_name="Maria Silva")


def request_for(
    params: dict[str, str], signature: str | None = None, url: str = INTERNAL_URL
) -> WebhookRequest:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return form_request(urlencode(params).encode(), headers, url=url)


def parse_fixture(name: str) -> list[Any]:
    return twilio.parse(request_for(fixture_form(name)), CHANNEL, RECEIVED_AT)


# --- signature ---------------------------------------------------------------------------


def test_a_request_signed_for_the_configured_public_url_is_accepted() -> None:
    params = fixture_form("text")
    request = request_for(params, twilio_signature(PUBLIC_URL, params, AUTH_TOKEN))
    twilio.verify(request, CHANNEL, {"auth_token": AUTH_TOKEN})


def test_without_a_configured_url_the_request_url_is_what_twilio_signed() -> None:
    params = fixture_form("text")
    signature = twilio_signature(PUBLIC_URL, params, AUTH_TOKEN)
    request = request_for(params, signature, url=PUBLIC_URL)
    twilio.verify(request, channel_for("twilio"), {"auth_token": AUTH_TOKEN})


def test_a_signature_for_another_url_is_403() -> None:
    params = fixture_form("text")
    request = request_for(params, twilio_signature(INTERNAL_URL, params, AUTH_TOKEN))
    with pytest.raises(SignatureRejected) as rejected:
        twilio.verify(request, CHANNEL, {"auth_token": AUTH_TOKEN})
    assert rejected.value.status == 403


def test_a_missing_signature_is_401() -> None:
    with pytest.raises(SignatureRejected) as rejected:
        twilio.verify(request_for(fixture_form("text")), CHANNEL, {"auth_token": AUTH_TOKEN})
    assert rejected.value.status == 401


def test_a_signature_made_with_another_token_is_403() -> None:
    params = fixture_form("text")
    request = request_for(params, twilio_signature(PUBLIC_URL, params, "not-the-token"))
    with pytest.raises(SignatureRejected) as rejected:
        twilio.verify(request, CHANNEL, {"auth_token": AUTH_TOKEN})
    assert rejected.value.status == 403


def test_a_tampered_form_is_403() -> None:
    params = fixture_form("text")
    signature = twilio_signature(PUBLIC_URL, params, AUTH_TOKEN)
    request = request_for({**params, "Body": "Me dá um desconto?"}, signature)
    with pytest.raises(SignatureRejected) as rejected:
        twilio.verify(request, CHANNEL, {"auth_token": AUTH_TOKEN})
    assert rejected.value.status == 403


def test_a_body_that_is_not_a_form_cannot_be_verified() -> None:
    request = form_request(b"\xff\xfe", {"X-Twilio-Signature": "abc"})
    with pytest.raises(PayloadRejected):
        twilio.verify(request, CHANNEL, {"auth_token": AUTH_TOKEN})


# --- documented payloads -----------------------------------------------------------------


def test_a_text_message_becomes_a_lead_message() -> None:
    message_id = "SM8a5e1b4f6c2d4e7f9a0b1c2d3e4f5a6b"
    assert parse_fixture("text") == [
        LeadMessage(
            event_id=f"twilio:lead_message:{message_id}",
            provider="twilio",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=RECEIVED_AT,
            received_at=RECEIVED_AT,
            message_id=message_id,
            contact=MARIA,
            content=MessageContent(message_type=MessageType.TEXT, text="Oi! Ainda tem o tênis 42?"),
        )
    ]


@pytest.mark.parametrize(
    ("fixture", "content"),
    [
        (
            "image",
            MessageContent(
                message_type=MessageType.IMAGE,
                media=Media(
                    url=(
                        "https://api.twilio.com/2010-04-01/Accounts/"
                        "AC1f0e8d0c6f2b4b7a9e3d5c7b1a2f4e6d/Messages/"
                        "MM2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e1b/Media/ME9f8e7d6c5b4a39281706f5e4d3c2b1a0"
                    ),
                    mime_type="image/jpeg",
                    caption="Esse aqui",
                ),
            ),
        ),
        (
            "location",
            MessageContent(
                message_type=MessageType.LOCATION,
                location=Location(
                    latitude=-23.561414,
                    longitude=-46.655881,
                    name="MASP",
                    address="Av. Paulista, 1578 - Bela Vista, São Paulo - SP",
                ),
            ),
        ),
        (
            "button",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(
                    kind="button", id="see_models", title="Quero ver modelos"
                ),
                reply_to="MM7e9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e",
            ),
        ),
    ],
)
def test_each_documented_message_kind_keeps_its_content(
    fixture: str, content: MessageContent
) -> None:
    [event] = parse_fixture(fixture)
    assert event.content == content
    assert event.contact == MARIA


def test_a_click_to_whatsapp_ad_message_carries_its_referral() -> None:
    [event] = parse_fixture("referral")
    assert event.content.text == "Vi o anúncio, quero saber mais"
    assert event.content.referral == AdReferral(
        ctwa_clid=(
            "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-"
            "GABDLOPaOdRMv-_zfUQ2a"
        ),
        source_id="120226305854810726",
        source_url="https://fb.me/3cr4Wqqkv",
        source_type="ad",
        headline="Fale com a loja",
        body="Tênis de corrida com 20% off",
        media_type="image/jpeg",
    )


def test_a_brazilian_number_without_the_ninth_digit_is_kept() -> None:
    [event] = parse_fixture("brazil_legacy_number")
    assert event.contact == ContactRef(
        phone="+553188887777", wa_id="553188887777", profile_name="Bruno Lima"
    )


def test_a_read_status_callback_becomes_a_status_update() -> None:
    message_id = "SM7f9b1d3f5a7c9e1b3d5f7a9c1e3d5f7a"
    assert parse_fixture("status_read") == [
        StatusUpdate(
            event_id=f"twilio:status_update:{message_id}:read",
            provider="twilio",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=RECEIVED_AT,
            received_at=RECEIVED_AT,
            message_id=message_id,
            status=DeliveryStatus.READ,
            contact=ContactRef(phone="+5511988887777", wa_id="5511988887777"),
        )
    ]


def test_undelivered_is_a_failure_with_the_error_code() -> None:
    [event] = parse_fixture("status_undelivered")
    assert event.status is DeliveryStatus.FAILED
    assert event.error_code == "63016"
    assert event.event_id == "twilio:status_update:SM8a0c2e4a6c8e0b2d4f6a8c0e2b4d6f8b:failed"


@pytest.mark.parametrize("status", ["queued", "accepted", "sending", "scheduled", "canceled"])
def test_statuses_before_sending_carry_no_event(status: str) -> None:
    params = {**fixture_form("status_queued"), "MessageStatus": status}
    assert twilio.parse(request_for(params), CHANNEL, RECEIVED_AT) == []


def test_requests_for_another_account_are_skipped() -> None:
    params = {**fixture_form("text"), "AccountSid": "AC00000000000000000000000000000000"}
    assert twilio.parse(request_for(params), CHANNEL, RECEIVED_AT) == []


def test_without_message_type_the_kind_is_inferred() -> None:
    for fixture, expected in [("image", MessageType.IMAGE), ("location", MessageType.LOCATION)]:
        params = {**fixture_form(fixture), "MessageType": ""}
        [event] = twilio.parse(request_for(params), CHANNEL, RECEIVED_AT)
        assert isinstance(event, LeadMessage)
        assert event.content.message_type is expected


def test_an_unknown_message_type_is_unsupported() -> None:
    params = {**fixture_form("text"), "MessageType": "poll", "Body": ""}
    [event] = twilio.parse(request_for(params), CHANNEL, RECEIVED_AT)
    assert isinstance(event, LeadMessage)
    assert event.content == MessageContent(
        message_type=MessageType.UNSUPPORTED, unsupported_type="poll"
    )


# --- malformed bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": "", "SmsMessageSid": ""}, "MessageSid is missing"),
        ({"From": "", "WaId": ""}, "From is missing"),
        ({"MessageType": "", "NumMedia": "lots"}, "NumMedia must be a whole number"),
        ({"MessageType": "location", "Latitude": "north"}, "form.Latitude is not a number"),
        ({"MessageType": "location"}, "form.Latitude is missing"),
    ],
)
def test_a_form_missing_what_twilio_always_sends_is_rejected(
    change: dict[str, str], reason: str
) -> None:
    params = {**fixture_form("text"), **change}
    with pytest.raises(PayloadRejected) as rejected:
        twilio.parse(request_for(params), CHANNEL, RECEIVED_AT)
    assert reason in rejected.value.reason


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"MessageSid": "SM1"}', "application/json"),
        (b"MessageSid=SM1&&&===", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\xfd", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
    ],
)
def test_bodies_that_are_not_twilio_forms_are_rejected(body: bytes, content_type: str) -> None:
    request = form_request(body, {"content-type": content_type})
    with pytest.raises(PayloadRejected):
        twilio.parse(request, CHANNEL, RECEIVED_AT)
