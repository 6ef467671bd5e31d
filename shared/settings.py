"""One typed settings object for every function, read from the environment once.

Every variable is documented in the README's configuration table. ``get_settings()`` validates
them all at once and fails fast with a message naming each missing or invalid variable.

A dataclass with a small loader rather than pydantic-settings: the webhook reads settings on
its cold-start path, where importing pydantic costs more than the whole function (``make bench``).
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from typing import Any, Literal


def _setting(
    default: Any = MISSING, *, env: str | None = None, minimum: float | None = None
) -> Any:
    return field(default=default, metadata={"env": env, "minimum": minimum})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Runtime configuration shared by all Piloto functions (variables: ``PILOTO_<NAME>``)."""

    project_id: str = _setting(env="GOOGLE_CLOUD_PROJECT")
    environment: Literal["local", "test", "dev", "prod"] = _setting("local")
    events_topic: str = _setting("conversation-events")
    firestore_database: str = _setting("(default)")
    firestore_endpoint: str = _setting("https://firestore.googleapis.com")
    pubsub_endpoint: str = _setting("https://pubsub.googleapis.com")
    firestore_emulator_host: str | None = _setting(None, env="FIRESTORE_EMULATOR_HOST")
    pubsub_emulator_host: str | None = _setting(None, env="PUBSUB_EMULATOR_HOST")
    public_base_url: str | None = _setting(None)
    max_webhook_body_bytes: int = _setting(1024 * 1024, minimum=1)
    channel_cache_seconds: float = _setting(60.0, minimum=0)
    unknown_channel_cache_seconds: float = _setting(10.0, minimum=0)
    publish_timeout_seconds: float = _setting(10.0, minimum=0.1)
    publish_calls_in_flight: int = _setting(2, minimum=1)
    default_phone_region: str = _setting("BR")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _setting("INFO")
    max_event_age_seconds: float = _setting(6 * 3600.0, minimum=1)
    tasks_queue: str | None = _setting(None)
    tasks_service_account: str | None = _setting(None)
    tasks_emulator_host: str | None = _setting(None, env="CLOUD_TASKS_EMULATOR_HOST")
    turn_url: str | None = _setting(None)
    followup_url: str | None = _setting(None)
    followup_queue: str | None = _setting(None)
    """Cloud Tasks queue of follow-ups and inactivity checks (default: the turns queue)."""
    clock_speed: float = _setting(1.0, minimum=1)
    """Divides follow-up and inactivity delays (a demo sees a 1-day step in 1 minute)."""
    send_max_wait_seconds: float = _setting(20.0, minimum=0)
    outbound_topic: str = _setting("outbound-messages")
    secret_store: Literal["auto", "local", "secret-manager"] = _setting("auto")
    """Where the admin API saves channel secrets (auto: Secret Manager in dev and prod)."""
    firebase_auth_emulator_host: str | None = _setting(None, env="FIREBASE_AUTH_EMULATOR_HOST")
    firebase_web_api_key: str = _setting("fake-api-key")
    """The console's Firebase web API key (public by design; any string for the emulator)."""
    firebase_auth_domain: str | None = _setting(None)
    simulator_url: str | None = _setting(None)
    """Local development: channels the admin API connects to the simulator are registered there."""
    llm: Literal["offline", "vertex"] = _setting("offline")
    gemini_model: str = _setting("gemini-2.5-flash")
    gemini_precise_model: str = _setting("gemini-2.5-pro")
    """The Gemini model of insight agents set to the precise model (fast ones use gemini_model)."""
    vertex_location: str = _setting("us-central1")
    llm_timeout_seconds: float = _setting(20.0, minimum=1)
    # Knowledge base (shared/knowledge)
    embeddings: Literal["offline", "vertex"] | None = _setting(None)
    """Who embeds knowledge and questions: vertex (Gemini embeddings) or offline; default: llm."""
    embedding_model: str = _setting("gemini-embedding-001")
    knowledge_min_score: float | None = _setting(None, minimum=0)
    """The similarity a knowledge snippet needs to be used (default: calibrated per model)."""
    tts: Literal["off", "google"] = _setting("off")
    """Text-to-speech for tenants that answer voice with voice (off: every reply stays text)."""
    tts_endpoint: str = _setting("https://texttospeech.googleapis.com")
    tts_voice: str = _setting("pt-BR-Neural2-A")
    """The default synthetic voice; a tenant may pick another (``AgentSettings.voice_name``)."""
    tts_timeout_seconds: float = _setting(10.0, minimum=1)
    # Inbound media (shared/media): what is fetched from the providers, and how long a turn waits.
    media_max_audio_bytes: int = _setting(16 * 1024 * 1024, minimum=1)
    media_max_image_bytes: int = _setting(5 * 1024 * 1024, minimum=1)
    media_max_video_bytes: int = _setting(16 * 1024 * 1024, minimum=1)
    media_max_document_bytes: int = _setting(20 * 1024 * 1024, minimum=1)
    media_fetch_timeout_seconds: float = _setting(10.0, minimum=1)
    media_fetch_attempts: int = _setting(3, minimum=1)
    media_text_chars: int = _setting(3000, minimum=100)
    """The most of a transcription, description or document text the agent reads."""
    media_wait_seconds: float = _setting(180.0, minimum=1)
    """How long a turn waits for a lead's media still being understood before going without."""
    # Insight agents (shared/insights)
    insight_topic: str = _setting("insight-events")
    insight_index_cache_seconds: float = _setting(30.0, minimum=0)
    """How long an instance trusts a tenant's insight index (which events its agents listen to)."""
    meta_graph_url: str = _setting("https://graph.facebook.com")
    """Meta's Graph API origin for the Conversions API (locally: the simulator's ``/meta``)."""
    meta_graph_version: str = _setting("v21.0")
    # Billing (shared/billing)
    plans_file: str | None = _setting(None)
    """The plan catalogue (YAML); default: the packaged ``shared/billing/plans.yaml``."""
    stripe_api_base: str = _setting("https://api.stripe.com")
    """Stripe's API origin (locally: the provider simulator's ``/stripe``)."""
    stripe_secret_key: str | None = _setting(None)
    """A secret reference (``sm:…``, ``env:…``) to Stripe's secret API key."""
    stripe_webhook_secret: str | None = _setting(None)
    """A secret reference to the webhook endpoint's signing secret (``whsec_…``)."""
    stripe_webhook_tolerance_seconds: int = _setting(300, minimum=1)
    """How old a signed Stripe event may be (its ``t=``) before it is refused as a replay."""
    console_url: str | None = _setting(None)
    """Where the console is served: Checkout and the Customer Portal send the owner back here."""
    billing_cache_seconds: float = _setting(60.0, minimum=0)
    """How long an instance trusts a workspace's subscription and month usage (the turn's check)."""
    # Scheduling (shared/scheduling)
    reminder_url: str | None = _setting(None)
    """The reminder function's URL (Cloud Tasks target of meeting reminders)."""
    google_oauth_client_id: str | None = _setting(None)
    """The OAuth client (Web application) tenants connect their Google Calendar with."""
    google_oauth_client_secret: str | None = _setting(None)
    """A secret reference to that OAuth client's secret."""
    google_oauth_base: str = _setting("https://accounts.google.com")
    """Google's consent page origin (locally: the provider simulator's ``/google``)."""
    google_token_url: str = _setting("https://oauth2.googleapis.com/token")
    google_calendar_api_base: str = _setting("https://www.googleapis.com/calendar/v3")
    oauth_state_secret: str | None = _setting(None)
    """A secret reference to the key that signs OAuth ``state`` (and the callback's return)."""
    # Integrations (shared/integrations, shared/crm, shared/notifications)
    business_events_topic: str = _setting("business-events")
    delivery_url: str | None = _setting(None)
    """The delivery function's URL (Cloud Tasks target of webhook, CRM and e-mail deliveries)."""
    delivery_queue: str | None = _setting(None)
    """Cloud Tasks queue of deliveries (default: the follow-up queue, then the turns queue)."""
    webhook_timeout_seconds: float = _setting(10.0, minimum=1)
    webhook_disable_after_hours: float = _setting(72.0, minimum=1)
    """An endpoint failing without a success for this long is disabled, with a notice."""
    api_rate_per_second: float = _setting(5.0, minimum=0.01)
    """Public API (``/api/v1``): requests per second one API key may make, sustained."""
    api_burst: int = _setting(30, minimum=1)
    """Public API: requests one API key may make at once after a quiet spell."""
    rdstation_api_base: str = _setting("https://crm.rdstation.com/api/v1")
    """RD Station CRM's API origin (locally: the provider simulator's ``/rdstation/api/v1``)."""
    mail_transport: Literal["off", "smtp", "sendgrid"] = _setting("off")
    """How e-mail notifications leave: an SMTP server, SendGrid's v3 API, or not at all."""
    mail_from: str = _setting("Piloto <no-reply@piloto.app>")
    smtp_host: str | None = _setting(None)
    smtp_port: int = _setting(587, minimum=1)
    smtp_security: Literal["starttls", "ssl", "none"] = _setting("starttls")
    smtp_username: str | None = _setting(None)
    smtp_password: str | None = _setting(None)
    """A secret reference to the SMTP password."""
    mail_api_base: str = _setting("https://api.sendgrid.com")
    mail_api_key: str | None = _setting(None)
    """A secret reference to the SendGrid API key."""
    digest_hour: int = _setting(8, minimum=0)
    """The tenant-local hour the owners' daily digest goes out."""

    @property
    def embeddings_backend(self) -> Literal["offline", "vertex"]:
        """Return who embeds knowledge: PILOTO_EMBEDDINGS, else what PILOTO_LLM says."""
        return self.embeddings or self.llm

    @property
    def firestore_base_url(self) -> str:
        """Return where Firestore's REST API is: the emulator when one is configured."""
        host = self.firestore_emulator_host
        return f"http://{host}" if host else self.firestore_endpoint

    @property
    def pubsub_base_url(self) -> str:
        """Return where Pub/Sub's REST API is: the emulator when one is configured."""
        host = self.pubsub_emulator_host
        return f"http://{host}" if host else self.pubsub_endpoint


