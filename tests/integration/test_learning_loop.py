"""The learning loop, end to end on the whole local stack.

A lead asks something no source answers: the agent hands off for a knowledge gap and tells the
lead the team will confirm. The seller answers the lead from the console (admin API over real
HTTP, Firebase Auth emulator token); an admin approves the answer, edited. Then another lead asks
the same thing in other words, and the agent answers it from the learned entry, citing it,
without a handoff.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from google.cloud import firestore

from emulators.loop import PilotoLoop
from emulators.simulator import ProviderSimulator
from emulators.stack import LocalStack
from shared.agent.prompts import KNOWLEDGE_GAP_REPLY
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from tests.integration.admin.support import AuthEmulator, User
from tests.integration.test_e2e import loop, wait_until

__all__ = ["loop"]  # the demo tenant's loop (quiet hours off, a 1-second debounce)

TENANT = "demo-clinica"
CHANNEL = "demo-evolution"
QUESTION = "Vocês aceitam criptomoeda?"
PARAPHRASE = "Dá pra pagar com criptomoeda?"
ANSWER = "Ainda não aceitamos criptomoeda; você pode pagar com Pix, cartão ou boleto."


def decisions_of(client: Any, phone: str) -> list[dict[str, Any]]:
    contact = contact_ref(client, TENANT, phone).get().to_dict() or {}
    conversation_id = contact.get("current_conversation_id")
    if not conversation_id:
        return []
    stream = conversation_ref(client, TENANT, conversation_id).collection("decisions").stream()
    return sorted((item.to_dict() for item in stream), key=lambda item: item["decided_at"])


def test_a_seller_answer_approved_once_is_the_agents_answer_next_time(
    loop: PilotoLoop, local_stack: LocalStack
) -> None:
    simulator: ProviderSimulator | None = loop.simulator
    assert simulator is not None
    client = firestore.Client(project=loop.project_id)
    http = httpx.Client(timeout=30, trust_env=False)
    auth = AuthEmulator(local_stack.emulators["firebase"].host_port, loop.project_id, http)
    owner: User = auth.sign_up("dona", verified=True)
    tenant_ref(client, TENANT).collection("members").document(owner.uid).set(
        {"uid": owner.uid, "email": owner.email, "role": "owner", "added_at": datetime.now(UTC)}
    )
    api = f"http://127.0.0.1:{loop.port('admin')}/api/tenants/{TENANT}"
    headers = {"Authorization": f"Bearer {owner.token}"}

    first = f"+55119{uuid.uuid4().int % 10**8:08d}"
    simulator.send_lead_message(CHANNEL, first, QUESTION, name="Paula")
    told = simulator.wait_for(lambda message: message.to == first, timeout=40)
    assert told.text == KNOWLEDGE_GAP_REPLY
    gap = wait_until(lambda: decisions_of(client, first), what="the handoff decision")[-1]
    assert gap["action"] == "handoff" and "knowledge_gap" in gap["reasons"]
    assert gap["open_question"] == QUESTION

    open_ones = http.get(f"{api}/knowledge/proposals", headers=headers, params={"status": "open"})
    assert open_ones.status_code == 200, open_ones.text
    proposal = next(
        p for p in open_ones.json()["proposals"] if p["decision_id"] == gap["decision_id"]
    )
    conversation_id = proposal["conversation_id"]
    sent = http.post(
        f"{api}/conversations/{conversation_id}/messages",
        headers=headers,
        json={"text": "Oi Paula! Ainda não aceitamos criptomoeda, só Pix, cartão ou boleto."},
    )
    assert sent.status_code == 202, sent.text
    simulator.wait_for(lambda m: m.to == first and m.text != KNOWLEDGE_GAP_REPLY, timeout=30)
    proposed = http.get(
        f"{api}/knowledge/proposals", headers=headers, params={"status": "proposed"}
    )
    assert [p["proposal_id"] for p in proposed.json()["proposals"]] == [proposal["proposal_id"]]
    approved = http.post(
        f"{api}/knowledge/proposals/{proposal['proposal_id']}/approve",
        headers=headers,
        json={"answer": ANSWER},
    )
    assert approved.status_code == 200, approved.text
    entry_id = approved.json()["entry"]["entry_id"]

    second = f"+55119{uuid.uuid4().int % 10**8:08d}"
    simulator.send_lead_message(CHANNEL, second, PARAPHRASE, name="Rita")
    answer = simulator.wait_for(lambda message: message.to == second, timeout=40)

    assert "Ainda não aceitamos criptomoeda" in (answer.text or "")
    decision = wait_until(lambda: decisions_of(client, second), what="the answer decision")[-1]
    assert decision["action"] == "speak"
    assert "knowledge_gap" not in decision["reasons"]
    assert [ref["entry_id"] for ref in decision["knowledge_used"]] == [entry_id]
    http.close()
