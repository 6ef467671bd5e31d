"""The scenario file of ``piloto simulate``: a tenant, a clock and steps with expectations."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shared.models.events import Provider
from shared.models.tenant import AgentSettings
from shared.yaml_files import load_yaml_model

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_COMPARISON = re.compile(r"^(<=|>=|<|>|==)?\s*(\d+)$")


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the file and the place."""


def parse_duration(text: str) -> timedelta:
    """Turn ``10s``, ``5m``, ``2h`` or ``7d`` into a timedelta."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 10s, 5m, 2h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


class TenantSetup(AgentSettings):
    """The tenant's agent settings plus its time zone and its channel's ``followup`` template."""

    timezone: str = "America/Sao_Paulo"
    template: str | None = None
    """The name of the channel's approved ``followup`` template (none when unset)."""


class Expectation(BaseModel):
    """What must hold at an ``expect`` step; only the keys given are checked.

    ``sent``, ``followups_sent`` and ``triggers`` count since the previous ``expect``;
    ``followups_pending`` counts the follow-up steps scheduled and not run yet (of the current
    generation); ``decision`` and ``reason`` read the latest decision; ``conversation`` and
    ``close_reason`` the lead's current conversation.
    """

    model_config = ConfigDict(extra="forbid")

    sent: int | str | None = None
    followups_sent: int | str | None = None
    decision: str | None = None
    reason: str | None = None
    conversation: Literal["open", "handoff", "closed"] | None = None
    close_reason: str | None = None
    followups_pending: int | None = None
    triggers: int | str | None = None

    @field_validator("sent", "followups_sent", "triggers")
    @classmethod
    def _comparison(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str) and not _COMPARISON.match(value.strip()):
            raise ValueError(f"{value!r} is not a count or a comparison such as '<=1'")
        return value


class Step(BaseModel):
    """Exactly one action: lead, seller, wait, expect or duplicate."""

    model_config = ConfigDict(extra="forbid")

    lead: str | None = None
    seller: str | None = None
    wait: str | None = None
    expect: Expectation | None = None
    duplicate: Literal["last"] | None = None

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a step has exactly one of lead, seller, wait, expect, duplicate;"
                f" got {given or 'none'}"
            )
        return self


class Scenario(BaseModel):
    """One scenario file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    channel: Provider = "meta"
    start: AwareDatetime
    tenant: TenantSetup = Field(default_factory=TenantSetup)
    steps: list[Step]


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file, or raise ScenarioError naming the problem."""
    return load_yaml_model(path, Scenario, ScenarioError)


def compare(actual: int, expected: int | str) -> bool:
    """Check a count against ``3`` or a comparison such as ``'<=1'``."""
    if isinstance(expected, int):
        return actual == expected
    match = _COMPARISON.match(expected.strip())
    assert match is not None
    operator, number = match.group(1) or "==", int(match.group(2))
    return {
        "<=": actual <= number,
        ">=": actual >= number,
        "<": actual < number,
        ">": actual > number,
        "==": actual == number,
    }[operator]
