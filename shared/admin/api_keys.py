"""API keys: what lets a tenant's other tools call the public API (``/api/v1``).

An owner makes a key in the console and sees it once: ``pk_live_`` + 32 random url-safe bytes.
Only its SHA-256 is stored, as the id of the top-level document ``api_keys/{sha256 hex}``
(``ApiKey``: its tenant, name, scopes, the first characters to recognise it). Revoking sets
``revoked_at``; the document stays, so the console still lists what the key was.

``authenticate`` runs before every public API handler: the Bearer key is hashed and its
document read (each instance keeps what it read for ``KEY_CACHE_SECONDS``: a key revoked in
the console stops at once on the instance that revoked it and within that window on the
others), then the route's scope (403) and the key's rate (429 with ``Retry-After``; a GCRA
limiter shared by every instance, ``api_keys/{sha256}/limits/requests``). ``last_used_at`` is
written at most once a minute per key and instance.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore
from pydantic import AwareDatetime, BaseModel, Field, field_validator

from shared.admin.audit import audit_entry, audit_ref
from shared.admin.auth import Caller
from shared.admin.errors import ApiError, conflict, not_found
from shared.admin.http import Request, Response
from shared.admin.query import equal
from shared.admin.schemas import Strict
from shared.integrations.models import API_SCOPES, ApiKey, ApiScope
from shared.ratelimit import SendRate

API_KEYS = "api_keys"
KEY_PREFIX = "pk_live_"
KEY_CACHE_SECONDS = 30.0
LAST_USED_EVERY = timedelta(minutes=1)
MAX_ACTIVE_KEYS = 20


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=80)
    scopes: list[ApiScope] = Field(default_factory=lambda: list(API_SCOPES), min_length=1)

    @field_validator("scopes")
    @classmethod
    def _unique(cls, value: list[ApiScope]) -> list[ApiScope]:
        if len(set(value)) != len(value):
            raise ValueError("a scope repeats")
        return value


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    prefix: str
    scopes: list[ApiScope]
    created_at: AwareDatetime
    last_used_at: AwareDatetime | None
    revoked_at: AwareDatetime | None


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut]


class ApiKeyCreated(BaseModel):
    key: ApiKeyOut
    secret: str = Field(description="The key itself (pk_live_…): shown this once, never again.")


def key_hash(key: str) -> str:
    """Return the id of a key's document: the SHA-256 of the key, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_ref(client: Any, digest: str) -> Any:
    """Return ``api_keys/{sha256 hex}``."""
    return client.collection(API_KEYS).document(digest)


def list_keys(request: Request, tenant_id: str) -> ApiKeyList:
    """Return the tenant's API keys (revoked ones too), newest first."""
    keys = [_out(key) for _, key in _tenant_keys(request.services.firestore, tenant_id)]
    keys.sort(key=lambda key: key.created_at, reverse=True)
    return ApiKeyList(keys=keys)


def create_key(request: Request, tenant_id: str) -> Response:
    """Make a key; the answer carries it once (only its hash is stored)."""
    body: ApiKeyCreate = request.body
    client = request.services.firestore
    now = request.services.now()
    active = [key for _, key in _tenant_keys(client, tenant_id) if key.revoked_at is None]
    if len(active) >= MAX_ACTIVE_KEYS:
        raise conflict(f"a tenant has at most {MAX_ACTIVE_KEYS} active API keys; revoke one first")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=f"ak_{uuid.uuid4().hex[:16]}",
        tenant_id=tenant_id,
        name=body.name,
        prefix=secret[: len(KEY_PREFIX) + 4],
        scopes=body.scopes,
        created_at=now,
        created_by=request.member.uid,
    )
    batch = client.batch()
    batch.create(key_ref(client, key_hash(secret)), key.model_dump(mode="python"))
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "api_key.create",
            f"api_keys/{key.key_id}",
            now,
            after={"name": key.name, "prefix": key.prefix, "scopes": list(key.scopes)},
        ),
    )
    batch.commit()
    return Response(201, ApiKeyCreated(key=_out(key), secret=secret).model_dump(mode="json"))


def revoke_key(request: Request, tenant_id: str, key_id: str) -> ApiKeyOut:
    """Revoke a key: the public API refuses it from now on (other instances within 30 s)."""
    client = request.services.firestore
    now = request.services.now()
    found = [
        (digest, key) for digest, key in _tenant_keys(client, tenant_id) if key.key_id == key_id
    ]
    if not found:
        raise not_found("API key")
    digest, key = found[0]
    if key.revoked_at is not None:
        raise conflict("this API key is already revoked")
    batch = client.batch()
    batch.update(key_ref(client, digest), {"revoked_at": now})
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "api_key.revoke",
            f"api_keys/{key_id}",
            now,
            before={"revoked_at": None},
            after={"revoked_at": now.isoformat()},
        ),
    )
    batch.commit()
    _cache.forget(id(client), digest)
    return _out(key.model_copy(update={"revoked_at": now}))


