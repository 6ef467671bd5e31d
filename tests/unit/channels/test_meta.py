"""Meta (WhatsApp Cloud API): signature, handshake and documented payloads."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.channels import meta
from shared.channels.base import PayloadRejected, SignatureRejected
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
    Reaction,
    SharedContact,
    StatusUpdate,
)
from shared.secrets import SecretUnavailable

from .support import (
    RECEIVED_AT,
    channel_for,
    fixture_json,
    json_body,
    json_request,
    meta_signature,
    signed_meta_request,
)

APP_SECRET = "meta-app-secret"
CHANNEL = channel_for("meta", phone_number_id="106540352242922")
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
REPLIED_TO = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NTdBQTkyNUMwMTgwM0NBMDcA"
SENT_AT = datetime.fromtimestamp(1749416383, tz=UTC)
SHEENA = ContactRef(phone="+16505551234", wa_id="16505551234", profile_name="Sheena Nelson")


def parse_fixture(name: str) -> list[Any]:
    return meta.parse(json_request(fixture_json("meta", name)), CHANNEL, RECEIVED_AT)


def parse_document(document: Any) -> list[Any]:
    return meta.parse(json_request(json_body(document)), CHANNEL, RECEIVED_AT)


# --- signature ---------------------------------------------------------------------------


def test_a_correctly_signed_request_is_accepted() -> None:
    request = signed_meta_request(fixture_json("meta", "text"), APP_SECRET)
    meta.verify(request, CHANNEL, {"app_secret": APP_SECRET})


def test_an_uppercase_hex_digest_is_accepted() -> None:
    body = json_body(fixture_json("meta", "text"))
    header = "sha256=" + meta_signature(body, APP_SECRET).removeprefix("sha256=").upper()
    request = json_request(body, {"X-Hub-Signature-256": header})
    meta.verify(request, CHANNEL, {"app_secret": APP_SECRET})


def test_a_missing_signature_is_401() -> None:
    request = json_request(fixture_json("meta", "text"))
    with pytest.raises(SignatureRejected) as rejected:
        meta.verify(request, CHANNEL, {"app_secret": APP_SECRET})
    assert rejected.value.status == 401


def test_a_signature_made_with_another_secret_is_403() -> None:
    request = signed_meta_request(fixture_json("meta", "text"), "someone-elses-secret")
    with pytest.raises(SignatureRejected) as rejected:
        meta.verify(request, CHANNEL, {"app_secret": APP_SECRET})
    assert rejected.value.status == 403


def test_a_tampered_body_is_403() -> None:
    body = json_body(fixture_json("meta", "text"))
    header = meta_signature(body, APP_SECRET)
    tampered = body.replace(b"another color", b"a discount!!!")
    request = json_request(tampered, {"X-Hub-Signature-256": header})
    with pytest.raises(SignatureRejected) as rejected:
        meta.verify(request, CHANNEL, {"app_secret": APP_SECRET})
    assert rejected.value.status == 403


@pytest.mark.parametrize("header", ["sha1=abc", "sha256=", "abcdef", "sha256=zz\u00e9"])
def test_a_malformed_signature_header_is_403(header: str) -> None:
    request = json_request(fixture_json("meta", "text"), {"X-Hub-Signature-256": header})
    with pytest.raises(SignatureRejected) as rejected:
        meta.verify(request, CHANNEL, {"app_secret": APP_SECRET})
    assert rejected.value.status == 403


def test_an_unresolved_app_secret_is_a_deployment_error_not_a_rejection() -> None:
    request = signed_meta_request(fixture_json("meta", "text"), APP_SECRET)
    with pytest.raises(SecretUnavailable):
        meta.verify(request, CHANNEL, {})


# --- GET handshake -----------------------------------------------------------------------


def test_the_handshake_returns_the_challenge() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert meta.answer_challenge(query, "tok") == "1158201444"


@pytest.mark.parametrize("missing", ["hub.mode", "hub.verify_token", "hub.challenge"])
def test_a_handshake_without_its_parameters_is_401(missing: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    del query[missing]
    with pytest.raises(SignatureRejected) as rejected:
        meta.answer_challenge(query, "tok")
    assert rejected.value.status == 401


def test_a_handshake_with_the_wrong_token_is_403() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    with pytest.raises(SignatureRejected) as rejected:
        meta.answer_challenge(query, "tok")
    assert rejected.value.status == 403


def test_a_handshake_that_is_not_a_subscription_is_400() -> None:
    query = {"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"}
    with pytest.raises(PayloadRejected):
        meta.answer_challenge(query, "tok")


# --- documented payloads -----------------------------------------------------------------


def test_a_text_message_becomes_a_lead_message() -> None:
    assert parse_fixture("text") == [
        LeadMessage(
            event_id=f"meta:lead_message:{WAMID}",
            provider="meta",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=SENT_AT,
            received_at=RECEIVED_AT,
            message_id=WAMID,
            contact=SHEENA,
            content=MessageContent(
                message_type=MessageType.TEXT, text="Does it come in another color?"
            ),
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
                    provider_media_id="1003383421387256",
                    mime_type="image/jpeg",
                    sha256="fMa7Pq6lmiV+yBv2tKfMrEpRNOcsFIe9Fyqw8qzDWYk=",
                    caption="This one, in blue?",
                ),
            ),
        ),
        (
            "audio_voice",
            MessageContent(
                message_type=MessageType.AUDIO,
                media=Media(
                    provider_media_id="1100493208437618",
                    mime_type="audio/ogg; codecs=opus",
                    sha256="J1jM4rJ5wBhWbM1bUHxT+Iw9c2/8FMvVUXy1KN3UVD0=",
                    voice=True,
                ),
            ),
        ),
        (
            "video",
            MessageContent(
                message_type=MessageType.VIDEO,
                media=Media(
                    provider_media_id="1247713753350815",
                    mime_type="video/mp4",
                    sha256="n2E1L3+YxWSh1c5S1dPJ0o5xTKJtH1KrA2HgGSWqWG0=",
                    caption="Unboxing",
                ),
            ),
        ),
        (
            "document",
            MessageContent(
                message_type=MessageType.DOCUMENT,
                media=Media(
                    provider_media_id="1090898659312358",
                    mime_type="application/pdf",
                    sha256="Mt+kBaRMeVrb7uJXaSdLHQc9LQLiuhr3SdgbbsBvHtI=",
                    filename="quote.pdf",
                    caption="Quote we received",
                ),
            ),
        ),
        (
            "sticker",
            MessageContent(
                message_type=MessageType.STICKER,
                media=Media(
                    provider_media_id="1202446914318416",
                    mime_type="image/webp",
                    sha256="0y8QTSnmqjA5+nwiFrlzzNZNBxvXX1tONpQ4pKWW1Tw=",
                ),
            ),
        ),
        (
            "location",
            MessageContent(
                message_type=MessageType.LOCATION,
                location=Location(
                    latitude=37.483307,
                    longitude=-122.148981,
                    name="Meta Headquarters",
                    address="1 Hacker Way, Menlo Park, CA 94025",
                    url="https://www.meta.com",
                ),
            ),
        ),
        (
            "contacts",
            MessageContent(
                message_type=MessageType.CONTACTS,
                contacts=(
                    SharedContact(
                        name="Barbara J. Johnson", phones=("+19405551234", "+16505551234")
                    ),
                ),
            ),
        ),
        (
            "interactive_button_reply",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(kind="button", id="cancel-button", title="Cancel"),
                reply_to=REPLIED_TO,
            ),
        ),
        (
            "interactive_list_reply",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(
                    kind="list",
                    id="priority_express",
                    title="Express Shipping",
                    description="Next business day delivery",
                ),
                reply_to=REPLIED_TO,
            ),
        ),
        (
            "button",
            MessageContent(
                message_type=MessageType.INTERACTIVE_REPLY,
                interactive=InteractiveReply(
                    kind="button", id="Unsubscribe", title="Stop promotions"
                ),
                reply_to=REPLIED_TO,
            ),
        ),
        (
            "reaction",
            MessageContent(
                message_type=MessageType.REACTION,
                reaction=Reaction(emoji="\U0001f44d", message_id=REPLIED_TO),
            ),
        ),
        (
            "unsupported",
            MessageContent(
                message_type=MessageType.UNSUPPORTED, unsupported_type="unsupported:edit"
            ),
        ),
        (
            "system",
            MessageContent(message_type=MessageType.UNSUPPORTED, unsupported_type="system"),
        ),
    ],
)
def test_each_documented_message_type_keeps_its_content(
    fixture: str, content: MessageContent
) -> None:
    [event] = parse_fixture(fixture)
    assert isinstance(event, LeadMessage)
    assert event.content == content
    assert event.contact == SHEENA
    assert event.message_id == WAMID
    assert event.occurred_at == SENT_AT


def test_a_click_to_whatsapp_ad_message_carries_its_referral() -> None:
    [event] = parse_fixture("referral")
    assert event.content == MessageContent(
        message_type=MessageType.TEXT,
        text="Can I get more info about the sale?",
        referral=AdReferral(
            ctwa_clid=(
                "Aff-niaAw7V94N8LGd79Vjr43TlJD4UnoBdpZJQ3LzABitbbG6wgKBSVOth4EN0IDr9glsKW"
                "jm2LBaFrJG3Nb0ILxP49ZtossVBNzlS8cFXBvv2ow7gNw"
            ),
            source_id="120226305854810726",
            source_url="https://fb.me/3cr4Wqqkv",
            source_type="ad",
            headline="Chat with us",
            body="Summer sale: 20% off all succulents",
            media_type="image",
        ),
    )


def test_a_batch_matches_each_message_to_its_own_contact_not_by_position() -> None:
    first, second = parse_fixture("batch_two_contacts")
    assert (first.message_id, first.content.text) == (
        "wamid.HBgMNTUzMTg4ODg3Nzc3FQIAEhggQjE=",
        "Sou o Bruno",
    )
    assert first.contact == ContactRef(
        phone="+553188887777", wa_id="553188887777", profile_name="Bruno Lima"
    )
    assert second.content.text == "Sou a Ana"
    assert second.contact == ContactRef(
        phone="+5511988887777", wa_id="5511988887777", profile_name="Ana Souza"
    )
    assert first.occurred_at == datetime.fromtimestamp(1749416390, tz=UTC)


def test_a_username_only_contact_is_keyed_by_its_business_scoped_id() -> None:
    [event] = parse_fixture("bsuid_without_phone")
    assert event.contact == ContactRef(
        wa_id="US.13491208655302741918", profile_name="Sheena Nelson"
    )
    assert event.contact_key == "US.13491208655302741918"


def test_a_sent_status_becomes_a_status_update() -> None:
    message_id = REPLIED_TO
    assert parse_fixture("status_sent") == [
        StatusUpdate(
            event_id=f"meta:status_update:{message_id}:sent",
            provider="meta",
            tenant_id="t-1",
            channel_id="ch-1",
            occurred_at=datetime.fromtimestamp(1749416400, tz=UTC),
            received_at=RECEIVED_AT,
            message_id=message_id,
            status=DeliveryStatus.SENT,
            contact=ContactRef(phone="+16505551234", wa_id="16505551234"),
        )
    ]


def test_a_failed_status_carries_the_error_code_and_title() -> None:
    [event] = parse_fixture("status_failed")
    assert isinstance(event, StatusUpdate)
    assert event.status is DeliveryStatus.FAILED
    assert event.event_id == f"meta:status_update:{REPLIED_TO}:failed"
    assert event.error_code == "131049"
    assert event.error_title == (
        "This message was not delivered to maintain healthy ecosystem engagement."
    )


def test_other_fields_carry_no_events() -> None:
    assert parse_fixture("template_status_update") == []


def test_an_empty_entry_list_is_not_an_error() -> None:
    assert parse_document({"object": "whatsapp_business_account", "entry": []}) == []


def test_messages_for_another_phone_number_are_skipped() -> None:
    other = channel_for("meta", phone_number_id="999999999999999")
    request = json_request(fixture_json("meta", "text"))
    assert meta.parse(request, other, RECEIVED_AT) == []


def test_a_channel_without_a_phone_number_id_takes_every_message() -> None:
    request = json_request(fixture_json("meta", "text"))
    assert len(meta.parse(request, channel_for("meta"), RECEIVED_AT)) == 1


def test_a_retry_yields_the_same_event_ids() -> None:
    first = [event.event_id for event in parse_fixture("batch_two_contacts")]
    assert first == [event.event_id for event in parse_fixture("batch_two_contacts")]
    assert len(set(first)) == 2


# --- malformed bodies --------------------------------------------------------------------


def broken(path: list[Any], value: Any) -> dict[str, Any]:
    """Return the text fixture with the value at ``path`` replaced (or removed if ``...``)."""
    document = copy.deepcopy(fixture_json("meta", "text"))
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


MESSAGE = ["entry", 0, "changes", 0, "value", "messages", 0]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (broken(["object"], "page"), "object must be whatsapp_business_account"),
        (broken(["entry"], ...), "entry must be a list"),
        (broken(["entry"], {"id": "1"}), "entry must be a list"),
        (broken(["entry", 0], "entry"), "body.entry[0] must be an object"),
        (broken(["entry", 0, "changes"], "x"), "changes must be a list, got string"),
        (broken(["entry", 0, "changes", 0, "field"], ...), "field is missing"),
        (broken(["entry", 0, "changes", 0, "value"], ...), "value is missing"),
        (broken(["entry", 0, "changes", 0, "value", "messages"], {}), "messages must be a list"),
        (broken([*MESSAGE, "id"], ...), "messages[0].id is missing"),
        (broken([*MESSAGE, "id"], 42), "messages[0].id must be a string, got number"),
        (broken([*MESSAGE, "from"], ...), "messages[0].from is missing"),
        (broken([*MESSAGE, "timestamp"], ...), "timestamp must be a Unix timestamp, got null"),
        (broken([*MESSAGE, "timestamp"], "soon"), "timestamp is not a valid Unix timestamp"),
        (broken([*MESSAGE, "timestamp"], "1e400"), "timestamp is not a valid Unix timestamp"),
        (broken([*MESSAGE, "text"], "hi"), "messages[0].text must be an object, got string"),
        (broken([*MESSAGE, "type"], ...), "messages[0].type is missing"),
        (broken([*MESSAGE, "type"], "image"), "messages[0].image is missing"),
        (broken([*MESSAGE, "context"], []), "context must be an object, got list"),
    ],
)
def test_a_body_that_is_not_metas_format_is_rejected_with_a_reason(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PayloadRejected) as rejected:
        parse_document(document)
    assert reason in rejected.value.reason
    assert rejected.value.status == 400


def test_a_location_with_a_non_numeric_latitude_is_rejected() -> None:
    document = fixture_json("meta", "location")
    document["entry"][0]["changes"][0]["value"]["messages"][0]["location"]["latitude"] = "north"
    with pytest.raises(PayloadRejected, match="latitude is not a number"):
        parse_document(document)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"1" * 5000, "application/json"),
        (b"[" * 100_000, "application/json"),
        (json_body({"object": "whatsapp_business_account", "entry": []}), "text/plain"),
        (json_body({"object": "whatsapp_business_account", "entry": []}), ""),
    ],
)
def test_bodies_that_are_not_a_json_object_are_rejected(body: bytes, content_type: str) -> None:
    request = json_request(body, {"content-type": content_type})
    with pytest.raises(PayloadRejected):
        meta.parse(request, CHANNEL, RECEIVED_AT)
