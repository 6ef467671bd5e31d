"""What the four simulated send APIs share: the accepted request, the module shape, helpers.

A provider module (``meta``, ``twilio``, ``evolution``, ``zapi`` in this package) reads one
send request in its provider's format: it finds the channel, checks the credentials, validates
the body and returns either a ``SendAccepted`` (with the success answer ready) or the error
``Response`` the provider would give. ``fault_response`` is its answer to a fault switch.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from emulators.simulator.channels import SimulatedChannel
from emulators.simulator.faults import Fault
from emulators.simulator.outbox import SentContent
from emulators.simulator.routing import Request, Response
from shared.channels.phones import to_e164
from shared.models.events import Provider


@dataclass(frozen=True)
class SendAccepted:
    """A send request the provider would accept, with its message id and success answer."""

    channel: SimulatedChannel
    to: str
    """The recipient in E.164."""
    content: SentContent
    message_id: str
    response: Response
    request: Mapping[str, Any]
    status_callback: str | None = None
    """Where the provider posts this message's statuses when not the channel's webhook."""


class SendApi(Protocol):
    """The shape of a simulated provider's send module."""

    PROVIDER: Provider
    SEND_ROUTE: str

    def accept_send(
        self,
        request: Request,
        params: Mapping[str, str],
        channels: Sequence[SimulatedChannel],
        now: datetime,
    ) -> SendAccepted | Response: ...

    def fault_response(self, fault: Fault) -> Response: ...


def same_secret(expected: str | None, presented: str | None) -> bool:
    """Compare a presented credential with the expected one in constant time."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def retry_after(fault: Fault) -> dict[str, str]:
    """Return the ``Retry-After`` header of a rate-limit fault (whole seconds)."""
    return {"Retry-After": str(math.ceil(fault.delay_seconds))}


def recipient(raw: object) -> str | None:
    """Return a recipient (digits, ``+digits`` or a JID) as E.164, or None."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    local = text.partition("@")[0]
    if not local.lstrip("+").isdigit():
        return None
    return to_e164(text)


def text_field(document: Mapping[str, Any], key: str) -> str | None:
    """Return a non-empty string field, or None."""
    value = document.get(key)
    return value if isinstance(value, str) and value.strip() else None


def object_field(document: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """Return an object field, or None."""
    value = document.get(key)
    return value if isinstance(value, dict) else None
