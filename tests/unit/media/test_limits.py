"""The media Piloto accepts: types per kind and size caps from the settings."""

from __future__ import annotations

import pytest

from shared.media.limits import (
    DOCX,
    MediaKind,
    MediaLimits,
    MediaRejected,
    check_type,
    normalize_mime,
)
from shared.settings import load_settings


@pytest.mark.parametrize(
    ("declared", "filename", "expected"),
    [
        ("audio/ogg; codecs=opus", None, "audio/ogg"),
        ("Image/JPG", None, "image/jpeg"),
        ("application/octet-stream", "Exame.DOCX", DOCX),
        (None, None, ""),
    ],
)
def test_mime_types_are_normalized(
    declared: str | None, filename: str | None, expected: str
) -> None:
    assert normalize_mime(declared, filename) == expected


@pytest.mark.parametrize(
    ("kind", "mime_type"),
    [
        ("image", "image/gif"),
        ("audio", "video/mp4"),
        ("document", "application/zip"),
        ("video", None),
    ],
)
def test_types_a_kind_does_not_accept_are_rejected(kind: MediaKind, mime_type: str | None) -> None:
    with pytest.raises(MediaRejected) as rejected:
        check_type(kind, mime_type)

    assert rejected.value.reason == "unsupported_type"


def test_caps_come_from_the_settings_and_reject_what_is_larger() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "PILOTO_MEDIA_MAX_IMAGE_BYTES": "1000"})
    limits = MediaLimits.from_settings(settings)

    limits.check_size("image", 1000)
    with pytest.raises(MediaRejected) as rejected:
        limits.check_size("image", 1001)

    assert rejected.value.reason == "too_large"
    assert limits.max_bytes("audio") == 16 * 1024 * 1024  # the default
