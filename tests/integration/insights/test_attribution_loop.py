"""Ad attribution on the whole local stack: from a click-to-WhatsApp ad to the traffic report
and the Purchase sent back to Meta.

Leads write through the provider simulator as if they came from ads (the providers' own
referral formats, signed webhooks); intake keeps each conversation's first touch. The owner adds
the traffic feedback agent and closes the conversations as lost through the admin API (real
HTTP, Firebase Auth emulator token); the insights function explains each loss and the traffic
report groups the losses per ad. A lead from an ad who says she paid gets the conversion
auditor's suggestion; applying it closes the conversation as won and sends the Purchase, with
the lead's click id, to the simulator's Meta Conversions API.

The tenant is a copy of the demo clinic with its own channels, so what other modules do to the
demo tenant (agents, closes, conversions settings) never reaches the report asserted here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from emulators.loop import PilotoLoop
from emulators.simulator import OutboxMessage, ProviderSimulator
from emulators.stack import LocalStack
from shared.insights.models import Attribution, Insight, InsightStatus
from shared.insights.throttle import insight_id_for, insight_ref
from shared.simulator.payloads import AdClick
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from tests.integration.admin.support import AuthEmulator
from tests.integration.insights.support import demo_copy, loop_with
from tests.integration.test_e2e import new_phone, wait_until

TENANT = "it-attribution"
META = "it-attribution-meta"
TWILIO = "it-attribution-twilio"
AUDITOR = "it-conversion-auditor"
WABA_ID = "102290129340398"
DATASET_ID = "880000000000081"
DATASET_TOKEN = "it-attribution-dataset-token"
SKIN_AD_ID, PEEL_AD_ID = "120226305854810001", "120226305854810002"
SKIN = AdClick(
    ctwa_clid="ARAkLkA8rmlFeiCktEJQ-limpeza-0001",
    source_id=SKIN_AD_ID,
    source_url="https://fb.me/limpeza",
    headline="Limpeza de pele com 20% off",
    body="Agende sua limpeza de pele profunda nesta semana.",
)
PEEL = AdClick(
    ctwa_clid="ARAkLkA8rmlFeiCktEJQ-peeling-0002",
    source_id=PEEL_AD_ID,
    source_url="https://fb.me/peeling",
    headline="Peeling químico: pacote com 3 sessões",
    body="Pele renovada em três sessões.",
    media_type="video",
)
LASER = AdClick(
    ctwa_clid="ARAkLkA8rmlFeiCktEJQ-laser-0003",
    source_id="120226305854810003",
    source_url="https://fb.me/laser",
    headline="Depilação a laser",
)
PAID = AdClick(
    ctwa_clid="ARAkLkA8rmlFeiCktEJQ-pago-0004",
    source_id="120226305854810004",
    source_url="https://fb.me/agende",
    headline="Agende sua avaliação",
)


@pytest.fixture(scope="module")
def loop(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PilotoLoop]:
    """A copy of the demo clinic with a Meta and a Twilio channel and a conversion auditor."""
    ads = demo_copy(
        TENANT,
        "Clínica Anúncios (teste)",
        [
            {
                "provider": "meta",
                "channel_id": META,
                "business_phone": "+5511990000081",
                "config": {"phone_number_id": "100000000000081"},
            },
            {"provider": "twilio", "channel_id": TWILIO, "business_phone": "+5511990000082"},
        ],
        insight_agents=[{"agent_id": AUDITOR, "template": "conversion_auditor"}],
    )
    with loop_with(local_stack, tmp_path_factory.mktemp("attribution"), [ads]) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False) as session:
        yield session


@pytest.fixture
def api(loop: PilotoLoop, local_stack: LocalStack, client: Any, http: httpx.Client) -> Any:
    """Return (the tenant's admin API origin, an owner's headers)."""
    auth = AuthEmulator(local_stack.emulators["firebase"].host_port, loop.project_id, http)
    owner = auth.sign_up("dona", verified=True)
    tenant_ref(client, TENANT).collection("members").document(owner.uid).set(
        {"uid": owner.uid, "email": owner.email, "role": "owner", "added_at": datetime.now(UTC)}
    )
    base = f"http://127.0.0.1:{loop.port('admin')}/api/tenants/{TENANT}"
    return base, {"Authorization": f"Bearer {owner.token}"}


def conversation_of(client: Any, phone: str, inbound: int = 1) -> dict[str, Any]:
    """Return the lead's conversation once it has taken ``inbound`` messages in ({} until)."""
    contact = contact_ref(client, TENANT, phone).get().to_dict() or {}
    if not contact.get("current_conversation_id"):
        return {}
    state = conversation_ref(client, TENANT, contact["current_conversation_id"]).get().to_dict()
    return state if state and state.get("inbound_count", 0) >= inbound else {}


