"""The follow-up task body: round trip, and strict parsing (a malformed body is a 400)."""

from __future__ import annotations

import json

import pytest

from shared.events.tasks import FollowupRequest


def test_round_trip() -> None:
    request = FollowupRequest("t", "c", 3, 1, 7, kind="inactivity")

    assert FollowupRequest.from_json(request.to_json()) == request
    assert json.loads(request.to_json()) == {
        "tenant_id": "t",
        "conversation_id": "c",
        "generation": 3,
        "step": 1,
        "inbound_seq": 7,
        "kind": "inactivity",
    }


def test_kind_defaults_to_followup() -> None:
    body = (
        b'{"tenant_id": "t", "conversation_id": "c", "generation": 1, "step": 0, "inbound_seq": 1}'
    )

    assert FollowupRequest.from_json(body).kind == "followup"


def test_a_seller_inactivity_task_queued_before_the_rename_is_an_inactivity_check() -> None:
    body = (
        b'{"tenant_id": "t", "conversation_id": "c", "generation": 2, "step": 0,'
        b' "inbound_seq": 4, "kind": "seller_inactivity"}'
    )

    assert FollowupRequest.from_json(body) == FollowupRequest("t", "c", 2, 0, 4, kind="inactivity")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "Expecting value"),
        (b"[]", "not a JSON object"),
        (b'{"tenant_id": "t"}', "conversation_id must be a non-empty string"),
        (
            b'{"tenant_id": "t", "conversation_id": "c", "generation": "1", "step": 0,'
            b' "inbound_seq": 1}',
            "generation must be an integer",
        ),
        (
            b'{"tenant_id": "t", "conversation_id": "c", "generation": 1, "step": true,'
            b' "inbound_seq": 1}',
            "step must be an integer",
        ),
        (
            b'{"tenant_id": "t", "conversation_id": "c", "generation": 1, "step": 0,'
            b' "inbound_seq": 0}',
            "inbound_seq must be an integer of at least 1",
        ),
        (
            b'{"tenant_id": "t", "conversation_id": "c", "generation": 1, "step": 0,'
            b' "inbound_seq": 1, "kind": "turn"}',
            "kind must be one of followup, inactivity",
        ),
        (
            b'{"tenant_id": "t", "conversation_id": "c", "generation": 1, "step": 0,'
            b' "inbound_seq": 1, "kind": ["inactivity"]}',
            "kind must be one of followup, inactivity",
        ),
    ],
)
def test_malformed_bodies_are_refused_with_the_reason(body: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match="not a follow-up request") as error:
        FollowupRequest.from_json(body)
    assert problem in str(error.value)
