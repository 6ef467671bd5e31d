"""Firestore REST typed values decode to the same plain data the client library returns."""

from __future__ import annotations

import pytest

from shared.gcp.firestore_rest import decode_fields


def test_every_value_type_decodes() -> None:
    fields = {
        "tenant_id": {"stringValue": "demo"},
        "enabled": {"booleanValue": True},
        "count": {"integerValue": "42"},
        "ratio": {"doubleValue": 0.5},
        "nothing": {"nullValue": None},
        "at": {"timestampValue": "2026-03-10T16:00:00Z"},
        "config": {"mapValue": {"fields": {"instance": {"stringValue": "clinica"}}}},
        "empty": {"mapValue": {}},
        "tags": {"arrayValue": {"values": [{"stringValue": "a"}, {"integerValue": "2"}]}},
        "none": {"arrayValue": {}},
        "where": {"geoPointValue": {"latitude": -23.5, "longitude": -46.6}},
    }

    assert decode_fields(fields) == {
        "tenant_id": "demo",
        "enabled": True,
        "count": 42,
        "ratio": 0.5,
        "nothing": None,
        "at": "2026-03-10T16:00:00Z",
        "config": {"instance": "clinica"},
        "empty": {},
        "tags": ["a", 2],
        "none": [],
        "where": {"latitude": -23.5, "longitude": -46.6},
    }


def test_unknown_value_types_are_an_error() -> None:
    with pytest.raises(ValueError, match="unknown Firestore value type"):
        decode_fields({"x": {"vectorValue": {}}})
