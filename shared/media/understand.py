"""Turn fetched media into text the agent can read, and the window text it reads.

With Gemini on Vertex AI (a chat model is given) it is one multimodal call: the bytes go inline
as a LangChain standard content block (``audio``, ``image``, ``video`` or ``file``), with a
Portuguese instruction to transcribe a voice note, describe an image or video, or read a PDF.
DOCX and plain text are extracted locally (Gemini does not take DOCX inline), and so is a PDF
when the model call fails. Without a model (offline), documents are extracted locally and
audio, images and video are ``not_understood`` (``offline_model``), labelled offline.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from shared.media.fetch import FetchedMedia
from shared.media.limits import DOCX, PDF, TEXT, MediaKind, RejectionReason

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

logger = logging.getLogger("piloto.media")

LOCAL_EXTRACTION = "local-text-extraction"
"""The ``model`` of a document read without a model (pypdf, python-docx)."""
UNCLEAR_ANSWER = "NAO_COMPREENDIDO"

UnderstandingStatus = Literal["understood", "not_understood", "rejected"]

_BLOCK_TYPES: dict[MediaKind, str] = {
    "audio": "audio",
    "image": "image",
    "video": "video",
    "document": "file",
}
_UNCLEAR = f"Se não for possível, responda exatamente: {UNCLEAR_ANSWER}"
_INSTRUCTIONS: dict[MediaKind, str] = {
    "audio": "Transcreva, em português do Brasil e palavra por palavra, esta mensagem de voz que "
    "um cliente enviou pelo WhatsApp para uma empresa. Responda só com a transcrição, sem "
    f"comentários. {_UNCLEAR} (sem fala compreensível).",
    "image": "Descreva, em português do Brasil e em até três frases objetivas, esta imagem que um "
    "cliente enviou pelo WhatsApp para uma empresa, incluindo qualquer texto legível nela. Não "
    f"faça diagnósticos nem suposições sobre a pessoa. {_UNCLEAR}.",
    "video": "Descreva, em português do Brasil e em até três frases objetivas, este vídeo que um "
    "cliente enviou pelo WhatsApp para uma empresa, e transcreva o que for dito nele. Não faça "
    f"diagnósticos nem suposições sobre a pessoa. {_UNCLEAR}.",
    "document": "Extraia o texto deste documento que um cliente enviou pelo WhatsApp para uma "
    "empresa, na ordem em que aparece, sem comentários. Tabelas viram linhas de texto. "
    f"{_UNCLEAR} (documento ilegível ou vazio).",
}
_KIND_NAMES: dict[MediaKind, str] = {
    "audio": "áudio",
    "image": "imagem",
    "video": "vídeo",
    "document": "documento",
}
_UNDERSTOOD_LABELS: dict[MediaKind, str] = {
    "audio": "[áudio transcrito]",
    "image": "[imagem descrita]",
    "video": "[vídeo descrito]",
    "document": "[documento]",
}
_UNCLEAR_LABELS: dict[MediaKind, str] = {
    "audio": "[áudio não compreendido]",
    "image": "[imagem não compreendida]",
    "video": "[vídeo não compreendido]",
    "document": "[documento não lido]",
}


@dataclass(frozen=True)
class MediaUnderstanding:
    """What was made of one attachment: the text the agent reads, or why there is none."""

    status: UnderstandingStatus
    text: str | None = None
    reason: str | None = None
    model: str | None = None
    offline: bool = False

    @classmethod
    def rejected(cls, reason: RejectionReason | str) -> MediaUnderstanding:
        """Return the understanding of media that was refused before any reading."""
        return cls(status="rejected", reason=reason)

    def to_document(self) -> dict[str, Any]:
        """Return the ``understanding`` field of the message document."""
        return asdict(self)


def understand_media(
    fetched: FetchedMedia,
    kind: MediaKind,
    *,
    model: BaseChatModel | None,
    text_chars: int = 3000,
) -> MediaUnderstanding:
    """Transcribe, describe or extract ``fetched``: one model call, or local extraction."""
    if kind == "document" and (model is None or fetched.mime_type in (DOCX, TEXT)):
        return _extract_locally(fetched, text_chars, offline=model is None)
    if model is None:
        return MediaUnderstanding(status="not_understood", reason="offline_model", offline=True)
    understood = _ask_model(model, fetched, kind, text_chars)
    if understood.status != "understood" and kind == "document" and fetched.mime_type == PDF:
        local = _extract_locally(fetched, text_chars, offline=False)
        return local if local.status == "understood" else understood
    return understood


def window_text(
    kind: MediaKind,
    understanding: MediaUnderstanding,
    *,
    caption: str | None = None,
    filename: str | None = None,
) -> str:
    """Return what the agent reads for the media: the text it became, or that it was unclear."""
    if understanding.status == "understood" and understanding.text:
        label = _UNDERSTOOD_LABELS[kind]
        if kind == "document" and filename:
            label = f"[documento: {filename}]"
        text = f"{label} {understanding.text}"
    else:
        label = _UNCLEAR_LABELS[kind]
        text = f"{label[:-1]}: {filename}]" if kind == "document" and filename else label
    return f"{text}\nLegenda: {caption}" if caption else text


def kind_name(kind: MediaKind) -> str:
    """Return the Portuguese name of a media kind."""
    return _KIND_NAMES[kind]


def _ask_model(
    model: BaseChatModel, fetched: FetchedMedia, kind: MediaKind, text_chars: int
) -> MediaUnderstanding:
    from langchain_core.messages import HumanMessage

    from shared.agent.llm import describe_model

    name, offline = describe_model(model)
    block: dict[str, Any] = {
        "type": _BLOCK_TYPES[kind],
        "base64": base64.b64encode(fetched.data).decode("ascii"),
        "mime_type": fetched.mime_type,
    }
    if fetched.filename and kind == "document":
        block["filename"] = fetched.filename
    message = HumanMessage(content=[{"type": "text", "text": _INSTRUCTIONS[kind]}, block])
    try:
        answer = model.invoke([message])
    except Exception as error:  # any model failure: the media stays not understood
        logger.warning(
            "media understanding failed",
            extra={"kind": kind, "model": name, "error": f"{type(error).__name__}: {error}"},
        )
        return MediaUnderstanding(
            status="not_understood", reason="model_error", model=name, offline=offline
        )
    text = answer.text.strip() if isinstance(answer.text, str) else ""
    if not text or UNCLEAR_ANSWER in text.upper():
        return MediaUnderstanding(
            status="not_understood", reason="unclear", model=name, offline=offline
        )
    return MediaUnderstanding(
        status="understood", text=_capped(text, text_chars), model=name, offline=offline
    )


def _extract_locally(
    fetched: FetchedMedia, text_chars: int, *, offline: bool
) -> MediaUnderstanding:
    from shared.knowledge.extract import UnreadableDocument, UnsupportedDocument, extract_text

    try:
        text = extract_text(fetched.data, mime_type=fetched.mime_type, filename=fetched.filename)
    except UnsupportedDocument:
        return MediaUnderstanding(
            status="rejected", reason="unsupported_type", model=LOCAL_EXTRACTION, offline=offline
        )
    except UnreadableDocument:
        return MediaUnderstanding(
            status="not_understood", reason="unreadable", model=LOCAL_EXTRACTION, offline=offline
        )
    except Exception as error:  # a malformed file can break a parser in many ways
        logger.warning(
            "document extraction failed", extra={"error": f"{type(error).__name__}: {error}"}
        )
        return MediaUnderstanding(
            status="not_understood", reason="unreadable", model=LOCAL_EXTRACTION, offline=offline
        )
    return MediaUnderstanding(
        status="understood", text=_capped(text, text_chars), model=LOCAL_EXTRACTION, offline=offline
    )


def _capped(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
