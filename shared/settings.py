"""One typed settings object for every function, read from the environment once.

Every variable is documented in the README's configuration table. ``get_settings()`` fails fast
with a message naming the missing or invalid variable.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration shared by all Piloto functions."""

    model_config = SettingsConfigDict(env_prefix="PILOTO_", extra="ignore", frozen=True)

    project_id: str = Field(
        validation_alias="GOOGLE_CLOUD_PROJECT",
        description="The GCP project; a demo- id keeps the local stack offline.",
    )
    environment: Literal["local", "dev", "prod", "test"] = "local"
    events_topic: str = "conversation-events"
    firestore_database: str = "(default)"
    firestore_endpoint: str = "https://firestore.googleapis.com"
    pubsub_endpoint: str = Field(
        default="https://pubsub.googleapis.com",
        description="Pub/Sub REST endpoint; use a regional one (https://REGION-pubsub...) in prod.",
    )
    firestore_emulator_host: str | None = Field(
        default=None, validation_alias="FIRESTORE_EMULATOR_HOST"
    )
    pubsub_emulator_host: str | None = Field(default=None, validation_alias="PUBSUB_EMULATOR_HOST")
    public_base_url: str | None = Field(
        default=None,
        description=(
            "The public https origin providers post to (e.g. the webhook's Cloud Run URL). "
            "Twilio signs this URL, not the one Cloud Run sees."
        ),
    )
    max_webhook_body_bytes: int = Field(default=1024 * 1024, gt=0)
    channel_cache_seconds: float = Field(default=60.0, ge=0)
    unknown_channel_cache_seconds: float = Field(default=10.0, ge=0)
    publish_timeout_seconds: float = Field(default=10.0, gt=0)
    default_phone_region: str = "BR"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SettingsError(RuntimeError):
    """The environment does not describe a valid configuration."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load and validate the settings once, naming every missing or invalid variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "?"
            variable = "GOOGLE_CLOUD_PROJECT" if field == "GOOGLE_CLOUD_PROJECT" else field
            if not variable.isupper():
                variable = f"PILOTO_{variable.upper()}"
            problems.append(f"{variable}: {item['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from error
