"""Turn text into vectors: Gemini embeddings on Vertex AI, or a deterministic offline embedder.

Both give ``DIMENSIONS`` (768) numbers, L2-normalised, so one Firestore vector index serves both;
every chunk records the model that embedded it and retrieval only compares vectors of the same
model (``piloto knowledge reembed`` moves a tenant to a new one).

The offline embedder (``offline-ngram-v1``) needs no network and is good enough for Portuguese
keyword overlap: text is lower-cased and stripped of accents; each word (minus common Portuguese
stop words) gives a lightly stemmed word feature and its character 3- to 5-grams (so "parcelar"
meets "parcelado" and a typo still shares most grams); a short list of sales synonyms adds a
concept feature ("quanto custa", "valor" and "R$" all mean price). Features are hashed with a
sign into the vector (the hashing trick), words and grams weighted as two halves.

Settings: ``PILOTO_EMBEDDINGS`` (``offline`` or ``vertex``; default: what ``PILOTO_LLM`` says),
``PILOTO_EMBEDDING_MODEL`` (default ``gemini-embedding-001``), ``PILOTO_VERTEX_LOCATION``. The
Google client is imported only when chosen.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.settings import Settings

DIMENSIONS = 768
OFFLINE_MODEL = "offline-ngram-v1"

# The lowest similarity (1 - cosine distance) a chunk needs to be offered to the agent, by model.
# Below it a question counts as not answered by the knowledge (the agent hands off). The offline
# figure is calibrated on tests/fixtures/knowledge/clinica.yaml (`make bench`): it keeps recall@3
# while unrelated questions match nothing. Gemini's is the provisional figure for
# gemini-embedding-001 with retrieval task types; `make bench` with PILOTO_EMBEDDINGS=vertex
# prints the figures to check it against. PILOTO_KNOWLEDGE_MIN_SCORE overrides both (it is
# passed to the embedder as ``min_score``).
RELEVANCE_THRESHOLDS = {OFFLINE_MODEL: 0.28, "gemini-embedding-001": 0.60}
DEFAULT_RELEVANCE_THRESHOLD = 0.60


class Embedder(Protocol):
    """Embeds chunks for storage and questions for retrieval, in one vector space."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    @property
    def offline(self) -> bool: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one vector per text to store."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Return the vector of a question to look up."""
        ...


def relevance_threshold(embedder: Embedder) -> float:
    """Return the minimum similarity a snippet of this embedder needs to be used."""
    override = getattr(embedder, "min_score", None)
    if override is not None:
        return float(override)
    return RELEVANCE_THRESHOLDS.get(embedder.model_name, DEFAULT_RELEVANCE_THRESHOLD)


# Offline embedder

_STOP_WORDS_TEXT = """
    a o as os um uma uns umas de da do das dos d e ou em no na nos nas num numa ao aos a as
    para pra pro pros pras por pelo pela pelos pelas com sem que se me te lhe nos vos
    eu tu ele ela eles elas voce voces vc vcs ce oce mim meu minha meus minhas seu sua seus
    suas teu tua dele dela isso isto esse essa esses essas este esta estes estas aquele
    aquela aqui ai la ja mais muito muita muitos muitas so tambem ate sobre entao ne sim nao
    oi ola bom boa dia tarde noite tudo bem obrigado obrigada gostaria queria quero saber
    favor pode podem posso poderia qual quais quanto quanta quantos quantas como onde quando
    tem ter tenho temos ha e eh sao ser sera foi era esta estou estao fica ficar vai vou
    fazer faz fazem feito fiz algum alguma alguns algumas outro outra outros outras mesmo
    mesma cada todo toda todos todas tipo coisa coisas ok blz td tb tbm q oque
"""
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# Sales vocabulary that means the same thing in different words (accent-stripped, lower-case).
_CONCEPTS: dict[str, tuple[str, ...]] = {
    "preco": (
        "preco", "precos", "valor", "valores", "custa", "custam", "custo", "custos", "cobra",
        "cobram", "cobrado", "investimento", "qto", "r$", "reais", "sai", "saem",
    ),
    "pagamento": (
        "pagar", "pagamento", "pagamentos", "pago", "paga", "parcelar", "parcela", "parcelas",
        "parcelado", "parcelamento", "vezes", "cartao", "credito", "debito", "pix", "boleto",
        "dinheiro", "juros", "aceitam", "aceita", "aceitamos",
    ),
    "cancelar": (
        "cancelar", "cancelamento", "cancelamentos", "desmarcar", "remarcar", "remarcacao",
        "remarcacoes", "faltar", "falta", "faltas", "multa", "taxa", "adiar",
    ),
    "endereco": (
        "endereco", "localizacao", "localizada", "localizado", "rua", "bairro", "metro",
        "estacao", "chegar", "fica",
    ),
    "horario": (
        "horario", "horarios", "abre", "abrem", "abertos", "fecha", "fecham", "fechado",
        "funciona", "funcionam", "funcionamento", "expediente", "atendem", "atendemos",
        "domingo", "domingos", "sabado", "sabados", "feriado", "feriados",
    ),
    "carro": ("carro", "estacionar", "estacionamento", "garagem", "valet", "manobrista"),
    "gestante": ("gestante", "gestantes", "gravida", "gravidez", "gestacao", "amamentacao",
                 "amamentando", "bebe"),
    "reembolso": (
        "reembolso", "devolucao", "devolver", "devolvemos", "devolvido", "estorno",
        "arrependimento", "garantia", "volta",
    ),
    "medico": ("medica", "medico", "doutora", "doutor", "dra", "dr", "dermatologista",
               "especialista", "profissional"),
    "agendar": ("agendar", "agendamento", "marcar", "marcacao", "reservar", "reserva",
                "consulta", "vaga", "vagas"),
    "dor": ("dor", "doi", "doer", "dolorido", "ardencia", "arde", "incomoda", "sensacao"),
    "idade": ("idade", "anos", "menor", "menores", "filho", "filha", "adolescente",
              "responsavel"),
    "retoque": ("retoque", "corrigir", "corrigem", "correcao", "torto", "assimetrico",
                "simetrico", "uniforme"),
}  # fmt: skip
_CONCEPT_OF = {word: concept for concept, words in _CONCEPTS.items() for word in words}

