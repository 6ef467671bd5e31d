"""The template library: six complete agents with the shapes the reports and the inbox read."""

from __future__ import annotations

from shared.insights.models import ApplyAction, EventType, FieldType
from shared.insights.runner import mentions
from shared.insights.templates import TEMPLATES


def kinds(key: str) -> dict[str, FieldType]:
    return {f.name: f.type for f in TEMPLATES[key].spec.fields}


def options(key: str, name: str) -> list[str]:
    return next(f.options for f in TEMPLATES[key].spec.fields if f.name == name)


def test_the_six_templates_are_there_and_complete() -> None:
    assert set(TEMPLATES) == {
        "qa_auditor",
        "closing_coach",
        "ghosting_sentinel",
        "icp_mapper",
        "traffic_feedback",
        "conversion_auditor",
    }
    for key, template in TEMPLATES.items():
        assert template.key == key and template.spec.template == key
        assert template.name == template.spec.name and template.icon == template.spec.icon
        assert template.description and template.spec.prompt
        assert all(f.description for f in template.spec.fields)
        assert all(t.trigger_id for t in template.spec.triggers)
        assert all(t.max_per_day == 500 for t in template.spec.triggers)


def test_qa_auditor_scores_on_close() -> None:
    spec = TEMPLATES["qa_auditor"].spec
    assert [t.event for t in spec.triggers] == [EventType.TICKET_WON, EventType.TICKET_LOST]
    assert kinds("qa_auditor") == {
        "sla_met": FieldType.BOOLEAN,
        "empathy_score": FieldType.NUMBER,
        "discovery_score": FieldType.NUMBER,
        "objections_score": FieldType.NUMBER,
        "next_step_score": FieldType.NUMBER,
        "next_step_agreed": FieldType.BOOLEAN,
        "overall_score": FieldType.NUMBER,
        "evaluated": FieldType.ENUM,
        "reasons": FieldType.STRING,
        "improvement": FieldType.STRING,
    }
    scores = [f for f in spec.fields if f.type is FieldType.NUMBER]
    assert all((f.minimum, f.maximum) == (0, 10) for f in scores)
    assert options("qa_auditor", "evaluated") == ["vendedor", "agente", "ambos"]


def test_closing_coach_whispers_on_hesitation_in_copilot_once_per_ten_minutes() -> None:
    spec = TEMPLATES["closing_coach"].spec
    (trigger,) = spec.triggers
    assert trigger.event is EventType.NEW_MESSAGE_RECEIVED and trigger.mode == "copilot"
    assert (trigger.max_per_conversation, trigger.conversation_window_minutes) == (1, 10)
    assert spec.message_field == "suggested_reply"
    assert options("closing_coach", "objection") == [
        "preço",
        "prazo",
        "confiança",
        "concorrência",
        "momento",
        "outro",
    ]
    assert mentions("Achei CARO demais", trigger.keywords)
    assert mentions("Nao sei ainda, vou pensar", trigger.keywords)
    assert not mentions("Perfeito, pode agendar", trigger.keywords)


def test_ghosting_sentinel_rescues_engaged_leads_once_a_day() -> None:
    (trigger,) = TEMPLATES["ghosting_sentinel"].spec.triggers
    assert trigger.event is EventType.INACTIVITY_2H and trigger.min_lead_messages == 2
    assert (trigger.max_per_conversation, trigger.conversation_window_minutes) == (1, 1440)
    assert options("ghosting_sentinel", "risk") == ["baixo", "médio", "alto"]
    assert TEMPLATES["ghosting_sentinel"].spec.message_field == "rescue_message"


def test_icp_mapper_profiles_buyers() -> None:
    spec = TEMPLATES["icp_mapper"].spec
    assert [t.event for t in spec.triggers] == [EventType.TICKET_WON]
    assert kinds("icp_mapper") == {
        "segment": FieldType.STRING,
        "company_size": FieldType.ENUM,
        "role": FieldType.STRING,
        "main_pain": FieldType.STRING,
        "budget_range": FieldType.ENUM,
        "decision_maker": FieldType.BOOLEAN,
        "acquisition_channel": FieldType.STRING,
        "tags": FieldType.ARRAY,
    }


def test_traffic_feedback_keeps_the_field_names_the_report_reads() -> None:
    spec = TEMPLATES["traffic_feedback"].spec
    assert [t.event for t in spec.triggers] == [EventType.TICKET_LOST]
    assert kinds("traffic_feedback") == {
        "lost_reason": FieldType.ENUM,
        "detail": FieldType.STRING,
        "ad_promise_matched": FieldType.BOOLEAN,
    }
    assert options("traffic_feedback", "lost_reason") == [
        "preço",
        "timing",
        "concorrente",
        "sem_resposta",
        "fora_do_perfil",
        "expectativa_do_anuncio",
        "outro",
    ]


def test_conversion_auditor_suggests_marking_won_and_sends_the_conversion() -> None:
    spec = TEMPLATES["conversion_auditor"].spec
    (trigger,) = spec.triggers
    assert (trigger.max_per_conversation, trigger.conversation_window_minutes) == (1, 1440)
    assert spec.apply_action is ApplyAction.MARK_WON and spec.send_conversion
    value = next(f for f in spec.fields if f.name == "value")
    assert value.type is FieldType.NUMBER and value.minimum == 0 and not value.required
    assert mentions("Já paguei, segue o COMPROVANTE", trigger.keywords)
    assert mentions("pix feito!", trigger.keywords)
    assert mentions("Efetuei o pagamento ontem", trigger.keywords)
    assert not mentions("vou pagar amanhã", trigger.keywords)
