"""The Conversions API client (httpx.MockTransport): request shape, answers, errors, retries."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.insights import conversions
from shared.insights.conversions import send_purchase, waba_id_for
from shared.models.channel import Channel

TOKEN = "EAAGsecret-token-value"
CLID = "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0"
WHEN = datetime(2026, 3, 2, 15, 30, 12, 900000, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]
REAL_CLIENT = httpx.Client


class Recorder:
    """A MockTransport handler that records requests and answers in turn."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request)

    def client(self) -> httpx.Client:
        return REAL_CLIENT(transport=httpx.MockTransport(self))

    def body(self, index: int = 0) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.requests[index].content)
        return document


def accepted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"events_received": 1, "messages": [], "fbtrace_id": "AbcTrace123"}
    )


def graph_error(status: int, error: dict[str, Any]) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": error})

    return answer


def send(recorder: Recorder, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "base_url": "https://graph.facebook.com/",
        "api_version": "v21.0",
        "dataset_id": "1234567890",
        "access_token": TOKEN,
        "ctwa_clid": CLID,
        "event_id": "insight-abc",
        "event_time": WHEN,
        "value": 1500.0,
        "currency": "brl",
        "waba_id": "102290129340398",
        "http": recorder.client(),
    }
    arguments.update(overrides)
    return send_purchase(**arguments)


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversions, "RETRY_WAIT_SECONDS", 0.0)


def test_a_purchase_is_posted_to_the_dataset_as_documented() -> None:
    recorder = Recorder(accepted)

    result = send(recorder)

    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://graph.facebook.com/v21.0/1234567890/events"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)
    assert recorder.body() == {
        "data": [
            {
                "event_name": "Purchase",
                "event_time": int(WHEN.timestamp()),
                "action_source": "business_messaging",
                "messaging_channel": "whatsapp",
                "event_id": "insight-abc",
                "user_data": {
                    "whatsapp_business_account_id": "102290129340398",
                    "ctwa_clid": CLID,
                },
                "custom_data": {"currency": "BRL", "value": 1500.0},
            }
        ]
    }
    assert result.status == "sent"
    assert result.events_received == 1
    assert result.fbtrace_id == "AbcTrace123"
    assert result.reason is None
    assert result.at.tzinfo is not None


def test_an_unknown_value_and_account_are_left_out_and_unix_seconds_pass_through() -> None:
    recorder = Recorder(accepted)

    send(recorder, value=None, waba_id=None, event_time=1767225600)

    event = recorder.body()["data"][0]
    assert event["custom_data"] == {"currency": "BRL"}
    assert event["user_data"] == {"ctwa_clid": CLID}
    assert event["event_time"] == 1767225600


def test_a_zero_value_is_sent() -> None:
    recorder = Recorder(accepted)

    send(recorder, value=0.0)

    assert recorder.body()["data"][0]["custom_data"] == {"currency": "BRL", "value": 0.0}


def test_a_naive_event_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send(Recorder(accepted), event_time=datetime(2026, 3, 2, 15, 30))  # noqa: DTZ001


def test_a_bad_token_fails_with_the_graph_error_and_no_retry() -> None:
    recorder = Recorder(
        graph_error(
            400,
            {
                "message": "Invalid OAuth access token - Cannot parse access token",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": "ATrace190",
            },
        )
    )

    result = send(recorder)

    assert len(recorder.requests) == 1
    assert result.status == "failed"
    assert result.reason == "Meta error 190: Invalid OAuth access token - Cannot parse access token"
    assert result.fbtrace_id == "ATrace190"
    assert result.events_received is None


def test_an_invalid_event_names_code_subcode_and_the_user_message() -> None:
    recorder = Recorder(
        graph_error(
            400,
            {
                "message": "Invalid parameter",
                "type": "OAuthException",
                "code": 100,
                "error_subcode": 2804003,
                "error_user_title": "Event Timestamp Too Old",
                "error_user_msg": "The timestamp for this event is more than 7 days old.",
                "fbtrace_id": "AOld",
            },
        )
    )

    result = send(recorder, event_time=WHEN - timedelta(days=8))

    assert result.status == "failed"
    assert result.reason == (
        "Meta error 100/2804003: Invalid parameter "
        "(The timestamp for this event is more than 7 days old.)"
    )


def test_a_server_error_is_retried_once_then_succeeds() -> None:
    recorder = Recorder(
        graph_error(500, {"message": "An unexpected error has occurred.", "code": 1}), accepted
    )

    result = send(recorder)

    assert len(recorder.requests) == 2
    assert recorder.body(0) == recorder.body(1)
    assert result.status == "sent"


def test_two_server_errors_fail_with_the_last_graph_error() -> None:
    recorder = Recorder(graph_error(503, {"message": "Service temporarily unavailable", "code": 2}))

    result = send(recorder)

    assert len(recorder.requests) == 2
    assert result.status == "failed"
    assert result.reason == "Meta error 2: Service temporarily unavailable"


def test_a_transport_error_is_retried_once() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recovered = Recorder(refuse, accepted)
    assert send(recovered).status == "sent"
    assert len(recovered.requests) == 2

    down = Recorder(refuse)
    result = send(down)
    assert len(down.requests) == 2
    assert result.status == "failed"
    assert result.reason == "Meta did not answer (ConnectError)"


def test_a_timeout_is_a_failure_not_an_exception() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    result = send(Recorder(slow))

    assert result.status == "failed"
    assert result.reason == "Meta did not answer (ReadTimeout)"


def test_a_client_error_is_not_retried() -> None:
    recorder = Recorder(graph_error(429, {"message": "(#4) Application request limit", "code": 4}))

    result = send(recorder)

    assert len(recorder.requests) == 1
    assert result.reason == "Meta error 4: (#4) Application request limit"


def test_an_answer_without_events_received_or_json_is_a_failure() -> None:
    empty = Recorder(lambda request: httpx.Response(200, json={"events_received": 0}))
    assert send(empty).reason == "Meta answered HTTP 200 without receiving the event"

    html = Recorder(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    result = send(html)
    assert result.status == "failed"
    assert result.reason == "HTTP 502"


def test_the_token_is_never_in_a_reason_or_a_log(caplog: pytest.LogCaptureFixture) -> None:
    echoing = Recorder(
        graph_error(400, {"message": f"Malformed access token {TOKEN}", "code": 190})
    )

    with caplog.at_level(logging.DEBUG):
        failed = send(echoing)
        sent = send(Recorder(accepted))

    assert failed.reason == "Meta error 190: Malformed access token [token]"
    assert sent.status == "sent"
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "Conversions API" in logged
    assert TOKEN not in logged


def test_a_client_of_its_own_is_used_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(accepted)

    def made(**options: Any) -> httpx.Client:
        assert options["timeout"] == conversions.TIMEOUT_SECONDS
        return REAL_CLIENT(transport=httpx.MockTransport(recorder))

    monkeypatch.setattr(conversions.httpx, "Client", made)

    result = send(recorder, http=None)

    assert result.status == "sent"
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"phone_number_id": "1", "waba_id": " 102290129340398 "}, "102290129340398"),
        ({"phone_number_id": "1", "waba_id": 102290129340398}, "102290129340398"),
        ({"phone_number_id": "1", "waba_id": ""}, None),
        ({"phone_number_id": "1"}, None),
    ],
)
def test_the_business_account_id_comes_from_the_channel_config(
    config: dict[str, Any], expected: str | None
) -> None:
    channel = Channel(channel_id="meta-1", tenant_id="t", provider="meta", config=config)

    assert waba_id_for(channel) == expected
