"""A channel's approved templates: what may go out when WhatsApp's 24-hour window is closed.

A channel names its templates by purpose in ``config.templates``::

    templates:
      followup: {name: retomar_conversa, language: pt_BR, parameters: ["{name}"]}
      reengagement: {name: retomar_conversa, language: pt_BR, parameters: ["{name}"]}

``name`` is the Meta template name or the Twilio ContentSid. A parameter may use ``{name}`` or
any extracted field (``{procedimento_de_interesse}``); a placeholder with no value becomes "".
``followup`` is what a follow-up sends outside the window; ``reengagement`` is what the sender
falls back to when the provider refuses free text outside it (Meta 131047, Twilio 63016).
The tenant's agent settings may name them too (``AgentSettings.templates``, set in the console);
a channel's own entry wins.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, Literal

from shared.models.channel import Channel
from shared.models.decision import OutboundMessage
from shared.models.tenant import AgentTemplates

TemplatePurpose = Literal["followup", "reengagement"]


def template_for(
    channel: Channel,
    purpose: TemplatePurpose,
    values: Mapping[str, str] | None = None,
    defaults: AgentTemplates | None = None,
) -> OutboundMessage | None:
    """Return the template for ``purpose`` (the channel's, else the tenant's), filled, or None."""
    templates = channel.config.get("templates")
    entry: Any = templates.get(purpose) if isinstance(templates, Mapping) else None
    if entry is None and defaults is not None:
        spec = getattr(defaults, purpose)
        entry = spec.model_dump() if spec is not None else None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        return None
    parameters = entry.get("parameters") or []
    return OutboundMessage(
        template=entry["name"],
        template_language=str(entry.get("language") or "pt_BR"),
        template_parameters=[_fill(str(item), values or {}) for item in parameters],
    )


def approved_template(
    channel: Channel, name: str, defaults: AgentTemplates | None = None
) -> Mapping[str, Any] | None:
    """Return the entry of the template called ``name`` when the channel (or the tenant) has it
    approved for any purpose, else None."""
    templates = channel.config.get("templates")
    entries: list[Any] = list(templates.values()) if isinstance(templates, Mapping) else []
    if defaults is not None:
        specs = [getattr(defaults, purpose) for purpose in type(defaults).model_fields]
        entries += [spec.model_dump() for spec in specs if spec is not None]
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return None


def has_template(
    channel: Channel, purpose: TemplatePurpose, defaults: AgentTemplates | None = None
) -> bool:
    """Return whether the channel (or the tenant) has an approved template for ``purpose``."""
    return template_for(channel, purpose, defaults=defaults) is not None


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(pattern: str, values: Mapping[str, str]) -> str:
    try:
        return string.Formatter().vformat(pattern, (), _Blank(values)).strip()
    except (ValueError, IndexError):
        return pattern
