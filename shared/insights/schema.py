"""An insight agent's output fields become a pydantic model at run time, and payloads are
validated against it.

``payload_model`` builds the model the chat model is asked for (``with_structured_output``):
string → ``str``, number → ``float`` within the field's minimum and maximum, boolean → ``bool``,
array → a list of the item type, enum → one of the options. A required field must be present;
an optional one may be missing or null. Every field's description goes into the JSON schema, so
the model reads what each field means. Values are strict (``"7"`` is not a number, ``"sim"`` is
not a boolean) and unknown keys are refused.

The model's attributes are ``f0``, ``f1``... with the field names as aliases, so any name the
definitions allow (``json``, ``copy``...) can never clash with pydantic's own attributes; the
JSON schema and the payload use the field names.

``validate_payload`` returns the payload as plain JSON-ready data or raises ``PayloadInvalid``
whose message names each bad field; that message is what the runner tells the model on its
retry. ``check_fields`` validates a raw list of definitions at once (the admin API's builder).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from shared.insights.models import MAX_FIELDS, FieldType, OutputField

MAX_STRING_CHARS = 4000
MAX_ARRAY_ITEMS = 50
_ITEM_TYPES: dict[str, type] = {"string": str, "number": float, "boolean": bool}
_ITEM_NAMES = {"string": "texts", "number": "numbers", "boolean": "true/false values"}


class PayloadInvalid(ValueError):
    """A payload does not satisfy the agent's output fields; ``problems`` names each field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def payload_model(fields: list[OutputField]) -> type[BaseModel]:
    """Return the pydantic model of a payload with these output fields."""
    return _cached_model(json.dumps([field.model_dump(mode="json") for field in fields]))


@lru_cache(maxsize=256)
def _cached_model(definitions: str) -> type[BaseModel]:
    fields = [OutputField.model_validate(item) for item in json.loads(definitions)]
    attributes: dict[str, Any] = {
        f"f{index}": _attribute(field) for index, field in enumerate(fields)
    }
    model: type[BaseModel] = create_model(
        "InsightPayload",
        __config__=ConfigDict(extra="forbid", strict=True, populate_by_name=False),
        __doc__="The structured output of this insight agent: fill every field as described.",
        **attributes,
    )
    return model


def _attribute(field: OutputField) -> tuple[Any, Any]:
    """Return the (annotation, FieldInfo) of one output field."""
    annotation: Any
    constraints: dict[str, Any] = {}
    if field.type is FieldType.STRING:
        annotation = str
        constraints["max_length"] = MAX_STRING_CHARS
    elif field.type is FieldType.NUMBER:
        annotation = float
        constraints["allow_inf_nan"] = False
        if field.minimum is not None:
            constraints["ge"] = field.minimum
        if field.maximum is not None:
            constraints["le"] = field.maximum
    elif field.type is FieldType.BOOLEAN:
        annotation = bool
    elif field.type is FieldType.ARRAY:
        item_type = _ITEM_TYPES[field.items]
        annotation = list[item_type]  # type: ignore[valid-type]
        constraints["max_length"] = MAX_ARRAY_ITEMS
    else:
        annotation = Literal[tuple(field.options)]
    default: Any = ...
    if not field.required:
        annotation = annotation | None
        default = None
    info = Field(
        default,
        alias=field.name,
        title=field.name.replace("_", " ").capitalize(),
        description=field.description or None,
        **constraints,
    )
    return annotation, info


def validate_payload(fields: list[OutputField], data: Any) -> dict[str, Any]:
    """Return the payload as plain JSON-ready data; raise ``PayloadInvalid`` naming each field."""
    if not isinstance(data, dict):
        raise PayloadInvalid([f"the payload must be a JSON object, not {_kind(data)}"])
    model = payload_model(fields)
    try:
        instance = model.model_validate(data)
    except ValidationError as error:
        by_name = {field.name: field for field in fields}
        raise PayloadInvalid(
            [_problem(problem, by_name) for problem in error.errors(include_url=False)]
        ) from None
    payload: dict[str, Any] = instance.model_dump(mode="json", by_alias=True)
    return payload


def _problem(problem: Any, by_name: dict[str, OutputField]) -> str:
    """Return one validation problem in words, naming the field (and the item of an array)."""
    location = [str(part) for part in problem["loc"]]
    name = location[0] if location else "payload"
    where = name + "".join(f"[{part}]" for part in location[1:] if part.isdigit())
    field = by_name.get(name)
    kind = problem["type"]
    got = problem.get("input")
    if kind == "missing":
        return f"{where}: required"
    if kind == "extra_forbidden" or field is None:
        return f"{where}: not one of the output fields ({', '.join(by_name)})"
    if field.type is FieldType.ENUM:
        return f"{where}: must be one of {', '.join(field.options)} (got {_shown(got)})"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"{where}: must be between {_bounds(field)} (got {_shown(got)})"
    if kind in ("finite_number",):
        return f"{where}: must be a finite number"
    if kind == "too_long" and field.type is FieldType.ARRAY:
        return f"{where}: at most {MAX_ARRAY_ITEMS} items"
    if kind == "string_too_long":
        return f"{where}: at most {MAX_STRING_CHARS} characters"
    expected = {
        FieldType.STRING: "a text",
        FieldType.NUMBER: "a number",
        FieldType.BOOLEAN: "true or false",
        FieldType.ARRAY: f"a list of {_ITEM_NAMES[field.items]}",
    }[field.type]
    if field.type is FieldType.ARRAY and len(location) > 1:
        expected = {"string": "a text", "number": "a number", "boolean": "true or false"}[
            field.items
        ]
    return f"{where}: must be {expected} (got {_shown(got)})"


def _bounds(field: OutputField) -> str:
    low = "-∞" if field.minimum is None else f"{field.minimum:g}"
    high = "∞" if field.maximum is None else f"{field.maximum:g}"
    return f"{low} and {high}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a text",
        list: "a list",
    }.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_fields(raw: Any) -> list[OutputField]:
    """Validate a raw list of output field definitions; ValueError naming the index and problem."""
    if not isinstance(raw, list):
        raise ValueError("fields must be a list of output field definitions")
    if not 1 <= len(raw) <= MAX_FIELDS:
        raise ValueError(f"an agent needs between 1 and {MAX_FIELDS} output fields")
    fields: list[OutputField] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        label = f"field {index}"
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            label = f"field {index} ({item['name']!r})"
        if isinstance(item, OutputField):
            field = item
        elif not isinstance(item, dict):
            raise ValueError(f"{label}: must be an object with name, type, description...")
        else:
            try:
                field = OutputField.model_validate(item)
            except ValidationError as error:
                raise ValueError(f"{label}: {_definition_problem(error)}") from None
        if field.name in seen:
            raise ValueError(
                f"{label}: the name {field.name!r} is already used by field {seen[field.name]}"
            )
        seen[field.name] = index
        fields.append(field)
    return fields


def _definition_problem(error: ValidationError) -> str:
    """Return the problems of one field definition in words."""
    problems = []
    for problem in error.errors(include_url=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        location = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            message = "unknown property"
        elif problem["type"] == "missing":
            message = "required"
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)
