"""Understanding media: offline extraction, one multimodal call with a fake Gemini, window text."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from emulators.simulator.media import DOCX, SAMPLE_OGG, SAMPLE_PNG, sample_docx, sample_pdf
from shared.media.fetch import FetchedMedia
from shared.media.limits import PDF, MediaKind
from shared.media.understand import (
    LOCAL_EXTRACTION,
    MediaUnderstanding,
    understand_media,
    window_text,
)

EXAM = "Resultado de exame\nGlicose em jejum: 92 mg/dL"


class FakeGemini(BaseChatModel):
    """Answers one fixed text (or raises), recording what it was sent."""

    answer: str | None = None
    error: Exception | None = None
    model_name: str = "gemini-2.5-flash"
    seen: list[list[BaseMessage]] = []

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.seen.append(messages)
        if self.error is not None:
            raise self.error
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.answer))])

    @property
    def _llm_type(self) -> str:
        return "fake-gemini"


def fetched(data: bytes, mime_type: str, filename: str | None = None) -> FetchedMedia:
    return FetchedMedia(data=data, mime_type=mime_type, size_bytes=len(data), filename=filename)


@pytest.mark.parametrize(
    ("data", "mime_type"), [(sample_pdf(EXAM), PDF), (sample_docx(EXAM), DOCX)]
)
def test_offline_documents_are_extracted_locally(data: bytes, mime_type: str) -> None:
    understood = understand_media(fetched(data, mime_type, "exame"), "document", model=None)

    assert understood.status == "understood"
    assert understood.text is not None and "Glicose em jejum: 92 mg/dL" in understood.text
    assert (understood.model, understood.offline) == (LOCAL_EXTRACTION, True)


def test_offline_an_unreadable_document_is_not_understood() -> None:
    understood = understand_media(fetched(b"%PDF-1.4 garbage", PDF), "document", model=None)

    assert (understood.status, understood.reason) == ("not_understood", "unreadable")


@pytest.mark.parametrize(
    ("kind", "data", "mime_type"),
    [
        ("audio", SAMPLE_OGG, "audio/ogg"),
        ("image", SAMPLE_PNG, "image/png"),
        ("video", b"v", "video/mp4"),
    ],
)
def test_offline_audio_images_and_video_are_not_understood_and_labelled(
    kind: MediaKind, data: bytes, mime_type: str
) -> None:
    understood = understand_media(fetched(data, mime_type), kind, model=None)

    assert understood == MediaUnderstanding(
        status="not_understood", reason="offline_model", offline=True
    )


def test_a_voice_note_is_transcribed_in_one_call_with_the_bytes_inline() -> None:
    model = FakeGemini(answer="Oi, queria saber o preço da limpeza de pele.", seen=[])

    understood = understand_media(fetched(SAMPLE_OGG, "audio/ogg"), "audio", model=model)

    assert understood == MediaUnderstanding(
        status="understood",
        text="Oi, queria saber o preço da limpeza de pele.",
        model="gemini-2.5-flash",
        offline=False,
    )
    [[message]] = model.seen
    instruction, block = message.content
    assert isinstance(instruction, dict) and "Transcreva" in instruction["text"]
    assert "português do Brasil" in instruction["text"]
    assert block == {
        "type": "audio",
        "base64": base64.b64encode(SAMPLE_OGG).decode(),
        "mime_type": "audio/ogg",
    }


def test_the_blocks_are_what_langchain_google_genai_sends_inline() -> None:
    from langchain_google_genai.chat_models import _convert_to_parts

    model = FakeGemini(answer="Foto de uma mancha na pele do rosto.", seen=[])
    understand_media(fetched(SAMPLE_PNG, "image/png"), "image", model=model)
    understand_media(fetched(sample_pdf(EXAM), PDF, "exame.pdf"), "document", model=model)

    for [message], mime_type in zip(model.seen, ("image/png", PDF), strict=True):
        content = message.content
        assert isinstance(content, list) and isinstance(content[1], dict)
        parts = _convert_to_parts(list(content))
        assert parts[0].text and parts[1].inline_data is not None
        assert parts[1].inline_data.mime_type == mime_type
        assert parts[1].inline_data.data == base64.b64decode(content[1]["base64"])


def test_a_model_that_cannot_hear_the_voice_note_leaves_it_not_understood() -> None:
    model = FakeGemini(answer="NAO_COMPREENDIDO", seen=[])

    understood = understand_media(fetched(SAMPLE_OGG, "audio/ogg"), "audio", model=model)

    assert (understood.status, understood.reason, understood.offline) == (
        "not_understood",
        "unclear",
        False,
    )


def test_a_model_error_leaves_the_media_not_understood() -> None:
    model = FakeGemini(error=TimeoutError("deadline"), seen=[])

    understood = understand_media(fetched(SAMPLE_PNG, "image/png"), "image", model=model)

    assert (understood.status, understood.reason) == ("not_understood", "model_error")


def test_a_pdf_falls_back_to_local_extraction_when_the_model_fails() -> None:
    model = FakeGemini(error=RuntimeError("quota"), seen=[])

    understood = understand_media(fetched(sample_pdf(EXAM), PDF), "document", model=model)

    assert understood.status == "understood" and understood.model == LOCAL_EXTRACTION
    assert understood.text is not None and "92 mg/dL" in understood.text


def test_docx_is_extracted_locally_even_with_the_model() -> None:
    model = FakeGemini(answer="nunca chamado", seen=[])

    understood = understand_media(fetched(sample_docx(EXAM), DOCX), "document", model=model)

    assert understood.model == LOCAL_EXTRACTION and model.seen == []


def test_long_text_is_capped() -> None:
    model = FakeGemini(answer="palavra " * 1000, seen=[])

    understood = understand_media(
        fetched(SAMPLE_OGG, "audio/ogg"), "audio", model=model, text_chars=200
    )

    assert understood.text is not None and len(understood.text) <= 200
    assert understood.text.endswith("…")


def test_window_text_says_what_the_agent_reads() -> None:
    heard = MediaUnderstanding(status="understood", text="Quanto custa?", model="g")
    unclear = MediaUnderstanding(status="not_understood", reason="offline_model", offline=True)
    read = MediaUnderstanding(status="understood", text="Glicose 92", model=LOCAL_EXTRACTION)

    assert window_text("audio", heard) == "[áudio transcrito] Quanto custa?"
    assert window_text("audio", unclear) == "[áudio não compreendido]"
    assert window_text("image", unclear, caption="e isso?") == (
        "[imagem não compreendida]\nLegenda: e isso?"
    )
    assert window_text("document", read, filename="exame.pdf") == (
        "[documento: exame.pdf] Glicose 92"
    )
    assert window_text("document", MediaUnderstanding.rejected("too_large"), filename="a.pdf") == (
        "[documento não lido: a.pdf]"
    )
