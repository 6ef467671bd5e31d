"""A lead's media through the whole loop: webhook, agent (fetch and understand), turn, sender.

Everything is real except the providers (the simulator serves each provider's media behind its
own auth) and the model (offline: documents are read locally, voice notes are not understood).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.cloud import firestore

from emulators.dev import load_env_file
from emulators.loop import PilotoLoop
from emulators.simulator import OutboxMessage, ProviderSimulator
from emulators.stack import LocalStack
from shared.media.turn import ASK_TO_WRITE, HANDING_OFF
from shared.store.conversations import contact_ref, conversation_ref, message_ref

TENANT = "demo-clinica"
PROVIDERS = ("meta", "twilio", "evolution", "zapi")
IMAGE_CAP = 64 * 1024


@pytest.fixture(scope="module")
def loop(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PilotoLoop]:
    """The demo tenant's loop; quiet hours off, a 1-second debounce, a 64 KB image cap."""
    secrets = {key: value for key, value in load_env_file().items() if "_DEMO_" in key}
    with PilotoLoop(
        project_id=local_stack.project_id,
        runtime_dir=tmp_path_factory.mktemp("media"),
        env={**secrets, "PILOTO_MEDIA_MAX_IMAGE_BYTES": str(IMAGE_CAP)},
        agent={"quiet_hours": {"start": "00:00", "end": "00:00"}, "debounce_seconds": 1},
        stack=local_stack,
    ) as running:
        yield running


@pytest.fixture
def simulator(loop: PilotoLoop) -> ProviderSimulator:
    assert loop.simulator is not None
    return loop.simulator


@pytest.fixture
def client(loop: PilotoLoop) -> Any:
    return firestore.Client(project=loop.project_id)


def new_phone() -> str:
    return f"+55119{uuid.uuid4().int % 10**8:08d}"


def wait_until(check: Callable[[], Any], timeout: float = 40, what: str = "the loop") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def conversation(client: Any, phone: str) -> Any:
    contact = contact_ref(client, TENANT, phone).get().to_dict() or {}
    return conversation_ref(client, TENANT, contact["current_conversation_id"])


def message_doc(client: Any, phone: str, message_id: str) -> dict[str, Any]:
    conversation_id = conversation(client, phone).id  # message_ref escapes "/" in provider ids
    return message_ref(client, TENANT, conversation_id, message_id).get().to_dict()


def decisions(client: Any, phone: str) -> list[dict[str, Any]]:
    stream = conversation(client, phone).collection("decisions").stream()
    return sorted((item.to_dict() for item in stream), key=lambda item: item["decided_at"])


def reply(simulator: ProviderSimulator, phone: str, count: int = 1) -> OutboxMessage:
    """Wait for the lead's ``count``-th reply and return it."""
    wait_until(lambda: len(simulator.outbox(to=phone)) >= count, what=f"reply {count} to {phone}")
    return simulator.outbox(to=phone)[count - 1]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_pdf_the_lead_sends_is_read_and_answered(
    simulator: ProviderSimulator, client: Any, provider: str
) -> None:
    phone = new_phone()

    posted = simulator.send_lead_message(
        f"demo-{provider}",
        phone,
        kind="document",
        filename="pedido.pdf",
        document_text="Pedido de orçamento\nQuanto custa a limpeza de pele?",
    )

    answer = reply(simulator, phone)
    assert "180" in (answer.text or "")  # the question inside the PDF, answered from the facts
    understanding = message_doc(client, phone, posted.provider_message_id)["understanding"]
    assert understanding["status"] == "understood" and understanding["offline"] is True
    assert "Quanto custa a limpeza de pele?" in understanding["text"]
    window = conversation(client, phone).get().to_dict()["window"]
    label = "[documento]" if provider == "twilio" else "[documento: pedido.pdf]"  # Twilio: no name
    assert window[0]["text"].startswith(f"{label} Pedido de orçamento")
    assert window[0]["media"]["status"] == "understood"


def test_a_voice_note_offline_asks_the_lead_to_write_and_a_second_hands_off(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()

    first = simulator.send_lead_message("demo-meta", phone, kind="audio")
    assert reply(simulator, phone).text == ASK_TO_WRITE["audio"]
    simulator.send_lead_message("demo-meta", phone, kind="audio")
    assert reply(simulator, phone, 2).text == HANDING_OFF

    understanding = message_doc(client, phone, first.provider_message_id)["understanding"]
    assert understanding == {
        "status": "not_understood",
        "text": None,
        "reason": "offline_model",
        "model": None,
        "offline": True,
    }
    asked, handed = decisions(client, phone)
    assert (asked["action"], asked["reasons"]) == ("speak", ["media_not_understood"])
    assert handed["action"] == "handoff" and "media_not_understood" in handed["reasons"]
    assert conversation(client, phone).get().to_dict()["status"] == "handoff"


def test_an_oversized_image_is_rejected_and_the_lead_asked_to_write(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()

    posted = simulator.send_lead_message(
        "demo-twilio", phone, kind="image", size_bytes=IMAGE_CAP + 1
    )

    assert reply(simulator, phone).text == ASK_TO_WRITE["image"]
    understanding = message_doc(client, phone, posted.provider_message_id)["understanding"]
    assert (understanding["status"], understanding["reason"]) == ("rejected", "too_large")
    [decision] = decisions(client, phone)
    assert decision["reasons"] == ["media_not_understood", "media_rejected"]


def test_a_document_of_a_type_not_accepted_is_rejected_with_its_reason(
    simulator: ProviderSimulator, client: Any
) -> None:
    phone = new_phone()

    posted = simulator.send_lead_message(
        "demo-evolution",
        phone,
        kind="document",
        mime_type="application/zip",
        filename="fotos.zip",
    )

    assert reply(simulator, phone).text == ASK_TO_WRITE["document"]
    understanding = message_doc(client, phone, posted.provider_message_id)["understanding"]
    assert (understanding["status"], understanding["reason"]) == ("rejected", "unsupported_type")
    window = conversation(client, phone).get().to_dict()["window"]
    assert window[0]["text"] == "[documento não lido: fotos.zip]"
