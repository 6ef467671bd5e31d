"""Media a simulated lead sends: small real sample files, and each provider's download API.

Every provider's media is served behind that provider's own auth, answering wrong credentials
as the provider does:

- Meta: ``GET /meta/{version}/{media_id}`` (Bearer) describes the media as Graph does (``url``,
  ``mime_type``, hex ``sha256``, ``file_size``, ``id``); the ``url``
  (``/meta/whatsapp_business/attachments/?mid=…``) needs the same Bearer token (401 code 190).
- Twilio: ``GET /twilio/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}``
  needs basic auth (401 code 20003) and redirects (307) to a short-lived public URL,
  ``/media/{id}``, as Twilio redirects to its CDN.
- Evolution API: ``POST /evolution/chat/getBase64FromMediaMessage/{instance}`` with the
  instance's ``apikey`` (401 otherwise) answers ``{mediaType, fileName, size, mimetype, base64}``
  for ``{"message": {"key": {"id"}}}``.
- Z-API: ``GET /zapi/storage/{file}`` needs the account's ``Client-Token`` (401 otherwise).

The samples are generated at runtime: a PNG, the first bytes of an Ogg/Opus voice note and of
an MP4, and a PDF or DOCX holding the text a test asks for; ``size_bytes`` pads a sample to a
given size (to exercise size limits).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import secrets as random_tokens
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from emulators.simulator import evolution, meta, twilio, zapi
from emulators.simulator.channels import SimulatedChannel
from emulators.simulator.routing import Request, Response, json_response
from emulators.simulator.sends import same_secret

META_DESCRIBE_ROUTE = r"/meta/(?P<version>[^/]+)/(?P<media_id>[0-9]+)"
META_DOWNLOAD_ROUTE = r"/meta/whatsapp_business/attachments/?"
TWILIO_MEDIA_ROUTE = (
    r"/twilio/2010-04-01/Accounts/(?P<account_sid>[^/]+)/Messages/(?P<message_sid>[^/]+)"
    r"/Media/(?P<media_sid>[^/]+)"
)
EVOLUTION_BASE64_ROUTE = r"/evolution/chat/getBase64FromMediaMessage/(?P<instance>[^/]+)"
ZAPI_STORAGE_ROUTE = r"/zapi/storage/(?P<media_id>[^/.]+)(?:\.[A-Za-z0-9]+)?"
PUBLIC_ROUTE = r"/media/(?P<media_id>[^/]+)"

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SAMPLE_OGG = b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00"
SAMPLE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(8) + b"moov"
SAMPLE_DOCUMENT_TEXT = "Resultado de exame\nGlicose em jejum: 92 mg/dL"
SAMPLE_IMAGE_TYPE = "image/png"
_EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "video/mp4": "mp4",
    PDF: "pdf",
    DOCX: "docx",
    "text/plain": "txt",
}


@dataclass(frozen=True)
class StoredMedia:
    """One file a simulated lead sent, and the channel whose credentials unlock it."""

    mime_type: str
    body: bytes
    filename: str | None = None
    channel_id: str | None = None
    kind: str | None = None


FindMedia = Callable[[str], StoredMedia | None]


# Samples


def sample_png(
    width: int = 16, height: int = 16, rgb: tuple[int, int, int] = (217, 163, 143)
) -> bytes:
    """Return a real PNG of one colour (8-bit RGB, zlib-compressed rows)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


SAMPLE_PNG = sample_png()


def sample_media(
    kind: str, mime_type: str, *, text: str | None = None, size_bytes: int | None = None
) -> bytes:
    """Return a small real file of ``mime_type`` (``text`` inside documents), padded if asked."""
    bare = mime_type.split(";", 1)[0].strip().lower()
    if bare == PDF:
        body = sample_pdf(text or SAMPLE_DOCUMENT_TEXT)
    elif bare == DOCX:
        body = sample_docx(text or SAMPLE_DOCUMENT_TEXT)
    elif bare.startswith("text/"):
        body = (text or SAMPLE_DOCUMENT_TEXT).encode()
    elif kind == "audio":
        body = SAMPLE_OGG
    elif kind == "video":
        body = SAMPLE_MP4
    else:
        body = SAMPLE_PNG
    if size_bytes is not None and size_bytes > len(body):
        body += bytes(size_bytes - len(body))
    return body


def sample_pdf(text: str) -> bytes:
    """Return a one-page PDF (Helvetica, WinAnsi) with ``text``, one line per line."""
    lines = [b"BT", b"/F1 12 Tf", b"72 720 Td", b"16 TL"]
    for line in text.splitlines() or [""]:
        encoded = line.encode("cp1252", "replace")
        escaped = encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        lines.append(b"(" + escaped + b") Tj T*")
    lines.append(b"ET")
    content = b"\n".join(lines)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def sample_docx(text: str) -> bytes:
    """Return a DOCX with one paragraph per line of ``text``."""
    import docx

    document = docx.Document()
    for line in text.splitlines() or [""]:
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def extension(mime_type: str) -> str:
    """Return a file extension for a MIME type ("bin" when unknown)."""
    return _EXTENSIONS.get(mime_type.split(";", 1)[0].strip().lower(), "bin")


def new_media_id() -> str:
    """Return a numeric id, like Meta's media ids."""
    return str(10**15 + random_tokens.randbelow(9 * 10**15))


# Provider download APIs


