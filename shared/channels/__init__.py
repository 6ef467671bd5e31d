"""Provider adapters: one module per WhatsApp provider, with ``verify``, ``parse`` and ``send``.

``adapter_for(provider)`` returns the module for a provider name, imported on first use so a
webhook instance loads only the providers it serves (see ``shared/channels/base.py``).
"""

from __future__ import annotations

import importlib
from typing import cast

from shared.channels.base import ProviderAdapter
from shared.models.events import PROVIDERS


def adapter_for(provider: str) -> ProviderAdapter | None:
    """Return the adapter module for ``provider``, or None when no such provider exists."""
    if provider not in PROVIDERS:
        return None
    return cast(ProviderAdapter, importlib.import_module(f"shared.channels.{provider}"))
