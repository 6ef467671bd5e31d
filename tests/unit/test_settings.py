"""Settings come from the environment, typed and validated, naming every bad variable."""

from __future__ import annotations

import pytest

from shared.settings import SettingsError, load_settings


def test_defaults_with_only_the_project() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "demo-p"})

    assert settings.project_id == "demo-p"
    assert settings.events_topic == "conversation-events"
    assert settings.max_webhook_body_bytes == 1024 * 1024
    assert settings.public_base_url is None
    assert settings.firestore_emulator_host is None


def test_values_are_converted_to_their_types() -> None:
    settings = load_settings(
        {
            "GOOGLE_CLOUD_PROJECT": "demo-p",
            "PILOTO_MAX_WEBHOOK_BODY_BYTES": "2048",
            "PILOTO_CHANNEL_CACHE_SECONDS": "2.5",
            "PILOTO_ENVIRONMENT": "prod",
            "PILOTO_PUBLIC_BASE_URL": "https://hooks.example.com",
            "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085",
        }
    )

    assert settings.max_webhook_body_bytes == 2048
    assert settings.channel_cache_seconds == 2.5
    assert settings.environment == "prod"
    assert settings.public_base_url == "https://hooks.example.com"
    assert settings.pubsub_emulator_host == "127.0.0.1:8085"
    assert settings.pubsub_base_url == "http://127.0.0.1:8085"
    assert settings.firestore_base_url == "https://firestore.googleapis.com"


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "PILOTO_MAX_WEBHOOK_BODY_BYTES": "lots",
                "PILOTO_ENVIRONMENT": "staging",
                "PILOTO_PUBLISH_TIMEOUT_SECONDS": "0",
            }
        )

    message = str(raised.value)
    assert "GOOGLE_CLOUD_PROJECT is required" in message
    assert "PILOTO_MAX_WEBHOOK_BODY_BYTES='lots'" in message
    assert "PILOTO_ENVIRONMENT='staging': must be one of local, test, dev, prod" in message
    assert "PILOTO_PUBLISH_TIMEOUT_SECONDS='0': must be at least 0.1" in message
