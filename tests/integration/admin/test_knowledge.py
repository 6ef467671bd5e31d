"""The knowledge base through the admin API: typed entries, uploaded files, the test search,
roles, audit, and refusals (413, 422) that write nothing. The served function embeds offline."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from shared.knowledge.store import chunks_ref, knowledge_status
from tests.integration.admin.conftest import AdminStack
from tests.integration.admin.support import User
from tests.unit.knowledge.documents import blank_pdf, docx_with, pdf_with_text

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Clinic:
    tenant_id: str
    owner: User
    admin: User
    seller: User

    @property
    def base(self) -> str:
        return f"/api/tenants/{self.tenant_id}/knowledge"


@pytest.fixture(scope="module")
def clinic(admin: AdminStack) -> Clinic:
    owner = admin.auth.sign_up("owner", verified=True)
    tenant_id = admin.tenant(owner)
    manager = admin.auth.sign_up("admin", verified=True)
    seller = admin.auth.sign_up("seller", verified=True)
    admin.join(owner, tenant_id, manager, "admin")
    admin.join(owner, tenant_id, seller, "seller")
    return Clinic(tenant_id, owner, manager, seller)


def _error(answer: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error = dict(answer.json()["error"])
    if field is not None:
        assert error["field"] == field, error
    assert error["message"]
    return error


def _search(admin: AdminStack, clinic: Clinic, query: str, user: User | None = None) -> list[str]:
    answer = admin.api.post(f"{clinic.base}/search", user or clinic.owner, {"query": query})
    assert answer.status_code == 200, answer.text
    return [result["entry_id"] for result in answer.json()["results"]]


def _file(name: str, mime_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "filename": name,
        "mime_type": mime_type,
        "content_base64": base64.b64encode(data).decode(),
        **extra,
    }


def test_managers_add_typed_entries_everyone_lists_and_searches_them(
    admin: AdminStack, clinic: Clinic
) -> None:
    qa = admin.api.post(
        clinic.base,
        clinic.owner,
        {
            "kind": "qa",
            "title": "Gestantes",
            "question": "Gestante pode fazer limpeza de pele?",
            "answer": "Sim, a limpeza de pele é liberada para gestantes, sem ácidos.",
        },
    )
    price = admin.api.post(
        clinic.base,
        clinic.admin,
        {"kind": "price_list", "title": "  Preços  ", "content": "Peeling químico: R$ 250."},
    )

    assert qa.status_code == 201, qa.text
    assert price.status_code == 201, price.text
    created = qa.json()
    assert created["kind"] == "qa"
    assert created["source"] == "manual"
    assert created["content"] == (
        "Pergunta: Gestante pode fazer limpeza de pele?\n"
        "Resposta: Sim, a limpeza de pele é liberada para gestantes, sem ácidos."
    )
    assert (created["chunk_count"], created["embedding_model"]) == (1, "offline-ngram-v1")
    assert created["created_by_email"] == clinic.owner.email
    assert price.json()["title"] == "Preços"
    listed = admin.api.get(clinic.base, clinic.seller).json()
    assert listed["embedding_model"] == "offline-ngram-v1"
    assert listed["offline"] is True
    assert {e["entry_id"] for e in listed["entries"]} >= {
        created["entry_id"],
        price.json()["entry_id"],
    }
    assert (
        _search(admin, clinic, "estou grávida, posso fazer limpeza?", clinic.seller)[0]
        == (created["entry_id"])
    )
    found = admin.api.post(f"{clinic.base}/search", clinic.seller, {"query": "preço do peeling"})
    result = found.json()
    assert result["results"][0]["entry_id"] == price.json()["entry_id"]
    assert result["results"][0]["text"] == "Peeling químico: R$ 250."
    assert result["results"][0]["score"] >= result["min_score"] == 0.28
    assert _search(admin, clinic, "qual a senha do wifi?") == []
    actions = [(e["action"], e["target"]) for e in admin.audit(clinic.tenant_id)]
    assert ("knowledge.create", f"knowledge/{created['entry_id']}") in actions


def test_changing_an_entry_re_embeds_it(admin: AdminStack, clinic: Clinic) -> None:
    created = admin.api.post(
        clinic.base,
        clinic.owner,
        {"kind": "fact", "title": "Endereço", "content": "Rua das Flores, 120."},
    ).json()
    path = f"{clinic.base}/{created['entry_id']}"
    assert created["entry_id"] in _search(admin, clinic, "qual o endereço? rua das flores")

    changed = admin.api.put(
        path,
        clinic.admin,
        {
            "kind": "policy",
            "title": "Estacionamento",
            "content": "Estacionamento conveniado grátis.",
        },
    )

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["entry_id"], body["kind"], body["title"]) == (
        created["entry_id"],
        "policy",
        "Estacionamento",
    )
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    assert created["entry_id"] not in _search(admin, clinic, "qual o endereço? rua das flores")
    assert _search(admin, clinic, "tem estacionamento?")[0] == created["entry_id"]
    entry = admin.audit(clinic.tenant_id)[-1]
    assert entry["action"] == "knowledge.update"
    assert entry["actor_uid"] == clinic.admin.uid
    assert (entry["before"]["content"], entry["after"]["content"]) == (
        "Rua das Flores, 120.",
        "Estacionamento conveniado grátis.",
    )


def test_deleting_an_entry_takes_it_out_of_search(admin: AdminStack, clinic: Clinic) -> None:
    created = admin.api.post(
        clinic.base,
        clinic.owner,
        {"kind": "fact", "title": "Wi-Fi", "content": "A senha do wifi é bellapele2024."},
    ).json()
    assert _search(admin, clinic, "qual a senha do wifi?") == [created["entry_id"]]
    before = knowledge_status(admin.db, clinic.tenant_id)

    deleted = admin.api.delete(f"{clinic.base}/{created['entry_id']}", clinic.owner)
    again = admin.api.delete(f"{clinic.base}/{created['entry_id']}", clinic.owner)

    assert deleted.status_code == 204
    _error(again, 404)
    assert _search(admin, clinic, "qual a senha do wifi?") == []
    after = knowledge_status(admin.db, clinic.tenant_id)
    assert (after.entry_count, after.chunk_count) == (
        before.entry_count - 1,
        before.chunk_count - 1,
    )
    entry = admin.audit(clinic.tenant_id)[-1]
    assert (entry["action"], entry["before"]["title"], entry["after"]) == (
        "knowledge.delete",
        "Wi-Fi",
        None,
    )


def test_uploaded_files_become_searchable_text_and_the_file_is_not_kept(
    admin: AdminStack, clinic: Clinic
) -> None:
    pdf = pdf_with_text([["Tabela de preços 2025", "Microagulhamento: R$ 350 por sessão"]])
    docx = docx_with(
        ["Política de cancelamento"],
        table=[["Situação", "Taxa"], ["Falta sem aviso", "R$ 50"]],
    )
    csv = "Curso;Preço;Carga horária\nSkincare Profissional;R$ 497;20 horas\n".encode()

    files = f"{clinic.base}/files"
    answers = [
        admin.api.post(files, clinic.owner, _file("precos.pdf", "application/pdf", pdf)),
        admin.api.post(
            files, clinic.admin, _file("politica.docx", DOCX, docx, title="Cancelamento")
        ),
        admin.api.post(files, clinic.owner, _file("cursos.csv", "text/csv; charset=utf-8", csv)),
    ]

    for answer in answers:
        assert answer.status_code == 201, answer.text
    pdf_entry, docx_entry, csv_entry = (answer.json() for answer in answers)
    assert (pdf_entry["kind"], pdf_entry["source"], pdf_entry["title"]) == (
        "file",
        "upload",
        "precos.pdf",
    )
    assert (pdf_entry["filename"], pdf_entry["mime_type"], pdf_entry["size_bytes"]) == (
        "precos.pdf", "application/pdf", len(pdf),
    )  # fmt: skip
    assert pdf_entry["content"] == "Tabela de preços 2025\nMicroagulhamento: R$ 350 por sessão"
    assert docx_entry["title"] == "Cancelamento"
    assert "Falta sem aviso | R$ 50" in docx_entry["content"]
    assert csv_entry["mime_type"] == "text/csv"
    assert (
        csv_entry["content"]
        == "Curso: Skincare Profissional; Preço: R$ 497; Carga horária: 20 horas"
    )
    assert _search(admin, clinic, "quanto custa o microagulhamento?")[0] == pdf_entry["entry_id"]
    assert _search(admin, clinic, "e se eu faltar, tem multa?")[0] == docx_entry["entry_id"]
    assert _search(admin, clinic, "qual o valor do curso de skincare?")[0] == csv_entry["entry_id"]
    stored = json.dumps(admin.tenant_state(clinic.tenant_id), default=str)
    assert base64.b64encode(pdf).decode()[:200] not in stored
    upload = next(e for e in admin.audit(clinic.tenant_id) if e["action"] == "knowledge.upload")
    assert upload["after"]["filename"] == "precos.pdf"
    assert "content" not in upload["after"]


def test_a_long_files_text_is_previewed_in_the_api_but_kept_whole(
    admin: AdminStack, clinic: Clinic
) -> None:
    text = "\n\n".join(
        f"Item {n}: procedimento estético número {n} custa R$ {n}00." * 3 for n in range(60)
    )

    answer = admin.api.post(
        f"{clinic.base}/files", clinic.owner, _file("lista.txt", "text/plain", text.encode())
    )

    body = answer.json()
    assert answer.status_code == 201, answer.text
    assert body["content_chars"] == len(text) > len(body["content"]) == 2000
    assert body["chunk_count"] > 3
    assert chunks_ref(admin.db, clinic.tenant_id).document(f"{body['entry_id']}-0").get().exists


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "qa", "title": "x", "question": "Dói?"}, "answer"),
        ({"kind": "qa", "title": "x", "answer": "Não."}, "question"),
        ({"kind": "qa", "title": "x", "question": "a", "answer": "b", "content": "c"}, "content"),
        ({"kind": "fact", "title": "x"}, "content"),
        ({"kind": "policy", "title": "x", "content": "c", "question": "q"}, "question"),
        ({"kind": "file", "title": "x", "content": "c"}, "kind"),
        ({"kind": "recipe", "title": "x", "content": "c"}, "kind"),
        ({"kind": "fact", "title": "", "content": "c"}, "title"),
        ({"kind": "fact", "title": "   ", "content": "c"}, "title"),
        ({"kind": "fact", "title": "x", "content": "c" * 20_001}, "content"),
        ({"kind": "fact", "title": "x" * 201, "content": "c"}, "title"),
        ({"kind": "fact", "title": "x", "content": "c", "tags": ["a"]}, "tags"),
    ],
)
def test_invalid_entries_are_422_naming_the_field_and_write_nothing(
    admin: AdminStack, clinic: Clinic, body: dict[str, Any], field: str
) -> None:
    before = admin.tenant_state(clinic.tenant_id)

    _error(admin.api.post(clinic.base, clinic.owner, body), 422, field)

    assert admin.tenant_state(clinic.tenant_id) == before


def test_a_file_cannot_be_edited_and_an_unknown_entry_is_404(
    admin: AdminStack, clinic: Clinic
) -> None:
    uploaded = admin.api.post(
        f"{clinic.base}/files",
        clinic.owner,
        _file("faq.md", "text/markdown", b"# FAQ\n\nAtendemos aos sabados."),
    ).json()
    before = admin.tenant_state(clinic.tenant_id)
    body = {"kind": "fact", "title": "x", "content": "y"}

    _error(admin.api.put(f"{clinic.base}/{uploaded['entry_id']}", clinic.owner, body), 422, "kind")
    _error(admin.api.put(f"{clinic.base}/k-000000000000", clinic.owner, body), 404)
    _error(admin.api.delete(f"{clinic.base}/k-000000000000", clinic.owner), 404)

    assert admin.tenant_state(clinic.tenant_id) == before


@pytest.mark.parametrize(
    ("upload", "status", "field", "reason"),
    [
        (_file("foto.jpg", "image/jpeg", b"\xff\xd8\xff\xe0"), 422, "mime_type", "not supported"),
        (_file("antigo.doc", "application/msword", b"\xd0\xcf"), 422, "mime_type", ".docx or PDF"),
        (_file("scan.pdf", "application/pdf", blank_pdf()), 422, "content_base64", "scanned PDF"),
        (_file("falso.pdf", "application/pdf", b"texto"), 422, "content_base64", "not a PDF"),
        (_file("x.docx", DOCX, b"PK\x03\x04quebrado"), 422, "content_base64", "not a DOCX"),
        ({"filename": "x.txt", "mime_type": "text/plain", "content_base64": "não é base64!"}, 422,
         "content_base64", "base64"),
        ({"filename": "x.txt", "mime_type": "text/plain"}, 422, "content_base64", "required"),
    ],
)  # fmt: skip
def test_unsupported_or_unreadable_files_are_refused_with_the_reason_and_write_nothing(
    admin: AdminStack,
    clinic: Clinic,
    upload: dict[str, Any],
    status: int,
    field: str,
    reason: str,
) -> None:
    before = admin.tenant_state(clinic.tenant_id)

    error = _error(admin.api.post(f"{clinic.base}/files", clinic.owner, upload), status, field)

    assert reason in error["message"]
    assert admin.tenant_state(clinic.tenant_id) == before


def test_files_over_10_mb_are_413_and_write_nothing(admin: AdminStack, clinic: Clinic) -> None:
    before = admin.tenant_state(clinic.tenant_id)
    just_over = b"a" * (10 * 1024 * 1024 + 1)
    far_over = b"a" * (11 * 1024 * 1024)

    decoded = admin.api.post(
        f"{clinic.base}/files", clinic.owner, _file("x.txt", "text/plain", just_over)
    )
    body = admin.api.post(
        f"{clinic.base}/files", clinic.owner, _file("x.txt", "text/plain", far_over)
    )
    elsewhere = admin.api.post(
        clinic.base, clinic.owner, {"kind": "fact", "title": "x", "content": "c" * (300 * 1024)}
    )

    assert "10 MB" in _error(decoded, 413)["message"]
    assert _error(body, 413)["code"] == "payload_too_large"
    assert _error(elsewhere, 413)["message"] == "the body is larger than 262144 bytes"
    assert admin.tenant_state(clinic.tenant_id) == before


def test_a_file_just_under_the_limit_is_read(admin: AdminStack, clinic: Clinic) -> None:
    """10 MB of a text file: the body passes the route's limit; only the text's size refuses."""
    big = ("Linha de texto da tabela de preços. " * 30 + "\n") * 9500
    data = big.encode()[: 10 * 1024 * 1024]

    answer = admin.api.post(
        f"{clinic.base}/files", clinic.owner, _file("grande.txt", "text/plain", data)
    )

    assert "characters of text; split it" in _error(answer, 422, "content_base64")["message"]


def test_sellers_read_and_search_but_do_not_change_knowledge(
    admin: AdminStack, clinic: Clinic
) -> None:
    created = admin.api.post(
        clinic.base, clinic.owner, {"kind": "fact", "title": "Horário", "content": "Das 9h às 19h."}
    ).json()
    before = admin.tenant_state(clinic.tenant_id)
    path = f"{clinic.base}/{created['entry_id']}"
    body = {"kind": "fact", "title": "x", "content": "y"}

    refused = [
        admin.api.post(clinic.base, clinic.seller, body),
        admin.api.put(path, clinic.seller, body),
        admin.api.delete(path, clinic.seller),
        admin.api.post(f"{clinic.base}/files", clinic.seller, _file("a.txt", "text/plain", b"oi")),
    ]

    assert [answer.status_code for answer in refused] == [403, 403, 403, 403]
    assert admin.tenant_state(clinic.tenant_id) == before
    assert admin.api.get(clinic.base, clinic.seller).status_code == 200
    assert _search(admin, clinic, "que horas abre?", clinic.seller)


def test_another_tenant_neither_sees_nor_finds_this_knowledge(
    admin: AdminStack, clinic: Clinic
) -> None:
    created = admin.api.post(
        clinic.base,
        clinic.owner,
        {"kind": "fact", "title": "Segredo", "content": "Desconto secreto VIP de 40%."},
    ).json()
    stranger = admin.auth.sign_up("stranger", verified=True)
    other = admin.tenant(stranger)
    other_base = f"/api/tenants/{other}/knowledge"

    assert admin.api.get(clinic.base, stranger).status_code == 403
    assert (
        admin.api.post(f"{clinic.base}/search", stranger, {"query": "desconto vip"}).status_code
        == 403
    )
    assert admin.api.get(other_base, stranger).json()["entries"] == []
    answer = admin.api.post(f"{other_base}/search", stranger, {"query": "desconto secreto vip"})
    assert answer.json()["results"] == []
    _error(admin.api.delete(f"{other_base}/{created['entry_id']}", stranger), 404)
    assert _search(admin, clinic, "desconto secreto vip")[0] == created["entry_id"]
