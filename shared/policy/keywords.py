"""Deterministic detection of opt-outs, opt-ins, rejections and requests for a human.

Rules work clause by clause on normalised text (``shared.policy.text``: accents stripped, case
folded, punctuation and emoji dropped, "n" read as "não", "msg" as "mensagem"):

- Explicit phrases count anywhere, on word boundaries: "pare de mandar", "sair da lista",
  "me tira dessa lista", "não me mande mais", "não quero mais receber", "descadastrar",
  "stop sending", "falar com um atendente".
- Short, ambiguous words count only as a whole clause, give or take courtesy words: "PARE!!!",
  "Sair, por favor", "Stop", "Não quero mais", "Humano". So "parede", "separar",
  "não para de chover aqui", "parei de fumar" and "vou sair do trabalho às 18h" are not opt-outs,
  and neither is "não quero mais nada" (the end of an order) nor "não me manda o boleto ainda".
- Opt-out errs on the side of stopping: questions count ("como faço pra sair da lista?").
- Rejection errs on the side of talking, since the model may still catch it: a strong phrase
  ("não tenho interesse", "já comprei em outro lugar") must end a clause that is not a question,
  and a weak one ("não quero", "já comprei", "não, obrigado") must be the whole message. So
  "Já comprei?" (a question), "Já comprei, quando chega?" (a customer) and "não tenho interesse em
  parcelar" (an objection) are not rejections.
- Opt-in must be explicit (the opt-out acknowledgement says "escreva VOLTAR"); opt-in and handoff
  requests do not count in a negated clause ("não quero voltar a receber").
"""

from __future__ import annotations

from shared.policy.text import (
    any_of,
    clause_ending_pattern,
    clauses,
    negated_before,
    normalise,
    phrase_pattern,
    whole_clause_pattern,
)

_COURTESY = any_of(
    r"por favor|por gentileza|porfavor|pf|pfv|pfvr|muito obrigad[oa]|obrigad[oa]|valeu|vlw",
    r"ok|oi|ola|bom dia|boa tarde|boa noite|ja|agora|aqui|eu|moco|moca|amig[oa]|ta|tchau",
    r"please|pls|thanks|thank you|now|hi|hello",
)

_OPT_OUT_PHRASES = phrase_pattern(
    r"(?:pode |podem )?(?:pare|para|parem|parar) de (?:me )?"
    r"(?:mandar|enviar|chamar|incomodar|ligar|escrever|encher|perturbar)",
    r"nao (?:me )?(?:mande|manda|mandem|envie|envia|enviem|chame|chama|ligue|liga|escreva|procure"
    r"|perturbe|incomode) (?:mais|nada|mensagem|mensagens)",
    r"nao quero (?:mais )?(?:receber|mensagem|mensagens|contato|ser (?:contatad|contactad)[oa])",
    r"nao (?:entre|entrem) mais em contato",
    r"(?:sair|me (?:tira|tire|tirem|retira|retire|remove|remova|removam|exclui|exclua|apaga"
    r"|apague|descadastra|descadastre))(?: \w+){0,2} (?:lista|listas|cadastro|contatos|mailing)",
    r"(?:remove|remova|removam|apaga|apague|exclui|exclua|deleta|delete|tira|tire) "
    r"(?:o |esse )?meu (?:numero|contato|telefone|cadastro|whatsapp|zap)",
    r"descadastr\w*",
    r"chega de (?:me mandar|mandar|mensagem|mensagens|spam)",
    r"me (?:deixa|deixe|deixem) em paz",
    r"vou (?:te |lhe )?(?:bloquear|denunciar)",
    r"unsubscribe|opt ?out",
    r"stop (?:sending|texting|messaging|contacting|calling|writing)",
    r"(?:do not|dont) (?:text|message|contact|call) me",
    r"remove me|leave me alone|take me off",
)
_OPT_OUT_WORDS = whole_clause_pattern(
    any_of(
        r"(?:quero |pode |podem )?(?:pare|para|parem|parar|sair)",
        r"stop|chega|ja chega|basta|nao quero mais|nao me mande(?: mais)?",
    ),
    _COURTESY,
)

