"""Admin transactions aborted by contention are run again, and end in a 503, never a 500."""

from __future__ import annotations

import pytest
from google.api_core.exceptions import Aborted

from shared.admin.errors import ApiError, contended


def test_a_transaction_aborted_by_contention_is_run_again() -> None:
    calls: list[int] = []

    def run() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Aborted("Transaction lock timeout")
        return "done"

    assert contended(run) == "done"
    assert len(calls) == 3


def test_contention_that_never_settles_is_a_503_with_a_reason() -> None:
    calls: list[int] = []

    def run() -> None:
        calls.append(1)
        raise Aborted("Transaction lock timeout")

    with pytest.raises(ApiError) as refused:
        contended(run, attempts=2)

    assert refused.value.status == 503
    assert "try again" in refused.value.message
    assert len(calls) == 2


def test_a_refusal_inside_the_transaction_is_not_retried() -> None:
    calls: list[int] = []

    def run() -> None:
        calls.append(1)
        raise ApiError(409, "already closed")

    with pytest.raises(ApiError) as refused:
        contended(run)

    assert refused.value.status == 409
    assert len(calls) == 1


def test_a_commit_the_client_gave_up_on_is_run_again() -> None:
    calls: list[int] = []

    def run() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("Failed to commit transaction in 5 attempts.") from Aborted("busy")
        return "done"

    assert contended(run) == "done"
    assert len(calls) == 2


def test_other_value_errors_are_not_retried() -> None:
    def run() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        contended(run)
