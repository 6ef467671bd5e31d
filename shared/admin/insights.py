"""Insights as the team reviews them: the feed, apply and dismiss, the traffic report, and the
tenant's Meta Conversions API settings.

- The feed lists ``tenants/{t}/insights`` newest first (RUNNING ones too, so the inbox can show
  that an agent is analysing); a seller lists one conversation they may work on. The console
  polls it with ``If-None-Match``.
- Applying or dismissing is one transaction with its audit entry; applying an insight whose
  agent marks the conversation won or lost closes it there, as a seller's close does
  (``conversations.close_changes``), and TICKET_WON/TICKET_LOST is published after the commit.
- An applied insight that marks a sale, from an agent with ``send_conversion``, sends a Purchase
  to the Meta Conversions API when the tenant configured its dataset and the lead came from a
  click-to-WhatsApp ad (``ctwa_clid``); what became of it is stored in ``insight.conversion``.
  The call happens after the commit: a failure there never undoes the review.
- ``settings/conversions`` keeps the dataset and a secret reference; the token itself goes to
  the secret store (Secret Manager in the cloud), never to Firestore or the audit log.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from shared.admin.access import Membership
from shared.admin.audit import audit_entry, audit_ref
from shared.admin.channels import tell_simulator
from shared.admin.conversations import (
    announce_close,
    close_changes,
    load_workable,
    outcome_events,
    readable,
)
from shared.admin.errors import ApiError, conflict, contended, not_found
from shared.admin.http import Request
from shared.admin.insight_agents import read_agent
from shared.admin.query import equal
from shared.admin.schemas import (
    Campaign,
    ConversionsIn,
    ConversionsOut,
    InsightList,
    InsightQuery,
    ReasonCount,
    TrafficQuery,
    TrafficReport,
)
from shared.insights.models import (
    ApplyAction,
    Attribution,
    ConversionResult,
    ConversionsSettings,
    EventType,
    Insight,
    InsightStatus,
)
from shared.integrations.events import insight_event
from shared.integrations.models import BusinessEvent
from shared.integrations.outbox import stage_events
from shared.integrations.publish import publish_logged
from shared.models.conversation import Conversation, ConversationStatus
from shared.store.channels import CHANNELS_COLLECTION
from shared.store.conversations import conversation_ref, tenant_ref

logger = logging.getLogger("piloto.admin")

INSIGHTS = "insights"
TRAFFIC_TEMPLATE = "traffic_feedback"
TRAFFIC_SCAN_LIMIT = 5000
TRAFFIC_DETAILS = 5
OUTCOMES = {ApplyAction.MARK_WON: "won", ApplyAction.MARK_LOST: "lost"}


def insights_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/insights``."""
    return tenant_ref(client, tenant_id).collection(INSIGHTS)


def conversions_ref(client: Any, tenant_id: str) -> Any:
    """Return ``tenants/{t}/settings/conversions``."""
    return tenant_ref(client, tenant_id).collection("settings").document("conversions")


def conversions_secret_name(tenant_id: str) -> str:
    """Return the secret that holds a tenant's Conversions API access token."""
    return f"piloto-conversions-{tenant_id}-access_token"


def list_insights(request: Request, tenant_id: str) -> InsightList:
    """Return insights newest first, filtered; a seller's must name a conversation of theirs."""
    query: InsightQuery = request.query
    member: Membership = request.member
    if query.conversation_id is None:
        if not member.manages:
            raise ApiError(403, "a seller lists the insights of one conversation: conversation_id")
    elif not member.manages:
        readable(request, tenant_id, query.conversation_id)  # 404 unknown, 403 another's
    found: Any = insights_ref(request.services.firestore, tenant_id)
    for name in ("conversation_id", "status", "agent_id"):
        value = getattr(query, name)
        if value is not None:
            found = found.where(filter=equal(name, str(value)))
    ordered = found.order_by("created_at", direction=firestore.Query.DESCENDING).limit(query.limit)
    return InsightList(
        insights=[Insight.model_validate(snapshot.to_dict()) for snapshot in ordered.stream()]
    )


