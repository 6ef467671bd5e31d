"""Channels registered while the simulator runs (``/channels``) work as seeded ones, over HTTP.

A small receiver stands in for Piloto's webhook function; what it receives is checked with the
provider adapters' own ``verify`` and ``parse``, and sends go through the real send adapters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from emulators.simulator import ProviderSimulator, simulated_channel
from emulators.simulator.channels import ChannelConflict, ChannelRejected
from shared.channels import adapter_for
from shared.channels.base import WebhookRequest
from shared.channels.sending import OutboundText, RetryPolicy, SendFailed
from shared.models.events import LeadMessage, Provider

LEAD = "+5511987654321"
FAST_STATUSES = (0.01, 0.01, 0.01)
NO_RETRIES = RetryPolicy(max_attempts=1, base_delay=0.0, sleep=lambda seconds: None)

REGISTRATIONS: dict[Provider, dict[str, Any]] = {
    "meta": {
        "channel_id": "new-meta",
        "provider": "meta",
        "business_phone": "+5511990000011",
        "config": {"phone_number_id": "200000000000011"},
        "secrets": {
            "app_secret": "new-meta-app-secret",
            "verify_token": "new-meta-verify-token",
            "access_token": "new-meta-access-token",
        },
    },
    "twilio": {
        "channel_id": "new-twilio",
        "provider": "twilio",
        "business_phone": "+5511990000012",
        "config": {"account_sid": "AC" + "1" * 32},
        "secrets": {"auth_token": "new-twilio-auth-token"},
    },
    "evolution": {
        "channel_id": "new-evolution",
        "provider": "evolution",
        "business_phone": "+5511990000013",
        "config": {"instance": "clinica-nova"},
        "secrets": {"apikey": "new-evolution-apikey"},
    },
    "zapi": {
        "channel_id": "new-zapi",
        "provider": "zapi",
        "business_phone": "+5511990000014",
        "config": {"instance_id": "3C0NOVA"},
        "secrets": {"client_token": "new-zapi-client", "instance_token": "new-zapi-instance"},
    },
}
PROVIDERS: tuple[Provider, ...] = ("meta", "twilio", "evolution", "zapi")
SEEDED = simulated_channel(
    "seeded-meta",
    "meta",
    business_phone="+5511990000001",
    config={"phone_number_id": "100000000000001"},
    secrets={"app_secret": "seeded-app-secret", "access_token": "seeded-access-token"},
)


@dataclass
class Receiver:
    """Collects the webhooks the simulator posts; answers 200."""

    url: str = ""
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for_path(self, path: str, timeout: float = 5.0) -> tuple[dict[str, str], bytes]:
        """Return the headers and body of the first webhook posted to ``path``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for received_path, headers, body in self.received:
                    if received_path == path:
                        return headers, body
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no webhook at {path}: {self.received}")
                self.changed.wait(remaining)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            with state.changed:
                state.received.append((self.path, headers, body))
                state.changed.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def simulator(receiver: Receiver) -> Iterator[ProviderSimulator]:
    with ProviderSimulator(
        [SEEDED], webhook_base_url=receiver.url, status_delays=FAST_STATUSES, echo_sends=False
    ) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False) as http:
        yield http


def register(
    client: httpx.Client, simulator: ProviderSimulator, document: object
) -> httpx.Response:
    return client.post(f"{simulator.url}/channels", json=document)


# --- registering -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_registered_channel_is_listed_without_its_secrets(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider
) -> None:
    document = REGISTRATIONS[provider]

    answer = register(client, simulator, document)

    assert answer.status_code == 201, answer.text
    channel = answer.json()
    assert channel == {
        "channel_id": document["channel_id"],
        "provider": provider,
        "business_phone": document["business_phone"],
        "config": document["config"],
        "secret_roles": sorted(document["secrets"]),
        "api_base_url": f"{simulator.url}/{provider}",
        "webhook_url": f"{simulator.webhook_base_url}/webhooks/{provider}/{document['channel_id']}",
    }
    listed = client.get(f"{simulator.url}/channels").json()
    assert [item["channel_id"] for item in listed] == sorted(
        [document["channel_id"], SEEDED.channel_id]
    )
    health = client.get(f"{simulator.url}/health").json()
    assert {"channel_id": document["channel_id"], "provider": provider} in health["channels"]
    everything_shown = answer.text + client.get(f"{simulator.url}/channels").text
    assert not any(secret in everything_shown for secret in document["secrets"].values())


