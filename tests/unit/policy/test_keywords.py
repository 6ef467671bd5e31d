"""Keyword rules on real-looking Brazilian (and English) WhatsApp messages, both ways."""

from __future__ import annotations

import pytest

from shared.policy.keywords import (
    is_handoff_request,
    is_opt_in,
    is_opt_out,
    is_rejection,
    normalise,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Não Quero MAIS!!!", "nao quero mais"),
        ("  É   sério…  ", "e serio"),
        ("ñ me manda msg", "nao me manda mensagem"),
        ("PARE 🛑🛑", "pare"),
        ("ação, opção & coração", "acao opcao coracao"),
    ],
)
def test_normalise_folds_case_accents_punctuation_and_shorthand(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Não quero mais receber",
        "PARE!!!",
        "pare",
        "Para.",
        "parar",
        "Pode parar",
        "sair",
        "Quero sair!",
        "Sair, por favor",
        "Stop",
        "STOP 🛑",
        "Chega!",
        "me tira dessa lista",
        "Me tira da sua lista por favor",
        "quero sair da lista",
        "como faço pra sair da lista?",
        "não me mande mais mensagens",
        "Não me mande mais nada",
        "Não me mande.",
        "n me manda mais msg",
        "não quero mais",
        "N quero mais, obrigada",
        "Não quero mais, pare de mandar mensagem",
        "Pare de me mandar mensagem por favor",
        "Para de me encher",
        "parem de mandar isso",
        "não quero receber mensagens",
        "descadastrar",
        "Quero me descadastrar",
        "remove meu número",
        "Apaga meu contato",
        "me deixa em paz",
        "Vou te bloquear",
        "Não entre mais em contato",
        "chega de mensagem",
        "unsubscribe",
        "please stop texting me",
        "Don't message me",
        "Oi. Sair",
    ],
)
def test_opt_outs_are_caught(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "não para de chover aqui",
        "vou sair do trabalho às 18h",
        "saída de emergência? sair do trabalho às 18h",
        "parei de fumar",
        "parede",
        "Quero pintar a parede",
        "separar os documentos",
        "quanto custa?",
        "Para quando tem horário?",
        "Pode ser para amanhã?",
        "não quero mais nada, só isso",
        "não me manda o boleto ainda, pago amanhã",
        "Tem como parar de pagar a mensalidade no meio?",
        "me tira uma dúvida",
        "Stopper de porta vocês vendem?",
        "Oi, tudo bem?",
        "",
    ],
)
def test_everyday_messages_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "VOLTAR",
        "voltar",
        "Volta por favor",
        "quero voltar",
        "quero voltar a receber as mensagens",
        "Pode voltar a me mandar",
        "pode mandar",
        "Quero receber as novidades",
        "start",
        "UNSTOP",
    ],
)
def test_explicit_opt_ins_are_caught(text: str) -> None:
    assert is_opt_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "não quero voltar a receber",
        "nunca mais quero voltar a receber isso",
        "oi",
        "quanto custa?",
        "volto amanhã",
        "quero voltar na clínica semana que vem",
        "pode mandar o preço?",
        "sim",
    ],
)
def test_anything_less_than_an_explicit_opt_in_is_not_one(text: str) -> None:
    assert not is_opt_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "Não tenho interesse",
        "não tenho interesse, obrigada",
        "Obrigada pelo contato, mas não tenho interesse no momento",
        "Não tenho mais interesse",
        "Não estou interessada",
        "não me interessa",
        "Sem interesse",
        "Já comprei em outro lugar",
        "Já fechei com outra clínica",
        "Já comprei",
        "Já comprei, obrigada",
        "Não quero",
        "Não quero, obrigado",
        "não quero não",
        "Não, obrigado",
        "não preciso mais",
        "Não é pra mim",
        "Desisti",
        "not interested, thanks",
        "no thanks",
    ],
)
def test_plain_rejections_are_caught(text: str) -> None:
    assert is_rejection(text)


@pytest.mark.parametrize(
    "text",
    [
        "já comprei?",
        "Já comprei, quando chega?",
        "Já comprei com vocês mês passado, quero outro",
        "não tenho interesse em parcelar, prefiro à vista",
        "Não quero, prefiro o outro pacote",
        "Não quero o de 3 sessões",
        "não",
        "Ainda não comprei",
        "Tenho interesse sim!",
        "quanto custa?",
        "Não tenho interesse?",
    ],
)
def test_objections_questions_and_customers_are_not_rejections(text: str) -> None:
    assert not is_rejection(text)


@pytest.mark.parametrize(
    "text",
    [
        "quero falar com um atendente",
        "Posso falar com alguém?",
        "Quero falar com uma pessoa de verdade",
        "falar com o dono",
        "Atendente",
        "humano por favor",
        "quero um atendente",
        "Me passa pra um vendedor",
        "Prefiro atendimento humano",
        "talk to a human",
        "Can I speak with a real person?",
    ],
)
def test_requests_for_a_human_are_caught(text: str) -> None:
    assert is_handoff_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "a atendente foi ótima",
        "Vocês vendem cabelo humano?",
        "não quero falar com atendente, quero resolver aqui",
        "a pessoa que me atendeu sumiu",
        "quanto custa?",
    ],
)
def test_mentions_of_people_are_not_handoff_requests(text: str) -> None:
    assert not is_handoff_request(text)


def test_an_opt_out_wrapped_in_a_rejection_is_still_an_opt_out() -> None:
    text = "Não tenho interesse, não me mande mais mensagens"
    assert is_opt_out(text)
    assert is_rejection(text)