def attribution(ad: AdClick) -> Attribution:
    return Attribution(
        ctwa_clid=ad.ctwa_clid,
        source_id=ad.source_id,
        source_url=ad.source_url,
        source_type=ad.source_type,
        headline=ad.headline,
    )


def stored_attribution(state: dict[str, Any]) -> Attribution | None:
    raw = state.get("attribution")
    return Attribution.model_validate(raw) if raw else None


def answers(phone: str, message: OutboxMessage) -> bool:
    return message.to == phone


def finished(client: Any, insight_id: str) -> Insight | None:
    snapshot = insight_ref(client, TENANT, insight_id).get()
    if not snapshot.exists:
        return None
    insight = Insight.model_validate(snapshot.to_dict())
    return insight if insight.status is not InsightStatus.RUNNING else None


def test_lost_leads_from_two_ads_and_an_organic_one_make_the_traffic_report(
    simulator: ProviderSimulator, client: Any, http: httpx.Client, api: Any
) -> None:
    base, owner = api
    created = http.post(
        f"{base}/insight-agents/from-template", headers=owner, json={"template": "traffic_feedback"}
    )
    assert created.status_code == 201, created.text
    traffic_agent = created.json()["agent_id"]
    skin, peel, organic, by_twilio = new_phone(), new_phone(), new_phone(), new_phone()

    simulator.send_lead_message(META, skin, "Oi, quanto custa a limpeza de pele?", referral=SKIN)
    simulator.send_lead_message(META, peel, "Oi, quanto custa o peeling?", referral=PEEL)
    simulator.send_lead_message(META, organic, "Oi, quanto custa a limpeza de pele?")
    posted = simulator.send_lead_message(TWILIO, by_twilio, "Oi, vi o anúncio", referral=LASER)

    assert posted.webhook_status == 200
    for phone in (skin, peel, organic):
        simulator.wait_for(partial(answers, phone), timeout=40)
    # A later click on another ad does not replace the first touch.
    simulator.send_lead_message(META, skin, "E vocês fazem peeling também?", referral=PEEL)
    states = {
        phone: wait_until(
            partial(conversation_of, client, phone, inbound), what=f"{phone}'s conversation"
        )
        for phone, inbound in ((skin, 2), (peel, 1), (organic, 1), (by_twilio, 1))
    }
    assert stored_attribution(states[skin]) == attribution(SKIN)
    assert stored_attribution(states[peel]) == attribution(PEEL)
    assert stored_attribution(states[organic]) is None
    assert stored_attribution(states[by_twilio]) == attribution(LASER)

    losses: dict[str, str] = {}
    for phone in (skin, peel, organic):
        conversation_id = states[phone]["conversation_id"]
        closed = http.post(
            f"{base}/conversations/{conversation_id}/close", headers=owner, json={"reason": "lost"}
        )
        assert closed.status_code == 200, closed.text
        losses[phone] = insight_id_for(f"ticket:{conversation_id}:lost", traffic_agent)
    insights = {
        phone: wait_until(partial(finished, client, insight_id), what="a traffic insight")
        for phone, insight_id in losses.items()
    }

    for phone, insight in insights.items():
        assert insight.status is InsightStatus.SUGGESTION, insight.error
        assert (insight.event_type, insight.template) == ("TICKET_LOST", "traffic_feedback")
        assert insight.attribution == stored_attribution(states[phone])
    report = http.get(f"{base}/insights/traffic-report", headers=owner, params={"days": 30})
    assert report.status_code == 200, report.text
    campaigns = {campaign["key"]: campaign for campaign in report.json()["campaigns"]}
    assert sorted(campaigns) == sorted([SKIN_AD_ID, PEEL_AD_ID, "organic"])
    for key, phone, ad in (
        (SKIN_AD_ID, skin, SKIN),
        (PEEL_AD_ID, peel, PEEL),
        ("organic", organic, None),
    ):
        payload = insights[phone].payload
        assert campaigns[key] == {
            "key": key,
            "source_id": ad.source_id if ad else None,
            "headline": ad.headline if ad else None,
            "source_url": ad.source_url if ad else None,
            "lost": 1,
            "reasons": [{"reason": payload["lost_reason"], "count": 1}],
            "details": [payload["detail"]],
        }


