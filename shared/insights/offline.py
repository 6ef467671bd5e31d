"""The offline insight payload: deterministic, satisfies the agent's output fields, says so.

Without Gemini (``PILOTO_LLM=offline``: local development, tests, demos) an insight agent still
produces an insight, so the whole flow (triggers, throttles, the feed, apply and dismiss) can be
seen end to end. The payload is NOT an analysis of the conversation: texts are Portuguese
placeholders built from each field's description and start with ``[offline]``; numbers, booleans,
enum options and array lengths are picked from ``sha256(seed | field name)``, so one event (the
seed is its id) always gets the same payload, and every value satisfies the field (numbers within
their minimum and maximum, enum values among the options). Optional fields are filled too.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from shared.insights.models import FieldType, OutputField

OFFLINE_INSIGHTS_MODEL = "offline-insights"
OFFLINE_LABEL = "[offline]"
_DEFAULT_SPAN = 10.0


def offline_payload(fields: list[OutputField], seed: str) -> dict[str, Any]:
    """Return a payload that satisfies ``fields``, the same for the same seed (an event id)."""
    return {field.name: _value(field, _draw(seed, field.name)) for field in fields}


def _draw(seed: str, name: str) -> int:
    """Return a large number derived from the seed and the field's name."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{name}".encode()).digest()[:8], "big")


def _value(field: OutputField, draw: int) -> Any:
    if field.type is FieldType.STRING:
        return _text(field)
    if field.type is FieldType.NUMBER:
        return _number(field.minimum, field.maximum, draw)
    if field.type is FieldType.BOOLEAN:
        return draw % 2 == 0
    if field.type is FieldType.ENUM:
        return field.options[draw % len(field.options)]
    count = 1 + draw % 2
    return [_item(field, index, draw >> (8 * (index + 1))) for index in range(count)]


def _text(field: OutputField) -> str:
    """Return a readable placeholder for a text field, labelled offline."""
    about = " ".join(field.description.split())
    if len(about) > 140:
        about = f"{about[:137].rstrip()}..."
    subject = about or field.name.replace("_", " ")
    return f"{OFFLINE_LABEL} Exemplo gerado sem IA para “{subject}” (não é uma análise)."


def _item(field: OutputField, index: int, draw: int) -> Any:
    if field.items == "number":
        return float(draw % 11)
    if field.items == "boolean":
        return draw % 2 == 0
    return f"{OFFLINE_LABEL} item {index + 1} de “{field.name.replace('_', ' ')}”"


def _number(minimum: float | None, maximum: float | None, draw: int) -> float:
    """Return a number within [minimum, maximum]: a whole one when the range holds one."""
    low = minimum if minimum is not None else min(0.0, (maximum or 0.0) - _DEFAULT_SPAN)
    high = maximum if maximum is not None else low + _DEFAULT_SPAN
    first, last = math.ceil(low), math.floor(high)
    if first <= last:
        return float(first + draw % (last - first + 1))
    fraction = (draw % 1001) / 1000
    return min(max(low + fraction * (high - low), low), high)
