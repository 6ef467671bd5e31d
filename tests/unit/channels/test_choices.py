"""Choices on the channels: ``to_request`` picks buttons, a list or numbered text per provider,
and each adapter posts a list in its provider's documented format."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.channels import evolution, meta, twilio, zapi
from shared.channels.sending import (
    ListRow,
    OutboundButtons,
    OutboundList,
    OutboundText,
    RetryPolicy,
    SendFailed,
)
from shared.models.channel import Channel
from shared.models.decision import Choice, OutboundMessage
from shared.sender import numbered_text, to_request

LEAD = "+5511988887777"
SLOTS = [
    Choice(id="slot-202611241200", title="ter 24/11 às 09:00"),
    Choice(id="slot-202611241300", title="ter 24/11 às 10:00", description="Online"),
    Choice(id="slot-202611251700", title="qua 25/11 às 14:00"),
    Choice(id="slot-202611261200", title="qui 26/11 às 09:00"),
]


def offer(count: int, **changes: Any) -> OutboundMessage:
    values: dict[str, Any] = {
        "text": "Tenho estes horários:",
        "choices": SLOTS[:count],
        "choices_button": "Ver horários",
    }
    values.update(changes)
    return OutboundMessage(**values)


# to_request


@pytest.mark.parametrize("provider", ["meta", "evolution", "zapi"])
def test_more_than_three_choices_become_a_list(provider: str) -> None:
    request = to_request(offer(4), provider)

    assert request == OutboundList(
        body="Tenho estes horários:",
        button="Ver horários",
        rows=(
            ListRow("slot-202611241200", "ter 24/11 às 09:00"),
            ListRow("slot-202611241300", "ter 24/11 às 10:00", "Online"),
            ListRow("slot-202611251700", "qua 25/11 às 14:00"),
            ListRow("slot-202611261200", "qui 26/11 às 09:00"),
        ),
    )


def test_up_to_three_short_choices_become_buttons() -> None:
    request = to_request(offer(2), "meta")

    assert isinstance(request, OutboundButtons)
    assert [(b.id, b.title) for b in request.buttons] == [
        ("slot-202611241200", "ter 24/11 às 09:00"),
        ("slot-202611241300", "ter 24/11 às 10:00"),
    ]
    assert request.body == "Tenho estes horários:"


def test_a_title_too_long_for_a_button_goes_whole_in_a_list() -> None:
    long = Choice(id="a", title="quinta 26/11 às 14:30")  # 21 characters: a row holds 24

    request = to_request(OutboundMessage(text="Qual?", choices=[long]), "zapi")

    assert isinstance(request, OutboundList)
    assert request.rows == (ListRow("a", "quinta 26/11 às 14:30"),)
    assert request.button == "Ver opções"


def test_twilio_gets_numbered_lines() -> None:
    request = to_request(offer(3), "twilio")

    assert request == OutboundText(
        "Tenho estes horários:\n\n"
        "1. ter 24/11 às 09:00\n"
        "2. ter 24/11 às 10:00 - Online\n"
        "3. qua 25/11 às 14:00\n\n"
        "Responda com o número da opção."
    )


def test_a_body_too_long_for_an_interactive_message_falls_back_to_numbered_text() -> None:
    message = offer(4, text="x" * 1025)

    request = to_request(message, "meta")

    assert isinstance(request, OutboundText)
    assert request.body == numbered_text(message)
    assert request.body.endswith("4. qui 26/11 às 09:00\n\nResponda com o número da opção.")


def test_repeated_choice_ids_fall_back_to_numbered_text() -> None:
    twins = [Choice(id="same", title="A"), Choice(id="same", title="B"), SLOTS[0], SLOTS[1]]

    request = to_request(OutboundMessage(text="Qual?", choices=twins), "evolution")

    assert isinstance(request, OutboundText)
    assert "1. A\n2. B\n" in request.body


def test_no_choices_and_templates_are_unchanged() -> None:
    assert to_request(OutboundMessage(text="oi"), "meta") == OutboundText("oi")
    assert to_request(OutboundMessage(text="oi")) == OutboundText("oi")
    template = to_request(OutboundMessage(template="lembrete", choices=SLOTS[:2]), "meta")
    assert not isinstance(template, OutboundText | OutboundList | OutboundButtons)


def test_choices_without_text_get_a_prompt() -> None:
    message = OutboundMessage(choices=SLOTS[:4])

    request = to_request(message, "meta")

    assert isinstance(request, OutboundList)
    assert request.body == "Escolha uma opção:"
    assert numbered_text(message).startswith("Escolha uma opção:\n\n1. ter 24/11 às 09:00")


def test_list_limits_are_checked() -> None:
    rows = tuple(ListRow(str(n), f"row {n}") for n in range(11))
    with pytest.raises(ValueError, match="1 to 10 rows"):
        OutboundList("body", "Ver", rows)
    with pytest.raises(ValueError, match="button label"):
        OutboundList("body", "x" * 21, rows[:2])
    with pytest.raises(ValueError, match="title of 1 to 24"):
        OutboundList("body", "Ver", (ListRow("a", "y" * 25),))
    with pytest.raises(ValueError, match="at most 72"):
        OutboundList("body", "Ver", (ListRow("a", "ok", "z" * 73),))


# The adapters' list payloads


class Recorder:
    """An in-process provider answering every request with ``answer``."""

    def __init__(self, answer: dict[str, Any], status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.answer)

    def only_json(self) -> Any:
        assert len(self.requests) == 1
        return json.loads(self.requests[0].content)


LIST = OutboundList(
    body="Tenho estes horários:",
    button="Ver horários",
    rows=(ListRow("slot-1", "ter 24/11 às 09:00"), ListRow("slot-2", "ter 24/11 às 10:00", "On")),
)
POLICY = RetryPolicy(sleep=lambda _: None, jitter=lambda: 1.0)


def channel(provider: Any, **config: str) -> Channel:
    return Channel(
        channel_id="ch-1",
        tenant_id="t-1",
        provider=provider,
        business_phone="+5511933334444",
        config={"api_base_url": "https://provider.test", **config},
    )


def test_meta_posts_an_interactive_list() -> None:
    recorder = Recorder({"messages": [{"id": "wamid.1"}]})
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        result = meta.send(
            client,
            channel("meta", phone_number_id="PN1"),
            {"access_token": "tok"},
            LEAD,
            LIST,
            policy=POLICY,
        )

    assert result.provider_message_id == "wamid.1"
    assert str(recorder.requests[0].url) == "https://provider.test/v21.0/PN1/messages"
    body = recorder.only_json()
    assert body["type"] == "interactive"
    assert body["interactive"] == {
        "type": "list",
        "body": {"text": "Tenho estes horários:"},
        "action": {
            "button": "Ver horários",
            "sections": [
                {
                    "rows": [
                        {"id": "slot-1", "title": "ter 24/11 às 09:00"},
                        {"id": "slot-2", "title": "ter 24/11 às 10:00", "description": "On"},
                    ]
                }
            ],
        },
    }


def test_evolution_posts_send_list() -> None:
    recorder = Recorder({"key": {"id": "BAE5LIST"}}, status=201)
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        result = evolution.send(
            client,
            channel("evolution", instance="inst-1"),
            {"apikey": "evo"},
            LEAD,
            LIST,
            policy=POLICY,
        )

    assert result.provider_message_id == "BAE5LIST"
    request = recorder.requests[0]
    assert str(request.url) == "https://provider.test/message/sendList/inst-1"
    assert request.headers["apikey"] == "evo"
    assert recorder.only_json() == {
        "number": "5511988887777",
        "title": "",
        "description": "Tenho estes horários:",
        "buttonText": "Ver horários",
        "footerText": "",
        "sections": [
            {
                "title": "Ver horários",
                "rows": [
                    {"title": "ter 24/11 às 09:00", "description": "", "rowId": "slot-1"},
                    {"title": "ter 24/11 às 10:00", "description": "On", "rowId": "slot-2"},
                ],
            }
        ],
    }


def test_zapi_posts_send_option_list() -> None:
    recorder = Recorder({"zaapId": "Z", "messageId": "3EB0LIST", "id": "3EB0LIST"})
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        result = zapi.send(
            client,
            channel("zapi", instance_id="I1"),
            {"instance_token": "itok", "client_token": "ctok"},
            LEAD,
            LIST,
            policy=POLICY,
        )

    assert result.provider_message_id == "3EB0LIST"
    request = recorder.requests[0]
    assert str(request.url) == "https://provider.test/instances/I1/token/itok/send-option-list"
    assert request.headers["client-token"] == "ctok"
    assert recorder.only_json() == {
        "phone": "5511988887777",
        "message": "Tenho estes horários:",
        "optionList": {
            "title": "Ver horários",
            "buttonLabel": "Ver horários",
            "options": [
                {"id": "slot-1", "title": "ter 24/11 às 09:00"},
                {"id": "slot-2", "title": "ter 24/11 às 10:00", "description": "On"},
            ],
        },
    }


def test_twilio_refuses_a_list_without_a_request() -> None:
    recorder = Recorder({"sid": "SM1"})
    with (
        httpx.Client(transport=httpx.MockTransport(recorder)) as client,
        pytest.raises(SendFailed) as failure,
    ):
        twilio.send(
            client,
            channel("twilio", account_sid="AC1"),
            {"auth_token": "t"},
            LEAD,
            LIST,
            policy=POLICY,
        )

    assert failure.value.code == "list_unsupported"
    assert failure.value.permanent
    assert recorder.requests == []
