"""What a lead's texts (Brazilian Portuguese) say about a meeting: a pick, a move, a cancel.

Pure functions the turn graph runs before any model call. ``pick_offered`` answers the offer
the conversation holds (``Conversation.offered_slots``): a number ("2", "opção 2"), an ordinal
("a primeira"), the row title a tap sends back ("ter 24/11 às 09:00"), or a day and time
("terça às 9", "9h", "dia 24 às 14:30"). Anything ambiguous, negated ("não posso às 9") or
asking for something else ("tem outro?") is no pick: the model reads it instead. ``email_in``
finds the e-mail a lead gives for the invitation.

Weekday names double as ordinals in Portuguese ("segunda", "quarta", "quinta", "sexta"): such a
word is a weekday unless no offered slot falls on that day, or "opção" follows it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.scheduling.models import Slot

_WEEKDAYS = {
    "seg": 0, "segunda": 0, "ter": 1, "terca": 1, "qua": 2, "quarta": 2, "qui": 3, "quinta": 3,
    "sex": 4, "sexta": 4, "sab": 5, "sabado": 5, "dom": 6, "domingo": 6,
}  # fmt: skip
_ORDINALS = {
    "primeira": 1, "primeiro": 1, "segunda": 2, "segundo": 2, "terceira": 3, "terceiro": 3,
    "quarta": 4, "quarto": 4, "quinta": 5, "quinto": 5, "sexta": 6, "sexto": 6,
    "setima": 7, "setimo": 7, "oitava": 8, "oitavo": 8, "nona": 9, "nono": 9, "decima": 10,
    "decimo": 10,
}  # fmt: skip
_LAST = {"ultima", "ultimo"}
_OPTION_WORDS = {"opcao", "opcoes", "alternativa", "horario", "numero", "n", "no", "op"}
_FILLER_TEXT = (
    "a o as os e de do da pode ser quero queria prefiro fico com vou escolho pra para mim "
    "entao sim ok okay beleza blz perfeito otimo certo esse essa essa isso la ai aqui por favor "
    "pf pfv obrigado obrigada dia feira hora horas h me marca marcar agendar agenda reserva "
    "reservar confirmo confirmar melhor manda bom boa show top fechado combinado pode ficar "
    "na no nesse nessa em ops opa desculpa corrigindo tarde manha"
)
_FILLERS = frozenset(_FILLER_TEXT.split())
_REFUSAL_TEXT = "nao nenhum nenhuma outro outra outros outras mais nem"
_REFUSALS = frozenset(_REFUSAL_TEXT.split())
_RESCHEDULE = (
    "remarcar", "remarca", "remarcacao", "reagendar", "reagenda", "reagendamento", "adiar",
    "mudar o horario", "mudar a reuniao", "mudar a data", "trocar o horario", "trocar a data",
    "trocar a reuniao", "mudar de horario", "trocar de horario", "outro horario", "outra data",
    "outro dia",
)  # fmt: skip
_CANCEL = (
    "cancelar", "cancela", "cancelamento", "desmarcar", "desmarca", "nao vou poder ir",
    "nao vou conseguir ir", "nao vou mais", "nao poderei ir", "nao vou comparecer",
)  # fmt: skip
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CLOCK = re.compile(r"\b(\d{1,2})\s*(?::|h)\s*(\d{2})?\b")
_AT_HOUR = re.compile(r"\b(?:as|a partir das)\s+(\d{1,2})\b(?!\s*/)")
_HOURS_WORD = re.compile(r"\b(\d{1,2})\s+horas?\b")
_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/\d{2,4})?\b")
_DAY = re.compile(r"\bdia\s+(\d{1,2})\b")
_NOON = re.compile(r"\bmeio[ -]dia\b")


def normalize(text: str) -> str:
    """Return text lower-cased without accents, keeping letters, digits, ``:``, ``/`` and ``@``."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    plain = plain.replace("º", "").replace("ª", "")
    return " ".join(re.sub(r"[^a-z0-9:/@]+", " ", plain).split())


def _has(texts: Sequence[str], phrases: Sequence[str]) -> bool:
    padded = f" {normalize(' '.join(texts))} "
    return any(f" {phrase} " in padded for phrase in phrases)


def wants_reschedule(texts: Sequence[str]) -> bool:
    """Return whether the lead asks to move the meeting ("preciso remarcar", "outro horário")."""
    return _has(texts, _RESCHEDULE)


def wants_cancel(texts: Sequence[str]) -> bool:
    """Return whether the lead asks to cancel the meeting ("quero cancelar", "desmarcar")."""
    return _has(texts, _CANCEL)


