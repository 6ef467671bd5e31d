"""Z-API: the Client-Token header and the documented callbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.channels import zapi
from shared.channels.base import PayloadRejected, SignatureRejected
from shared.models.events import (
    AdReferral,
    ConnectionUpdate,
    ContactRef,
    DeliveryStatus,
    InteractiveReply,
    LeadMessage,
    Location,
    Media,
    MessageContent,
    MessageType,
    Reaction,
    SellerMessage,
    SharedContact,
    StatusUpdate,
)

from .support import RECEIVED_AT, channel_for, fixture_json, json_body, json_request

CLIENT_TOKEN = "F5d1c2b3a4e5f60718293a4b5c6d7e8f9S"
CHANNEL = channel_for("zapi")  # the docs' examples come from several instances
MESSAGE_ID = "A20DA9C0183A2D35A260F53F5D2B9244"
LEAD = ContactRef(
    phone="+5544999999999", wa_id="5544999999999", lid="81896604192873@lid", profile_name="name"
)


def parse_document(document: dict[str, Any]) -> list[Any]:
    return zapi.parse(json_request(document, provider="zapi"), CHANNEL, RECEIVED_AT)


def parse_fixture(name: str) -> list[Any]:
    return parse_document(fixture_json("zapi", name))


# --- credential --------------------------------------------------------------------------


def test_the_client_token_header_is_accepted() -> None:
    request = json_request(fixture_json("zapi", "received_text"), {"Client-Token": CLIENT_TOKEN})
    zapi.verify(request, CHANNEL, {"client_token": CLIENT_TOKEN})


def test_a_missing_client_token_is_401() -> None:
    request = json_request(fixture_json("zapi", "received_text"))
    with pytest.raises(SignatureRejected) as rejected:
        zapi.verify(request, CHANNEL, {"client_token": CLIENT_TOKEN})
    assert rejected.value.status == 401


@pytest.mark.parametrize("token", ["guess", CLIENT_TOKEN + "x", CLIENT_TOKEN.lower(), "é"])
def test_a_wrong_client_token_is_403(token: str) -> None:
    request = json_request(fixture_json("zapi", "received_text"), {"Client-Token": token})
    with pytest.raises(SignatureRejected) as rejected:
        zapi.verify(request, CHANNEL, {"client_token": CLIENT_TOKEN})
    assert rejected.value.status == 403


# --- documented payloads -----------------------------------------------------------------


def test_a_received_text_becomes_a_lead_message() -> None:
    assert parse_fixture("received_text") == [
        LeadMessage(
            event_id=f"zapi:lead_message:{MESSAGE_ID}",
            provider="zapi",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=datetime.fromtimestamp(1632228638, tz=UTC),
            received_at=RECEIVED_AT,
            message_id=MESSAGE_ID,
            contact=LEAD,
            content=MessageContent(message_type=MessageType.TEXT, text="teste"),
        )
    ]


@pytest.mark.parametrize(
    ("fixture", "content"),
    [
        (
            "received_reaction",
            MessageContent(
                message_type=MessageType.REACTION,
                reaction=Reaction(emoji="❤️", message_id="3EB0796DC6B777C0C7CD"),
            ),
        ),
        (
            "received_buttons_response",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(kind="button", id="1", title="Ótimo"),
                reply_to=MESSAGE_ID,
            ),
        ),
        (
            "received_list_response",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(
                    kind="list",
                    id="1",
                    title="Z-API",
                    description="Z-API Asas para sua imaginação",
                ),
                reply_to=MESSAGE_ID,
            ),
        ),
        (
            "received_image",
            MessageContent(
                message_type=MessageType.IMAGE,
                media=Media(url="https://", mime_type="image/jpeg"),
            ),
        ),
        (
            "received_audio",
            MessageContent(
                message_type=MessageType.AUDIO,
                media=Media(url="https://", mime_type="audio/ogg; codecs=opus", voice=True),
            ),
        ),
        (
            "received_video",
            MessageContent(
                message_type=MessageType.VIDEO, media=Media(url="https://", mime_type="video/mp4")
            ),
        ),
        (
            "received_document",
            MessageContent(
                message_type=MessageType.DOCUMENT,
                media=Media(url="https://", mime_type="application/pdf", filename="nome.pdf"),
            ),
        ),
        (
            "received_sticker",
            MessageContent(
                message_type=MessageType.STICKER,
                media=Media(url="https://", mime_type="image/webp"),
            ),
        ),
        (
            "received_location",
            MessageContent(
                message_type=MessageType.LOCATION,
                location=Location(latitude=-99.9999999999999999, longitude=-99.999999999999999),
            ),
        ),
        (
            "received_contact",
            MessageContent(
                message_type=MessageType.CONTACTS,
                contacts=(SharedContact(name="Cesar Baleco", phones=("+5544999999999",)),),
            ),
        ),
    ],
)
def test_each_documented_message_type_keeps_its_content(
    fixture: str, content: MessageContent
) -> None:
    [event] = parse_fixture(fixture)
    assert isinstance(event, LeadMessage)
    assert event.content == content
    assert event.contact.phone == "+5544999999999"


def test_a_message_from_an_ad_carries_its_referral() -> None:
    [event] = parse_fixture("received_ad_text")
    assert event.content == MessageContent(
        message_type=MessageType.TEXT,
        text="mensagem recebida",
        referral=AdReferral(
            ctwa_clid=(
                "Aff-niaAw7V94N8LGd79Vjr43TlJD4UnoBdpZJQ3LzABitbbG6wgKBSVOth4EN0IDr9glsKW"
                "jm2LBaFrJG3Nb0ILxP49ZtossVBNzlS8cFXBvv2ow7gNw"
            ),
            source_id="23722824350495506",
            source_url="https://",
            source_type="ad",
            headline="Titulo",
            body="texto do anuncio",
            media_type="1",
        ),
    )


def test_a_message_sent_from_the_business_phone_is_a_seller_message() -> None:
    assert parse_fixture("received_from_me_ptv") == [
        SellerMessage(
            event_id=f"zapi:seller_message:{MESSAGE_ID}",
            provider="zapi",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=datetime.fromtimestamp(1688496074, tz=UTC),
            received_at=RECEIVED_AT,
            message_id=MESSAGE_ID,
            contact=ContactRef(phone="+5544999999999", wa_id="5544999999999"),
            content=MessageContent(
                message_type=MessageType.VIDEO, media=Media(url="https://", mime_type="video/mp4")
            ),
        )
    ]


def test_the_echo_of_an_api_send_is_not_a_seller_message() -> None:
    assert parse_fixture("received_from_api_carousel") == []


def test_a_lid_only_sender_is_keyed_by_its_lid() -> None:
    [event] = parse_fixture("received_lid_only")
    assert event.contact == ContactRef(lid="65998849469@lid", profile_name="name")
    assert event.contact_key == "65998849469@lid"


def test_a_brazilian_number_without_the_ninth_digit_is_kept() -> None:
    [event] = parse_fixture("received_brazil_legacy_number")
    assert event.contact == ContactRef(
        phone="+553188887777",
        wa_id="553188887777",
        lid="999999999999999@lid",
        profile_name="Bruno Lima",
    )


def test_unread_content_is_unsupported_and_notifications_carry_no_events() -> None:
    [event] = parse_fixture("received_hydrated_template")
    assert event.content == MessageContent(
        message_type=MessageType.UNSUPPORTED, unsupported_type="hydratedTemplate"
    )
    assert parse_fixture("received_missed_call") == []
    assert parse_fixture("received_group_join_request") == []


def test_group_and_newsletter_messages_are_skipped() -> None:
    for flag in ("isGroup", "isNewsletter"):
        assert parse_document({**fixture_json("zapi", "received_text"), flag: True}) == []
    group = {**fixture_json("zapi", "received_text"), "phone": "120363025246125888@g.us"}
    assert parse_document(group) == []


def test_a_status_callback_reports_on_each_listed_message() -> None:
    document = fixture_json("zapi", "message_status_read")
    document["ids"] = ["999999999999999999999", "999999999999999999990"]
    events = parse_document(document)
    assert events == [
        StatusUpdate(
            event_id=f"zapi:status_update:{message_id}:read",
            provider="zapi",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=datetime.fromtimestamp(1632234645, tz=UTC),
            received_at=RECEIVED_AT,
            message_id=message_id,
            status=DeliveryStatus.READ,
            contact=ContactRef(phone="+5544999999999", wa_id="5544999999999"),
        )
        for message_id in ("999999999999999999999", "999999999999999999990")
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SENT", DeliveryStatus.SENT),
        ("RECEIVED", DeliveryStatus.DELIVERED),
        ("PLAYED", DeliveryStatus.READ),
    ],
)
def test_zapi_statuses_map_to_delivery_statuses(status: str, expected: DeliveryStatus) -> None:
    [event] = parse_document({**fixture_json("zapi", "message_status_read"), "status": status})
    assert event.status is expected


def test_the_business_reading_a_lead_message_is_no_status_update() -> None:
    assert parse_fixture("message_status_read_by_me") == []


def test_a_delivery_callback_means_sent() -> None:
    assert parse_fixture("delivery") == [
        StatusUpdate(
            event_id=f"zapi:status_update:{MESSAGE_ID}:sent",
            provider="zapi",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=RECEIVED_AT,
            received_at=RECEIVED_AT,
            message_id=MESSAGE_ID,
            status=DeliveryStatus.SENT,
            contact=ContactRef(phone="+554499999999", wa_id="554499999999"),
        )
    ]


def test_connected_and_disconnected_callbacks_become_connection_events() -> None:
    [connected] = parse_fixture("connected")
    assert connected == ConnectionUpdate(
        event_id="zapi:connection_update:ch-1:26151515154:connected",
        provider="zapi",
        tenant_id="t-1",
        channel_id="ch-1",
        occurred_at=datetime.fromtimestamp(26151515154, tz=UTC),
        received_at=RECEIVED_AT,
        state="connected",
    )
    [disconnected] = parse_fixture("disconnected")
    assert disconnected == ConnectionUpdate(
        event_id="zapi:connection_update:ch-1:1580163342:disconnected",
        provider="zapi",
        tenant_id="t-1",
        channel_id="ch-1",
        occurred_at=datetime.fromtimestamp(1580163342, tz=UTC),
        received_at=RECEIVED_AT,
        state="disconnected",
        detail="Device has been disconnected",
    )


def test_callbacks_for_another_instance_are_skipped() -> None:
    channel = channel_for("zapi", instance_id="A20DA9C0183A2D35A260F53F5D2B9244")
    ours = json_request(fixture_json("zapi", "received_text"))
    assert len(zapi.parse(ours, channel, RECEIVED_AT)) == 1
    other = {**fixture_json("zapi", "received_text"), "instanceId": "B00000000000000000000000"}
    assert zapi.parse(json_request(other), channel, RECEIVED_AT) == []


def test_unknown_callback_types_carry_no_events() -> None:
    assert parse_document({"type": "PresenceChatCallback", "phone": "5544999999999"}) == []


# --- malformed bodies --------------------------------------------------------------------


def received(**changes: Any) -> dict[str, Any]:
    return {**fixture_json("zapi", "received_text"), **changes}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"phone": "5544999999999"}, "body.type is missing"),
        (received(messageId=None), "body.messageId is missing"),
        (received(phone=5544999999999), "body.phone must be a string, got number"),
        (received(fromMe="true"), "body.fromMe must be a boolean, got string"),
        (received(momment="agora"), "body.momment is not a valid Unix timestamp"),
        (received(text=["teste"]), "body.text must be an object, got list"),
        (received(location={"latitude": 1}, text=None), "body.location.longitude is missing"),
        (
            received(contact={"phones": "5544999999999"}, text=None),
            "body.contact.phones must be a list of strings",
        ),
        (
            {**fixture_json("zapi", "message_status_read"), "ids": "999"},
            "body.ids must be a list of message ids",
        ),
        ({**fixture_json("zapi", "delivery"), "phone": None}, "body.phone is missing"),
    ],
)
def test_a_body_that_is_not_zapis_format_is_rejected_with_a_reason(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PayloadRejected) as rejected:
        parse_document(document)
    assert reason in rejected.value.reason


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"type=ReceivedCallback", "application/x-www-form-urlencoded"),
        (b'"ReceivedCallback"', "application/json"),
        (b"{", "application/json"),
        (json_body(fixture_json("zapi", "received_text")), "multipart/form-data"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_rejected(body: bytes, content_type: str) -> None:
    request = json_request(body, {"content-type": content_type})
    with pytest.raises(PayloadRejected):
        zapi.parse(request, CHANNEL, RECEIVED_AT)
