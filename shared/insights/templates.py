"""The template library: six ready insight agents an owner adds in one click, then edits.

Each ``InsightTemplate`` carries a complete ``InsightAgentSpec`` (directive, triggers with
throttles, output fields). Field names are English snake_case (the API and reports read them);
what owners, sellers and the model read (names, descriptions, directives, enum options) is
Brazilian Portuguese. ``traffic_feedback``'s ``lost_reason`` and ``detail`` are read by the
per-campaign report and must keep their names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.insights.models import ApplyAction, InsightAgentSpec, OutputField

DEFAULT_MAX_PER_DAY = 500


@dataclass(frozen=True)
class InsightTemplate:
    """A ready agent: what the gallery shows and the spec it adds."""

    key: str
    name: str
    icon: str
    description: str
    spec: InsightAgentSpec


def _field(name: str, kind: str, description: str, **extra: Any) -> OutputField:
    return OutputField.model_validate(
        {"name": name, "type": kind, "description": description, **extra}
    )


def _score(name: str, description: str) -> OutputField:
    return _field(name, "number", f"{description} Nota de 0 a 10.", minimum=0, maximum=10)


def _template(key: str, spec: dict[str, Any]) -> InsightTemplate:
    agent = InsightAgentSpec.model_validate({**spec, "template": key})
    return InsightTemplate(
        key=key, name=agent.name, icon=agent.icon, description=agent.description, spec=agent
    )


QA_AUDITOR = _template(
    "qa_auditor",
    {
        "name": "Auditor de qualidade",
        "icon": "🧐",
        "description": "Ao fechar uma conversa (ganha ou perdida), avalia o atendimento: SLA, "
        "empatia, descoberta, objeções e próximo passo, com notas de 0 a 10 e motivos.",
        "prompt": "Você é um auditor de qualidade de atendimento comercial. Avalie a conversa "
        "que acabou de ser encerrada, seja quem atendeu o lead: o vendedor humano, o agente de IA "
        "ou os dois. Verifique se a primeira resposta veio rápido (SLA), se houve empatia, se "
        "foram feitas perguntas de descoberta (necessidade, prazo, orçamento, quem decide), se as "
        "objeções foram tratadas e se um próximo passo concreto foi combinado. Dê notas de 0 a 10 "
        "justas e explique os motivos citando trechos da conversa. Sugira uma melhoria prática e "
        "específica. Não invente o que não está na conversa.",
        "model": "precise",
        "triggers": [
            {"trigger_id": "on_won", "event": "TICKET_WON", "max_per_day": DEFAULT_MAX_PER_DAY},
            {"trigger_id": "on_lost", "event": "TICKET_LOST", "max_per_day": DEFAULT_MAX_PER_DAY},
        ],
        "fields": [
            _field(
                "sla_met",
                "boolean",
                "A primeira resposta ao lead veio dentro do prazo esperado (poucos minutos em "
                "horário comercial)?",
            ),
            _score("empathy_score", "Empatia: acolheu o lead, usou o nome, respondeu ao tom."),
            _score(
                "discovery_score",
                "Descoberta: perguntou necessidade, prazo, orçamento e quem decide.",
            ),
            _score(
                "objections_score", "Objeções: reconheceu e tratou dúvidas e resistências do lead."
            ),
            _score("next_step_score", "Próximo passo: conduziu para um passo concreto e datado."),
            _field(
                "next_step_agreed",
                "boolean",
                "Ficou combinado um próximo passo concreto com o lead?",
            ),
            _score("overall_score", "Nota geral do atendimento."),
            _field(
                "evaluated",
                "enum",
                "Quem foi avaliado: o vendedor humano, o agente de IA ou ambos.",
                options=["vendedor", "agente", "ambos"],
            ),
            _field(
                "reasons",
                "string",
                "Os motivos das notas, citando trechos curtos da conversa.",
            ),
            _field(
                "improvement",
                "string",
                "Uma melhoria prática e específica para o próximo atendimento.",
            ),
        ],
    },
)

CLOSING_COACH = _template(
    "closing_coach",
    {
        "name": "Coach de fechamento",
        "icon": "🎯",
        "description": "Quando o lead hesita ou levanta uma objeção, sopra uma dica para o "
        "vendedor e sugere uma resposta (só em copiloto, no máximo uma vez a cada 10 minutos).",
        "prompt": "Você é um coach de vendas experiente que acompanha a conversa ao vivo ao lado "
        "do vendedor. O lead acabou de demonstrar hesitação ou uma objeção. Identifique a "
        "objeção principal, dê ao vendedor uma dica curta e acionável (uma ou duas frases) e "
        "escreva uma sugestão de resposta para o lead: curta, empática, sem pressão, sem "
        "inventar preços, descontos ou condições que não aparecem na conversa, terminando com "
        "uma pergunta que ajude a avançar.",
        "triggers": [
            {
                "trigger_id": "on_objection",
                "event": "NEW_MESSAGE_RECEIVED",
                "mode": "copilot",
                "keywords": [
                    "caro",
                    "vou pensar",
                    "depois",
                    "não sei",
                    "desconto",
                    "mais barato",
                    "concorrente",
                    "sem dinheiro",
                    "talvez",
                ],
                "max_per_conversation": 1,
                "conversation_window_minutes": 10,
                "max_per_day": DEFAULT_MAX_PER_DAY,
            }
        ],
        "fields": [
            _field(
                "objection",
                "enum",
                "A objeção principal por trás da hesitação do lead.",
                options=["preço", "prazo", "confiança", "concorrência", "momento", "outro"],
            ),
            _field("tip", "string", "Dica curta e acionável para o vendedor (uma ou duas frases)."),
            _field(
                "suggested_reply",
                "string",
                "Sugestão de resposta para o lead, pronta para enviar pelo WhatsApp.",
            ),
        ],
        "message_field": "suggested_reply",
    },
)

GHOSTING_SENTINEL = _template(
    "ghosting_sentinel",
    {
        "name": "Sentinela de vácuo",
        "icon": "👻",
        "description": "Depois de 2 horas sem resposta numa conversa engajada, avalia o risco de "
        "perder o lead e sugere uma mensagem de resgate.",
        "prompt": "Você monitora conversas que pararam. O lead já vinha conversando e ninguém "
        "escreveu nas últimas 2 horas. Avalie o risco de o lead sumir de vez, explique o motivo "
        "em uma frase e escreva uma mensagem de resgate que retome exatamente de onde a conversa "
        "parou: curta, leve, sem cobrança, nunca um genérico 'oi, sumiu?', com no máximo uma "
        "pergunta.",
        "triggers": [
            {
                "trigger_id": "on_idle",
                "event": "INACTIVITY_2H",
                "min_lead_messages": 2,
                "max_per_conversation": 1,
                "conversation_window_minutes": 1440,
                "max_per_day": DEFAULT_MAX_PER_DAY,
            }
        ],
        "fields": [
            _field(
                "risk",
                "enum",
                "O risco de o lead não voltar a responder.",
                options=["baixo", "médio", "alto"],
            ),
            _field("reason", "string", "Por que esse risco, em uma frase."),
            _field(
                "rescue_message",
                "string",
                "Mensagem de resgate para o lead, pronta para enviar pelo WhatsApp.",
            ),
        ],
        "message_field": "rescue_message",
    },
)

ICP_MAPPER = _template(
    "icp_mapper",
    {
        "name": "Mapeador de ICP",
        "icon": "🧭",
        "description": "A cada venda ganha, registra o perfil de quem comprou (segmento, porte, "
        "cargo, dor, orçamento, canal) para desenhar o cliente ideal.",
        "prompt": "Você mapeia o perfil de cliente ideal (ICP) da empresa. A conversa terminou "
        "em venda. Extraia do que o comprador disse o seu perfil: segmento, porte, cargo, dor "
        "principal, faixa de orçamento, se é quem decide e por qual canal chegou. Quando algo "
        "não aparece na conversa, escreva 'não informado' (ou a opção 'não informado'); não "
        "deduza além do que foi dito.",
        "triggers": [
            {"trigger_id": "on_won", "event": "TICKET_WON", "max_per_day": DEFAULT_MAX_PER_DAY}
        ],
        "fields": [
            _field("segment", "string", "Segmento ou área de atuação do comprador."),
            _field(
                "company_size",
                "enum",
                "Porte do comprador.",
                options=["pessoa física", "MEI", "pequena", "média", "grande", "não informado"],
            ),
            _field("role", "string", "Cargo ou papel do comprador."),
            _field("main_pain", "string", "A dor ou necessidade principal que motivou a compra."),
            _field(
                "budget_range",
                "enum",
                "Faixa de orçamento mencionada.",
                options=[
                    "até R$ 500",
                    "R$ 500 a R$ 2.000",
                    "R$ 2.000 a R$ 10.000",
                    "acima de R$ 10.000",
                    "não informado",
                ],
            ),
            _field("decision_maker", "boolean", "O comprador é quem decide a compra?"),
            _field(
                "acquisition_channel",
                "string",
                "Por onde o comprador chegou (anúncio, indicação, Instagram, Google...).",
            ),
            _field(
                "tags",
                "array",
                "Até 5 palavras-chave curtas que descrevem o perfil.",
                items="string",
            ),
        ],
    },
)

TRAFFIC_FEEDBACK = _template(
    "traffic_feedback",
    {
        "name": "Feedback de tráfego",
        "icon": "📣",
        "description": "A cada venda perdida, registra o motivo da perda; o relatório agrupa os "
        "motivos por campanha de anúncio (ctwa_clid, origem, título do anúncio).",
        "prompt": "Você ajuda o gestor de tráfego a entender por que leads de anúncios não "
        "compram. A conversa terminou perdida. Classifique o motivo principal da perda, "
        "descreva-o em uma frase com as palavras do lead e diga se o que o anúncio prometia "
        "(veja a atribuição) bate com o que foi oferecido na conversa.",
        "triggers": [
            {"trigger_id": "on_lost", "event": "TICKET_LOST", "max_per_day": DEFAULT_MAX_PER_DAY}
        ],
        "fields": [
            _field(
                "lost_reason",
                "enum",
                "O motivo principal da perda.",
                options=[
                    "preço",
                    "timing",
                    "concorrente",
                    "sem_resposta",
                    "fora_do_perfil",
                    "expectativa_do_anuncio",
                    "outro",
                ],
            ),
            _field("detail", "string", "O motivo em uma frase, com as palavras do lead."),
            _field(
                "ad_promise_matched",
                "boolean",
                "O que o anúncio prometia bate com o que foi oferecido na conversa?",
            ),
        ],
    },
)

CONVERSION_AUDITOR = _template(
    "conversion_auditor",
    {
        "name": "Auditor de conversão",
        "icon": "💰",
        "description": "Detecta uma compra confirmada pelo lead ('paguei', 'segue o comprovante') "
        "que a equipe não registrou e sugere marcar a conversa como ganha (e enviar a conversão "
        "à Meta quando configurado).",
        "prompt": "Você audita conversões. O lead escreveu algo que pode indicar um pagamento "
        "feito. Confirme se a conversa mostra de fato uma compra paga (comprovante, Pix feito, "
        "boleto pago), cite a evidência com as palavras do lead e, se houver, o valor pago em "
        "reais. Na dúvida, não confirme: uma intenção de pagar não é um pagamento.",
        "model": "precise",
        "triggers": [
            {
                "trigger_id": "on_payment",
                "event": "NEW_MESSAGE_RECEIVED",
                "keywords": [
                    "paguei",
                    "comprovante",
                    "pix feito",
                    "transferi",
                    "pagamento feito",
                    "já paguei",
                    "efetuei o pagamento",
                    "boleto pago",
                ],
                "max_per_conversation": 1,
                "conversation_window_minutes": 1440,
                "max_per_day": DEFAULT_MAX_PER_DAY,
            }
        ],
        "fields": [
            _field("purchase_confirmed", "boolean", "A conversa mostra uma compra já paga?"),
            _field("evidence", "string", "A evidência, com as palavras do lead."),
            _field(
                "value",
                "number",
                "O valor pago em reais, se aparece na conversa.",
                minimum=0,
                required=False,
            ),
        ],
        "apply_action": ApplyAction.MARK_WON,
        "send_conversion": True,
    },
)

TEMPLATES: dict[str, InsightTemplate] = {
    template.key: template
    for template in (
        QA_AUDITOR,
        CLOSING_COACH,
        GHOSTING_SENTINEL,
        ICP_MAPPER,
        TRAFFIC_FEEDBACK,
        CONVERSION_AUDITOR,
    )
}