def test_an_applied_sale_from_an_ad_sends_the_purchase_with_the_leads_click(
    loop: PilotoLoop, simulator: ProviderSimulator, client: Any, http: httpx.Client, api: Any
) -> None:
    base, owner = api
    registered = http.post(
        f"{loop.simulator_url}/datasets",
        json={"dataset_id": DATASET_ID, "access_token": DATASET_TOKEN},
    )
    assert registered.status_code in (200, 201), registered.text
    configured = http.put(
        f"{base}/conversions",
        headers=owner,
        json={"dataset_id": DATASET_ID, "access_token": DATASET_TOKEN},
    )
    assert configured.status_code == 200, configured.text
    assert configured.json()["configured"] is True
    channel = http.patch(
        f"{base}/channels/{META}", headers=owner, json={"config": {"waba_id": WABA_ID}}
    )
    assert channel.status_code == 200, channel.text
    assert channel.json()["config"]["waba_id"] == WABA_ID

    phone = new_phone()
    simulator.send_lead_message(META, phone, "Oi, quero agendar uma avaliação", referral=PAID)
    simulator.wait_for(lambda message: message.to == phone, timeout=40)
    simulator.send_lead_message(META, phone, "paguei, segue o comprovante")
    state = wait_until(lambda: conversation_of(client, phone, 2), what="the second message")
    conversation_id = state["conversation_id"]
    insight_id = insight_id_for(f"msg:{conversation_id}:2", AUDITOR)
    insight = wait_until(
        lambda: finished(client, insight_id), what="the conversion auditor's insight"
    )
    assert insight.status is InsightStatus.SUGGESTION, insight.error
    assert insight.attribution == attribution(PAID)

    applied = http.post(f"{base}/insights/{insight_id}/apply", headers=owner)

    assert applied.status_code == 200, applied.text
    result = applied.json()
    assert result["status"] == "APPLIED"
    closed = conversation_ref(client, TENANT, conversation_id).get().to_dict()
    assert (closed["status"], closed["close_reason"]) == ("closed", "won")
    stored = Insight.model_validate(insight_ref(client, TENANT, insight_id).get().to_dict())
    assert stored.conversion is not None
    assert result["conversion"]["status"] == stored.conversion.status
    received = http.get(f"{loop.simulator_url}/conversions", params={"dataset_id": DATASET_ID})
    assert received.status_code == 200, received.text
    value = insight.payload.get("value")
    if not value:  # the offline payload drew 0 (or left the value out): Meta needs one
        assert (stored.conversion.status, stored.conversion.reason) == ("skipped", "no_value")
        assert received.json() == []
        return
    assert stored.conversion.status == "sent", stored.conversion.reason
    assert stored.conversion.events_received == 1
    [purchase] = received.json()
    assert purchase["event_name"] == "Purchase"
    assert purchase["event_id"] == insight_id
    assert purchase["ctwa_clid"] == PAID.ctwa_clid
    assert purchase["whatsapp_business_account_id"] == WABA_ID
    assert (purchase["currency"], purchase["value"]) == ("BRL", value)
    assert purchase["duplicate"] is False
