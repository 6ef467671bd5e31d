"""Chunking: whole paragraphs when they fit, sentence and word cuts when not, a short overlap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.knowledge.chunking import CHUNK_CHARS, chunk_text


def test_blank_text_has_no_chunks_and_short_text_is_one() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\n \n") == []
    assert chunk_text("Limpeza de pele: R$ 180.") == ["Limpeza de pele: R$ 180."]


def test_paragraphs_that_fit_together_share_a_chunk_and_stay_whole() -> None:
    first = "Endereço: Rua das Flores, 120."
    second = "Horário: segunda a sexta, das 9h às 19h."

    assert chunk_text(f"{first}\n\n\n{second}") == [f"{first}\n\n{second}"]


def test_a_long_text_is_cut_between_paragraphs_with_no_chunk_over_the_size() -> None:
    paragraphs = [f"Parágrafo {n}: " + "texto de exemplo " * 20 for n in range(10)]

    chunks = chunk_text("\n\n".join(paragraphs))

    assert len(chunks) > 3
    assert all(len(chunk) <= CHUNK_CHARS for chunk in chunks)
    for paragraph in paragraphs:  # every paragraph is whole in some chunk
        assert any(paragraph.strip() in chunk for chunk in chunks)


def test_a_long_paragraph_is_cut_between_sentences_and_the_next_chunk_repeats_the_last() -> None:
    sentences = [f"A sessão número {n} dura sessenta minutos no total." for n in range(40)]

    chunks = chunk_text(" ".join(sentences))

    assert len(chunks) >= 2
    for chunk in chunks:
        assert len(chunk) <= CHUNK_CHARS
        assert chunk.rstrip().endswith(".")  # never cut inside a sentence
    first_last_sentence = sentences[[s in chunks[0] for s in sentences].index(False) - 1]
    assert chunks[1].startswith(first_last_sentence)  # the overlap


def test_lines_stay_lines_when_a_list_is_cut() -> None:
    rows = [f"Serviço: procedimento {n}; Preço: R$ {100 + n}" for n in range(60)]

    chunks = chunk_text("\n".join(rows))

    assert len(chunks) > 1
    for chunk in chunks:
        for line in chunk.split("\n"):
            assert line in rows or line == ""


def test_a_word_longer_than_a_chunk_is_cut_to_the_size() -> None:
    chunks = chunk_text("x" * 2000 + " fim")

    assert all(len(chunk) <= CHUNK_CHARS for chunk in chunks)
    assert "".join(chunks).count("x") == 2000


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("abc de.\n!?çã"), max_size=4000))
def test_chunking_is_deterministic_bounded_and_loses_no_word(text: str) -> None:
    chunks = chunk_text(text)

    assert chunks == chunk_text(text)
    assert all(0 < len(chunk) <= CHUNK_CHARS for chunk in chunks)
    kept = set(" ".join(chunks).split())
    for word in text.split():
        if len(word) <= CHUNK_CHARS:
            assert word in kept or any(word in chunk for chunk in chunks)
