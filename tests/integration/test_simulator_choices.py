"""Choices end to end on the provider simulator: a decision's options go out through the real
adapter as each provider's list or buttons (numbered text on Twilio), the outbox records them,
and a lead's tap comes back as the provider's own list/button reply webhook, parsed by the
adapter into the tapped row."""

from __future__ import annotations

import httpx
import pytest

from emulators.simulator import ProviderSimulator
from shared.models.decision import Choice, OutboundMessage
from shared.models.events import LeadMessage, MessageType, Provider
from shared.sender import to_request
from tests.integration.test_simulator import (  # the simulator's fixtures and helpers
    CHANNELS,
    LEAD,
    Receiver,
    client,
    receiver,
    send,
    simulator,
    verified_events,
)

__all__ = ["client", "receiver", "simulator"]

SLOTS = [
    Choice(id="slot-202611241200", title="ter 24/11 às 09:00"),
    Choice(id="slot-202611241300", title="ter 24/11 às 10:00", description="Online"),
    Choice(id="slot-202611251700", title="qua 25/11 às 14:00"),
    Choice(id="slot-202611261200", title="qui 26/11 às 09:00"),
]
OFFER = OutboundMessage(text="Tenho estes horários:", choices=SLOTS, choices_button="Ver horários")


@pytest.mark.parametrize("provider", ["meta", "evolution", "zapi"])
def test_a_list_goes_out_and_a_tapped_row_comes_back(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    result = send(simulator, client, provider, to_request(OFFER, provider))

    [sent] = simulator.outbox(channel_id=CHANNELS[provider].channel_id)
    assert sent.kind == "list"
    assert sent.text == "Tenho estes horários:"
    assert [row["id"] for row in sent.content.buttons] == [slot.id for slot in SLOTS]
    assert sent.content.buttons[1]["description"] == "Online"

    receiver.received.clear()
    channel_id = CHANNELS[provider].channel_id
    answer = client.post(
        f"{simulator.url}/leads/{provider}/{channel_id}/taps",
        json={"from": LEAD, "name": "Mariana", "index": 2},
    )
    assert answer.status_code == 200, answer.text
    tap = next(webhook for webhook in receiver.settled() if b"slot-202611241300" in webhook.body)
    [event] = verified_events(receiver, tap, provider)
    assert isinstance(event, LeadMessage)
    assert event.content.message_type == MessageType.INTERACTIVE_REPLY
    reply = event.content.interactive
    assert reply is not None
    assert (reply.kind, reply.id, reply.title) == ("list", "slot-202611241300", SLOTS[1].title)
    assert result.provider_message_id == sent.provider_message_id


@pytest.mark.parametrize("provider", ["meta", "evolution", "zapi"])
def test_buttons_go_out_and_a_tapped_button_comes_back(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    message = OutboundMessage(text="Posso confirmar?", choices=SLOTS[:2])
    send(simulator, client, provider, to_request(message, provider))
    [sent] = simulator.outbox(channel_id=CHANNELS[provider].channel_id)
    assert sent.kind == "buttons"

    receiver.received.clear()
    posted = simulator.tap_choice(
        CHANNELS[provider].channel_id, LEAD, choice_id="slot-202611241200"
    )

    tap = next(w for w in receiver.settled() if b"slot-202611241200" in w.body)
    [event] = verified_events(receiver, tap, provider)
    assert isinstance(event, LeadMessage)
    assert event.message_id == posted.provider_message_id
    reply = event.content.interactive
    assert reply is not None
    assert (reply.kind, reply.id, reply.title) == ("button", SLOTS[0].id, SLOTS[0].title)


def test_twilio_gets_numbered_text_and_cannot_be_tapped(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    send(simulator, client, "twilio", to_request(OFFER, "twilio"))

    [sent] = simulator.outbox(channel_id=CHANNELS["twilio"].channel_id)
    assert sent.kind == "text"
    assert sent.text is not None
    assert "\n\n1. ter 24/11 às 09:00\n2. ter 24/11 às 10:00 - Online\n" in sent.text
    assert sent.text.endswith("Responda com o número da opção.")
    answer = client.post(
        f"{simulator.url}/leads/twilio/{CHANNELS['twilio'].channel_id}/taps",
        json={"from": LEAD, "index": 1},
    )
    assert answer.status_code == 400


def test_taps_are_checked(simulator: ProviderSimulator, client: httpx.Client) -> None:
    url = f"{simulator.url}/leads/meta/{CHANNELS['meta'].channel_id}/taps"

    nothing_sent = client.post(url, json={"from": LEAD, "index": 1})
    send(simulator, client, "meta", to_request(OFFER, "meta"))
    no_such_row = client.post(url, json={"from": LEAD, "choice_id": "slot-nope"})
    bad_index = client.post(url, json={"from": LEAD, "index": 11})
    unknown = client.post(url, json={"from": LEAD, "index": 1, "row": 1})

    assert nothing_sent.status_code == 400 and "no list" in nothing_sent.json()["error"]
    assert no_such_row.status_code == 400
    assert bad_index.status_code == 400
    assert unknown.status_code == 400


def test_the_simulated_meta_refuses_lists_over_the_limits(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    channel = CHANNELS["meta"]
    url = f"{simulator.url}/meta/v21.0/{channel.config_text('phone_number_id')}/messages"
    rows = [{"id": str(n), "title": f"opção {n}"} for n in range(11)]
    body = {
        "messaging_product": "whatsapp",
        "to": LEAD.lstrip("+"),
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Escolha"},
            "action": {"button": "Ver", "sections": [{"rows": rows}]},
        },
    }
    headers = {"Authorization": f"Bearer {channel.secret('access_token')}"}

    answer = client.post(url, json=body, headers=headers)

    assert answer.status_code == 400
    assert "at most 10 rows" in answer.json()["error"]["error_data"]["details"]
    assert simulator.outbox(channel_id=channel.channel_id) == []
