"""Sign outbound webhook bodies, and verify them as a receiver would (README: Outbound webhooks).

Header ``Piloto-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
A receiver recomputes the HMAC over the raw body it received, compares in constant time, and
refuses a timestamp more than five minutes away from its clock (a replayed delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Piloto-Signature"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret


class SignatureError(ValueError):
    """A signature header that is missing, malformed, wrong or too old."""


def new_secret() -> str:
    """Return a new endpoint signing secret: ``whsec_`` and 32 url-safe characters."""
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """Return the hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Return the ``Piloto-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, body, timestamp)}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    now: float,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> int:
    """Check a ``Piloto-Signature`` header as a receiver; return its timestamp.

    Raise ``SignatureError`` naming the problem: missing, malformed, outside the tolerance, or
    no ``v1`` matching (several ``v1`` are accepted, as during a secret rotation).
    """
    if not header:
        raise SignatureError("missing signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header")
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("timestamp outside the tolerance")
    expected = signature(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("signature does not match")
    return timestamp
