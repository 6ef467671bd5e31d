"""Text normalisation for the deterministic keyword rules: accents, case, punctuation, clauses."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

_APOSTROPHE = re.compile("['`\u2019\u00b4]")  # apostrophes: "don't" reads as "dont"
_NON_WORD = re.compile(r"[\W_]+")
_CLAUSE = re.compile(r"([^.!?;,…\n]+)([.!?;,…\n]*)")
_NEGATION = re.compile(r"\b(?:nao|nunca|jamais|nem|dont|not|never)\b")

# WhatsApp shorthand that changes what a rule sees ("n quero mais", "n me manda msg").
_ABBREVIATIONS = {
    "n": "nao",
    "naum": "nao",
    "msg": "mensagem",
    "msgs": "mensagens",
    "obg": "obrigado",
    "vc": "voce",
    "vcs": "voces",
}


class Clause(NamedTuple):
    """One clause of a message, normalised, and whether it ended with a question mark."""

    words: str
    question: bool


def normalise(text: str) -> str:
    """Fold case, drop accents and apostrophes, turn punctuation into spaces, expand shorthand."""
    decomposed = unicodedata.normalize("NFKD", _APOSTROPHE.sub("", text))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in _NON_WORD.sub(" ", plain).split())


def clauses(text: str) -> list[Clause]:
    """Split a message at . ! ? ; , … and line breaks into normalised, non-empty clauses."""
    found = []
    for body, ending in _CLAUSE.findall(text):
        words = normalise(body)
        if words:
            found.append(Clause(words, "?" in ending))
    return found


def any_of(*alternatives: str) -> str:
    """Join regular-expression alternatives into one non-capturing group."""
    return "(?:" + "|".join(alternatives) + ")"


def phrase_pattern(*phrases: str) -> re.Pattern[str]:
    """Compile phrases that count anywhere in a clause, on word boundaries."""
    return re.compile(rf"\b{any_of(*phrases)}\b")


def whole_clause_pattern(core: str, fillers: str) -> re.Pattern[str]:
    """Compile a pattern for ``fullmatch``: the core, give or take filler words on either side."""
    return re.compile(rf"(?:{fillers} )*{core}(?: {fillers})*")


def clause_ending_pattern(core: str, fillers: str) -> re.Pattern[str]:
    """Compile a pattern for ``fullmatch``: anything, then the core, then only filler words."""
    return re.compile(rf"(?:.* )?{core}(?: {fillers})*")


def negated_before(words: str, position: int) -> bool:
    """Return whether a negation word appears in ``words`` before ``position``."""
    return _NEGATION.search(words, 0, position) is not None