_WORD = re.compile(r"r\$|[a-z0-9]+")
# plural and adverb endings, each with what replaces it ("sessões" → "sessao" like "sessão")
_SUFFIXES = (
    ("mente", ""), ("coes", "cao"), ("oes", "ao"), ("aes", "ao"), ("ais", "al"), ("eis", "el"),
    ("ns", "m"), ("res", "r"), ("zes", "z"), ("s", ""),
)  # fmt: skip
_STEM_CHARS = 6
_WORD_WEIGHT = 0.55  # the share of word and concept features; grams get the rest


def _plain(text: str) -> str:
    """Return the text lower-cased without accents ("Depilação" → "depilacao")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _base(word: str) -> str:
    """Return the word without a plural or adverb ending ("parcelas" → "parcela")."""
    if len(word) > 4:
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)] + replacement
    return word


@lru_cache(maxsize=65536)
def _slot(feature: str) -> tuple[int, float]:
    """Return the feature's hashed index and sign (stable across processes)."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return digest % DIMENSIONS, (1.0 if digest >> 63 else -1.0)


def _features(text: str) -> tuple[Counter[str], Counter[str]]:
    """Return the text's word and concept features, and its character n-grams."""
    words: Counter[str] = Counter()
    grams: Counter[str] = Counter()
    for word in _WORD.findall(_plain(text)):
        concept = _CONCEPT_OF.get(word)
        if concept:
            words[f"c:{concept}"] += 1
        if word in _STOP_WORDS or word == "r$" or (len(word) < 2 and not word.isdigit()):
            continue
        base = _base(word)
        words[f"w:{base[:_STEM_CHARS]}"] += 1
        if word.isdigit():
            continue
        marked = f"<{base}>"
        for size in (3, 4, 5):
            for start in range(len(marked) - size + 1):
                grams[f"g:{marked[start : start + size]}"] += 1
    return words, grams


def _hashed(features: Counter[str]) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for feature, count in features.items():
        index, sign = _slot(feature)
        vector[index] += sign * (1.0 + math.log(count))
    return _normalised(vector)


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector


class OfflineEmbedder:
    """Hashed words, concepts and character n-grams: deterministic, local, labelled offline."""

    model_name = OFFLINE_MODEL
    dimensions = DIMENSIONS
    offline = True

    def __init__(self, *, min_score: float | None = None) -> None:
        self.min_score = min_score

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one vector per text."""
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """Return the vector of a question (the same function as for documents)."""
        return self._embed(text)

    def _embed(self, text: str) -> list[float]:
        words, grams = _features(text)
        word_part, gram_part = _hashed(words), _hashed(grams)
        mixed = [
            _WORD_WEIGHT * word + (1.0 - _WORD_WEIGHT) * gram
            for word, gram in zip(word_part, gram_part, strict=True)
        ]
        normalised = _normalised(mixed)
        if not any(normalised):  # nothing but stop words: a fixed vector no chunk is near
            normalised = [0.0] * DIMENSIONS
            normalised[0] = 1.0
        return normalised


# Gemini embeddings on Vertex AI


class VertexEmbedder:
    """Gemini embeddings on Vertex AI (``GoogleGenerativeAIEmbeddings(vertexai=True)``)."""

    dimensions = DIMENSIONS
    offline = False

    def __init__(
        self,
        *,
        model: str,
        project: str,
        location: str,
        min_score: float | None = None,
        client: Any = None,
    ) -> None:
        self.model_name = model
        self.min_score = min_score
        if client is None:
            from langchain_google_genai import GoogleGenerativeAIEmbeddings

            client = GoogleGenerativeAIEmbeddings(
                model=model,
                vertexai=True,
                project=project,
                location=location,
                output_dimensionality=DIMENSIONS,
            )
        self._client = client

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one vector per chunk (task type retrieval_document), in batches of 100."""
        if not texts:
            return []
        vectors = self._client.embed_documents(
            list(texts), task_type="RETRIEVAL_DOCUMENT", output_dimensionality=DIMENSIONS
        )
        return [_normalised(list(vector)) for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        """Return the vector of a question (task type retrieval_query)."""
        vector = self._client.embed_query(
            text, task_type="RETRIEVAL_QUERY", output_dimensionality=DIMENSIONS
        )
        return _normalised(list(vector))


def embedder_from_settings(settings: Settings) -> Embedder:
    """Return Gemini embeddings when ``PILOTO_EMBEDDINGS`` (or ``PILOTO_LLM``) is vertex."""
    if settings.embeddings_backend == "vertex":
        return VertexEmbedder(
            model=settings.embedding_model,
            project=settings.project_id,
            location=settings.vertex_location,
            min_score=settings.knowledge_min_score,
        )
    return OfflineEmbedder(min_score=settings.knowledge_min_score)