def test_registering_again_is_idempotent_and_other_settings_conflict(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    document = REGISTRATIONS["evolution"]
    assert register(client, simulator, document).status_code == 201

    again = register(client, simulator, document)
    changed = register(client, simulator, {**document, "secrets": {"apikey": "another-key"}})
    same_instance = register(client, simulator, {**document, "channel_id": "other-evolution"})
    seeded_id = register(client, simulator, {**document, "channel_id": SEEDED.channel_id})

    assert (again.status_code, again.json()["channel_id"]) == (200, "new-evolution")
    assert changed.status_code == 409
    assert "already registered with other settings" in changed.json()["error"]
    assert same_instance.status_code == 409
    assert "instance clinica-nova belongs to channel new-evolution" in same_instance.json()["error"]
    assert seeded_id.status_code == 409
    assert simulator.channels["new-evolution"].secret("apikey") == "new-evolution-apikey"


def test_a_seeded_channel_registered_with_its_own_settings_is_a_200(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    document = {
        "channel_id": SEEDED.channel_id,
        "provider": "meta",
        "business_phone": "+55 11 99000-0001",  # the same number, written another way
        "config": {"phone_number_id": "100000000000001"},
        "secrets": dict(SEEDED.secrets),
    }

    assert register(client, simulator, document).status_code == 200


def test_twilio_channels_share_an_account_but_not_a_sender(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    first = REGISTRATIONS["twilio"]
    second_number = {**first, "channel_id": "new-twilio-2", "business_phone": "+5511990000099"}
    same_number = {**first, "channel_id": "new-twilio-3"}

    assert register(client, simulator, first).status_code == 201
    assert register(client, simulator, second_number).status_code == 201
    clash = register(client, simulator, same_number)

    assert clash.status_code == 409
    assert "business_phone +5511990000012 belongs to channel new-twilio" in clash.json()["error"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"provider": "telegram"}, "provider must be one of"),
        ({"channel_id": "a/b"}, "channel_id must be"),
        ({"channel_id": None}, "channel_id must be"),
        ({"config": {}}, "needs config.phone_number_id"),
        ({"config": {"phone_number_id": 123}}, "needs config.phone_number_id"),
        ({"config": "phone"}, "config must be an object"),
        ({"secrets": {"app_secret": "x"}}, "needs the secrets access_token"),
        ({"secrets": {"app_secret": "x", "access_token": ""}}, "secrets.access_token must be"),
        ({"secrets": {"app_secret": "x", "access_token": "y", "apikey": "z"}}, "unknown meta"),
        ({"secrets": ["app_secret"]}, "secrets must be an object"),
        ({"business_phone": "not a phone"}, "business_phone must be a phone number"),
        ({"tenant": "demo"}, "unknown fields: tenant"),
    ],
)
def test_bad_registrations_get_a_400_with_the_reason(
    simulator: ProviderSimulator, client: httpx.Client, change: dict[str, Any], reason: str
) -> None:
    answer = register(client, simulator, {**REGISTRATIONS["meta"], **change})

    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert sorted(simulator.channels) == [SEEDED.channel_id]


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b""])
def test_a_body_that_is_not_a_channel_object_is_a_400(
    simulator: ProviderSimulator, client: httpx.Client, body: bytes
) -> None:
    answer = client.post(
        f"{simulator.url}/channels", content=body, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 400
    assert answer.json()["error"]


def test_concurrent_registrations_all_land_once(
    simulator: ProviderSimulator, client: httpx.Client
) -> None:
    def channel(number: int) -> dict[str, Any]:
        return {
            "channel_id": f"zapi-{number}",
            "provider": "zapi",
            "config": {"instance_id": f"3C0{number}"},
            "secrets": {"client_token": f"client-{number}", "instance_token": f"inst-{number}"},
        }

    documents = [channel(number) for number in range(16)] * 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda doc: register(client, simulator, doc).status_code, documents)
        )

    assert sorted(statuses) == [200] * 16 + [201] * 16
    listed = client.get(f"{simulator.url}/channels").json()
    assert len(listed) == 17


