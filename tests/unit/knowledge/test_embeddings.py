"""Embedders: the offline one is deterministic and ranks Portuguese paraphrases by overlap;
the Vertex one asks Gemini for retrieval vectors of the index's dimension."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from shared.knowledge.embeddings import (
    DIMENSIONS,
    OFFLINE_MODEL,
    OfflineEmbedder,
    VertexEmbedder,
    embedder_from_settings,
    relevance_threshold,
)
from shared.settings import load_settings


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_offline_vectors_are_unit_length_of_the_index_dimension_and_labelled() -> None:
    embedder = OfflineEmbedder()

    vectors = embedder.embed_documents(["Limpeza de pele: R$ 180", "Rua das Flores, 120"])

    assert embedder.model_name == OFFLINE_MODEL
    assert embedder.offline is True
    assert embedder.dimensions == DIMENSIONS == 768
    for vector in vectors:
        assert len(vector) == DIMENSIONS
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-9)


def test_offline_vectors_are_the_same_in_another_process_with_another_hash_seed() -> None:
    text = "Quanto custa a depilação a laser nas axilas?"
    program = (
        "import json; from shared.knowledge.embeddings import OfflineEmbedder; "
        f"print(json.dumps(OfflineEmbedder().embed_query({text!r})))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}

    other = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, env=env
    )

    assert json.loads(other.stdout) == OfflineEmbedder().embed_query(text)
    assert OfflineEmbedder().embed_documents([text]) == [OfflineEmbedder().embed_query(text)]


def test_accents_case_and_plurals_do_not_change_what_matches() -> None:
    embedder = OfflineEmbedder()
    stored = embedder.embed_query("Depilação a laser: sessões de axilas")

    assert cosine(stored, embedder.embed_query("DEPILACAO A LASER: SESSAO DE AXILA")) > 0.85


@pytest.mark.parametrize(
    ("question", "answer", "other"),
    [
        ("quanto custa a limpeza de pele?", "Limpeza de pele profunda: R$ 180, 60 minutos.",
         "A clínica fica na Rua das Flores, 120, Pinheiros."),
        ("onde fica a clinica", "A clínica fica na Rua das Flores, 120, Pinheiros.",
         "Limpeza de pele profunda: R$ 180, 60 minutos."),
        ("da pra parcelar no cartao?", "Cartão de crédito em até 3x sem juros; Pix e dinheiro.",
         "Cancelamentos com 24 horas de antecedência não têm custo."),
        ("preciso desmarcar, tem multa?", "Desmarcar com 24 horas de antecedência não tem custo;"
         " falta sem aviso tem multa de R$ 50.", "Cartão de crédito em até 3x sem juros."),
    ],
)  # fmt: skip
def test_a_question_is_nearer_its_answer_than_an_unrelated_entry(
    question: str, answer: str, other: str
) -> None:
    embedder = OfflineEmbedder()
    query = embedder.embed_query(question)
    near, far = embedder.embed_documents([answer, other])

    assert cosine(query, near) > cosine(query, far) + 0.1
    assert cosine(query, near) >= relevance_threshold(embedder)
    assert cosine(query, far) < relevance_threshold(embedder)


def test_text_of_only_stop_words_is_near_nothing() -> None:
    embedder = OfflineEmbedder()
    greeting = embedder.embed_query("oi, tudo bem? boa tarde")

    assert len(greeting) == DIMENSIONS
    assert abs(cosine(greeting, embedder.embed_query("Limpeza de pele: R$ 180"))) < 0.2


def test_the_threshold_is_the_models_unless_one_is_configured() -> None:
    assert relevance_threshold(OfflineEmbedder()) == 0.28
    assert relevance_threshold(OfflineEmbedder(min_score=0.5)) == 0.5
    vertex = VertexEmbedder(
        model="gemini-embedding-001", project="p", location="l", client=object()
    )
    assert relevance_threshold(vertex) == 0.60
    unknown = VertexEmbedder(model="text-embedding-005", project="p", location="l", client=object())
    assert relevance_threshold(unknown) == 0.60


class FakeGoogleEmbeddings:
    """Records the calls GoogleGenerativeAIEmbeddings would get; answers unnormalised vectors."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def embed_documents(self, texts: list[str], **options: Any) -> list[list[float]]:
        self.calls.append(("documents", texts, options))
        return [[3.0, 4.0] + [0.0] * (DIMENSIONS - 2) for _ in texts]

    def embed_query(self, text: str, **options: Any) -> list[float]:
        self.calls.append(("query", text, options))
        return [0.0, 2.0] + [0.0] * (DIMENSIONS - 2)


def test_vertex_asks_for_retrieval_task_types_at_the_index_dimension_and_normalises() -> None:
    fake = FakeGoogleEmbeddings()
    embedder = VertexEmbedder(model="gemini-embedding-001", project="p", location="l", client=fake)

    documents = embedder.embed_documents(["a", "b"])
    query = embedder.embed_query("pergunta")

    assert embedder.offline is False
    assert embedder.model_name == "gemini-embedding-001"
    assert documents[0][:2] == [0.6, 0.8]
    assert query[:2] == [0.0, 1.0]
    assert fake.calls == [
        ("documents", ["a", "b"],
         {"task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": DIMENSIONS}),
        ("query", "pergunta",
         {"task_type": "RETRIEVAL_QUERY", "output_dimensionality": DIMENSIONS}),
    ]  # fmt: skip
    assert embedder.embed_documents([]) == []
    assert len(fake.calls) == 2


def test_settings_pick_the_embedder_following_the_llm_unless_told_otherwise() -> None:
    base = {"GOOGLE_CLOUD_PROJECT": "demo-p"}

    offline = embedder_from_settings(load_settings(base))
    vertex = embedder_from_settings(
        load_settings(
            {**base, "PILOTO_LLM": "vertex", "PILOTO_VERTEX_LOCATION": "southamerica-east1"}
        )
    )
    forced_offline = embedder_from_settings(
        load_settings({**base, "PILOTO_LLM": "vertex", "PILOTO_EMBEDDINGS": "offline"})
    )
    other_model = embedder_from_settings(
        load_settings(
            {**base, "PILOTO_EMBEDDINGS": "vertex", "PILOTO_EMBEDDING_MODEL": "text-embedding-005",
             "PILOTO_KNOWLEDGE_MIN_SCORE": "0.7"}
        )
    )  # fmt: skip

    assert isinstance(offline, OfflineEmbedder)
    assert isinstance(forced_offline, OfflineEmbedder)
    assert isinstance(vertex, VertexEmbedder)
    assert vertex.model_name == "gemini-embedding-001"
    client: Any = vertex._client
    assert (client.project, client.location, client.output_dimensionality) == (
        "demo-p",
        "southamerica-east1",
        DIMENSIONS,
    )
    assert client._use_vertexai is True
    assert isinstance(other_model, VertexEmbedder)
    assert other_model.model_name == "text-embedding-005"
    assert relevance_threshold(other_model) == 0.7
