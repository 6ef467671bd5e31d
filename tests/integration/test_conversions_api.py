"""The Conversions API client against the provider simulator's Meta dataset, over real HTTP.

No GCP emulator is needed: ``send_purchase`` posts to the simulator's
``/meta/{version}/{dataset_id}/events``, which checks the token and the events as Graph does and
records what it accepted (``GET /conversions``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from emulators.simulator import ProviderSimulator
from shared.insights.conversions import purchase_event, send_purchase
from shared.insights.models import ConversionResult

DATASET = "880000000000001"
TOKEN = "EAAG-dataset-token"
OTHER_DATASET = "880000000000002"
OTHER_TOKEN = "EAAG-other-dataset-token"
WABA = "102290129340398"
CLID = "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0"


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    with ProviderSimulator([]) as running:
        assert running.add_dataset(DATASET, TOKEN)
        assert running.add_dataset(OTHER_DATASET, OTHER_TOKEN)
        yield running


@pytest.fixture
def http(simulator: ProviderSimulator) -> Iterator[httpx.Client]:
    simulator.conversions_api.clear()
    with httpx.Client(timeout=5) as client:
        yield client


def purchase(
    simulator: ProviderSimulator, http: httpx.Client, **overrides: Any
) -> ConversionResult:
    arguments: dict[str, Any] = {
        "base_url": f"{simulator.url}/meta",
        "api_version": "v21.0",
        "dataset_id": DATASET,
        "access_token": TOKEN,
        "ctwa_clid": CLID,
        "event_id": "insight-0001",
        "event_time": datetime.now(UTC),
        "value": 1500.0,
        "currency": "BRL",
        "waba_id": WABA,
        "http": http,
    }
    arguments.update(overrides)
    return send_purchase(**arguments)


def test_a_purchase_is_accepted_and_recorded(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    result = purchase(simulator, http)

    assert result.status == "sent"
    assert result.events_received == 1
    assert result.fbtrace_id
    received = simulator.wait_for_conversion(lambda event: event.event_id == "insight-0001")
    assert received.dataset_id == DATASET
    assert received.ctwa_clid == CLID
    assert received.custom_data == {"currency": "BRL", "value": 1500.0}
    assert received.fbtrace_id == result.fbtrace_id
    listed = http.get(f"{simulator.url}/conversions", params={"dataset_id": DATASET}).json()
    assert [(item["event_name"], item["event_id"], item["ctwa_clid"]) for item in listed] == [
        ("Purchase", "insight-0001", CLID)
    ]
    assert listed[0]["whatsapp_business_account_id"] == WABA
    assert listed[0]["event"]["action_source"] == "business_messaging"
    assert listed[0]["event"]["messaging_channel"] == "whatsapp"
    assert listed[0]["duplicate"] is False


def test_a_bad_token_fails_with_the_graph_error(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    result = purchase(simulator, http, access_token="EAAG-stolen")

    assert result.status == "failed"
    assert result.reason == "Meta error 190: Invalid OAuth access token - Cannot parse access token"
    assert "EAAG-stolen" not in (result.reason or "")
    assert simulator.received_conversions() == []


def test_another_datasets_token_cannot_post_here(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    result = purchase(simulator, http, dataset_id="880000000000009", access_token=OTHER_TOKEN)

    assert result.status == "failed"
    assert (result.reason or "").startswith("Meta error 100/33: Unsupported post request.")
    assert simulator.received_conversions() == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            {"ctwa_clid": ""},
            "data[0].user_data.ctwa_clid is required for WhatsApp business messaging events.",
        ),
        (
            {"waba_id": None},
            "data[0].user_data.whatsapp_business_account_id is required (the WABA's numeric id).",
        ),
        (
            {"value": None},
            "data[0].custom_data.currency and custom_data.value are required for Purchase.",
        ),
        (
            {"event_time": datetime.now(UTC) - timedelta(days=7, minutes=5)},
            "data[0].event_time is more than 7 days before the request; no event was processed.",
        ),
        (
            {"event_time": datetime.now(UTC) + timedelta(hours=1)},
            "data[0].event_time is in the future.",
        ),
        ({"currency": "R$"}, "data[0].custom_data.currency must be an ISO 4217 code (BRL)."),
    ],
)
def test_an_invalid_event_fails_with_metas_reason_and_nothing_is_recorded(
    simulator: ProviderSimulator, http: httpx.Client, overrides: dict[str, Any], reason: str
) -> None:
    result = purchase(simulator, http, **overrides)

    assert result.status == "failed"
    assert result.reason == f"Meta error 100: Invalid parameter ({reason})"
    assert simulator.received_conversions() == []


def test_an_unknown_graph_version_is_refused(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    result = purchase(simulator, http, api_version="latest")

    assert result.reason == "Meta error 2500: Unknown path components: /latest"


def test_the_same_event_id_again_is_flagged_as_a_duplicate(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    assert purchase(simulator, http, event_id="insight-dup").status == "sent"
    assert purchase(simulator, http, event_id="insight-dup").status == "sent"
    assert purchase(simulator, http, event_id="insight-other").status == "sent"

    flags = [(item.event_id, item.duplicate) for item in simulator.received_conversions()]
    assert flags == [("insight-dup", False), ("insight-dup", True), ("insight-other", False)]


def test_metas_form_encoding_with_the_token_in_the_body_is_accepted(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    event = purchase_event(
        ctwa_clid=CLID,
        event_id="form-1",
        event_time=datetime.now(UTC),
        value=99.9,
        currency="BRL",
        waba_id=WABA,
    )
    answer = http.post(
        f"{simulator.url}/meta/v21.0/{DATASET}/events",
        data={"data": json.dumps([event]), "access_token": TOKEN, "test_event_code": "TEST123"},
    )

    assert answer.status_code == 200
    assert answer.json()["events_received"] == 1
    assert answer.json()["messages"] == []
    (received,) = simulator.received_conversions()
    assert received.event_id == "form-1"
    assert received.test_event_code == "TEST123"


def test_one_bad_event_refuses_the_whole_request(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    good = purchase_event(
        ctwa_clid=CLID,
        event_id="batch-1",
        event_time=datetime.now(UTC),
        value=10.0,
        currency="BRL",
        waba_id=WABA,
    )
    website = {**good, "event_id": "batch-2", "action_source": "website"}
    answer = http.post(
        f"{simulator.url}/meta/v21.0/{DATASET}/events",
        json={"data": [good, website]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["code"], error["error_user_title"]) == (
        "OAuthException",
        100,
        "Unsupported Action Source",
    )
    assert error["error_user_msg"].startswith("data[1].action_source is 'website'")
    assert error["fbtrace_id"]
    assert simulator.received_conversions() == []


def test_a_missing_token_or_data_is_refused(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    url = f"{simulator.url}/meta/v21.0/{DATASET}/events"

    unauthenticated = http.post(url, json={"data": []})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == 104
    no_data = http.post(url, json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert no_data.status_code == 400
    assert no_data.json()["error"]["error_user_msg"] == "The parameter data is required."


def test_datasets_are_registered_listed_and_removed_over_http(
    simulator: ProviderSimulator, http: httpx.Client
) -> None:
    base = simulator.url
    body = {"dataset_id": "880000000000077", "access_token": "EAAG-new"}

    assert http.post(f"{base}/datasets", json=body).status_code == 201
    assert http.post(f"{base}/datasets", json=body).status_code == 200
    conflict = http.post(f"{base}/datasets", json={**body, "access_token": "EAAG-else"})
    assert conflict.status_code == 409
    assert http.post(f"{base}/datasets", json={**body, "dataset_id": "abc"}).status_code == 400
    listed = http.get(f"{base}/datasets")
    assert {"dataset_id": "880000000000077"} in listed.json()
    assert "EAAG-new" not in listed.text
    assert purchase(
        simulator, http, dataset_id="880000000000077", access_token="EAAG-new"
    ).status == ("sent")
    assert http.delete(f"{base}/datasets/880000000000077").status_code == 204
    assert http.delete(f"{base}/datasets/880000000000077").status_code == 404
    gone = purchase(simulator, http, dataset_id="880000000000077", access_token="EAAG-new")
    assert gone.reason == "Meta error 190: Invalid OAuth access token - Cannot parse access token"
    assert http.delete(f"{base}/conversions").status_code == 204
    assert http.get(f"{base}/conversions").json() == []