def meta_describe(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    find: FindMedia,
    base_url: str,
) -> Response:
    """Answer Graph's ``GET /{version}/{media_id}``: where to download the media, and its hash."""
    stored = find(params["media_id"])
    rejected = _meta_auth(request, channels, stored)
    if rejected is not None:
        return rejected
    if stored is None:
        return meta.graph_error(
            400,
            100,
            f"Unsupported get request. Object with ID '{params['media_id']}' does not exist.",
            subcode=33,
        )
    media_id = params["media_id"]
    signature = random_tokens.token_urlsafe(12)
    return json_response(
        200,
        {
            "messaging_product": "whatsapp",
            "url": f"{base_url}/meta/whatsapp_business/attachments/?mid={media_id}"
            f"&ext=1773158400&hash={signature}",
            "mime_type": stored.mime_type,
            "sha256": hashlib.sha256(stored.body).hexdigest(),
            "file_size": len(stored.body),
            "id": media_id,
        },
    )


def meta_download(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    find: FindMedia,
) -> Response:
    """Serve the bytes behind Graph's download URL (the same Bearer token is required)."""
    stored = find(request.query.get("mid", ""))
    rejected = _meta_auth(request, channels, stored)
    if rejected is not None:
        return rejected
    if stored is None:
        return meta.graph_error(404, 100, "The media does not exist or has expired.")
    return Response(200, stored.body, stored.mime_type)


def _meta_auth(
    request: Request, channels: Sequence[SimulatedChannel], stored: StoredMedia | None
) -> Response | None:
    token = meta.bearer_token(request)
    owners = [c for c in channels if stored is None or c.channel_id == stored.channel_id]
    if not any(same_secret(c.secret("access_token"), token) for c in owners or channels):
        return meta.token_rejected(token)
    return None


def twilio_media(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    find: FindMedia,
    base_url: str,
) -> Response:
    """Answer ``GET …/Media/{MediaSid}`` with basic auth: a redirect to the short-lived file."""
    account_sid = params["account_sid"]
    account = [c for c in channels if c.config_text("account_sid") == account_sid]
    user, password = _basic_auth(request)
    if user != account_sid or not any(
        same_secret(c.secret("auth_token"), password) for c in account
    ):
        return twilio.twilio_error(
            401,
            20003,
            "Authentication Error - invalid username",
            {"WWW-Authenticate": 'Basic realm="Twilio API"'},
        )
    if find(params["media_sid"]) is None:
        return twilio.twilio_error(
            404, 20404, f"The requested resource {request.path} was not found"
        )
    location = f"{base_url}/media/{params['media_sid']}?Expires=1773158700"
    return Response(307, b"", "text/plain", {"Location": location})


def _basic_auth(request: Request) -> tuple[str | None, str | None]:
    scheme, _, encoded = (request.header("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return user, password


def evolution_base64(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    find_by_message: FindMedia,
) -> Response:
    """Answer ``POST /chat/getBase64FromMediaMessage/{instance}`` with the media in base64."""
    instance = params["instance"]
    channel = next((c for c in channels if c.config_text("instance") == instance), None)
    apikey = request.header("apikey")
    if channel is None and any(same_secret(c.secret("apikey"), apikey) for c in channels):
        return evolution.evolution_error(
            404, "Not Found", [f'The "{instance}" instance does not exist']
        )
    if channel is None or not same_secret(channel.secret("apikey"), apikey):
        return evolution.evolution_error(401, "Unauthorized", "Unauthorized")
    document = request.json_object()
    message = document.get("message")
    key = message.get("key") if isinstance(message, dict) else None
    message_id = key.get("id") if isinstance(key, dict) else None
    if not isinstance(message_id, str) or not message_id:
        return evolution.evolution_error(400, "Bad Request", ['"message.key.id" is required'])
    stored = find_by_message(message_id)
    if stored is None or stored.channel_id != channel.channel_id:
        return evolution.evolution_error(400, "Bad Request", ["Message not found"])
    return json_response(
        201,
        {
            "mediaType": f"{stored.kind or 'document'}Message",
            "fileName": stored.filename or f"{message_id}.{extension(stored.mime_type)}",
            "caption": None,
            "size": {"fileLength": len(stored.body), "height": 0, "width": 0},
            "mimetype": stored.mime_type,
            "base64": base64.b64encode(stored.body).decode(),
        },
    )


def zapi_storage(
    request: Request,
    params: Mapping[str, str],
    channels: Sequence[SimulatedChannel],
    find: FindMedia,
) -> Response:
    """Serve a Z-API media file to the account's ``Client-Token``."""
    stored = find(params["media_id"])
    presented = request.header("client-token")
    if not presented:
        return zapi.zapi_error(401, "Unauthorized", "your client-token is not configured")
    owners = [c for c in channels if stored is not None and c.channel_id == stored.channel_id]
    if not any(same_secret(c.secret("client_token"), presented) for c in owners or channels):
        return zapi.zapi_error(401, "Unauthorized", "client-token is not valid")
    if stored is None:
        return zapi.zapi_error(404, "Not Found", "file not found")
    return Response(200, stored.body, stored.mime_type)


def public_file(request: Request, params: Mapping[str, str], find: FindMedia) -> Response:
    """Serve a file by id without auth (Twilio's CDN redirect, Evolution's stored files)."""
    stored = find(params["media_id"])
    if stored is None:
        return json_response(404, {"error": "no such media"})
    return Response(200, stored.body, stored.mime_type.split(";")[0])