def apply_insight(request: Request, tenant_id: str, insight_id: str) -> Insight:
    """Apply a suggestion: mark it applied; close the conversation won or lost if it says so."""
    services = request.services
    member: Membership = request.member
    now = services.now()
    client = services.firestore

    staged: list[BusinessEvent] = []

    @firestore.transactional
    def review(transaction: Any) -> tuple[Insight, Conversation, str | None]:
        staged.clear()
        insight = _stored(transaction, client, tenant_id, insight_id)
        conversation = load_workable(
            transaction, client, tenant_id, insight.conversation_id, member
        )
        _refuse_reviewed(insight)
        update = _reviewed(InsightStatus.APPLIED, member, now)
        outcome = OUTCOMES.get(insight.apply_action)
        closed = None
        if outcome is not None and conversation.status is not ConversationStatus.CLOSED:
            changes = {
                **close_changes(
                    conversation,
                    reason=outcome,
                    note=_close_note(insight),
                    closed_by=member.uid,
                ),
                "updated_at": now,
            }
            transaction.update(
                conversation_ref(client, tenant_id, insight.conversation_id), changes
            )
            conversation = conversation.model_copy(
                update={"status": ConversationStatus.CLOSED, "close_reason": outcome}
            )
            closed = outcome
            staged.extend(
                outcome_events(
                    Conversation.model_validate({**conversation.model_dump(), **changes}),
                    outcome,
                    now,
                    member.uid,
                )
            )
        staged.append(
            insight_event(
                Insight.model_validate({**insight.model_dump(), **update}),
                "applied",
                now=now,
                assignee_uid=conversation.assignee_uid,
                actor_uid=member.uid,
            )
        )
        stage_events(transaction, client, staged, f"insight.apply:{insight_id}")
        transaction.update(insights_ref(client, tenant_id).document(insight_id), update)
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                member,
                "insight.apply",
                f"{INSIGHTS}/{insight_id}",
                now,
                before={"status": insight.status.value},
                after={"status": InsightStatus.APPLIED.value, "closed": closed},
            ),
        )
        return Insight.model_validate({**insight.model_dump(), **update}), conversation, closed

    reviewed: tuple[Insight, Conversation, str | None] = contended(
        lambda: review(client.transaction())
    )
    insight, conversation, closed = reviewed
    # the review stands whatever happens here: a failed publish is logged (the outbox keeps them)
    publish_logged(getattr(services, "publish_events", None), staged)
    if closed is not None:
        announce_close(
            services,
            tenant_id,
            insight.conversation_id,
            closed,
            note=_close_note(insight),
            actor_uid=member.uid,
        )
    if insight.apply_action is ApplyAction.MARK_WON and conversation.close_reason == "won":
        agent = read_agent(client, tenant_id, insight.agent_id)
        if agent is not None and agent.send_conversion:
            result = _send_conversion(services, tenant_id, insight, conversation)
            insights_ref(client, tenant_id).document(insight_id).update(
                {"conversion": result.model_dump(mode="python")}
            )
            insight = insight.model_copy(update={"conversion": result})
    return insight


def dismiss_insight(request: Request, tenant_id: str, insight_id: str) -> Insight:
    """Dismiss a suggestion: nothing else changes."""
    member: Membership = request.member
    now = request.services.now()
    client = request.services.firestore

    @firestore.transactional
    def review(transaction: Any) -> Insight:
        insight = _stored(transaction, client, tenant_id, insight_id)
        snapshot = conversation_ref(client, tenant_id, insight.conversation_id).get(
            transaction=transaction
        )
        if snapshot.exists or not member.manages:  # an erased conversation: managers only
            load_workable(transaction, client, tenant_id, insight.conversation_id, member)
        _refuse_reviewed(insight)
        update = _reviewed(InsightStatus.DISMISSED, member, now)
        transaction.update(insights_ref(client, tenant_id).document(insight_id), update)
        transaction.set(
            audit_ref(client, tenant_id, now),
            audit_entry(
                member,
                "insight.dismiss",
                f"{INSIGHTS}/{insight_id}",
                now,
                before={"status": insight.status.value},
                after={"status": InsightStatus.DISMISSED.value},
            ),
        )
        return Insight.model_validate({**insight.model_dump(), **update})

    result: Insight = contended(lambda: review(client.transaction()))
    return result