def key_actor(key: ApiKey) -> Caller:
    """Return who the audit log names for what a key did (``api-key:{key_id}``)."""
    return Caller(uid=f"api-key:{key.key_id}", email=None, email_verified=False)


class RateLimited(ApiError):
    """A 429 whose answer says when to try again (``Retry-After``, whole seconds)."""

    def __init__(self, wait: timedelta) -> None:
        seconds = max(1, math.ceil(wait.total_seconds()))
        super().__init__(429, f"too many requests with this API key; try again in {seconds} s")
        self.headers = {"Retry-After": str(seconds)}


def authenticate(services: Any, authorization: str | None, scope: str | None) -> ApiKey:
    """Return the request's API key, or refuse: 401 missing/unknown/revoked, 403, 429."""
    if not authorization:
        raise ApiError(401, "missing Authorization header (Bearer pk_live_…, an API key)")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "the Authorization header must be 'Bearer pk_live_…' (an API key)")
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        raise ApiError(401, "this is not a Piloto API key (they start with pk_live_)")
    client = services.firestore
    digest = key_hash(token)
    entry = _cache.get(id(client), digest)
    if entry is None:
        snapshot = key_ref(client, digest).get()
        key = ApiKey.model_validate(snapshot.to_dict()) if snapshot.exists else None
        entry = _cache.put(id(client), digest, key)
    key = entry.key
    if key is None:
        raise ApiError(401, "unknown API key")
    if key.revoked_at is not None:
        raise ApiError(401, "this API key was revoked")
    if scope is not None and scope not in key.scopes:
        raise ApiError(403, f"this API key lacks the {scope!r} scope")
    now: datetime = services.now()
    settings = services.settings
    rate = SendRate(per_second=settings.api_rate_per_second, burst=settings.api_burst)
    wait = _take_slot(client, key_ref(client, digest), rate, now)
    if wait > timedelta(0):
        raise RateLimited(wait)
    if entry.last_used_at is None or now - entry.last_used_at >= LAST_USED_EVERY:
        entry.last_used_at = now
        key_ref(client, digest).update({"last_used_at": now})
    return key


def _take_slot(client: Any, document: Any, rate: SendRate, now: datetime) -> timedelta:
    """Take one request slot of the key's limiter; return 0, or how long until one is free."""
    transaction = client.transaction(max_attempts=10)
    wait: timedelta = _take(
        transaction, document.collection("limits").document("requests"), rate, now
    )
    return wait


@firestore.transactional
def _take(transaction: Any, document: Any, rate: SendRate, now: datetime) -> timedelta:
    """GCRA as ``shared.ratelimit`` keeps it (one ``tat`` timestamp), taking only a free slot."""
    snapshot = document.get(transaction=transaction)
    stored = snapshot.get("tat") if snapshot.exists else None
    tat = max(stored, now) if isinstance(stored, datetime) else now
    allowed_at = tat - rate.interval * (rate.burst - 1)
    if allowed_at > now:
        return allowed_at - now
    transaction.set(document, {"tat": tat + rate.interval, "updated_at": now})
    return timedelta(0)


@dataclass
class _Entry:
    expires: float
    key: ApiKey | None
    last_used_at: datetime | None


class _KeyCache:
    """What this instance read of each key, for ``KEY_CACHE_SECONDS``."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, str], _Entry] = {}
        self._lock = threading.Lock()

    def get(self, client_id: int, digest: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get((client_id, digest))
        return entry if entry is not None and entry.expires > time.monotonic() else None

    def put(self, client_id: int, digest: str, key: ApiKey | None) -> _Entry:
        now = time.monotonic()
        entry = _Entry(now + KEY_CACHE_SECONDS, key, key.last_used_at if key else None)
        with self._lock:
            if len(self._entries) >= 10_000:
                self._entries = {k: v for k, v in self._entries.items() if v.expires > now}
            self._entries[(client_id, digest)] = entry
        return entry

    def forget(self, client_id: int, digest: str) -> None:
        with self._lock:
            self._entries.pop((client_id, digest), None)


_cache = _KeyCache()


def _tenant_keys(client: Any, tenant_id: str) -> list[tuple[str, ApiKey]]:
    query = client.collection(API_KEYS).where(filter=equal("tenant_id", tenant_id))
    return [(snapshot.id, ApiKey.model_validate(snapshot.to_dict())) for snapshot in query.stream()]


def _out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=key.key_id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )
