"""The simulated Stripe's wire formats: nested form parameters, periods, money, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from emulators.simulator.stripe_objects import (
    StripeInvalid,
    add_month,
    decode_params,
    reais,
    stripe_error,
    unknown_params,
)


def test_nested_keys_become_objects_and_lists() -> None:
    body = (
        "mode=subscription&line_items[0][price]=price_sim_pro&line_items[0][quantity]=1"
        "&subscription_data[metadata][account_id]=clinica&lookup_keys[1]=b&lookup_keys[0]=a"
        "&expand[]=customer&expand[]=invoice"
    )

    params = decode_params(parse_qsl(body))

    assert params == {
        "mode": "subscription",
        "line_items": [{"price": "price_sim_pro", "quantity": "1"}],
        "subscription_data": {"metadata": {"account_id": "clinica"}},
        "lookup_keys": ["a", "b"],
        "expand": ["customer", "invoice"],
    }


@pytest.mark.parametrize(
    "pairs",
    [[("a[b]", "1"), ("a", "2")], [("a", "1"), ("a[b]", "2")], [("[x]", "1")], [("a]b", "1")]],
)
def test_clashing_or_malformed_keys_are_refused(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(StripeInvalid):
        decode_params(pairs)


def test_an_unknown_parameter_is_named_with_its_path() -> None:
    with pytest.raises(StripeInvalid) as raised:
        unknown_params({"price": "p", "colour": "x"}, ("price",), "line_items[0]")

    assert (raised.value.message, raised.value.param) == (
        "Received unknown parameter: line_items[0][colour]",
        "line_items[0][colour]",
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 1, 31, 12, tzinfo=UTC), datetime(2026, 2, 28, 12, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2028, 1, 30, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_a_month_later_keeps_the_day_within_the_month(start: datetime, end: datetime) -> None:
    assert add_month(int(start.timestamp())) == int(end.timestamp())


def test_amounts_read_as_reais() -> None:
    assert [reais(cents) for cents in (0, 19700, 149700, 123456789)] == [
        "R$ 0,00",
        "R$ 197,00",
        "R$ 1.497,00",
        "R$ 1.234.567,89",
    ]


def test_errors_have_stripes_shape() -> None:
    response = stripe_error(404, "No such customer: 'cus_x'", param="id", code="resource_missing")

    error = json.loads(response.body)["error"]
    assert response.status == 404
    assert response.headers["Request-Id"].startswith("req_")
    assert (error["type"], error["code"], error["param"], error["message"]) == (
        "invalid_request_error",
        "resource_missing",
        "id",
        "No such customer: 'cus_x'",
    )