def traffic_report(request: Request, tenant_id: str) -> TrafficReport:
    """Return lost reasons per ad campaign, from the traffic feedback agents' insights.

    Dismissed insights are left out (the team disagreed with them), and so are runs that did not
    produce a payload (running, failed).
    """
    query: TrafficQuery = request.query
    until = request.services.now()
    since = until - timedelta(days=query.days)
    found = (
        insights_ref(request.services.firestore, tenant_id)
        .where(filter=equal("template", TRAFFIC_TEMPLATE))
        .where(filter=firestore.FieldFilter("created_at", ">=", since))
        .order_by("created_at", direction=firestore.Query.DESCENDING)
        .limit(TRAFFIC_SCAN_LIMIT)
    )
    groups: dict[str, list[Insight]] = defaultdict(list)
    for snapshot in found.stream():
        insight = Insight.model_validate(snapshot.to_dict())
        if insight.event_type is not EventType.TICKET_LOST or insight.status not in (
            InsightStatus.SUGGESTION,
            InsightStatus.APPLIED,
        ):
            continue
        groups[_campaign_key(insight.attribution)].append(insight)
    campaigns = [_campaign(key, insights) for key, insights in groups.items()]
    campaigns.sort(key=lambda campaign: (-campaign.lost, campaign.key))
    return TrafficReport(since=since, until=until, campaigns=campaigns)


def get_conversions(request: Request, tenant_id: str) -> ConversionsOut:
    """Return the tenant's Conversions API settings (never the token)."""
    return _conversions_out(_conversions(request.services.firestore, tenant_id))


def put_conversions(request: Request, tenant_id: str) -> ConversionsOut:
    """Save the dataset and currency; the token goes to the secret store."""
    body: ConversionsIn = request.body
    client = request.services.firestore
    now = request.services.now()
    before = _conversions(client, tenant_id)
    token = (body.access_token or "").strip()
    if not token and before is None:
        raise ApiError(422, "access_token: required the first time the dataset is configured")
    if token:
        try:
            reference = request.services.secret_store.put(conversions_secret_name(tenant_id), token)
        except Exception as error:  # the store is unreachable: nothing was stored in Firestore
            logger.exception("saving the Conversions API token failed")
            raise ApiError(
                503, f"could not save the access token ({type(error).__name__}); try again"
            ) from None
        _register_with_simulator(request, body.dataset_id, token)
    else:
        assert before is not None
        reference = before.access_token_ref
    settings = ConversionsSettings(
        dataset_id=body.dataset_id,
        access_token_ref=reference,
        currency=body.currency,
        updated_at=now,
    )
    batch = client.batch()
    batch.set(conversions_ref(client, tenant_id), settings.model_dump(mode="python"))
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "conversions.update",
            "settings/conversions",
            now,
            before=_conversions_audited(before),
            after=_conversions_audited(settings),
        ),
    )
    batch.commit()
    return _conversions_out(settings)


def _register_with_simulator(request: Request, dataset_id: str, token: str) -> None:
    """Local development: a dataset sent to the provider simulator's Graph is registered there."""
    settings = request.services.settings
    simulator = (settings.simulator_url or "").rstrip("/")
    if simulator and settings.meta_graph_url.startswith(simulator):
        document = {"dataset_id": dataset_id, "access_token": token}
        tell_simulator(request, "/datasets", document, what="dataset")


def delete_conversions(request: Request, tenant_id: str) -> None:
    """Forget the Conversions API settings and the token (applied sales are no longer sent)."""
    client = request.services.firestore
    before = _conversions(client, tenant_id)
    if before is None:
        return
    now = request.services.now()
    batch = client.batch()
    batch.delete(conversions_ref(client, tenant_id))
    batch.set(
        audit_ref(client, tenant_id, now),
        audit_entry(
            request.member,
            "conversions.delete",
            "settings/conversions",
            now,
            before=_conversions_audited(before),
        ),
    )
    batch.commit()
    try:
        request.services.secret_store.delete(conversions_secret_name(tenant_id))
    except Exception:  # the settings are gone, so the token is no longer used
        logger.exception("deleting the Conversions API token failed")


def _stored(transaction: Any, client: Any, tenant_id: str, insight_id: str) -> Insight:
    snapshot = insights_ref(client, tenant_id).document(insight_id).get(transaction=transaction)
    if not snapshot.exists:
        raise not_found("insight")
    return Insight.model_validate(snapshot.to_dict())


def _refuse_reviewed(insight: Insight) -> None:
    if insight.status is not InsightStatus.SUGGESTION:
        raise conflict(f"this insight is {insight.status.value}: only a SUGGESTION is reviewed")


def _reviewed(status: InsightStatus, member: Membership, now: datetime) -> dict[str, Any]:
    return {
        "status": status.value,
        "reviewed_by": member.uid,
        "reviewed_email": member.email,
        "reviewed_at": now,
    }


