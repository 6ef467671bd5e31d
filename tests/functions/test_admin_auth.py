"""The admin API's production token check: real RS256 signatures, no emulator.

A local HTTP server publishes ``{kid: certificate}`` the way Google publishes the securetoken
keys; firebase-admin is pointed at it (``ID_TOKEN_CERT_URI``, read when an app's token verifier
is built, so each test uses a fresh app) with ``FIREBASE_AUTH_EMULATOR_HOST`` unset, and
``shared.admin.auth.firebase_verifier`` must accept exactly the tokens Google would sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shared.admin.auth import Caller, firebase_verifier
from shared.admin.errors import ApiError

PROJECT = "demo-piloto-prod-check"
KID = "key-1"


@dataclass
class SigningKey:
    private_pem: bytes
    certificate_pem: str


def _signing_key(name: str) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(
        private_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
    )


@pytest.fixture(scope="module")
def google_key() -> SigningKey:
    return _signing_key("securetoken.system.gserviceaccount.com")


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return _signing_key("someone-else")


@pytest.fixture(scope="module")
def cert_server(google_key: SigningKey) -> Iterator[dict[str, Any]]:
    """Serve ``{kid: certificate}`` over real HTTP; count the fetches."""
    state: dict[str, Any] = {"fetches": 0}
    body = json.dumps({KID: google_key.certificate_pem}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["fetches"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=3600")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/robot/v1/metadata/x509/keys"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def production(
    cert_server: dict[str, Any],
    google_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """No emulator; firebase-admin fetches the keys from the local server; a service account
    credential that is never used for a request (check_revoked is off)."""
    from firebase_admin import _token_gen

    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", cert_server["url"])
    account = tmp_path / "service-account.json"
    account.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "unused",
                "private_key": google_key.private_pem.decode(),
                "client_email": f"admin@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "http://127.0.0.1:9/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))


def _verifier() -> Any:
    return firebase_verifier(PROJECT, app_name=f"test-{uuid.uuid4().hex}", check_revoked=False)


def _claims(uid: str = "user-1", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "auth_time": now - 10,
        "user_id": uid,
        "sub": uid,
        "iat": now - 10,
        "exp": now + 3600,
        "email": "Ana@Example.com",
        "email_verified": True,
        "firebase": {"identities": {}, "sign_in_provider": "password"},
    }
    return {**claims, **overrides}


def _sign(claims: dict[str, Any], key: SigningKey, kid: str | None = KID) -> str:
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers=headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _refused(token: str) -> ApiError:
    with pytest.raises(ApiError) as refusal:
        _verifier()(token)
    assert refusal.value.status == 401, refusal.value.message
    assert refusal.value.code == "unauthenticated"
    return refusal.value


@pytest.mark.usefixtures("production")
def test_a_token_signed_by_the_published_key_is_accepted(google_key: SigningKey) -> None:
    caller = _verifier()(_sign(_claims("uid-ana"), google_key))

    assert caller == Caller(uid="uid-ana", email="ana@example.com", email_verified=True)


@pytest.mark.usefixtures("production")
def test_a_tampered_payload_with_the_original_signature_is_refused(
    google_key: SigningKey,
) -> None:
    header, _, signature = _sign(_claims("uid-ana"), google_key).split(".")
    forged = f"{header}.{_b64(_claims('uid-boss'))}.{signature}"

    error = _refused(forged)

    assert "signature" in error.message.lower()


@pytest.mark.usefixtures("production")
def test_a_token_signed_by_another_key_is_refused(other_key: SigningKey) -> None:
    _refused(_sign(_claims(), other_key))


@pytest.mark.usefixtures("production")
def test_an_expired_token_is_refused(google_key: SigningKey) -> None:
    past = int(time.time()) - 7200

    error = _refused(_sign(_claims(iat=past, auth_time=past, exp=past + 3600), google_key))

    assert "expired" in error.message


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "another-project"},
        {"iss": "https://securetoken.google.com/another-project"},
        {"iss": "https://accounts.google.com"},
        {"sub": ""},
        {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200},
    ],
    ids=["wrong audience", "wrong issuer", "google sign-in issuer", "no subject", "issued later"],
)
def test_a_signed_token_with_wrong_claims_is_refused(
    google_key: SigningKey, overrides: dict[str, Any]
) -> None:
    _refused(_sign(_claims(**overrides), google_key))


@pytest.mark.usefixtures("production")
def test_an_unsigned_token_is_refused() -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{_b64(_claims())}."

    _refused(unsigned)


@pytest.mark.usefixtures("production")
def test_a_token_without_a_key_id_is_refused(google_key: SigningKey) -> None:
    _refused(_sign(_claims(), google_key, kid=None))


@pytest.mark.usefixtures("production")
def test_an_hmac_token_keyed_with_the_public_certificate_is_refused(
    google_key: SigningKey,
) -> None:
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": KID})
    payload = _b64(_claims())
    mac = hmac.new(
        google_key.certificate_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256
    ).digest()
    signature = base64.urlsafe_b64encode(mac).decode().rstrip("=")

    _refused(f"{header}.{payload}.{signature}")


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "eyJhbGciOiJSUzI1NiJ9..."])
def test_garbage_is_refused(token: str) -> None:
    _refused(token)


def test_unreachable_signing_keys_are_a_503_not_a_401(
    production: None, google_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firebase_admin import _token_gen

    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", "http://127.0.0.1:9/keys")

    with pytest.raises(ApiError) as refusal:
        _verifier()(_sign(_claims(), google_key))

    assert refusal.value.status == 503


@pytest.mark.usefixtures("production")
def test_the_production_verifier_checks_revocation_by_default(google_key: SigningKey) -> None:
    """check_revoked=True asks the Auth API about the account: with the API unreachable (the fake
    credential's token endpoint is closed) a well-signed token is not let in, and the caller is
    told to retry (503), not that the token is bad."""
    verifier = firebase_verifier(PROJECT, app_name=f"test-{uuid.uuid4().hex}")

    with pytest.raises(ApiError) as refusal:
        verifier(_sign(_claims(), google_key))

    assert refusal.value.status == 503
