"""Whatever arrives, parsing ends in events or a 4xx rejection, never in another exception."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from shared.channels import evolution, meta, twilio, zapi
from shared.channels.base import PayloadRejected, WebhookRequest
from shared.models.events import ConversationEvent

from .support import (
    FIXTURES,
    RECEIVED_AT,
    channel_for,
    fixture_form,
    fixture_json,
    form_request,
    json_body,
    json_request,
)

Parse = Callable[[WebhookRequest, Any, datetime], list[ConversationEvent]]
JSON_ADAPTERS: dict[str, ModuleType] = {"meta": meta, "evolution": evolution, "zapi": zapi}
ALL_ADAPTERS: dict[str, ModuleType] = {**JSON_ADAPTERS, "twilio": twilio}
EVENTS = TypeAdapter(list[ConversationEvent])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "5511988887777", "x@lid", "1@g.us", "1749416383", "messages"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
)


def parse_quietly(provider: str, request: WebhookRequest) -> None:
    """Parse; accept events or PayloadRejected, and check the events serialise."""
    adapter = ALL_ADAPTERS[provider]
    try:
        events = adapter.parse(request, channel_for(provider), RECEIVED_AT)  # type: ignore[arg-type]
    except PayloadRejected:
        return
    EVENTS.dump_json(events)


def paths_in(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every value nested in a JSON document."""
    found: list[tuple[Any, ...]] = []
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found.extend(paths_in(value, (*prefix, key)))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """Return a copy of ``document`` with the value at ``path`` replaced, or removed for ``...``."""
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    if value is ... and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = None if value is ... else value
    return changed


FIXTURE_NAMES = {
    provider: sorted(path.stem for path in (FIXTURES / provider).glob("*.json"))
    for provider in JSON_ADAPTERS
}


@FUZZ
@given(body=st.binary(max_size=512), content_type=content_types)
@pytest.mark.parametrize("provider", sorted(ALL_ADAPTERS))
def test_random_bytes_never_raise_anything_but_payload_rejected(
    provider: str, body: bytes, content_type: str
) -> None:
    parse_quietly(provider, json_request(body, {"content-type": content_type}))


@FUZZ
@given(document=json_values)
@pytest.mark.parametrize("provider", sorted(JSON_ADAPTERS))
def test_random_json_never_raises_anything_but_payload_rejected(
    provider: str, document: Any
) -> None:
    parse_quietly(provider, json_request(json_body(document)))


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize("provider", sorted(JSON_ADAPTERS))
def test_documented_payloads_with_one_value_broken_never_raise_anything_else(
    provider: str, data: st.DataObject
) -> None:
    document = fixture_json(provider, data.draw(st.sampled_from(FIXTURE_NAMES[provider])))
    path = data.draw(st.sampled_from(paths_in(document)))
    value = data.draw(st.just(...) | json_values)
    parse_quietly(provider, json_request(json_body(replaced(document, path, value))))


@FUZZ
@given(data=st.data())
def test_documented_twilio_forms_with_fields_changed_never_raise_anything_else(
    data: st.DataObject,
) -> None:
    names = sorted(path.stem for path in (FIXTURES / "twilio").glob("*.txt"))
    form = fixture_form(data.draw(st.sampled_from(names)))
    changes = data.draw(
        st.dictionaries(
            st.sampled_from([*form, "MessageType", "Latitude", "NumMedia", "MessageStatus"]),
            st.text(max_size=12) | st.sampled_from(["location", "image", "read", "-1", "nan"]),
            max_size=4,
        )
    )
    form.update(changes)
    parse_quietly("twilio", form_request(urlencode(form).encode()))
