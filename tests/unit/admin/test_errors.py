"""Validation errors become a 422 naming every bad field by its dotted path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError, field_validator, model_validator

from shared.admin.errors import ApiError, conflict, from_validation_error, invalid, not_found
from shared.admin.schemas import TenantCreate
from shared.models.tenant import AgentSettings


def _error(model: type[BaseModel], data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


def test_the_first_bad_field_is_named_and_every_one_is_listed() -> None:
    error = from_validation_error(
        _error(AgentSettings, {"debounce_seconds": 999, "quiet_hours": {"start": "25:00"}})
    )

    assert error.status == 422
    assert error.code == "validation_failed"
    assert error.field == "debounce_seconds"
    assert [d["field"] for d in error.details] == ["debounce_seconds", "quiet_hours.start"]
    assert error.message.startswith("debounce_seconds: ")
    assert all(d["reason"] for d in error.details)


def test_a_validator_message_loses_pydantics_prefix() -> None:
    error = from_validation_error(_error(AgentSettings, {"followups": ["soon"]}))

    assert error.details == [
        {"field": "followups", "reason": "'soon' is not a duration like 30m, 1h or 3d"}
    ]


def test_list_positions_are_part_of_the_path() -> None:
    error = from_validation_error(_error(AgentSettings, {"qualification_fields": ["a", 3]}))

    assert error.field == "qualification_fields.1"


def test_an_unknown_field_is_named() -> None:
    error = from_validation_error(_error(TenantCreate, {"name": "Boa", "plano": "ouro"}))

    assert error.field == "plano"
    assert error.details[0]["reason"] == "Extra inputs are not permitted"


def test_a_time_zone_error_names_the_field_once() -> None:
    error = from_validation_error(_error(TenantCreate, {"name": "Boa", "timezone": "Mars/Base"}))

    assert error.details == [{"field": "timezone", "reason": "unknown time zone 'Mars/Base'"}]


def test_a_prefix_names_where_the_fields_came_from() -> None:
    error = from_validation_error(_error(AgentSettings, {"max_unanswered": 0}), "query")

    assert error.field == "query.max_unanswered"


class Whole(BaseModel):
    a: int = 0
    b: int = 0

    @model_validator(mode="after")
    def _together(self) -> Whole:
        if self.a > self.b:
            raise ValueError("a must not exceed b")
        return self


def test_a_whole_body_error_is_named_body_or_the_prefix() -> None:
    assert from_validation_error(_error(Whole, {"a": 2, "b": 1})).field == "body"
    assert from_validation_error(_error(Whole, {"a": 2, "b": 1}), "query").field == "query"


class Checked(BaseModel):
    code: str

    @field_validator("code")
    @classmethod
    def _upper(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("must be upper case")
        return value


def test_a_body_that_is_not_an_object() -> None:
    error = from_validation_error(_error(Checked, []))

    assert error.field == "body"


def test_error_bodies_follow_the_contract() -> None:
    assert invalid("email", "not an email").body() == {
        "error": {
            "code": "validation_failed",
            "message": "email: not an email",
            "field": "email",
            "details": [{"field": "email", "reason": "not an email"}],
        }
    }
    assert not_found("channel").body()["error"]["code"] == "not_found"
    assert conflict("closed", "status").body()["error"] == {
        "code": "conflict",
        "message": "closed",
        "field": "status",
        "details": [],
    }
    codes = {status: ApiError(status, "x").code for status in (400, 401, 403, 404, 405, 413)}
    assert codes == {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
    }
