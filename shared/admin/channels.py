"""Connecting WhatsApp numbers: provider settings in Firestore, secrets in the secret store.

A channel's id is generated (``{provider}-{random}``): it is part of the webhook URL the user
points the provider at, so it must be unique across tenants and not guessable. The secret values
typed in are saved to the secret store (Secret Manager in production, the local file in
development) and only their references are stored; the API never returns a value, only which
roles are set.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlparse

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.errors import ApiError, invalid, not_found
from shared.admin.http import Request, Response
from shared.admin.query import equal
from shared.admin.schemas import (
    ChannelCreate,
    ChannelList,
    ChannelOut,
    ChannelUpdate,
    ProviderField,
    Providers,
    ProviderSpec,
)
from shared.billing.plans import load_catalogue
from shared.billing.stock import require_room
from shared.secret_store import channel_secret_name
from shared.store.channels import CHANNELS_COLLECTION

logger = logging.getLogger("piloto.admin")

# provider: (config fields {name: required}, secret roles {name: required})
PROVIDER_FIELDS: dict[str, tuple[dict[str, bool], dict[str, bool]]] = {
    "meta": (
        {"phone_number_id": True, "graph_version": False, "api_base_url": False, "waba_id": False},
        {"app_secret": True, "verify_token": True, "access_token": True},
    ),
    "twilio": (
        {"account_sid": True, "messaging_service_sid": False, "api_base_url": False},
        {"auth_token": True},
    ),
    "evolution": ({"instance": True, "api_base_url": True}, {"apikey": True}),
    "zapi": (
        {"instance_id": True, "api_base_url": False},
        {"client_token": True, "instance_token": True},
    ),
}
MAX_VALUE_LENGTH = 4096


def providers(request: Request) -> Providers:
    """Return what connecting each provider asks for."""
    return Providers(
        providers=[
            ProviderSpec(
                provider=provider,
                config_fields=[ProviderField(name=n, required=r) for n, r in config.items()],
                secret_fields=[ProviderField(name=n, required=r) for n, r in roles.items()],
            )
            for provider, (config, roles) in PROVIDER_FIELDS.items()
        ]
    )


def list_channels(request: Request, tenant_id: str) -> ChannelList:
    """Return the tenant's channels."""
    client = request.services.firestore
    query = client.collection(CHANNELS_COLLECTION).where(filter=equal("tenant_id", tenant_id))
    channels = [_out(request, snapshot.id, snapshot.to_dict() or {}) for snapshot in query.stream()]
    return ChannelList(channels=sorted(channels, key=lambda channel: channel.channel_id))


def get_channel(request: Request, tenant_id: str, channel_id: str) -> ChannelOut:
    """Return one of the tenant's channels."""
    return _out(request, channel_id, _owned(request, tenant_id, channel_id))


def create_channel(request: Request, tenant_id: str) -> Response:
    """Connect a number: validate the provider's fields, save the secrets, store the channel.

    The plan's channel quota is checked before anything is saved (402 when it is used up).
    """
    body: ChannelCreate = request.body
    _, secret_fields = PROVIDER_FIELDS[body.provider]
    config = _valid_config(body.provider, body.config, partial=False)
    _check_secrets(body.secrets, secret_fields, partial=False)
    client = request.services.firestore
    catalogue = load_catalogue(request.services.settings.plans_file)
    require_room(client, tenant_id, "channels", catalogue=catalogue)
    channel_id = f"{body.provider}-{secrets.token_hex(5)}"
    if body.provider == "twilio":
        config["webhook_url"] = _webhook_url(request, "twilio", channel_id)
    references = _save_secrets(request, channel_id, body.secrets)
    now = request.services.now()
    document = {
        "tenant_id": tenant_id,
        "provider": body.provider,
        "display_name": body.display_name,
        "business_phone": body.business_phone,
        "enabled": True,
        "config": config,
        "secrets": references,
        "created_at": now,
    }
    batch = client.batch()
    batch.create(client.collection(CHANNELS_COLLECTION).document(channel_id), document)
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "channel.create",
            f"channels/{channel_id}",
            now,
            after=_audited(document),
        ),
    )
    batch.commit()
    _register_with_simulator(request, channel_id, body.provider, body, config)
    return Response(201, _out(request, channel_id, document).model_dump(mode="json"))


def update_channel(request: Request, tenant_id: str, channel_id: str) -> ChannelOut:
    """Change a channel's name, phone, settings or secrets, or switch it on or off."""
    body: ChannelUpdate = request.body
    before = _owned(request, tenant_id, channel_id)
    provider = before["provider"]
    _, secret_fields = PROVIDER_FIELDS[provider]
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"config", "secrets"})
    if "enabled" in changes and changes["enabled"] is None:  # null clears names, not a switch
        raise invalid("enabled", "must be true or false")
    if body.config is not None:
        config = _valid_config(provider, body.config, partial=True)
        changes["config"] = {**(before.get("config") or {}), **config}
    if body.secrets:
        _check_secrets(body.secrets, secret_fields, partial=True)
        new_references = _save_secrets(request, channel_id, body.secrets)
        changes["secrets"] = {**(before.get("secrets") or {}), **new_references}
    if not changes:
        return _out(request, channel_id, before)
    client = request.services.firestore
    now = request.services.now()
    after = {**before, **changes}
    batch = client.batch()
    batch.update(client.collection(CHANNELS_COLLECTION).document(channel_id), changes)
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "channel.update",
            f"channels/{channel_id}",
            now,
            before=_audited({name: before.get(name) for name in changes}),
            after=_audited(changes),
        ),
    )
    batch.commit()
    return _out(request, channel_id, after)


