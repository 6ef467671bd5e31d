"""Text extraction from real PDF, DOCX, text, Markdown and CSV files, and clear refusals."""

from __future__ import annotations

import io
import zipfile

import pytest
from pypdf import PdfReader, PdfWriter

from shared.knowledge import extract
from shared.knowledge.extract import (
    UnreadableDocument,
    UnsupportedDocument,
    document_type,
    extract_text,
)
from tests.unit.knowledge.documents import blank_pdf, docx_with, pdf_with_text

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_a_pdf_gives_the_text_of_every_page_with_accents() -> None:
    data = pdf_with_text(
        [["Tabela de preços", "Limpeza de pele: R$ 180 (60 minutos)"], ["Peeling químico: R$ 250"]]
    )

    text = extract_text(data, mime_type=PDF, filename="precos.pdf")

    assert text == (
        "Tabela de preços\nLimpeza de pele: R$ 180 (60 minutos)\n\nPeeling químico: R$ 250"
    )


def test_a_docx_gives_paragraphs_and_table_rows_in_order() -> None:
    data = docx_with(
        ["Política de cancelamento", "Remarcações com 24 horas de antecedência não têm custo."],
        table=[["Serviço", "Preço"], ["Limpeza de pele", "R$ 180"], ["Peeling", "R$ 250"]],
    )

    text = extract_text(data, mime_type=DOCX, filename="politicas.docx")

    assert text.split("\n\n")[:2] == [
        "Política de cancelamento",
        "Remarcações com 24 horas de antecedência não têm custo.",
    ]
    assert "Serviço | Preço\nLimpeza de pele | R$ 180\nPeeling | R$ 250" in text


def test_plain_text_and_markdown_are_read_as_utf8_or_windows_1252() -> None:
    utf8 = "Horário: 9h às 19h\r\n\r\n\r\n\r\nSábado: 9h às 13h".encode()
    windows = "Promoção de março: 10% à vista".encode("cp1252")

    assert extract_text(utf8, mime_type="text/plain", filename=None) == (
        "Horário: 9h às 19h\n\nSábado: 9h às 13h"
    )
    assert extract_text(
        windows, mime_type="text/markdown; charset=windows-1252", filename=None
    ) == ("Promoção de março: 10% à vista")
    assert extract_text(b"\xef\xbb\xbf# FAQ", mime_type="text/x-markdown", filename=None) == "# FAQ"


def test_a_csv_names_each_value_by_its_column_whatever_the_delimiter() -> None:
    semicolons = "Serviço;Preço;Duração\nLimpeza de pele;R$ 180;60 min\nPeeling;R$ 250;\n"
    commas = 'Serviço,Preço\n"Botox, por região",R$ 900\n'

    assert extract_text(semicolons.encode(), mime_type="text/csv", filename="p.csv") == (
        "Serviço: Limpeza de pele; Preço: R$ 180; Duração: 60 min\nServiço: Peeling; Preço: R$ 250"
    )
    assert extract_text(commas.encode(), mime_type="application/csv", filename=None) == (
        "Serviço: Botox, por região; Preço: R$ 900"
    )


def test_a_generic_type_is_taken_from_the_file_extension() -> None:
    assert document_type("application/octet-stream", "Tabela.PDF") == PDF
    assert document_type("", "faq.md") == "text/markdown"
    with pytest.raises(UnsupportedDocument):
        document_type("application/octet-stream", "foto.heic")


@pytest.mark.parametrize(
    ("mime_type", "hint"),
    [
        ("application/msword", "save it as .docx or PDF"),
        ("image/jpeg", "only documents with text"),
        ("application/zip", "send PDF, DOCX"),
    ],
)
def test_unsupported_types_are_refused_with_what_to_send(mime_type: str, hint: str) -> None:
    with pytest.raises(UnsupportedDocument, match=hint) as refused:
        extract_text(b"data", mime_type=mime_type, filename="arquivo")

    assert mime_type in str(refused.value)


def test_a_scanned_pdf_without_text_is_unreadable_and_says_so() -> None:
    with pytest.raises(UnreadableDocument, match="scanned PDF needs OCR"):
        extract_text(blank_pdf(), mime_type=PDF, filename="scan.pdf")


def test_a_password_protected_pdf_is_unreadable() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text([["segredo"]]))))
    writer.encrypt("senha", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)

    with pytest.raises(UnreadableDocument, match="password-protected"):
        extract_text(buffer.getvalue(), mime_type=PDF, filename="x.pdf")


@pytest.mark.parametrize(
    ("data", "mime_type", "reason"),
    [
        (b"", PDF, "empty"),
        (b"not a pdf at all", PDF, "not a PDF"),
        (pdf_with_text([["corte"]])[:200], PDF, "could not be read"),
        (b"PK\x03\x04 broken zip", DOCX, "not a DOCX"),
        (b"plain text", DOCX, "not a DOCX"),
        (b"\x00\x01\x02binary", "text/plain", "binary"),
        (b"  \n\n \t ", "text/plain", "blank"),
    ],
)
def test_broken_or_mislabelled_files_are_unreadable(
    data: bytes, mime_type: str, reason: str
) -> None:
    with pytest.raises(UnreadableDocument, match=reason):
        extract_text(data, mime_type=mime_type, filename=None)


def test_a_zip_that_is_not_a_word_document_is_unreadable() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "oi")

    with pytest.raises(UnreadableDocument, match="DOCX could not be read"):
        extract_text(buffer.getvalue(), mime_type=DOCX, filename="x.docx")


def test_a_docx_that_expands_too_much_is_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extract, "MAX_DOCX_EXPANDED_BYTES", 1000)

    with pytest.raises(UnreadableDocument, match="expands to more than"):
        extract_text(docx_with(["x" * 5000]), mime_type=DOCX, filename="x.docx")


def test_long_documents_are_cut_at_the_page_and_character_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extract, "MAX_PDF_PAGES", 2)
    pages = [[f"Página {n}"] for n in range(5)]

    assert extract_text(pdf_with_text(pages), mime_type=PDF, filename=None) == (
        "Página 0\n\nPágina 1"
    )
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", 10)
    assert extract_text(b"a" * 100, mime_type="text/plain", filename=None) == "a" * 10
