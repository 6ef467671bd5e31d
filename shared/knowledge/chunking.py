"""Split an entry's text into chunks of about ``CHUNK_CHARS`` characters for embedding.

Paragraphs are kept whole when they fit; a longer paragraph is split between sentences, and a
sentence longer than a chunk between words. Each chunk after the first starts with the last
line or sentence of the one before (20 to ``OVERLAP_CHARS`` characters), so a fact cut at a
boundary is still found. The same text always gives the same chunks.
"""

from __future__ import annotations

import re

CHUNK_CHARS = 800
OVERLAP_CHARS = 160
MIN_OVERLAP_CHARS = 20

_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n")
_LAST_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def chunk_text(text: str, *, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Return the text's chunks, in order (none for blank text)."""
    room = max(size - overlap - 2, size // 2)  # a cut paragraph's pieces leave room for overlap
    pieces = [piece for paragraph in _paragraphs(text) for piece in _pieces(paragraph, size, room)]
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for piece in pieces:
        separator = 2 if current else 0
        if current and length + separator + len(piece) > size:
            chunks.append("\n\n".join(current))
            tail = _tail(current[-1], overlap)
            current = [tail] if tail and len(tail) + 2 + len(piece) <= size else []
            length = len(tail) if current else 0
            separator = 2 if current else 0
        current.append(piece)
        length += separator + len(piece)
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _PARAGRAPHS.split(text.strip()) if p.strip()]


def _pieces(paragraph: str, size: int, room: int) -> list[str]:
    """Return the paragraph whole if it fits in ``size``, or its lines, sentences and words
    grouped under ``room``."""
    if len(paragraph) <= size:
        return [paragraph]
    units: list[tuple[str, str]] = []  # (text, the separator before it)
    for line in paragraph.split("\n"):
        separator = "\n"
        for sentence in [line.strip()] if len(line) <= room else _sentences(line):
            for part in _words(sentence, room):
                if part:
                    units.append((part, separator))
                    separator = " "
    pieces: list[str] = []
    for text, separator in units:
        if pieces and len(pieces[-1]) + 1 + len(text) <= room:
            pieces[-1] = f"{pieces[-1]}{separator}{text}"
        else:
            pieces.append(text)
    return pieces


def _sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s and s.strip()]


def _words(sentence: str, size: int) -> list[str]:
    """Return the sentence, or its words grouped under ``size`` (a longer word is sliced)."""
    if len(sentence) <= size:
        return [sentence]
    parts: list[str] = []
    line = ""
    for word in sentence.split():
        while len(word) > size:
            if line:
                parts.append(line)
                line = ""
            parts.append(word[:size])
            word = word[size:]
        candidate = f"{line} {word}" if line else word
        if len(candidate) > size:
            parts.append(line)
            candidate = word
        line = candidate
    return [*parts, line] if line else parts


def _tail(piece: str, overlap: int) -> str:
    """Return the piece's last line or sentence when it is worth repeating and short enough."""
    lines = piece.strip().split("\n")
    last = lines[-1].strip() if len(lines) > 1 else _LAST_SENTENCE.split(piece.strip())[-1]
    return last if MIN_OVERLAP_CHARS <= len(last) <= overlap and last != piece else ""
