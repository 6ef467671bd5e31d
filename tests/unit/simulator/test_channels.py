"""The simulator learns its channels' credentials from the seed file and the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulators.simulator.__main__ import load_env_defaults
from emulators.simulator.channels import channels_from_seed, index_channels, simulated_channel
from shared.secrets import SecretUnavailable

ROOT = Path(__file__).resolve().parents[3]
DEMO_SEED = ROOT / "emulators" / "seed" / "demo.yaml"
DEMO_SECRETS = {
    "PILOTO_DEMO_META_APP_SECRET": "demo-meta-app-secret",
    "PILOTO_DEMO_META_VERIFY_TOKEN": "demo-meta-verify-token",
    "PILOTO_DEMO_META_ACCESS_TOKEN": "demo-meta-access-token",
    "PILOTO_DEMO_TWILIO_AUTH_TOKEN": "demo-twilio-auth-token",
    "PILOTO_DEMO_EVOLUTION_APIKEY": "demo-evolution-apikey",
    "PILOTO_DEMO_ZAPI_CLIENT_TOKEN": "demo-zapi-client-token",
    "PILOTO_DEMO_ZAPI_INSTANCE_TOKEN": "demo-zapi-instance-token",
}


def test_the_demo_seed_gives_four_channels_with_resolved_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in DEMO_SECRETS.items():
        monkeypatch.setenv(name, value)

    channels = {channel.channel_id: channel for channel in channels_from_seed(DEMO_SEED)}

    assert sorted(channels) == ["demo-evolution", "demo-meta", "demo-twilio", "demo-zapi"]
    meta = channels["demo-meta"]
    assert meta.provider == "meta" and meta.channel.tenant_id == "demo-clinica"
    assert meta.secret("access_token") == "demo-meta-access-token"
    assert meta.config_text("phone_number_id") == "100000000000001"
    assert channels["demo-zapi"].secrets == {
        "client_token": "demo-zapi-client-token",
        "instance_token": "demo-zapi-instance-token",
    }
    assert meta.channel.secrets == {}  # the channel record keeps no references here


def test_a_missing_secret_names_the_channel_and_role(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DEMO_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PILOTO_DEMO_TWILIO_AUTH_TOKEN")

    with pytest.raises(SecretUnavailable, match="demo-twilio, secret auth_token"):
        channels_from_seed(DEMO_SEED)


def test_secrets_can_come_from_a_given_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DEMO_SECRETS:
        monkeypatch.delenv(name, raising=False)

    channels = channels_from_seed(DEMO_SEED, environment=DEMO_SECRETS)

    assert {channel.secret("apikey") for channel in channels} == {None, "demo-evolution-apikey"}


def test_env_defaults_never_override_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# demo\nSIM_TEST_A=from-file\nSIM_TEST_B='quoted'\n\n", encoding="utf-8")
    monkeypatch.setenv("SIM_TEST_A", "from-environment")
    monkeypatch.delenv("SIM_TEST_B", raising=False)

    load_env_defaults(env_file)

    assert os.environ["SIM_TEST_A"] == "from-environment"
    assert os.environ.pop("SIM_TEST_B") == "quoted"


def test_channel_ids_are_unique() -> None:
    twice = [simulated_channel("c-1", "meta"), simulated_channel("c-1", "zapi")]

    with pytest.raises(ValueError, match="c-1 is listed twice"):
        index_channels(twice)
