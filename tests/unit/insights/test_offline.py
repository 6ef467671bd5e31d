"""The offline payload: satisfies any output fields, deterministic per event, labelled offline."""

from __future__ import annotations

import random
from typing import Any

import pytest

from shared.insights.models import FieldType, OutputField
from shared.insights.offline import OFFLINE_LABEL, offline_payload
from shared.insights.schema import validate_payload
from shared.insights.templates import TEMPLATES


def random_field(rng: random.Random, index: int) -> OutputField:
    """Return a random but valid output field definition."""
    kind = rng.choice(list(FieldType))
    definition: dict[str, Any] = {
        "name": f"campo_{index}",
        "type": kind.value,
        "required": rng.random() < 0.7,
        "description": rng.choice(["", "Uma descrição qualquer do campo.", "x" * 400]),
    }
    if kind is FieldType.ENUM:
        definition["options"] = [f"opção {n}" for n in range(rng.randint(2, 20))]
    if kind is FieldType.ARRAY:
        definition["items"] = rng.choice(["string", "number", "boolean"])
    if kind is FieldType.NUMBER:
        bounds = sorted(rng.uniform(-1e6, 1e6) for _ in range(2))
        shape = rng.choice(["both", "min", "max", "none", "narrow", "point"])
        if shape in ("both", "min"):
            definition["minimum"] = bounds[0]
        if shape in ("both", "max"):
            definition["maximum"] = bounds[1]
        if shape == "narrow":  # no whole number inside
            definition["minimum"], definition["maximum"] = 0.21, 0.27
        if shape == "point":
            definition["minimum"] = definition["maximum"] = bounds[0]
    return OutputField.model_validate(definition)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_gets_a_valid_offline_payload(key: str) -> None:
    fields = TEMPLATES[key].spec.fields

    payload = offline_payload(fields, "msg:conv-1:3")

    assert validate_payload(fields, payload) == payload
    assert set(payload) == {f.name for f in fields}


@pytest.mark.parametrize("seed", range(40))
def test_random_field_sets_get_valid_payloads(seed: int) -> None:
    rng = random.Random(seed)
    fields = [random_field(rng, index) for index in range(rng.randint(1, 20))]

    payload = offline_payload(fields, f"event-{seed}")

    assert validate_payload(fields, payload) == payload
    assert all(payload[f.name] is not None for f in fields)  # optional fields filled too


def test_the_same_event_always_gets_the_same_payload_and_others_vary() -> None:
    fields = TEMPLATES["qa_auditor"].spec.fields

    first = offline_payload(fields, "ticket:conv-1:won")

    assert offline_payload(fields, "ticket:conv-1:won") == first
    others = [offline_payload(fields, f"ticket:conv-{n}:won") for n in range(2, 12)]
    assert any(other != first for other in others)
    scores = {other["overall_score"] for other in others}
    assert len(scores) > 1 and all(0 <= score <= 10 for score in scores)


def test_texts_are_labelled_offline_and_read_from_the_description() -> None:
    fields = TEMPLATES["closing_coach"].spec.fields

    payload = offline_payload(fields, "e1")

    assert payload["tip"].startswith(OFFLINE_LABEL)
    assert "Dica curta e acionável para o vendedor" in payload["tip"]
    assert "não é uma análise" in payload["suggested_reply"]


def test_arrays_hold_one_or_two_items_of_their_type() -> None:
    fields = [OutputField(name="tags", type=FieldType.ARRAY, items="number")]

    lengths = {len(offline_payload(fields, f"e{n}")["tags"]) for n in range(30)}

    assert lengths == {1, 2}
    assert all(isinstance(item, float) for item in offline_payload(fields, "e1")["tags"])


def test_enum_and_boolean_values_cover_their_options() -> None:
    fields = [
        OutputField(name="risk", type=FieldType.ENUM, options=["baixo", "médio", "alto"]),
        OutputField(name="ok", type=FieldType.BOOLEAN),
    ]

    payloads = [offline_payload(fields, f"e{n}") for n in range(60)]

    assert {p["risk"] for p in payloads} == {"baixo", "médio", "alto"}
    assert {p["ok"] for p in payloads} == {True, False}
