"""Fault switches apply to the requests they name, as many times as they say."""

from __future__ import annotations

import pytest

from emulators.simulator.faults import SEND_ERROR_FAULTS, FaultBoard, FaultRejected


def test_a_counted_fault_applies_that_many_times() -> None:
    board = FaultBoard()
    board.add("rate_limit", provider="meta", count=2)

    taken = [board.take(SEND_ERROR_FAULTS, "meta", "c-1") for _ in range(3)]

    assert [fault.kind if fault else None for fault in taken] == ["rate_limit", "rate_limit", None]
    assert board.active() == []


def test_an_uncounted_fault_applies_until_cleared() -> None:
    board = FaultBoard()
    board.add("server_error")

    assert all(board.take(SEND_ERROR_FAULTS, "zapi", None) for _ in range(5))
    [fault] = board.active()
    assert (fault.applied, fault.remaining) == (5, None)
    board.clear()
    assert board.take(SEND_ERROR_FAULTS, "zapi", None) is None


def test_faults_match_their_provider_channel_and_kind() -> None:
    board = FaultBoard()
    board.add("throughput", provider="twilio", channel_id="c-2")

    assert board.take(SEND_ERROR_FAULTS, "meta", "c-2") is None
    assert board.take(SEND_ERROR_FAULTS, "twilio", "c-1") is None
    assert board.take(("slow",), "twilio", "c-2") is None
    assert board.take(SEND_ERROR_FAULTS, "twilio", "c-2") is not None


def test_the_oldest_matching_fault_applies_first() -> None:
    board = FaultBoard()
    board.add("server_error", count=1)
    board.add("rate_limit", count=1)

    first, second = (board.take(SEND_ERROR_FAULTS, "meta", "c") for _ in range(2))

    assert (first and first.kind, second and second.kind) == ("server_error", "rate_limit")


def test_a_closed_window_only_exists_on_the_official_apis() -> None:
    board = FaultBoard()
    board.add("window_closed")

    assert board.take(SEND_ERROR_FAULTS, "evolution", "c") is None
    assert board.take(SEND_ERROR_FAULTS, "twilio", "c") is not None
    with pytest.raises(FaultRejected, match="meta and twilio"):
        board.add("window_closed", provider="zapi")


def test_delays_default_per_kind() -> None:
    board = FaultBoard()

    assert board.add("slow").delay_seconds == 3.0
    assert board.add("rate_limit").delay_seconds == 1.0
    assert board.add("slow", delay_seconds=0.25).delay_seconds == 0.25


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"kind": "meltdown"}, "kind must be one of"),
        ({"kind": "slow", "provider": "icq"}, "provider must be one of"),
        ({"kind": "slow", "count": 0}, "count"),
        ({"kind": "slow", "count": True}, "count"),
        ({"kind": "slow", "delay_seconds": -1}, "delay_seconds"),
        ({"kind": "slow", "channel_id": 7}, "channel_id"),
        ({"kind": "slow", "every": 2}, "unknown fields: every"),
        (["slow"], "JSON object"),
    ],
)
def test_bad_fault_descriptions_are_refused(document: object, problem: str) -> None:
    with pytest.raises(FaultRejected, match=problem):
        FaultBoard().add_from_json(document)