def test_delete_forgets_the_channel(simulator: ProviderSimulator, client: httpx.Client) -> None:
    document = REGISTRATIONS["meta"]
    assert register(client, simulator, document).status_code == 201

    deleted = client.delete(f"{simulator.url}/channels/new-meta")
    deleted_again = client.delete(f"{simulator.url}/channels/new-meta")
    lead = client.post(
        f"{simulator.url}/leads/meta/new-meta/messages", json={"from": LEAD, "text": "Oi"}
    )

    assert (deleted.status_code, deleted.content) == (204, b"")
    assert deleted_again.status_code == 404
    assert lead.status_code == 404
    assert client.get(f"{simulator.url}/channels/new-meta").status_code == 404
    with pytest.raises(SendFailed):
        send_text(simulator, client, "meta", channel=simulator_channel_record(simulator, "meta"))
    assert register(client, simulator, document).status_code == 201  # and can come back


# --- a registered channel works like a seeded one ----------------------------------------------


def simulator_channel_record(simulator: ProviderSimulator, provider: Provider) -> Any:
    """Return the Piloto channel record of a registration, pointed at the simulator."""
    document = REGISTRATIONS[provider]
    return simulated_channel(
        document["channel_id"],
        provider,
        config={**document["config"], "api_base_url": simulator.api_base_url(provider)},
        business_phone=document["business_phone"],
    ).channel


def send_text(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider, *, channel: Any
) -> str:
    """Send "Olá" to the lead through the real adapter; return the provider's message id."""
    adapter = adapter_for(provider)
    assert adapter is not None
    result = adapter.send(
        client,
        channel,
        REGISTRATIONS[provider]["secrets"],
        LEAD,
        OutboundText("Olá"),
        policy=NO_RETRIES,
    )
    return result.provider_message_id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_lead_writes_through_a_registered_channel(
    simulator: ProviderSimulator, client: httpx.Client, receiver: Receiver, provider: Provider
) -> None:
    document = REGISTRATIONS[provider]
    assert register(client, simulator, document).status_code == 201

    answer = client.post(
        f"{simulator.url}/leads/{provider}/{document['channel_id']}/messages",
        json={"from": LEAD, "name": "Mariana", "text": "Oi, tem horário amanhã?"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["webhook_status"] == 200
    path = f"/webhooks/{provider}/{document['channel_id']}"
    headers, body = receiver.wait_for_path(path)
    adapter = adapter_for(provider)
    assert adapter is not None
    request = WebhookRequest(method="POST", url=receiver.url + path, body=body, headers=headers)
    channel = simulator_channel_record(simulator, provider)
    adapter.verify(request, channel, document["secrets"])  # signed with the registered secret
    [event] = adapter.parse(request, channel, received_at=datetime.now(UTC))
    assert isinstance(event, LeadMessage)
    assert (event.contact.phone, event.content.text) == (LEAD, "Oi, tem horário amanhã?")
    assert event.channel_id == document["channel_id"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_piloto_sends_through_a_registered_channel(
    simulator: ProviderSimulator, client: httpx.Client, provider: Provider
) -> None:
    document = REGISTRATIONS[provider]
    assert register(client, simulator, document).status_code == 201

    message_id = send_text(
        simulator, client, provider, channel=simulator_channel_record(simulator, provider)
    )

    [message] = simulator.outbox(channel_id=document["channel_id"])
    assert (message.provider_message_id, message.to, message.text) == (message_id, LEAD, "Olá")
    assert simulator.piloto_channel(document["channel_id"]).config["api_base_url"] == (
        simulator.api_base_url(provider)
    )


# --- the Python API ----------------------------------------------------------------------------


def test_add_channel_in_python_follows_the_same_rules(simulator: ProviderSimulator) -> None:
    document = REGISTRATIONS["zapi"]

    added = simulator.add_channel(
        document["channel_id"],
        "zapi",
        config=document["config"],
        secrets=document["secrets"],
        business_phone=document["business_phone"],
    )
    again = simulator.add_channel(
        document["channel_id"],
        "zapi",
        config=document["config"],
        secrets=document["secrets"],
        business_phone=document["business_phone"],
    )

    assert added is again is simulator.channels["new-zapi"]
    assert added.secret("instance_token") == "new-zapi-instance"
    with pytest.raises(ChannelConflict, match="already registered"):
        simulator.add_channel(
            "new-zapi",
            "zapi",
            config=document["config"],
            secrets={"client_token": "other", "instance_token": "other"},
        )
    with pytest.raises(ChannelRejected, match="needs the secrets client_token"):
        simulator.add_channel("other-zapi", "zapi", config={"instance_id": "X"}, secrets={})
    assert simulator.remove_channel("new-zapi") is True
    assert simulator.remove_channel("new-zapi") is False
