"""Webhook signatures, checked the way the README tells receivers to check them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from shared.integrations.delivery import BACKOFF, MAX_ATTEMPTS, backoff, snippet, webhook_request
from shared.integrations.events import test_event
from shared.integrations.signing import SignatureError, new_secret, sign, verify

SECRET = "whsec_" + "a" * 32


def readme_receiver(secret: str, raw_body: bytes, header: str, now: float) -> bool:
    """The README's Python verification, written out independently of shared.integrations."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(parts["t"])
    if abs(now - timestamp) > 300:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_a_receiver_following_the_readme_accepts_a_signed_delivery() -> None:
    event = test_event("clinica", "ep1", datetime(2026, 11, 24, tzinfo=UTC))
    now = int(time.time())
    body, headers = webhook_request(event, SECRET, attempt=2, timestamp=now)
    assert readme_receiver(SECRET, body, headers["Piloto-Signature"], now + 10)
    assert verify(SECRET, body, headers["Piloto-Signature"], now + 10) == now
    assert json.loads(body) == event.public()
    assert headers["Piloto-Event-Id"] == event.event_id == json.loads(body)["id"]
    assert headers["Piloto-Event-Type"] == "webhook.test"
    assert headers["Piloto-Delivery-Attempt"] == "2"
    assert headers["User-Agent"] == "Piloto-Webhooks/1.0"
    assert headers["Content-Type"] == "application/json"


def test_a_tampered_body_or_another_secret_is_refused() -> None:
    header = sign(SECRET, b'{"id":"e1"}', 1_800_000_000)
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, b'{"id":"e2"}', header, 1_800_000_000)
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_other", b'{"id":"e1"}', header, 1_800_000_000)
    assert not readme_receiver("whsec_other", b'{"id":"e1"}', header, 1_800_000_000)


def test_a_three_minute_old_signature_passes_and_a_six_minute_old_one_is_a_replay() -> None:
    header = sign(SECRET, b"{}", 1_800_000_000)
    assert verify(SECRET, b"{}", header, 1_800_000_000 + 180) == 1_800_000_000
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, b"{}", header, 1_800_000_000 + 360)
    assert not readme_receiver(SECRET, b"{}", header, 1_800_000_000 + 360)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=abc,v1=def", "t=1800000000"])
def test_missing_or_malformed_headers(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, b"{}", header, 1_800_000_000)


def test_a_rotation_header_with_two_signatures_verifies_with_either_secret() -> None:
    old, new = sign("whsec_old", b"{}", 1_800_000_000), sign("whsec_new", b"{}", 1_800_000_000)
    header = f"{old},v1={new.split('v1=')[1]}"
    assert verify("whsec_new", b"{}", header, 1_800_000_000) == 1_800_000_000
    assert verify("whsec_old", b"{}", header, 1_800_000_000) == 1_800_000_000


def test_new_secrets_look_like_whsec_and_32_url_safe_characters() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret) == 6 + 32
    assert secret != new_secret()


def test_the_backoff_grows_and_gives_up_after_about_three_and_a_half_days() -> None:
    waits = [backoff(attempt) for attempt in range(1, MAX_ATTEMPTS + 1)]
    assert waits[-1] is None  # the last attempt is not retried
    steps = [wait for wait in waits if wait is not None]
    assert steps == list(BACKOFF)
    assert steps[0] == timedelta(minutes=1)
    assert all(later >= earlier for earlier, later in itertools.pairwise(steps))
    assert timedelta(days=3) < sum(steps, timedelta()) < timedelta(days=4)


def test_a_response_snippet_is_one_line_of_at_most_300_characters() -> None:
    text = snippet("erro\n" + "x" * 1000)
    assert len(text) == 300
    assert "\n" not in text