def _close_note(insight: Insight) -> str:
    return f"insight {insight.agent_name}"


def _send_conversion(
    services: Any, tenant_id: str, insight: Insight, conversation: Conversation
) -> ConversionResult:
    """Send the Purchase of an applied sale, or say why it was skipped or failed."""
    now = services.now()
    settings = _conversions(services.firestore, tenant_id)
    if settings is None:
        return ConversionResult(status="skipped", reason="not_configured", at=now)
    attribution = conversation.attribution or insight.attribution
    if attribution is None or not attribution.ctwa_clid:
        return ConversionResult(status="skipped", reason="no_ctwa_clid", at=now)
    value = insight.payload.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        # Meta refuses a Purchase without its value: say so here rather than fail remotely.
        return ConversionResult(status="skipped", reason="no_value", at=now)
    try:
        from shared.insights.conversions import send_purchase
        from shared.secrets import resolve_secret

        waba_id = _waba_id(services.firestore, tenant_id, conversation.channel_id)
        if waba_id is None:
            return ConversionResult(status="skipped", reason="no_waba_id", at=now)

        token = resolve_secret(settings.access_token_ref, services.settings.project_id)
        result: ConversionResult = send_purchase(
            base_url=services.settings.meta_graph_url,
            api_version=services.settings.meta_graph_version,
            dataset_id=settings.dataset_id,
            access_token=token,
            ctwa_clid=attribution.ctwa_clid,
            event_id=insight.insight_id,
            event_time=now,
            value=float(value),
            currency=settings.currency,
            waba_id=waba_id,
            http=services.http,
        )
    except Exception as error:  # the token or the call: recorded, the review stands
        logger.exception("sending a conversion failed", extra={"tenant_id": tenant_id})
        return ConversionResult(status="failed", reason=f"{type(error).__name__}", at=now)
    return result


def _waba_id(client: Any, tenant_id: str, channel_id: str) -> str | None:
    """Return the WhatsApp Business Account id of the conversation's channel, if known."""
    from shared.insights.conversions import waba_id_for
    from shared.models.channel import Channel

    snapshot = client.collection(CHANNELS_COLLECTION).document(channel_id).get()
    record = snapshot.to_dict() or {} if snapshot.exists else {}
    if record.get("tenant_id") != tenant_id:
        return None
    return waba_id_for(Channel.from_document(channel_id, record))


def _campaign_key(attribution: Attribution | None) -> str:
    if attribution is None:
        return "organic"
    return attribution.source_id or attribution.headline or "organic"


def _campaign(key: str, insights: list[Insight]) -> Campaign:
    """Summarise one campaign's lost conversations (``insights`` is newest first)."""
    reasons = Counter(str(insight.payload.get("lost_reason") or "unknown") for insight in insights)
    attributions = [insight.attribution for insight in insights if insight.attribution]
    details = [
        str(insight.payload["detail"]).strip()
        for insight in insights
        if isinstance(insight.payload.get("detail"), str) and insight.payload["detail"].strip()
    ]

    def first(name: str) -> str | None:
        return next((getattr(a, name) for a in attributions if getattr(a, name)), None)

    return Campaign(
        key=key,
        source_id=first("source_id") if key != "organic" else None,
        headline=first("headline") if key != "organic" else None,
        source_url=first("source_url") if key != "organic" else None,
        lost=len(insights),
        reasons=[
            ReasonCount(reason=reason, count=count)
            for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        ],
        details=details[:TRAFFIC_DETAILS],
    )


def _conversions(client: Any, tenant_id: str) -> ConversionsSettings | None:
    snapshot = conversions_ref(client, tenant_id).get()
    if not snapshot.exists:
        return None
    return ConversionsSettings.model_validate(snapshot.to_dict())


def _conversions_out(settings: ConversionsSettings | None) -> ConversionsOut:
    if settings is None:
        return ConversionsOut(configured=False)
    return ConversionsOut(
        configured=True,
        dataset_id=settings.dataset_id,
        currency=settings.currency,
        updated_at=settings.updated_at,
    )


def _conversions_audited(settings: ConversionsSettings | None) -> dict[str, Any] | None:
    """Return what the audit log keeps: the dataset and currency (no token, no reference)."""
    if settings is None:
        return None
    return {"dataset_id": settings.dataset_id, "currency": settings.currency, "token_set": True}
