"""Who is calling: a Firebase Auth ID token, verified by firebase-admin.

Production verifies the token's RS256 signature against Google's published keys, its audience
(the project), issuer, expiry, and — ``check_revoked`` — that the account is neither disabled nor
signed out everywhere since the token was issued. With ``FIREBASE_AUTH_EMULATOR_HOST`` set,
firebase-admin accepts the Auth emulator's unsigned tokens (and still checks the rest).

A verified token is remembered until it expires (at most five minutes), so a console polling
every few seconds costs one Auth lookup per five minutes, not one per request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.admin.errors import ApiError

CACHE_SECONDS = 300.0
CLOCK_SKEW_SECONDS = 5
CACHE_ENTRIES = 2048


@dataclass(frozen=True)
class Caller:
    """The signed-in user behind a request."""

    uid: str
    email: str | None
    email_verified: bool


def bearer_token(header: str | None) -> str:
    """Return the token of an ``Authorization: Bearer ...`` header, or refuse with 401."""
    if not header:
        raise ApiError(401, "missing Authorization header (Bearer <Firebase ID token>)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "the Authorization header must be 'Bearer <Firebase ID token>'")
    return token.strip()


def firebase_verifier(
    project_id: str, *, app_name: str = "piloto-admin", check_revoked: bool = True
) -> Callable[[str], Caller]:
    """Return a token verifier backed by firebase-admin (the Auth emulator when configured).

    ``check_revoked`` (production: always) also asks the Auth API whether the account is disabled
    or signed out everywhere; tests of the signature checks alone turn it off.
    """
    import firebase_admin
    from firebase_admin import auth
    from firebase_admin.exceptions import FirebaseError
    from google.auth.exceptions import GoogleAuthError

    try:
        app = firebase_admin.get_app(app_name)
    except ValueError:
        app = firebase_admin.initialize_app(options={"projectId": project_id}, name=app_name)

    def verify(token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = auth.verify_id_token(
                token, app=app, check_revoked=check_revoked, clock_skew_seconds=CLOCK_SKEW_SECONDS
            )
        except auth.ExpiredIdTokenError:
            raise ApiError(401, "the ID token has expired: sign in again") from None
        except auth.RevokedIdTokenError:
            raise ApiError(401, "the ID token was revoked: sign in again") from None
        except auth.UserDisabledError:
            raise ApiError(401, "this account is disabled") from None
        except auth.UserNotFoundError:
            raise ApiError(401, "the ID token's account does not exist") from None
        except auth.CertificateFetchError:
            raise ApiError(503, "cannot fetch the token signing keys; try again") from None
        except (auth.InvalidIdTokenError, ValueError) as error:
            raise ApiError(401, f"the ID token is invalid: {error}") from None
        except (FirebaseError, GoogleAuthError):  # the Auth API or the credential is unreachable
            raise ApiError(503, "cannot check the ID token now; try again") from None
        # firebase-admin does not check the Auth emulator's unsigned tokens for expiry.
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires + CLOCK_SKEW_SECONDS < time.time():
            raise ApiError(401, "the ID token has expired: sign in again")
        return claims

    return cached_verifier(verify)


def cached_verifier(
    verify: Callable[[str], dict[str, Any]], clock: Callable[[], float] = time.time
) -> Callable[[str], Caller]:
    """Wrap a claims verifier: remember each valid token until it expires (five minutes at most)."""
    cache: dict[str, tuple[float, Caller]] = {}
    lock = threading.Lock()

    def caller_of(token: str) -> Caller:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = clock()
        with lock:
            hit = cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        claims = verify(token)
        caller = Caller(
            uid=str(claims["uid"] if "uid" in claims else claims["sub"]),
            email=str(claims["email"]).lower() if claims.get("email") else None,
            email_verified=bool(claims.get("email_verified")),
        )
        expires = min(float(claims.get("exp", now)), now + CACHE_SECONDS)
        with lock:
            if len(cache) >= CACHE_ENTRIES:
                for stale in [k for k, (until, _) in cache.items() if until <= now] or list(cache):
                    del cache[stale]
            cache[key] = (expires, caller)
        return caller

    return caller_of
