"""The Firestore vector index that knowledge retrieval needs exists and matches the code.

``shared.knowledge.store.retrieve`` asks ``tenants/{t}/knowledge_chunks`` for the nearest
``embedding`` vectors (cosine) after an equality filter on ``embedding_model``; Firestore serves
that only from a composite index with the equality field first and a vector field of the
embedders' dimension.
"""

from __future__ import annotations

import pytest

from shared.knowledge import store
from shared.knowledge.embeddings import DIMENSIONS, OfflineEmbedder, VertexEmbedder
from tests.terraform.hcl import MODULE, TerraformDirectory, block, load
from tests.terraform.test_module_wiring import function_env

# The settings that choose the embedder (shared.knowledge.embeddings.embedder_from_settings).
EMBEDDER_SETTINGS = (
    "PILOTO_LLM",
    "PILOTO_EMBEDDINGS",
    "PILOTO_EMBEDDING_MODEL",
    "PILOTO_VERTEX_LOCATION",
    "PILOTO_KNOWLEDGE_MIN_SCORE",
)


@pytest.fixture(scope="module")
def module() -> TerraformDirectory:
    return load(MODULE)


def test_knowledge_chunks_have_a_vector_index_after_the_model_filter(
    module: TerraformDirectory,
) -> None:
    index = module.resource("google_firestore_index", "knowledge_chunks")

    assert index["collection"] == store.CHUNKS == "knowledge_chunks"
    assert index["query_scope"] == "COLLECTION"
    assert index["database"] == "${google_firestore_database.main.name}"
    first, second = index["fields"]
    assert first == {"field_path": "embedding_model", "order": "ASCENDING"}
    assert second["field_path"] == "embedding"
    vector = block(second, "vector_config")
    assert vector["dimension"] == DIMENSIONS
    assert "flat" in vector


def test_both_embedders_write_vectors_of_the_indexed_dimension() -> None:
    assert OfflineEmbedder().dimensions == DIMENSIONS
    assert VertexEmbedder.dimensions == DIMENSIONS
    assert len(OfflineEmbedder().embed_query("limpeza de pele")) == DIMENSIONS


def test_the_code_queries_the_fields_the_index_names() -> None:
    source = (MODULE.parents[2] / "shared" / "knowledge" / "store.py").read_text(encoding="utf-8")

    assert 'FieldFilter("embedding_model", "==", embedder.model_name)' in source
    assert 'vector_field="embedding"' in source
    assert "DistanceMeasure.COSINE" in source


def test_the_admin_api_embeds_knowledge_with_the_turns_embedder(
    module: TerraformDirectory,
) -> None:
    """Entries saved with one model are invisible to questions embedded with another."""
    turn, admin = function_env(module, "turn"), function_env(module, "admin")

    assert "PILOTO_LLM" in turn
    for setting in EMBEDDER_SETTINGS:
        assert admin.get(setting) == turn.get(setting), setting
    roles = module.locals["function_project_roles"]
    assert "roles/aiplatform.user" in roles["turn"]
    assert "roles/aiplatform.user" in roles["admin"]
