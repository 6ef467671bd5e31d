"""The CRM sync's state logic with an in-process Firestore and a fake RD Station."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.crm.models import CrmLink, CrmSettings
from shared.crm.rdstation import CrmRefused, Pipeline, Stage
from shared.crm.store import crm_link_ref, crm_settings_ref, read_crm_link
from shared.crm.sync import (
    NOTES_MARKER,
    Lead,
    deal_name,
    desired_outcome,
    lead_of,
    merged_contact,
    sync_conversation,
)
from shared.models.conversation import Contact, Conversation, ConversationStatus
from shared.store.conversations import contact_ref, conversation_ref
from shared.store.memory import MemoryFirestore

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SETTINGS = CrmSettings(
    token_ref="env:X",
    pipeline_id="p1",
    stage_mapping={"qualified": "s2", "scheduled": "s3"},
    connected_at=NOW,
)


class FakeRd:
    """RD Station in a dict: records calls, can lose a deal."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.deals: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}

    def pipelines(self) -> list[Pipeline]:
        return [Pipeline("p1", "Funil", (Stage("s1", "Sem contato"), Stage("s2", "Interesse")))]

    def lost_reasons(self) -> list[dict[str, Any]]:
        return [{"id": "r1", "name": "Sem resposta"}]

    def find_contact(self, *, phone: str | None, email: str | None) -> dict[str, Any] | None:
        return next(iter(self.contacts.values()), None)

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        return self.contacts[contact_id]

    def create_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create_contact", contact))
        contact_id = f"c{len(self.contacts) + 1}"
        self.contacts[contact_id] = {"id": contact_id, **contact}
        return self.contacts[contact_id]

    def update_contact(self, contact_id: str, contact: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("update_contact", contact))
        self.contacts[contact_id].update(contact)
        return self.contacts[contact_id]

    def create_deal(self, *, name: str, stage_id: str | None) -> dict[str, Any]:
        self.calls.append(("create_deal", stage_id))
        deal_id = f"d{len(self.deals) + 1}"
        self.deals[deal_id] = {"id": deal_id, "name": name, "stage": stage_id, "win": None}
        return self.deals[deal_id]

    def _deal(self, deal_id: str) -> dict[str, Any]:
        if deal_id not in self.deals:
            raise CrmRefused("RD Station answered 404: não encontrada", status=404)
        return self.deals[deal_id]

    def move_deal(self, deal_id: str, stage_id: str) -> dict[str, Any]:
        self.calls.append(("move_deal", stage_id))
        self._deal(deal_id)["stage"] = stage_id
        return self.deals[deal_id]

    def mark_won(self, deal_id: str) -> dict[str, Any]:
        self.calls.append(("mark_won", deal_id))
        self._deal(deal_id)["win"] = True
        return self.deals[deal_id]

    def mark_lost(
        self, deal_id: str, *, note: str | None = None, lost_reason_id: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("mark_lost", note))
        self._deal(deal_id)["win"] = False
        return self.deals[deal_id]


def conversation(**changes: Any) -> Conversation:
    base = Conversation(
        conversation_id="conv-1",
        tenant_id="t1",
        channel_id="ch",
        contact_key="wa:1",
        contact_name="Ana",
        created_at=NOW,
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


@pytest.fixture
def db() -> MemoryFirestore:
    client = MemoryFirestore()
    crm_settings_ref(client, "t1").set(SETTINGS.model_dump(mode="python"))
    contact = Contact(contact_key="wa:1", phone="5511999990000", name="Ana P.")
    contact_ref(client, "t1", "wa:1").set(contact.model_dump(mode="python"))
    return client


def store(db: MemoryFirestore, **changes: Any) -> None:
    conversation_ref(db, "t1", "conv-1").set(conversation(**changes).model_dump(mode="python"))


def sync(db: MemoryFirestore, api: FakeRd, holder: str | None = None) -> Any:
    return sync_conversation(api, db, "t1", "conv-1", SETTINGS, now=NOW, holder=holder)


def test_the_lead_takes_the_email_from_the_fields_and_keeps_the_others_as_notes() -> None:
    lead = lead_of(
        conversation(fields={"E-mail": "ana@x.com", "cidade": "Recife"}),
        Contact(contact_key="wa:1", phone="55119", name="Ana P."),
        None,
    )
    assert lead == Lead(name="Ana", phone="55119", email="ana@x.com", fields={"cidade": "Recife"})
    assert lead_of(conversation(contact_name=None), None, "e@x.com").name == "Lead"
    assert deal_name("{nome} - {telefone}", lead) == "Ana - 55119"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"stage": "qualified"}, None),
        ({"stage": "won"}, "won"),
        ({"stage": "lost"}, "lost"),
        ({"status": ConversationStatus.CLOSED, "close_reason": "won"}, "won"),
        ({"status": ConversationStatus.CLOSED, "close_reason": "no_response"}, "lost"),
        ({"status": ConversationStatus.HANDOFF, "stage": "handoff"}, None),
    ],
)
def test_the_outcome_follows_the_stage_and_the_close(
    changes: dict[str, Any], expected: str | None
) -> None:
    assert desired_outcome(conversation(**changes)) == expected


