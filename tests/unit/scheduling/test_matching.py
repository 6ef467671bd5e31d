"""A lead's answer to an offer, a move, a cancel and an e-mail, read without a model."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.scheduling.matching import email_in, pick_offered, wants_cancel, wants_reschedule
from shared.scheduling.models import Slot

ZONE = "America/Sao_Paulo"
_DAYS = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")


def slot(day: int, hour: int, minute: int = 0) -> Slot:
    """Return a 30-minute slot on March ``day`` 2026 at ``hour:minute`` in São Paulo."""
    start = datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo(ZONE))
    label = f"{_DAYS[start.weekday()]} {start:%d/%m} às {start:%H:%M}"
    return Slot(start=start, end=start + timedelta(minutes=30), label=label)


# Wed 11 09:00, Wed 11 14:30, Thu 12 09:00, Fri 13 10:00, Mon 16 15:00
OFFER = [slot(11, 9), slot(11, 14, 30), slot(12, 9), slot(13, 10), slot(16, 15)]


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("2", 1),
        ("2.", 1),
        ("opção 3", 2),
        ("Opção nº 4", 3),
        ("a primeira", 0),
        ("pode ser a primeira, por favor", 0),
        ("a última", 4),
        ("quero a 5", 4),
        ("qui 12/03 às 09:00", 2),  # the row title a tap sends back
        ("QUA 11/03 ÀS 14:30", 1),
        ("quinta às 9", 2),
        ("quinta-feira 9h", 2),
        ("sexta", 3),
        ("pode ser segunda às 15h", 4),
        ("14:30", 1),
        ("às 10", 3),
        ("dia 16", 4),
        ("12/03 às 9h", 2),
        ("às 3 da tarde", 4),  # 3 means 15h on the afternoon grid
        ("a segunda", 4),  # the only Monday slot
        ("segunda opção", 1),
        ("a quarta opção", 3),
    ],
)
def test_a_lead_picks_one_offered_slot(text: str, index: int) -> None:
    assert pick_offered([text], OFFER, ZONE) == OFFER[index]


@pytest.mark.parametrize(
    "text",
    [
        "9h",  # Wednesday and Thursday
        "quarta",  # two Wednesday slots
        "7",  # no seventh option
        "tenho 2 filhos",
        "2 ou 3",
        "quarta ou quinta",
        "não posso às 10",
        "nenhum desses, tem outro?",
        "preciso remarcar para às 10",
        "quero cancelar",
        "qual o preço?",
        "sábado às 9",  # no Saturday slot
        "",
    ],
)
def test_an_ambiguous_or_unrelated_text_picks_nothing(text: str) -> None:
    assert pick_offered([text], OFFER, ZONE) is None


def test_the_newest_text_that_decides_wins() -> None:
    assert pick_offered(["a primeira", "ops, a 3"], OFFER, ZONE) == OFFER[2]
    assert pick_offered(["a primeira", "obrigado!"], OFFER, ZONE) == OFFER[0]
    assert pick_offered(["a primeira", "não, espera"], OFFER, ZONE) is None


def test_nothing_is_picked_without_an_offer() -> None:
    assert pick_offered(["2"], [], ZONE) is None


def test_times_are_read_in_the_tenant_zone() -> None:
    # 09:00 in São Paulo (UTC-3) is 12:00 in Lisbon (UTC+0 until the end of March).
    assert pick_offered(["quinta às 12h"], OFFER, "Europe/Lisbon") == OFFER[2]
    assert pick_offered(["quinta às 9"], OFFER, "Europe/Lisbon") is None


@pytest.mark.parametrize(
    "text",
    ["Preciso remarcar", "dá pra reagendar?", "quero mudar o horário", "tem outro horário?"],
)
def test_a_reschedule_request_is_recognised(text: str) -> None:
    assert wants_reschedule([text])
    assert not wants_cancel([text])


@pytest.mark.parametrize(
    "text", ["quero cancelar", "Pode desmarcar, por favor", "não vou poder ir", "cancela a reunião"]
)
def test_a_cancel_request_is_recognised(text: str) -> None:
    assert wants_cancel([text])
    assert not wants_reschedule([text])


@pytest.mark.parametrize("text", ["ok, até lá", "obrigado", "qual o endereço?", "2"])
def test_other_texts_are_neither_a_move_nor_a_cancel(text: str) -> None:
    assert not wants_reschedule([text])
    assert not wants_cancel([text])


def test_the_last_email_the_lead_wrote_is_found() -> None:
    assert email_in(["meu email é Joao.Silva+x@Exemplo.com.br"]) == "joao.silva+x@exemplo.com.br"
    assert email_in(["a@b.co", "corrigindo: c@d.com"]) == "c@d.com"
    assert email_in(["sem email aqui", "joao@", "@exemplo.com"]) is None
