"""Webhooks go to public addresses only, outside local development."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from shared.integrations.destinations import private_destination


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10:8443/hook",
        "https://169.254.169.254/computeMetadata/v1/",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
    ],
)
def test_internal_addresses_are_refused_in_production(url: str) -> None:
    assert private_destination(url, "prod", resolver()) is not None


def test_a_name_resolving_to_an_internal_address_is_refused() -> None:
    reason = private_destination(
        "https://hooks.example.com/x", "prod", resolver("44.205.1.2", "10.0.0.5")
    )

    assert reason is not None and "10.0.0.5" in reason


def test_a_public_name_is_allowed() -> None:
    assert private_destination("https://hooks.zapier.com/x", "prod", resolver("44.205.1.2")) is None


def test_an_unresolvable_host_is_refused() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    assert "não resolve" in (private_destination("https://nope.invalid/", "dev", fail) or "")


@pytest.mark.parametrize("environment", ["local", "test"])
def test_local_development_delivers_to_this_machine(environment: str) -> None:
    assert private_destination("http://127.0.0.1:9000/hook", environment, resolver()) is None
