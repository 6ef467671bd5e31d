"""Provider adapters: one module per WhatsApp provider, each with ``verify`` and ``parse``.

``adapter_for(provider)`` returns the module for a provider name. Sending arrives in a later
issue as ``send(...)`` beside ``parse`` in the same modules (see ``shared/channels/base.py``).
"""

from __future__ import annotations

from types import ModuleType

from shared.channels import evolution, meta, twilio, zapi
from shared.channels.base import ProviderAdapter

_ADAPTERS: dict[str, ModuleType] = {
    "meta": meta,
    "twilio": twilio,
    "evolution": evolution,
    "zapi": zapi,
}


def adapter_for(provider: str) -> ProviderAdapter | None:
    """Return the adapter module for ``provider``, or None when no such provider exists."""
    module = _ADAPTERS.get(provider)
    return module
