"""Extract the text of a document: PDF (pypdf), DOCX (python-docx), plain text, Markdown, CSV.

Used for the files admins upload to the knowledge base and for documents leads send. Only text
comes out: a scanned PDF (images only) is ``UnreadableDocument``, as is a file whose bytes are
not what its type says. Limits keep a hostile file from costing much: at most ``MAX_PDF_PAGES``
pages and ``MAX_TEXT_CHARS`` characters are read (the rest is cut), and a DOCX whose parts
expand beyond ``MAX_DOCX_EXPANDED_BYTES`` is refused before it is parsed.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

logger = logging.getLogger("piloto.knowledge")

MAX_PDF_PAGES = 1000
MAX_TEXT_CHARS = 200_000
MAX_DOCX_EXPANDED_BYTES = 100 * 1024 * 1024
MAX_CSV_ROWS = 5000

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
CSV = "text/csv"

ALIASES = {
    "text/x-markdown": MARKDOWN,
    "application/csv": CSV,
    "text/comma-separated-values": CSV,
    "application/x-pdf": PDF,
}
BY_EXTENSION = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".txt": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".csv": CSV,
}
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
SUPPORTED_TYPES = (PDF, DOCX, TEXT, MARKDOWN, CSV)


class UnsupportedDocument(ValueError):
    """The document's type is not one text can be extracted from."""


class UnreadableDocument(ValueError):
    """The document is of a supported type but no text could be read from it."""


def document_type(mime_type: str, filename: str | None = None) -> str:
    """Return the supported type of a document, or raise UnsupportedDocument."""
    declared = mime_type.split(";", 1)[0].strip().lower()
    declared = ALIASES.get(declared, declared)
    if declared in GENERIC_TYPES and filename:
        declared = BY_EXTENSION.get(PurePosixPath(filename.lower()).suffix, declared)
    if declared in SUPPORTED_TYPES:
        return declared
    hint = ""
    if declared in ("application/msword", "application/rtf", "text/rtf"):
        hint = " (save it as .docx or PDF)"
    elif declared.startswith(("image/", "audio/", "video/")):
        hint = " (only documents with text are read here)"
    supported = "PDF, DOCX, plain text, Markdown or CSV"
    raise UnsupportedDocument(f"{declared or 'unknown'} is not supported{hint}: send {supported}")


def extract_text(data: bytes, *, mime_type: str, filename: str | None) -> str:
    """Return the text of a document, or raise UnsupportedDocument / UnreadableDocument."""
    kind = document_type(mime_type, filename)
    if not data:
        raise UnreadableDocument("the file is empty")
    extractors: dict[str, Callable[[bytes], str]] = {
        PDF: _pdf_text,
        DOCX: _docx_text,
        TEXT: _plain_text,
        MARKDOWN: _plain_text,
        CSV: _csv_text,
    }
    text = _tidy(extractors[kind](data))
    if not text:
        what = "a scanned PDF needs OCR" if kind == PDF else "the document is blank"
        raise UnreadableDocument(f"no text could be read from the file ({what})")
    return text[:MAX_TEXT_CHARS]


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise UnreadableDocument("the file is not a PDF")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is password-protected")
        pages: list[str] = []
        size = 0
        for index, page in enumerate(reader.pages):
            if index >= MAX_PDF_PAGES or size >= MAX_TEXT_CHARS:
                logger.info("PDF cut at page %d of %d", index, len(reader.pages))
                break
            text = page.extract_text() or ""
            pages.append(text)
            size += len(text)
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise UnreadableDocument(f"the PDF could not be read ({type(error).__name__})") from None
    return "\n\n".join(pages)


def _docx_text(data: bytes) -> str:
    import docx
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise UnreadableDocument("the file is not a DOCX document") from None
    if expanded > MAX_DOCX_EXPANDED_BYTES:
        raise UnreadableDocument("the DOCX document expands to more than 100 MB")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # a missing part, lxml's parse errors: a broken file, not a bug
        raise UnreadableDocument(f"the DOCX could not be read ({type(error).__name__})") from None
    parts: list[str] = []
    size = 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            text = "\n".join(
                " | ".join(_unique_cells(row.cells)) for row in block.rows if row.cells
            )
        else:
            text = block.text
        parts.append(text)
        size += len(text)
        if size >= MAX_TEXT_CHARS:
            break
    return "\n\n".join(parts)


def _unique_cells(cells: list[object]) -> list[str]:
    """Return a row's cell texts once each (merged cells repeat the same cell)."""
    seen: list[object] = []
    texts = []
    for cell in cells:
        if any(cell is other for other in seen):
            continue
        seen.append(cell)
        texts.append(str(getattr(cell, "text", "")).strip())
    return texts


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # spreadsheets saved on Windows


def _plain_text(data: bytes) -> str:
    return _decode(data[: MAX_TEXT_CHARS * 4])


def _csv_text(data: bytes) -> str:
    """Return one line per row, each value named by its column ("Serviço: Limpeza; Preço: 180")."""
    text = _decode(data[: MAX_TEXT_CHARS * 4])
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [
        [value.strip() for value in row]
        for row in csv.reader(io.StringIO(text), dialect)
        if any(value.strip() for value in row)
    ][: MAX_CSV_ROWS + 1]
    if len(rows) < 2:
        return "\n".join(" ".join(row) for row in rows)
    header, *body = rows
    lines = []
    for row in body:
        named = [
            f"{header[index]}: {value}" if index < len(header) and header[index] else value
            for index, value in enumerate(row)
            if value
        ]
        lines.append("; ".join(named))
    return "\n".join(lines)


_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    """Return the text with runs of spaces and blank lines collapsed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