_OPT_IN_PHRASES = phrase_pattern(
    r"(?:voltar|volta|voltem) a (?:me )?(?:receber|mandar|enviar)",
    r"quero receber (?:as |suas )?(?:mensagens|novidades|ofertas|promocoes)",
    r"(?:pode|podem) (?:me )?(?:mandar|enviar) (?:as )?(?:mensagens|novidades|ofertas)",
    r"me (?:cadastra|cadastre|inscreve|inscreva) de novo",
    r"opt ?in|resubscribe|subscribe again",
)
_OPT_IN_WORDS = whole_clause_pattern(
    any_of(
        r"(?:quero |pode |podem )?(?:voltar|volta|reativar)",
        r"pode mandar|podem mandar|quero receber|start|unstop",
    ),
    _COURTESY,
)

_REJECTION_FILLERS = any_of(_COURTESY, r"mas|no momento|por enquanto|mesmo|mais|ainda")
_REJECTION_STRONG = clause_ending_pattern(
    any_of(
        r"nao tenho (?:mais )?interesse(?: nenhum| nisso| nao)?",
        r"nao (?:estou|to|tou|sou) (?:mais )?interessad[oa]",
        r"nao me interessa(?: mais)?|sem interesse|perdi o interesse",
        r"(?:comprei|fechei|contratei|resolvi) (?:em|com|de|na|no) (?:outr|concorr)\w*(?: \w+)?",
        r"(?:not|no longer) interested|(?:i )?already bought(?: it)? elsewhere",
    ),
    _REJECTION_FILLERS,
)
_REJECTION_WEAK = whole_clause_pattern(
    any_of(
        r"nao quero(?: nao)?|nao obrigad[oa]|nao preciso(?: mais)?|nao e (?:para|pra) mim",
        r"ja comprei|ja fechei|ja resolvi|desisti|dispenso|vou passar|nao rola",
        r"no thanks|no thank you|(?:i )?already bought(?: it)?",
    ),
    _REJECTION_FILLERS,
)

_HANDOFF_PHRASES = phrase_pattern(
    r"falar com (?:um |uma |o |a |algum |alguma )?(?:atendente|pessoa|humano|ser humano|vendedor"
    r"|vendedora|consultor|consultora|gerente|responsavel|dono|dona|alguem|especialista)",
    r"atendimento humano|atendente humano|pessoa (?:real|de verdade)",
    r"(?:passa|passe|transfere|transfira|encaminha|encaminhe|transferir) (?:para|pra|pro|ao|a) "
    r"(?:um |uma |o |a )?(?:atendente|humano|vendedor|vendedora|pessoa|consultor|consultora"
    r"|gerente|responsavel)",
    r"(?:quero|preciso|prefiro|gostaria de) (?:de )?(?:um |uma )?(?:atendente|humano)",
    r"(?:talk|speak|chat) (?:to|with) (?:a |an |the |some )?(?:human|person|agent|representative"
    r"|someone|real person|salesperson|manager)",
    r"(?:real|actual) (?:person|human)",
)
_HANDOFF_WORDS = whole_clause_pattern(
    r"(?:um |uma |o |a )?(?:atendente|humano|pessoa|vendedor|vendedora|human|agent|operator)",
    any_of(_COURTESY, r"quero|preciso"),
)


def is_opt_out(text: str) -> bool:
    """Return whether the lead asks to stop receiving messages."""
    return any(
        _OPT_OUT_PHRASES.search(clause.words) or _OPT_OUT_WORDS.fullmatch(clause.words)
        for clause in clauses(text)
    )


def is_opt_in(text: str) -> bool:
    """Return whether the lead explicitly asks to receive messages again."""
    for clause in clauses(text):
        if _OPT_IN_WORDS.fullmatch(clause.words):
            return True
        match = _OPT_IN_PHRASES.search(clause.words)
        if match and not negated_before(clause.words, match.start()):
            return True
    return False


def is_rejection(text: str) -> bool:
    """Return whether the lead plainly declines ("não tenho interesse", "já comprei")."""
    parts = clauses(text)
    if any(not clause.question and _REJECTION_STRONG.fullmatch(clause.words) for clause in parts):
        return True
    whole = " ".join(clause.words for clause in parts)
    return not any(clause.question for clause in parts) and bool(_REJECTION_WEAK.fullmatch(whole))


def is_handoff_request(text: str) -> bool:
    """Return whether the lead asks to talk to a human."""
    for clause in clauses(text):
        if _HANDOFF_WORDS.fullmatch(clause.words):
            return True
        match = _HANDOFF_PHRASES.search(clause.words)
        if match and not negated_before(clause.words, match.start()):
            return True
    return False


__all__ = ["is_handoff_request", "is_opt_in", "is_opt_out", "is_rejection", "normalise"]
