"""Phone numbers and WhatsApp identifiers made canonical."""

from __future__ import annotations

import pytest

from shared.channels.phones import (
    contact_from_identifiers,
    jid_user,
    phones_from_vcard,
    to_e164,
    to_lid,
)
from shared.models.events import ContactRef


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("whatsapp:+5511988887777", "+5511988887777"),
        ("5511988887777", "+5511988887777"),
        ("5511988887777@s.whatsapp.net", "+5511988887777"),
        ("5511988887777:12@s.whatsapp.net", "+5511988887777"),
        ("5511988887777@c.us", "+5511988887777"),
        ("+1 (650) 555-1234", "+16505551234"),
        ("16505551234", "+16505551234"),
        ("(11) 98888-7777", "+5511988887777"),
    ],
)
def test_to_e164_accepts_every_provider_form(raw: str, expected: str) -> None:
    assert to_e164(raw) == expected


def test_brazilian_id_without_the_ninth_digit_is_kept_as_is() -> None:
    assert to_e164("553188887777") == "+553188887777"
    assert to_e164("whatsapp:+553188887777") == "+553188887777"


@pytest.mark.parametrize(
    "raw",
    [
        "81896604192873@lid",
        "120363025246125888@g.us",
        "status@broadcast",
        "123",
        "",
        "not a number",
        "55119888877770000000000",
    ],
)
def test_to_e164_rejects_what_is_not_a_possible_phone(raw: str) -> None:
    assert to_e164(raw) is None


def test_to_lid_keeps_only_linked_ids() -> None:
    assert to_lid("272516946294519@lid") == "272516946294519@lid"
    assert to_lid("272516946294519:3@lid") == "272516946294519@lid"
    assert to_lid("5511988887777@s.whatsapp.net") is None
    assert to_lid("@lid") is None


def test_jid_user_strips_prefixes_and_domains() -> None:
    assert jid_user("whatsapp:+5511988887777") == "5511988887777"
    assert jid_user("5511988887777:7@s.whatsapp.net") == "5511988887777"


def test_contact_takes_the_phone_and_the_lid_whatever_their_order() -> None:
    expected = ContactRef(
        phone="+5519987654321", wa_id="5519987654321", lid="272516946294519@lid", profile_name="R"
    )
    pair = ["272516946294519@lid", "5519987654321@s.whatsapp.net"]
    assert contact_from_identifiers(pair, "R") == expected
    assert contact_from_identifiers(reversed(pair), "R") == expected


def test_contact_keeps_an_unparseable_id_rather_than_inventing_a_phone() -> None:
    contact = contact_from_identifiers(["123@s.whatsapp.net"])
    assert contact == ContactRef(wa_id="123")
    assert contact_from_identifiers([None, "", "  "]) is None


def test_phones_from_vcard_prefers_the_whatsapp_id() -> None:
    vcard = (
        "BEGIN:VCARD\\nVERSION:3.0\\nFN:nome\\n"
        "TEL;type=CELL;type=VOICE;waid=5544999999999:+55 44 9999-9999\\n"
        "item2.TEL:+1 650 555 1234\\nEND:VCARD"
    )
    assert phones_from_vcard(vcard) == ("+5544999999999", "+16505551234")