class SettingsError(RuntimeError):
    """The environment does not describe a valid configuration."""


def variable_name(setting: str) -> str:
    """Return the environment variable that sets ``setting``."""
    for item in fields(Settings):
        if item.name == setting:
            return str(item.metadata["env"] or f"PILOTO_{setting.upper()}")
    raise KeyError(setting)


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build settings from an environment, or raise SettingsError naming every bad variable."""
    hints = typing.get_type_hints(Settings)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for item in fields(Settings):
        variable = variable_name(item.name)
        raw = environ.get(variable)
        if raw is None or raw == "":
            if item.default is MISSING:
                problems.append(f"{variable} is required")
            continue
        try:
            value = _convert(raw, hints[item.name])
        except ValueError as error:
            problems.append(f"{variable}={raw!r}: {error}")
            continue
        minimum = item.metadata["minimum"]
        if minimum is not None and value < minimum:
            problems.append(f"{variable}={raw!r}: must be at least {minimum}")
            continue
        values[item.name] = value
    if problems:
        raise SettingsError("invalid configuration: " + "; ".join(problems))
    return Settings(**values)


def _convert(raw: str, kind: Any) -> Any:
    options = typing.get_args(kind)
    if typing.get_origin(kind) is Literal:
        if raw not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return raw
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return _convert(raw, next(option for option in options if option is not type(None)))
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    return raw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load and validate the settings from the process environment, once."""
    return load_settings(os.environ)
