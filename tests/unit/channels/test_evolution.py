"""Evolution API v2: the apikey credential and the documented event envelopes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.channels import evolution
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

APIKEY = "BA6D7E42-ED6C-4182-BF8C-D70F964C2BCB"
CHANNEL = channel_for("evolution", instance="loja-centro")
LEILA = ContactRef(phone="+5511988887777", wa_id="5511988887777", profile_name="Leila Fernanda")
RAFAEL = ContactRef(
    phone="+5519987654321",
    wa_id="5519987654321",
    lid="272516946294519@lid",
    profile_name="Rafael",
)
SENT_AT = datetime.fromtimestamp(1705684429, tz=UTC)


def parse_document(document: dict[str, Any]) -> list[Any]:
    return evolution.parse(json_request(document, provider="evolution"), CHANNEL, RECEIVED_AT)


def parse_fixture(name: str) -> list[Any]:
    return parse_document(fixture_json("evolution", name))


# --- credential --------------------------------------------------------------------------


def test_the_apikey_in_the_body_is_accepted() -> None:
    request = json_request(fixture_json("evolution", "messages_upsert_text"))
    evolution.verify(request, CHANNEL, {"apikey": APIKEY})


def test_the_apikey_header_is_accepted_when_the_body_has_none() -> None:
    document = fixture_json("evolution", "messages_upsert_text")
    del document["apikey"]
    request = json_request(document, {"apikey": APIKEY})
    evolution.verify(request, CHANNEL, {"apikey": APIKEY})


def test_a_missing_apikey_is_401() -> None:
    document = fixture_json("evolution", "messages_upsert_text")
    del document["apikey"]
    with pytest.raises(SignatureRejected) as rejected:
        evolution.verify(json_request(document), CHANNEL, {"apikey": APIKEY})
    assert rejected.value.status == 401


def test_a_body_that_is_not_json_carries_no_apikey() -> None:
    request = json_request(b"apikey=" + APIKEY.encode())
    with pytest.raises(SignatureRejected) as rejected:
        evolution.verify(request, CHANNEL, {"apikey": APIKEY})
    assert rejected.value.status == 401


@pytest.mark.parametrize("where", ["body", "header"])
def test_a_wrong_apikey_is_403(where: str) -> None:
    document = fixture_json("evolution", "messages_upsert_text")
    del document["apikey"]
    if where == "body":
        request = json_request({**document, "apikey": "guess"})
    else:
        request = json_request(document, {"apikey": "guess"})
    with pytest.raises(SignatureRejected) as rejected:
        evolution.verify(request, CHANNEL, {"apikey": APIKEY})
    assert rejected.value.status == 403


# --- documented payloads -----------------------------------------------------------------


def test_a_text_message_becomes_a_lead_message() -> None:
    assert parse_fixture("messages_upsert_text") == [
        LeadMessage(
            event_id="evolution:lead_message:3A6687C4331054C34F0F",
            provider="evolution",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=SENT_AT,
            received_at=RECEIVED_AT,
            message_id="3A6687C4331054C34F0F",
            contact=LEILA,
            content=MessageContent(message_type=MessageType.TEXT, text="Oi, ainda tem o tênis 42?"),
        )
    ]


def test_the_event_name_may_come_in_upper_snake_case() -> None:
    document = {**fixture_json("evolution", "messages_upsert_text"), "event": "MESSAGES_UPSERT"}
    [event] = parse_document(document)
    assert event.event_id == "evolution:lead_message:3A6687C4331054C34F0F"


MEDIA_URL = (
    "https://mmg.whatsapp.net/o1/v/t62.7118-24/f1/m232/up-oil-image-1234"
    "?ccb=9-4&oh=01_Q5AaIA&oe=65D1A2B3&_nc_sid=5e03e0&mms3=true"
)


@pytest.mark.parametrize(
    ("fixture", "content"),
    [
        (
            "messages_upsert_reply",
            MessageContent(
                message_type=MessageType.TEXT,
                text="Esse mesmo, qual o preço?",
                reply_to="BAE5F1D2C3B4A596",
            ),
        ),
        (
            "messages_upsert_image",
            MessageContent(
                message_type=MessageType.IMAGE,
                media=Media(
                    provider_media_id="3A6687C4331054C34F0F",
                    url=MEDIA_URL,
                    mime_type="image/jpeg",
                    caption="Tem nessa cor?",
                    size_bytes=48210,
                ),
            ),
        ),
        (
            "messages_upsert_audio_ptt",
            MessageContent(
                message_type=MessageType.AUDIO,
                media=Media(
                    provider_media_id="3A6687C4331054C34F0F",
                    url=MEDIA_URL,
                    mime_type="audio/ogg; codecs=opus",
                    voice=True,
                    size_bytes=9824,
                ),
            ),
        ),
        (
            "messages_upsert_document",
            MessageContent(
                message_type=MessageType.DOCUMENT,
                media=Media(
                    provider_media_id="3A6687C4331054C34F0F",
                    url=MEDIA_URL,
                    mime_type="application/pdf",
                    filename="orcamento.pdf",
                    size_bytes=183245,
                ),
            ),
        ),
        (
            "messages_upsert_location",
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
            "messages_upsert_contact",
            MessageContent(
                message_type=MessageType.CONTACTS,
                contacts=(SharedContact(name="Carla Mendes", phones=("+5521977776666",)),),
            ),
        ),
        (
            "messages_upsert_buttons_response",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(kind="button", id="see_models", title="Ver modelos"),
                reply_to="BAE5A1B2C3D4E5F6",
            ),
        ),
        (
            "messages_upsert_list_response",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(
                    kind="list",
                    id="shipping_express",
                    title="Entrega expressa",
                    description="Chega amanhã",
                ),
                reply_to="BAE5B2C3D4E5F6A7",
            ),
        ),
        (
            "messages_upsert_reaction",
            MessageContent(
                message_type=MessageType.REACTION,
                reaction=Reaction(emoji="❤️", message_id="BAE5F1D2C3B4A596"),
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
    assert event.contact == LEILA


def test_a_click_to_whatsapp_ad_message_carries_its_referral() -> None:
    [event] = parse_fixture("messages_upsert_ad_referral")
    assert event.content.referral == AdReferral(
        ctwa_clid="AffS8FrlUzEfXsyBvqrLpJ7P0Kkw2hMrw6BsTV0nV8kTTV2PmnRIvM5wGu9UQcwyJ0dI9P84WtYnAY-2",
        source_id="120226305854810726",
        source_url="https://fb.me/3cr4Wqqkv",
        source_type="ad",
        headline="Tênis de corrida",
        body="20% off nesta semana",
        media_type="IMAGE",
    )


def test_a_message_from_the_business_phone_is_a_seller_message() -> None:
    assert parse_fixture("messages_upsert_from_me") == [
        SellerMessage(
            event_id="evolution:seller_message:3EB0A1B2C3D4E5F60718",
            provider="evolution",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=datetime.fromtimestamp(1705684500, tz=UTC),
            received_at=RECEIVED_AT,
            message_id="3EB0A1B2C3D4E5F60718",
            contact=ContactRef(phone="+5511988887777", wa_id="5511988887777"),
            content=MessageContent(
                message_type=MessageType.TEXT, text="Oi Leila! Tenho sim, quer que eu separe?"
            ),
        )
    ]


@pytest.mark.parametrize(
    "fixture",
    ["messages_upsert_lid_alt", "messages_upsert_lid_swapped", "messages_upsert_lid_sender_pn"],
)
def test_a_lid_chat_takes_its_phone_from_the_alternate_jid(fixture: str) -> None:
    [event] = parse_fixture(fixture)
    assert event.contact == RAFAEL
    assert event.contact_key == "+5519987654321"


def test_a_lid_chat_without_an_alternate_jid_is_keyed_by_its_lid() -> None:
    [event] = parse_fixture("messages_upsert_lid_only")
    assert event.contact == ContactRef(lid="272516946294519@lid", profile_name="Rafael")
    assert event.contact_key == "272516946294519@lid"


def test_a_brazilian_number_without_the_ninth_digit_is_kept() -> None:
    [event] = parse_fixture("messages_upsert_brazil_legacy_number")
    assert event.contact.phone == "+553188887777"


@pytest.mark.parametrize(
    "fixture", ["messages_upsert_group", "messages_upsert_status_broadcast", "send_message"]
)
def test_groups_status_broadcasts_and_unknown_events_carry_no_events(fixture: str) -> None:
    assert parse_fixture(fixture) == []


def test_a_long_timestamp_object_is_read() -> None:
    document = fixture_json("evolution", "messages_upsert_from_me")
    document["data"]["messageTimestamp"] = {"low": 1705846799, "high": 0, "unsigned": True}
    [event] = parse_document(document)
    assert event.occurred_at == datetime.fromtimestamp(1705846799, tz=UTC)


def test_a_receipt_for_a_business_message_becomes_a_status_update() -> None:
    assert parse_fixture("messages_update_read") == [
        StatusUpdate(
            event_id="evolution:status_update:3EB0A1B2C3D4E5F60718:read",
            provider="evolution",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=datetime(2024, 1, 19, 14, 15, 2, 118000, tzinfo=UTC),
            received_at=RECEIVED_AT,
            message_id="3EB0A1B2C3D4E5F60718",
            status=DeliveryStatus.READ,
            contact=ContactRef(phone="+5511988887777", wa_id="5511988887777"),
        )
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SERVER_ACK", DeliveryStatus.SENT),
        ("DELIVERY_ACK", DeliveryStatus.DELIVERED),
        ("PLAYED", DeliveryStatus.READ),
        ("ERROR", DeliveryStatus.FAILED),
        (3, DeliveryStatus.DELIVERED),
    ],
)
def test_evolution_receipt_names_map_to_delivery_statuses(
    status: str | int, expected: DeliveryStatus
) -> None:
    document = fixture_json("evolution", "messages_update_read")
    document["data"]["status"] = status
    [event] = parse_document(document)
    assert event.status is expected


def test_pending_and_receipts_for_the_leads_messages_carry_no_events() -> None:
    assert parse_fixture("messages_update_incoming_read") == []
    document = fixture_json("evolution", "messages_update_read")
    document["data"]["status"] = "PENDING"
    assert parse_document(document) == []


def test_a_connection_update_becomes_a_connection_event() -> None:
    assert parse_fixture("connection_update") == [
        ConnectionUpdate(
            event_id="evolution:connection_update:ch-1:2024-01-19T14:00:00.000Z:open",
            provider="evolution",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=datetime(2024, 1, 19, 14, 0, tzinfo=UTC),
            received_at=RECEIVED_AT,
            state="open",
            detail="200",
        )
    ]


def test_events_for_another_instance_are_skipped() -> None:
    document = {**fixture_json("evolution", "messages_upsert_text"), "instance": "outra-loja"}
    assert parse_document(document) == []


# --- malformed bodies --------------------------------------------------------------------


def with_data(**changes: Any) -> dict[str, Any]:
    document = fixture_json("evolution", "messages_upsert_text")
    document["data"].update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"instance": "loja-centro", "data": {}}, "body.event is missing"),
        ({"event": 7, "data": {}}, "body.event must be a string, got number"),
        ({"event": "messages.upsert"}, "body.data is missing"),
        ({"event": "messages.upsert", "data": [1]}, "body.data must be an object, got list"),
        (with_data(key="3A66"), "body.data.key must be an object, got string"),
        (with_data(key={"remoteJid": "5511988887777@s.whatsapp.net"}), "key.id is missing"),
        (with_data(key={"id": "X"}), "body.data.key.remoteJid is missing"),
        (
            with_data(key={"id": "X", "remoteJid": "a@s.whatsapp.net", "fromMe": "no"}),
            "fromMe must be a boolean",
        ),
        (with_data(messageTimestamp=None), "messageTimestamp must be a Unix timestamp"),
        (with_data(messageTimestamp="yesterday"), "not a valid Unix timestamp"),
        (with_data(message={"conversation": 5}), "conversation must be a string, got number"),
        (
            {**fixture_json("evolution", "messages_update_read"), "date_time": "tuesday"},
            "body.date_time is not an ISO 8601 time",
        ),
        ({"event": "connection.update", "data": {"instance": "x"}}, "body.data.state is missing"),
    ],
)
def test_a_body_that_is_not_evolutions_format_is_rejected_with_a_reason(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PayloadRejected) as rejected:
        parse_document(document)
    assert reason in rejected.value.reason


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<xml/>", "application/json"),
        (b'["messages.upsert"]', "application/json"),
        (json_body(fixture_json("evolution", "messages_upsert_text")), "text/plain"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_rejected(body: bytes, content_type: str) -> None:
    request = json_request(body, {"content-type": content_type})
    with pytest.raises(PayloadRejected):
        evolution.parse(request, CHANNEL, RECEIVED_AT)
