"""What the agent may answer from, and the questions it must never answer without a source.

A turn's sources are the tenant's business facts (cited by their name) and the knowledge the
caller retrieved for the lead's messages (cited by entry id). The model lists the sources it used
in ``TurnDraft.sources``; only sources the prompt actually held count. A question about prices,
payment, deadlines, guarantees or policies that the draft answers without a valid source becomes
a handoff for a knowledge gap: the agent never invents a price or a policy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.models.decision import KnowledgeRef
from shared.policy.text import clauses, phrase_pattern

if TYPE_CHECKING:
    from shared.knowledge.models import KnowledgeSnippet
    from shared.models.tenant import AgentSettings

MAX_SOURCE_CHARS = 1_500

# Topics on which an unsupported answer would be an invented commitment (normalised pt-BR).
_BUSINESS_TERMS = phrase_pattern(
    r"quanto (?:custa|custam|e|fica|ficam|sai|saem|cobra|cobram)",
    r"preco\w*|valor(?:es)?|custo\w*|orcamento\w*|mensalidade\w*|taxa\w*|tabela",
    r"desconto\w*|promoca\w*|cupom|parcel\w*|pagamento\w*|pagar|pix|boleto\w*|cartao|cartoes",
    r"prazo\w*|quantos dias|quanto tempo|demora\w*|entrega\w*|validade|vence\w*",
    r"garantia\w*|reembols\w*|devolu\w*|devolver|troca\w*|estorno\w*|cancel\w*|multa\w*",
    r"politica\w*|contrato\w*|regra\w*|convenio\w*|plano de saude|planos de saude",
)


_QUESTION_START = re.compile(
    r"(?:quanto|quantos|quantas|qual|quais|como|quando|onde|tem|teria|voces|aceita|aceitam"
    r"|pode|posso|da pra|e possivel|existe|ha)\b"
)


def asks_about_business_terms(texts: Sequence[str]) -> bool:
    """Return whether the lead asked about prices, payment, deadlines, guarantees or policies.

    Only questions count (a "?" or a question word first): "achei o preço caro" is an objection
    the agent may answer without a source, "qual o preço?" is not.
    """
    return any(
        _BUSINESS_TERMS.search(clause.words)
        and (clause.question or _QUESTION_START.match(clause.words))
        for text in texts
        for clause in clauses(text)
    )


def knowledge_for_prompt(knowledge: Sequence[KnowledgeSnippet]) -> list[dict[str, str]]:
    """Return the retrieved knowledge as prompt entries, one per entry id, best first."""
    merged: dict[str, dict[str, str]] = {}
    for snippet in knowledge:
        entry = merged.setdefault(
            snippet.entry_id, {"id": snippet.entry_id, "title": snippet.title, "text": ""}
        )
        entry["text"] = f"{entry['text']}\n{snippet.text}".strip()[:MAX_SOURCE_CHARS]
    return list(merged.values())


def valid_sources(
    cited: Sequence[str], settings: AgentSettings, knowledge: Sequence[KnowledgeSnippet]
) -> tuple[list[str], list[KnowledgeRef]]:
    """Return the cited business facts and knowledge entries the prompt held; drop the rest."""
    titles = {snippet.entry_id: snippet.title for snippet in knowledge}
    facts = [name for name in dict.fromkeys(cited) if name in settings.business_facts]
    entries = [
        KnowledgeRef(entry_id=name, title=titles[name])
        for name in dict.fromkeys(cited)
        if name in titles
    ]
    return facts, entries