def delete_channel(request: Request, tenant_id: str, channel_id: str) -> None:
    """Disconnect a number: the channel and its secrets go; its conversations stay."""
    before = _owned(request, tenant_id, channel_id)
    client = request.services.firestore
    now = request.services.now()
    batch = client.batch()
    batch.delete(client.collection(CHANNELS_COLLECTION).document(channel_id))
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "channel.delete",
            f"channels/{channel_id}",
            now,
            before=_audited(before),
        ),
    )
    batch.commit()
    for role in before.get("secrets") or {}:
        request.services.secret_store.delete(channel_secret_name(channel_id, role))


def _owned(request: Request, tenant_id: str, channel_id: str) -> dict[str, Any]:
    """Return the channel document if it is the tenant's; another tenant's is just not found."""
    snapshot = request.services.firestore.collection(CHANNELS_COLLECTION).document(channel_id)
    record = snapshot.get()
    document = record.to_dict() or {} if record.exists else {}
    if document.get("tenant_id") != tenant_id:
        raise not_found("channel")
    return document


def _valid_config(provider: str, config: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    fields, _ = PROVIDER_FIELDS[provider]
    for name in config:
        if name not in fields:
            raise invalid(f"config.{name}", f"not a {provider} setting ({', '.join(fields)})")
    cleaned: dict[str, Any] = {}
    for name, required in fields.items():
        value = config.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required and not partial:
                raise invalid(f"config.{name}", f"required for {provider}")
            continue
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            raise invalid(f"config.{name}", "must be a string")
        value = value.strip()
        if name == "api_base_url":
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise invalid(f"config.{name}", "must be an http(s) URL")
            value = value.rstrip("/")
        if name == "account_sid" and not (value.startswith("AC") and len(value) == 34):
            raise invalid(f"config.{name}", "a Twilio Account SID starts with AC (34 characters)")
        if name == "phone_number_id" and not value.isdigit():
            raise invalid(f"config.{name}", "the Meta phone number id is digits only")
        if name == "waba_id" and not value.isdigit():  # the Conversions API sends it to Meta
            raise invalid(f"config.{name}", "the WhatsApp Business Account id is digits only")
        cleaned[name] = value
    return cleaned


def _check_secrets(values: dict[str, str], roles: dict[str, bool], *, partial: bool) -> None:
    for role, value in values.items():
        if role not in roles:
            raise invalid(f"secrets.{role}", f"not a secret of this provider ({', '.join(roles)})")
        if not value.strip() or len(value) > MAX_VALUE_LENGTH:
            raise invalid(f"secrets.{role}", "must be a non-empty value")
    if not partial:
        for role, required in roles.items():
            if required and role not in values:
                raise invalid(f"secrets.{role}", "required")


def _save_secrets(request: Request, channel_id: str, values: dict[str, str]) -> dict[str, str]:
    store = request.services.secret_store
    try:
        return {
            role: store.put(channel_secret_name(channel_id, role), value.strip())
            for role, value in values.items()
        }
    except Exception as error:  # the store is unreachable: nothing was stored in Firestore
        logger.exception("saving a channel secret failed")
        message = f"could not save the secrets ({type(error).__name__}); try again"
        raise ApiError(503, message) from None


def _webhook_url(request: Request, provider: str, channel_id: str) -> str:
    base = (request.services.settings.public_base_url or "").rstrip("/")
    return f"{base}/webhooks/{provider}/{channel_id}"


def _out(request: Request, channel_id: str, document: dict[str, Any]) -> ChannelOut:
    return ChannelOut(
        channel_id=channel_id,
        provider=document["provider"],
        display_name=document.get("display_name"),
        business_phone=document.get("business_phone"),
        enabled=document.get("enabled", True),
        config=document.get("config") or {},
        secrets_set=sorted(document.get("secrets") or {}),
        webhook_url=_webhook_url(request, document["provider"], channel_id),
    )


def _audited(document: dict[str, Any]) -> dict[str, Any]:
    """Return what the audit log keeps of a channel: secret roles, never references or values."""
    plain = {name: value for name, value in document.items() if name != "created_at"}
    if "secrets" in plain:
        plain["secrets"] = sorted(plain["secrets"] or {})
    return plain


def _register_with_simulator(
    request: Request,
    channel_id: str,
    provider: str,
    body: ChannelCreate,
    config: dict[str, Any],
) -> None:
    """Local development: a channel pointed at the provider simulator is registered there."""
    simulator = request.services.settings.simulator_url
    base = str(config.get("api_base_url") or "")
    if not simulator or not base.startswith(simulator.rstrip("/")):
        return
    tell_simulator(
        request,
        "/channels",
        {
            "channel_id": channel_id,
            "provider": provider,
            "business_phone": body.business_phone,
            "config": {k: v for k, v in config.items() if k != "api_base_url"},
            "secrets": body.secrets,
        },
        what="channel",
    )


def tell_simulator(request: Request, path: str, document: dict[str, Any], *, what: str) -> None:
    """Local development: POST a registration to the provider simulator; never fail for it."""
    simulator = (request.services.settings.simulator_url or "").rstrip("/")
    try:
        answer = request.services.http.post(f"{simulator}{path}", json=document, timeout=5.0)
        if answer.status_code >= 400:
            logger.warning("the simulator refused the %s: %s", what, answer.text[:200])
    except Exception:  # the simulator is a development aid: its absence changes nothing
        logger.warning("could not register the %s with the simulator", what, exc_info=True)