def email_in(texts: Sequence[str]) -> str | None:
    """Return the last e-mail address the lead wrote, lower-cased, or None."""
    found = [match for text in texts for match in _EMAIL.findall(text)]
    return found[-1].lower() if found else None


def pick_offered(texts: Sequence[str], offered: Sequence[Slot], timezone: str) -> Slot | None:
    """Return the offered slot the lead's newest deciding text picks, or None (none, ambiguous).

    Texts are read newest first; the first that names exactly one slot wins, and one that names
    several or refuses stops the search (the model reads the turn instead).
    """
    if not offered:
        return None
    zone = ZoneInfo(timezone)
    for text in reversed(texts):
        plain = normalize(text)
        if not plain:
            continue
        words = plain.split()
        if set(words) & _REFUSALS or wants_reschedule([text]) or wants_cancel([text]):
            return None
        outcome = _pick_in(plain, words, offered, zone)
        if isinstance(outcome, Slot):
            return outcome
        if outcome is False:
            return None
    return None


def _pick_in(
    plain: str, words: list[str], offered: Sequence[Slot], zone: ZoneInfo
) -> Slot | bool | None:
    """Return the slot one text picks, False when it names several, None when it names none."""
    for slot in offered:
        if plain == normalize(slot.label) or plain == slot.slot_id:
            return slot
    by_position = _by_position(words, offered)
    by_time = _by_time(plain, words, offered, zone)
    candidates = {slot.slot_id: slot for slot in (*by_position, *by_time)}
    if not candidates:
        return None
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if by_position and _option_named(words):
        return by_position[0]  # "segunda opção": the second option, not a Monday
    if len(by_time) == 1:
        return by_time[0]  # "a segunda": the only Monday slot, not the second option
    return False


def _option_named(words: list[str]) -> bool:
    return bool(set(words) & _OPTION_WORDS)


def _by_position(words: list[str], offered: Sequence[Slot]) -> list[Slot]:
    """Return the slot a bare number or ordinal names ("2", "opção 2", "a primeira")."""
    rest = [word for word in words if word not in _FILLERS and word not in _OPTION_WORDS]
    if len(rest) != 1:
        return []
    word = rest[0]
    if word.isdigit():
        position = int(word)
    elif word in _LAST:
        position = len(offered)
    else:
        position = _ORDINALS.get(word, 0)
    return [offered[position - 1]] if 1 <= position <= len(offered) else []


def _by_time(plain: str, words: list[str], offered: Sequence[Slot], zone: ZoneInfo) -> list[Slot]:
    """Return the slots matching the weekday, date and time the text names (all it names)."""
    weekdays = {_WEEKDAYS[word] for word in words if word in _WEEKDAYS}
    dates = {(int(day), int(month)) for day, month in _DATE.findall(plain)}
    days = {int(day) for day in _DAY.findall(plain)}
    times = _times(plain)
    if len(weekdays) > 1 or len(dates) > 1 or len(days) > 1 or len(times) > 1:
        return []  # "terça ou quarta": the model asks which
    if not (weekdays or dates or days or times):
        return []
    matching = []
    for slot in offered:
        local = slot.start.astimezone(zone)
        if weekdays and local.weekday() not in weekdays:
            continue
        if dates and (local.day, local.month) not in dates:
            continue
        if days and local.day not in days:
            continue
        if times and not _same_time(local, next(iter(times))):
            continue
        matching.append(slot)
    return matching


def _times(plain: str) -> set[tuple[int, int | None]]:
    """Return the (hour, minute) pairs the text names; minute None when only the hour is."""
    without_dates = _DATE.sub(" ", plain)
    found: set[tuple[int, int | None]] = set()
    for hour, minute in _CLOCK.findall(without_dates):
        found.add((int(hour), int(minute) if minute else None))
    for pattern in (_AT_HOUR, _HOURS_WORD):
        for hour in pattern.findall(without_dates):
            if not any(known == int(hour) for known, _ in found):
                found.add((int(hour), None))
    if _NOON.search(without_dates):
        found.add((12, 0))
    return {(hour, minute) for hour, minute in found if hour <= 23 and (minute or 0) <= 59}


def _same_time(local: datetime, wanted: tuple[int, int | None]) -> bool:
    """Return whether a slot starts at the named time ("2" also means 14h, the afternoon)."""
    hour, minute = wanted
    hours = {hour, hour + 12} if 1 <= hour <= 11 else {hour}
    if local.hour not in hours:
        return False
    return local.minute == minute if minute is not None else local.minute == 0
