"""What media Piloto accepts from a lead: types per kind, size caps, and the typed rejection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from shared.settings import Settings

MediaKind = Literal["audio", "image", "video", "document"]
MEDIA_KINDS: tuple[MediaKind, ...] = ("audio", "image", "video", "document")

RejectionReason = Literal["too_large", "unsupported_type", "fetch_failed", "checksum_mismatch"]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "text/plain"

ALLOWED_TYPES: dict[MediaKind, frozenset[str]] = {
    # WhatsApp voice notes are Ogg/Opus; the rest are what the Cloud API accepts for audio.
    "audio": frozenset(
        {"audio/ogg", "audio/opus", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"}
    ),
    "image": frozenset({"image/jpeg", "image/png", "image/webp"}),
    "video": frozenset({"video/mp4", "video/3gpp"}),
    "document": frozenset({PDF, DOCX, TEXT}),
}
_ALIASES = {
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/mp3": "audio/mpeg",
    "image/jpg": "image/jpeg",
    "application/x-pdf": PDF,
}
_GENERIC = {"", "application/octet-stream", "binary/octet-stream"}
_BY_EXTENSION = {".pdf": PDF, ".docx": DOCX, ".txt": TEXT}


class MediaRejected(Exception):
    """The media cannot be used: too large, of a type not accepted, unreachable, or altered."""

    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: RejectionReason = reason
        self.detail = detail


@dataclass(frozen=True)
class MediaLimits:
    """The largest file accepted per kind, in bytes."""

    audio: int = 16 * 1024 * 1024
    image: int = 5 * 1024 * 1024
    video: int = 16 * 1024 * 1024
    document: int = 20 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        """Return the limits the deployment configured (``PILOTO_MEDIA_MAX_*_BYTES``)."""
        return cls(
            audio=settings.media_max_audio_bytes,
            image=settings.media_max_image_bytes,
            video=settings.media_max_video_bytes,
            document=settings.media_max_document_bytes,
        )

    def max_bytes(self, kind: MediaKind) -> int:
        """Return the cap for ``kind``."""
        return int(getattr(self, kind))

    def check_size(self, kind: MediaKind, size: int | None) -> None:
        """Reject a known size above the kind's cap (before reading, when the size is declared)."""
        if size is not None and size > self.max_bytes(kind):
            raise MediaRejected(
                "too_large", f"{kind} of {size} bytes is over the {self.max_bytes(kind)}-byte cap"
            )


def normalize_mime(mime_type: str | None, filename: str | None = None) -> str:
    """Return a MIME type bare, lower-cased and de-aliased (a generic one by extension)."""
    bare = (mime_type or "").split(";", 1)[0].strip().lower()
    bare = _ALIASES.get(bare, bare)
    if bare in _GENERIC and filename:
        bare = _BY_EXTENSION.get(PurePosixPath(filename.lower()).suffix, bare)
    return bare


def is_generic(mime_type: str | None) -> bool:
    """Return whether a MIME type says nothing of the content (absent or octet-stream)."""
    return normalize_mime(mime_type) in _GENERIC


def check_type(kind: MediaKind, mime_type: str | None, filename: str | None = None) -> str:
    """Return the normalized MIME type, or reject one the kind does not accept."""
    bare = normalize_mime(mime_type, filename)
    if bare not in ALLOWED_TYPES[kind]:
        allowed = ", ".join(sorted(ALLOWED_TYPES[kind]))
        raise MediaRejected(
            "unsupported_type", f"{bare or 'unknown'} is not an accepted {kind} type ({allowed})"
        )
    return bare