def test_an_existing_contact_keeps_the_sellers_phones_deals_and_notes() -> None:
    existing = {
        "id": "c1",
        "phones": [{"phone": "+55 (11) 99999-0000", "type": "work"}],
        "emails": [],
        "notes": "Cliente antigo",
        "deals": [{"_id": "d0"}],
    }
    lead = Lead(name="Ana", phone="5511999990000", email="a@x.com", fields={"k": "v"})
    body = merged_contact(existing, lead, "d1")
    assert body["phones"] == existing["phones"]  # the same number, written differently
    assert body["emails"] == [{"email": "a@x.com"}]
    assert body["deal_ids"] == ["d0", "d1"]
    assert "notes" not in body
    mine = merged_contact({**existing, "notes": f"{NOTES_MARKER}\nk: old"}, lead, "d1")
    assert mine["notes"] == f"{NOTES_MARKER}\nk: v"


def test_the_first_sync_creates_the_deal_in_the_mapped_stage_then_only_moves_it(
    db: MemoryFirestore,
) -> None:
    api = FakeRd()
    store(db, stage="new")
    assert sync(db, api).ok
    assert api.calls[0] == ("create_deal", "s1")  # unmapped: the funnel's first stage
    assert api.calls[1][0] == "create_contact" and api.calls[1][1]["deal_ids"] == ["d1"]
    store(db, stage="qualified")
    assert sync(db, api).ok
    store(db, stage="won")
    assert sync(db, api).ok and sync(db, api).ok
    assert [c[0] for c in api.calls[2:]] == ["move_deal", "mark_won"]
    assert len(api.deals) == 1 and api.deals["d1"] == {**api.deals["d1"], "win": True}


def test_a_fresh_lease_of_another_attempt_asks_for_a_retry(db: MemoryFirestore) -> None:
    store(db, stage="qualified")
    leased = CrmLink(
        conversation_id="conv-1",
        lease_holder="other",
        lease_until=NOW + timedelta(seconds=40),
        updated_at=NOW,
    )
    crm_link_ref(db, "t1", "conv-1").set(leased.model_dump(mode="python"))
    api = FakeRd()
    result = sync(db, api)
    assert not result.ok and not result.permanent and result.retry_after_seconds == 40
    assert api.calls == []
    expired = leased.model_copy(update={"lease_until": NOW - timedelta(seconds=1)})
    crm_link_ref(db, "t1", "conv-1").set(expired.model_dump(mode="python"))
    assert sync(db, api).ok and len(api.deals) == 1


def test_a_deal_deleted_in_rd_station_is_made_again_on_the_next_attempt(
    db: MemoryFirestore,
) -> None:
    api = FakeRd()
    store(db, stage="new")
    assert sync(db, api).ok
    api.deals.clear()
    store(db, stage="qualified")
    result = sync(db, api)
    assert not result.ok and not result.permanent
    link = read_crm_link(db, "t1", "conv-1")
    assert link is not None and link.deal_id is None and link.contact_id == "c1"
    assert sync(db, api).ok
    assert list(api.deals) == ["d1"] and api.deals["d1"]["stage"] == "s2"
    assert api.contacts["c1"]["deal_ids"] == ["d1"]
