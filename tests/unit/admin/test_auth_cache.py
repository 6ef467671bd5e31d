"""The token cache: a verified token is remembered until it expires (five minutes at most)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.admin.auth import CACHE_ENTRIES, CACHE_SECONDS, Caller, bearer_token, cached_verifier
from shared.admin.errors import ApiError


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Verifier:
    """Claims per token; counts the calls; refuses tokens it does not know."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[str] = []
        self.exp: dict[str, float] = {}

    def __call__(self, token: str) -> dict[str, Any]:
        self.calls.append(token)
        if token.startswith("bad"):
            raise ApiError(401, "the ID token is invalid")
        return {
            "uid": f"uid-{token}",
            "sub": f"uid-{token}",
            "email": "Ana@Example.COM",
            "email_verified": True,
            "exp": self.exp.get(token, self.clock.now + 3600),
        }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(clock: Clock) -> Verifier:
    return Verifier(clock)


def test_a_verified_token_is_answered_from_the_cache(clock: Clock, verifier: Verifier) -> None:
    caller_of = cached_verifier(verifier, clock)

    first = caller_of("t1")
    clock.now += CACHE_SECONDS - 1
    second = caller_of("t1")

    assert first == second == Caller(uid="uid-t1", email="ana@example.com", email_verified=True)
    assert verifier.calls == ["t1"]


def test_the_cache_entry_lasts_five_minutes_at_most(clock: Clock, verifier: Verifier) -> None:
    caller_of = cached_verifier(verifier, clock)

    caller_of("t1")
    clock.now += CACHE_SECONDS
    caller_of("t1")

    assert verifier.calls == ["t1", "t1"]


def test_a_token_expiring_sooner_is_verified_again_once_expired(
    clock: Clock, verifier: Verifier
) -> None:
    verifier.exp["t1"] = clock.now + 60
    caller_of = cached_verifier(verifier, clock)

    caller_of("t1")
    clock.now += 59
    caller_of("t1")
    clock.now += 1
    caller_of("t1")

    assert verifier.calls == ["t1", "t1"]


def test_tokens_are_cached_apart(clock: Clock, verifier: Verifier) -> None:
    caller_of = cached_verifier(verifier, clock)

    assert caller_of("t1").uid == "uid-t1"
    assert caller_of("t2").uid == "uid-t2"
    assert caller_of("t1").uid == "uid-t1"
    assert verifier.calls == ["t1", "t2"]


def test_a_refused_token_is_not_cached(clock: Clock, verifier: Verifier) -> None:
    caller_of = cached_verifier(verifier, clock)

    for _ in range(2):
        with pytest.raises(ApiError):
            caller_of("bad-token")

    assert verifier.calls == ["bad-token", "bad-token"]


def test_the_cache_is_bounded(clock: Clock, verifier: Verifier) -> None:
    caller_of = cached_verifier(verifier, clock)

    for index in range(CACHE_ENTRIES + 10):
        caller_of(f"t{index}")
    verifier.calls.clear()
    caller_of(f"t{CACHE_ENTRIES + 9}")

    assert verifier.calls == [], "the newest token is still cached"
    assert caller_of("t0").uid == "uid-t0"


def test_a_subject_without_uid_claim_and_no_email() -> None:
    caller_of = cached_verifier(lambda token: {"sub": "s-1", "exp": 2e9}, Clock())

    assert caller_of("x") == Caller(uid="s-1", email=None, email_verified=False)


@pytest.mark.parametrize(
    "header", [None, "", "Basic abc", "Bearer", "Bearer    ", "Token abc", "bearer"]
)
def test_a_header_without_a_bearer_token_is_401(header: str | None) -> None:
    with pytest.raises(ApiError) as refusal:
        bearer_token(header)

    assert refusal.value.status == 401


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc.def.ghi ") == "abc.def.ghi"
