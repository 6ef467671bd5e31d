"""Output fields → pydantic model → validation, for every field type, and bad definitions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.insights.models import InsightAgentSpec, OutputField
from shared.insights.schema import PayloadInvalid, check_fields, payload_model, validate_payload


def field(name: str, kind: str, **extra: Any) -> OutputField:
    return OutputField.model_validate({"name": name, "type": kind, **extra})


FIELDS = [
    field("summary", "string", description="Resumo em uma frase."),
    field("score", "number", minimum=0, maximum=10, description="Nota de 0 a 10."),
    field("ratio", "number"),
    field("agreed", "boolean"),
    field("tags", "array", items="string"),
    field("amounts", "array", items="number"),
    field("flags", "array", items="boolean"),
    field("risk", "enum", options=["baixo", "médio", "alto"]),
    field("note", "string", required=False),
    field("value", "number", minimum=0, required=False),
]

VALID = {
    "summary": "Lead quer preço.",
    "score": 7,
    "ratio": -3.25,
    "agreed": True,
    "tags": ["preço", "urgente"],
    "amounts": [1, 2.5],
    "flags": [False],
    "risk": "médio",
    "note": None,
}


def problems(data: Any, fields: list[OutputField] = FIELDS) -> str:
    with pytest.raises(PayloadInvalid) as caught:
        validate_payload(fields, data)
    return str(caught.value)


def test_a_valid_payload_comes_back_as_plain_json_data() -> None:
    payload = validate_payload(FIELDS, VALID)

    assert payload == {
        "summary": "Lead quer preço.",
        "score": 7.0,
        "ratio": -3.25,
        "agreed": True,
        "tags": ["preço", "urgente"],
        "amounts": [1.0, 2.5],
        "flags": [False],
        "risk": "médio",
        "note": None,
        "value": None,
    }
    assert validate_payload(FIELDS, payload) == payload  # round trip


def test_the_json_schema_carries_names_types_bounds_options_and_descriptions() -> None:
    schema = payload_model(FIELDS).model_json_schema()
    properties = schema["properties"]

    assert list(properties) == [f.name for f in FIELDS]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {f.name for f in FIELDS if f.required}
    assert properties["summary"]["description"] == "Resumo em uma frase."
    assert properties["score"]["type"] == "number"
    assert (properties["score"]["minimum"], properties["score"]["maximum"]) == (0, 10)
    assert properties["agreed"]["type"] == "boolean"
    assert properties["tags"]["items"] == {"type": "string"}
    assert properties["amounts"]["items"] == {"type": "number"}
    assert properties["risk"]["enum"] == ["baixo", "médio", "alto"]
    assert {"type": "null"} in properties["note"]["anyOf"]


def test_names_that_are_pydantic_attributes_work_as_field_names() -> None:
    fields = [field("json", "string"), field("copy", "boolean"), field("schema", "number")]

    payload = validate_payload(fields, {"json": "x", "copy": False, "schema": 1})

    assert payload == {"json": "x", "copy": False, "schema": 1.0}
    assert list(payload_model(fields).model_json_schema()["properties"]) == [
        "json",
        "copy",
        "schema",
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"summary": 12}, "summary: must be a text (got 12)"),
        ({"summary": None}, "summary: must be a text (got null)"),
        ({"score": 11}, "score: must be between 0 and 10 (got 11)"),
        ({"score": -0.5}, "score: must be between 0 and 10 (got -0.5)"),
        ({"score": "7"}, 'score: must be a number (got "7")'),
        ({"ratio": True}, "ratio: must be a number (got true)"),
        ({"agreed": "sim"}, 'agreed: must be true or false (got "sim")'),
        ({"agreed": 1}, "agreed: must be true or false (got 1)"),
        ({"tags": "preço"}, 'tags: must be a list of texts (got "preço")'),
        ({"tags": ["ok", 3]}, "tags[1]: must be a text (got 3)"),
        ({"amounts": [1, "dois"]}, 'amounts[1]: must be a number (got "dois")'),
        ({"flags": ["true"]}, 'flags[0]: must be true or false (got "true")'),
        ({"risk": "Médio"}, 'risk: must be one of baixo, médio, alto (got "Médio")'),
        ({"value": -1}, "value: must be between 0 and ∞ (got -1)"),
        ({"extra": 1}, "extra: not one of the output fields"),
    ],
)
def test_each_kind_of_bad_value_is_refused_naming_the_field(
    changes: dict[str, Any], expected: str
) -> None:
    assert expected in problems({**VALID, **changes})


def test_every_missing_required_field_is_named_and_optional_ones_may_be_missing() -> None:
    message = problems({"note": "só isso"})

    for required in ("summary", "score", "ratio", "agreed", "tags", "amounts", "flags", "risk"):
        assert f"{required}: required" in message
    assert "note" not in message and "value" not in message


def test_several_problems_are_listed_together() -> None:
    with pytest.raises(PayloadInvalid) as caught:
        validate_payload(FIELDS, {**VALID, "score": 99, "risk": "x"})
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize("data", [None, [], "texto", 3])
def test_a_payload_that_is_not_an_object_is_refused(data: Any) -> None:
    assert "the payload must be a JSON object" in problems(data)


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({"name": "risk", "type": "enum"}, "enum field 'risk' needs between 2 and 20 options"),
        ({"name": "risk", "type": "enum", "options": ["a", "a"]}, "repeats an option"),
        ({"name": "tip", "type": "string", "options": ["a", "b"]}, "takes no options"),
        ({"name": "tip", "type": "string", "minimum": 1}, "takes no minimum or maximum"),
        ({"name": "n", "type": "number", "minimum": 5, "maximum": 1}, "minimum above its maximum"),
        ({"name": "Nota Final", "type": "number"}, "must start with a lowercase letter"),
        ({"name": "1st", "type": "number"}, "must start with a lowercase letter"),
        ({"name": "class", "type": "string"}, "field name 'class' is reserved"),
        ({"name": "model_name", "type": "string"}, "field name 'model_name' is reserved"),
        ({"name": "x", "type": "date"}, "type: Input should be"),
        ({"name": "x", "type": "string", "colour": "red"}, "colour: unknown property"),
        ({"type": "string"}, "name: required"),
    ],
)
def test_bad_definitions_are_refused_naming_the_index_and_the_problem(
    definition: dict[str, Any], expected: str
) -> None:
    raw = [{"name": "ok", "type": "string"}, definition]

    with pytest.raises(ValueError) as caught:
        check_fields(raw)

    message = str(caught.value)
    assert message.startswith("field 1")
    assert expected in message


def test_repeated_names_and_bad_lists_are_refused() -> None:
    repeated = [
        {"name": "a", "type": "string"},
        {"name": "b", "type": "boolean"},
        {"name": "a", "type": "number"},
    ]
    with pytest.raises(
        ValueError, match=r"field 2 \('a'\): the name 'a' is already used by field 0"
    ):
        check_fields(repeated)
    with pytest.raises(ValueError, match="between 1 and 20 output fields"):
        check_fields([])
    with pytest.raises(ValueError, match="between 1 and 20 output fields"):
        check_fields([{"name": f"f{i}", "type": "string"} for i in range(21)])
    with pytest.raises(ValueError, match="must be a list"):
        check_fields({"name": "a"})
    with pytest.raises(ValueError, match="field 0: must be an object"):
        check_fields(["a"])


def test_check_fields_returns_the_definitions() -> None:
    fields = check_fields([{"name": "risk", "type": "enum", "options": [" baixo ", "alto"]}])

    assert fields == [field("risk", "enum", options=["baixo", "alto"])]


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Coach",
        "prompt": "Ajude o vendedor.",
        "triggers": [{"event": "NEW_MESSAGE_RECEIVED"}],
        "fields": [{"name": "tip", "type": "string"}, {"name": "ok", "type": "boolean"}],
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"message_field": "ok"}, "message_field 'ok' must name one of the string fields"),
        ({"message_field": "nope"}, "message_field 'nope' must name one of the string fields"),
        ({"send_conversion": True}, "send_conversion needs apply_action mark_won"),
        (
            {"fields": [{"name": "a", "type": "string"}, {"name": "a", "type": "number"}]},
            "output field names repeat: a",
        ),
    ],
)
def test_agent_level_definition_problems_are_refused_clearly(
    changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        InsightAgentSpec.model_validate(spec(**changes))


def test_a_coherent_agent_definition_is_accepted() -> None:
    agent = InsightAgentSpec.model_validate(
        spec(message_field="tip", apply_action="mark_won", send_conversion=True)
    )
    assert agent.message_field == "tip"
