"""firestore.rules denies every client request; the server's owner credentials still work.

The console reaches Firestore only through the admin API, so a user signed in to the Auth
emulator, and anyone not signed in, gets PERMISSION_DENIED on every path and operation of the
Firestore REST API, while ``Bearer owner`` (what the Google client libraries and the webhook's
REST client send to the emulator) reads what was seeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from emulators.stack import LocalStack
from shared.gcp.auth import EmulatorTokens
from shared.gcp.firestore_rest import FirestoreDocuments
from shared.gcp.http import HttpClient

OWNER = {"Authorization": EmulatorTokens().authorization()}
OPERATIONS = ("get", "list", "create", "patch", "delete")


@dataclass(frozen=True)
class SignedInUser:
    """A user of the Auth emulator and the ID token the console would send."""

    uid: str
    id_token: str


@dataclass(frozen=True)
class Seeded:
    """The documents the server wrote, by name."""

    documents_url: str
    paths: dict[str, str]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def user(local_stack: LocalStack, http: httpx.Client) -> SignedInUser:
    auth = local_stack.emulators["firebase"].host_port
    answer = http.post(
        f"http://{auth}/identitytoolkit.googleapis.com/v1/accounts:signUp",
        params={"key": "fake-api-key"},
        json={
            "email": f"seller-{uuid.uuid4().hex[:8]}@example.com",
            "password": "s3nha-segura",
            "returnSecureToken": True,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return SignedInUser(uid=body["localId"], id_token=body["idToken"])


@pytest.fixture(scope="module")
def seeded(local_stack: LocalStack, http: httpx.Client, user: SignedInUser) -> Seeded:
    firestore = local_stack.emulators["firestore"].host_port
    documents_url = (
        f"http://{firestore}/v1/projects/{local_stack.project_id}/databases/(default)/documents"
    )
    tenant = f"rules-{uuid.uuid4().hex[:8]}"
    paths = {
        "tenant": f"tenants/{tenant}",
        "conversation": f"tenants/{tenant}/conversations/c-{uuid.uuid4().hex[:8]}",
        "own membership": f"tenants/{tenant}/members/{user.uid}",
        "channel": f"channels/ch-{uuid.uuid4().hex[:8]}",
        "own user": f"users/{user.uid}",
    }
    for name, path in paths.items():
        answer = http.patch(
            f"{documents_url}/{path}",
            headers=OWNER,
            json={"fields": {"seeded_as": {"stringValue": name}}},
        )
        assert answer.status_code == 200, answer.text
    return Seeded(documents_url=documents_url, paths=paths)


def attempt(
    http: httpx.Client, seeded: Seeded, path: str, operation: str, headers: dict[str, str]
) -> httpx.Response:
    """Try one operation on `path` (its collection for list and create); return the answer."""
    document_url = f"{seeded.documents_url}/{path}"
    collection_url, _, _ = document_url.rpartition("/")
    change = {"fields": {"seeded_as": {"stringValue": "changed by a client"}}}
    if operation == "get":
        return http.get(document_url, headers=headers)
    if operation == "list":
        return http.get(collection_url, headers=headers)
    if operation == "create":
        new_id = f"new-{uuid.uuid4().hex[:8]}"
        return http.post(
            collection_url, params={"documentId": new_id}, headers=headers, json=change
        )
    if operation == "patch":
        return http.patch(document_url, headers=headers, json=change)
    return http.delete(document_url, headers=headers)


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in user", "no credentials"])
@pytest.mark.parametrize(
    "name", ["tenant", "conversation", "own membership", "channel", "own user"]
)
def test_clients_are_denied_everything(
    http: httpx.Client, seeded: Seeded, user: SignedInUser, name: str, signed_in: bool
) -> None:
    headers = {"Authorization": f"Bearer {user.id_token}"} if signed_in else {}

    answers = {
        operation: attempt(http, seeded, seeded.paths[name], operation, headers)
        for operation in OPERATIONS
    }

    outcomes = {
        operation: (answer.status_code, answer.json()["error"]["status"])
        for operation, answer in answers.items()
    }
    assert outcomes == dict.fromkeys(OPERATIONS, (403, "PERMISSION_DENIED"))


def test_collection_group_queries_are_denied(
    http: httpx.Client, seeded: Seeded, user: SignedInUser
) -> None:
    query = {"structuredQuery": {"from": [{"collectionId": "members", "allDescendants": True}]}}

    answer = http.post(
        f"{seeded.documents_url}:runQuery",
        headers={"Authorization": f"Bearer {user.id_token}"},
        json=query,
    )

    assert answer.status_code == 403, answer.text


def test_the_server_still_reads_and_nothing_was_changed(http: httpx.Client, seeded: Seeded) -> None:
    for name, path in seeded.paths.items():
        answer = http.get(f"{seeded.documents_url}/{path}", headers=OWNER)

        assert answer.status_code == 200, answer.text
        assert answer.json()["fields"] == {"seeded_as": {"stringValue": name}}


def test_the_server_side_clients_are_not_subject_to_the_rules(
    local_stack: LocalStack, seeded: Seeded
) -> None:
    from google.cloud import firestore

    firestore_host = local_stack.emulators["firestore"].host_port
    webhook_reader = FirestoreDocuments(
        HttpClient(timeout_seconds=5),
        EmulatorTokens(),  # what build_webhook_handler gives it when FIRESTORE_EMULATOR_HOST is set
        project_id=local_stack.project_id,
        base_url=f"http://{firestore_host}",
    )
    client = firestore.Client(project=local_stack.project_id)
    written = client.document(f"{seeded.paths['tenant']}/conversations/written-by-the-server")
    try:
        written.set({"by": "google-cloud-firestore"})
        read_back = written.get().to_dict()
    finally:
        client.close()

    assert read_back == {"by": "google-cloud-firestore"}
    assert webhook_reader.get(seeded.paths["channel"]) == {"seeded_as": "channel"}
