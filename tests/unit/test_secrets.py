"""Secret references resolve from the environment locally and never accept a bare value."""

from __future__ import annotations

import pytest

from shared.secrets import SecretUnavailable, _secret_version_name, resolve_secret


def test_env_reference_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILOTO_TEST_SECRET", "s3cr3t")

    assert resolve_secret("env:PILOTO_TEST_SECRET", "demo-p") == "s3cr3t"


def test_missing_variable_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PILOTO_TEST_SECRET", raising=False)

    with pytest.raises(SecretUnavailable, match="PILOTO_TEST_SECRET is not set"):
        resolve_secret("env:PILOTO_TEST_SECRET", "demo-p")


def test_secret_manager_names() -> None:
    assert (
        _secret_version_name("sm:meta-app-secret", "prod-p")
        == "projects/prod-p/secrets/meta-app-secret/versions/latest"
    )
    assert (
        _secret_version_name("projects/p/secrets/x", "other")
        == "projects/p/secrets/x/versions/latest"
    )
    with pytest.raises(SecretUnavailable, match="unsupported secret reference"):
        _secret_version_name("plain-text-value", "p")
