"""Phone numbers and WhatsApp identifiers as the providers send them, made canonical.

Providers name the same person differently: ``whatsapp:+5511988887777`` (Twilio),
``5511988887777`` (Meta, Z-API), ``5511988887777@s.whatsapp.net`` (Evolution) or a privacy
"linked id" ``81896604192873@lid`` that is not a phone number at all. ``to_e164`` turns the
phone forms into E.164; ``to_lid`` keeps the LID form apart.

Brazilian WhatsApp ids registered before the ninth digit (``553188887777``) are kept as they
are: WhatsApp itself addresses them that way, so no digit is inserted or assumed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from shared.models.events import ContactRef

_PHONE_JID_DOMAINS = frozenset({"s.whatsapp.net", "c.us"})
_VCARD_WAID = re.compile(r"waid=(\d+)", re.IGNORECASE)


def to_e164(raw: str, default_region: str = "BR") -> str | None:
    """Return ``raw`` as an E.164 phone number, or None when it is not a possible one."""
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:") :].strip()
    if "@" in text:
        local, _, domain = text.partition("@")
        if domain.lower() not in _PHONE_JID_DOMAINS:
            return None
        text = local.split(":", 1)[0]
    if text.isascii() and text.isdigit():
        text = "+" + text
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def to_lid(raw: str) -> str | None:
    """Return ``raw`` as ``<id>@lid`` when it is a WhatsApp linked id, else None."""
    local, _, domain = raw.strip().partition("@")
    if domain.lower() != "lid" or not local:
        return None
    return f"{local.split(':', 1)[0]}@lid"


def jid_user(raw: str) -> str:
    """Return the user part of a JID or prefixed address (``whatsapp:+55..`` -> ``55..``)."""
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:") :]
    return text.partition("@")[0].split(":", 1)[0].lstrip("+")


def contact_from_identifiers(
    identifiers: Iterable[str | None], profile_name: str | None = None
) -> ContactRef | None:
    """Build a contact from a provider's identifiers for one person (JIDs, phones, LIDs).

    The first identifier that is a phone number gives ``phone`` and ``wa_id``, the first LID
    gives ``lid``; an identifier that is neither still gives ``wa_id`` when nothing better
    does. Returns None when no identifier names anyone.
    """
    phone: str | None = None
    wa_id: str | None = None
    lid: str | None = None
    for identifier in identifiers:
        if not identifier or not identifier.strip():
            continue
        as_lid = to_lid(identifier)
        if as_lid is not None:
            lid = lid or as_lid
            continue
        as_phone = to_e164(identifier) if phone is None else None
        if as_phone is not None:
            phone, wa_id = as_phone, jid_user(identifier)
        elif wa_id is None:
            wa_id = jid_user(identifier) or None
    if phone is None and lid is None and wa_id is None:
        return None
    return ContactRef(phone=phone, wa_id=wa_id, lid=lid, profile_name=profile_name)


def phones_from_vcard(vcard: str) -> tuple[str, ...]:
    """Return the phone numbers of a vCard, E.164 where possible, in order and without repeats."""
    found: list[str] = []
    for line in vcard.replace("\\n", "\n").splitlines():
        name, _, value = line.strip().partition(":")
        if "TEL" not in name.upper():
            continue
        waid = _VCARD_WAID.search(name)
        number = waid.group(1) if waid else value.strip()
        if number:
            phone = to_e164(number) or number
            if phone not in found:
                found.append(phone)
    return tuple(found)
