"""Helpers for the admin API tests: a contract-checking HTTP client, Auth emulator users, seeds.

Every answer the tests get goes through ``ContractClient.check``: no 5xx, the status is one the
OpenAPI document lists for the operation, and the JSON body validates against the document's
schema for that operation and status (Draft 2020-12, ``$ref``s into ``components/schemas``).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from google.cloud import firestore
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from emulators.simulator.stripe_objects import DEFAULT_SECRET_KEY as STRIPE_SECRET_KEY
from shared.billing.accounts import account_ref, read_account
from shared.billing.plans import load_catalogue
from shared.billing.stripe_api import (
    SubscriptionState,
    create_checkout_session,
    ensure_customer,
    price_id_for,
    retrieve_subscription,
)
from shared.billing.webhooks import account_changes
from shared.insights.models import Insight
from shared.models.conversation import Contact, Conversation, WindowMessage
from shared.models.decision import Decision
from shared.scheduling import bookings
from shared.scheduling.models import Booking, CalendarSettings
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref

SPEC_URI = "urn:piloto:admin-openapi"

# The error codes of the contract (/work/api-contract.md), independent of shared.admin.errors.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_failed",
    429: "rate_limited",
}


class ContractViolation(AssertionError):
    """An answer the OpenAPI document does not allow."""


@dataclass
class Operation:
    """One documented operation: its path template and the document's entry."""

    path: str
    method: str
    spec: dict[str, Any]


class OpenApiContract:
    """The live OpenAPI document and the validators of its response schemas."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self._patterns = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in document["paths"]
        ]
        # Literal paths first, so /api/tenants/x/invites/accept is not /api/tenants/{t}/...
        self._patterns.sort(key=lambda item: item[1].count("{"))

    def operation(self, method: str, path: str) -> Operation | None:
        """Return the documented operation of a concrete request path, or None."""
        for pattern, template in self._patterns:
            entry = self.document["paths"][template]
            if pattern.match(path) and method.lower() in entry:
                return Operation(template, method.lower(), entry[method.lower()])
        return None

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        """Return a validator of ``schema`` whose local ``$ref``s resolve in the document."""
        if "$ref" in schema and schema["$ref"].startswith("#"):
            schema = {"$ref": SPEC_URI + schema["$ref"]}
        return Draft202012Validator(schema, registry=self.registry, format_checker=FormatChecker())

    def error_schema(self) -> dict[str, Any]:
        """Return the schema every 4xx body follows (the one documented for 401s)."""
        for entry in self.document["paths"].values():
            for operation in entry.values():
                refused = operation["responses"].get("401")
                if refused:
                    return dict(refused["content"]["application/json"]["schema"])
        raise ContractViolation("no error schema in the document")

    def check(self, method: str, path: str, response: httpx.Response) -> None:
        """Fail unless the answer is one the document allows, with a body matching its schema."""
        status = response.status_code
        where = f"{method} {path} → {status}"
        if status >= 500:
            raise ContractViolation(f"{where}: a server error: {response.text[:500]}")
        body = None
        if response.content:
            if not response.headers.get("content-type", "").startswith("application/json"):
                raise ContractViolation(f"{where}: not JSON: {response.text[:200]}")
            body = response.json()
        if status >= 400:
            self._check_error(where, status, body)
        operation = self.operation(method, path)
        if operation is None:
            if status not in (404, 405):
                raise ContractViolation(f"{where}: no documented operation answers this")
            return
        documented = operation.spec["responses"]
        if str(status) not in documented:
            raise ContractViolation(
                f"{where}: status not documented for {operation.method.upper()} "
                f"{operation.path} (documented: {sorted(documented)})"
            )
        content = documented[str(status)].get("content")
        if content is None:
            if body is not None:
                raise ContractViolation(
                    f"{where}: a body where the document says none: {str(body)[:300]}"
                )
            return
        if body is None:
            raise ContractViolation(f"{where}: no body where the document has one")
        errors = sorted(
            self.validator(content["application/json"]["schema"]).iter_errors(body),
            key=lambda error: list(error.absolute_path),
        )
        if errors:
            listed = "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in errors[:5]
            )
            raise ContractViolation(f"{where}: body does not match the document: {listed}")

    def _check_error(self, where: str, status: int, body: Any) -> None:
        if body is None:
            raise ContractViolation(f"{where}: an error without a body")
        errors = list(self.validator(self.error_schema()).iter_errors(body))
        if errors:
            raise ContractViolation(f"{where}: not the error shape: {errors[0].message}: {body}")
        if body["error"]["code"] != ERROR_CODES.get(status):
            raise ContractViolation(f"{where}: error code {body['error']['code']!r}")


class ContractClient:
    """Real HTTP to the served admin function; every answer is checked against the document."""

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.contract: OpenApiContract | None = None
        self.answers = 0

    def load_contract(self) -> OpenApiContract:
        """Fetch ``/api/openapi.json`` and check answers against it from now on."""
        answer = self.http.get(f"{self.base_url}/api/openapi.json")
        assert answer.status_code == 200, answer.text
        self.contract = OpenApiContract(answer.json())
        return self.contract

    def request(
        self,
        method: str,
        path: str,
        user: User | None = None,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (as ``user`` when given) and check the answer against the contract."""
        sent_headers = dict(headers or {})
        if user is not None:
            sent_headers.setdefault("Authorization", f"Bearer {user.token}")
        if json_body is not None:
            content = json.dumps(json_body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        answer = self.http.request(
            method, f"{self.base_url}{path}", content=content, params=params, headers=sent_headers
        )
        assert self.contract is not None
        self.contract.check(method, path, answer)
        self.answers += 1
        return answer

    def get(self, path: str, user: User | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, user, **kwargs)

    def post(
        self, path: str, user: User | None = None, body: Any = None, **kwargs: Any
    ) -> httpx.Response:
        return self.request("POST", path, user, json_body=body, **kwargs)

    def put(self, path: str, user: User | None = None, body: Any = None) -> httpx.Response:
        return self.request("PUT", path, user, json_body=body)

    def patch(self, path: str, user: User | None = None, body: Any = None) -> httpx.Response:
        return self.request("PATCH", path, user, json_body=body)

    def delete(self, path: str, user: User | None = None) -> httpx.Response:
        return self.request("DELETE", path, user)


@dataclass
class User:
    """A user of the Auth emulator and the ID token the console would send."""

    uid: str
    email: str
    password: str
    token: str


class AuthEmulator:
    """Users of the Firebase Auth emulator, through its REST API."""

    def __init__(self, host: str, project_id: str, http: httpx.Client) -> None:
        self.base = f"http://{host}/identitytoolkit.googleapis.com/v1"
        self.project_id = project_id
        self.http = http

    def sign_up(self, name: str = "user", *, verified: bool = False) -> User:
        """Create a user with a unique email; verify the email when asked."""
        email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
        password = "s3nha-segura"
        answer = self.http.post(
            f"{self.base}/accounts:signUp",
            params={"key": "fake-api-key"},
            json={"email": email, "password": password, "returnSecureToken": True},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        user = User(uid=body["localId"], email=email, password=password, token=body["idToken"])
        if verified:
            self.verify_email(user)
        return user

    def update(self, user: User, **changes: Any) -> None:
        """Change a user as an admin (``Authorization: Bearer owner``)."""
        answer = self.http.post(
            f"{self.base}/projects/{self.project_id}/accounts:update",
            headers={"Authorization": "Bearer owner"},
            json={"localId": user.uid, **changes},
        )
        assert answer.status_code == 200, answer.text

    def verify_email(self, user: User) -> None:
        """Mark the email verified and sign in again for a token carrying the claim."""
        self.update(user, emailVerified=True)
        user.token = self.sign_in(user)

    def sign_in(self, user: User) -> str:
        """Return a fresh ID token for the user."""
        answer = self.http.post(
            f"{self.base}/accounts:signInWithPassword",
            params={"key": "fake-api-key"},
            json={"email": user.email, "password": user.password, "returnSecureToken": True},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["idToken"])

    def lookup(self, user: User) -> dict[str, Any]:
        """Return the emulator's account record of the user."""
        answer = self.http.post(
            f"{self.base}/projects/{self.project_id}/accounts:lookup",
            headers={"Authorization": "Bearer owner"},
            json={"localId": [user.uid]},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["users"][0])


def unsigned_token(claims: dict[str, Any]) -> str:
    """Return a JWT shaped like the Auth emulator's: ``alg: none``, no signature."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def emulator_claims(user: User, project_id: str, **overrides: Any) -> dict[str, Any]:
    """Return the claims the Auth emulator puts in a user's ID token."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "auth_time": now,
        "user_id": user.uid,
        "sub": user.uid,
        "iat": now,
        "exp": now + 3600,
        "email": user.email,
        "email_verified": False,
        "firebase": {"identities": {"email": [user.email]}, "sign_in_provider": "password"},
    }
    return {**claims, **overrides}


# Seeds: documents shaped like the engine's (the API only reads them).


@dataclass
class SeededConversation:
    """A conversation put in Firestore for a test, with what was stored under it."""

    tenant_id: str
    conversation: Conversation
    decisions: list[Decision] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.conversation.conversation_id


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def seed_tenant(
    client: firestore.Client, tenant_id: str, members: dict[str, tuple[User, str]]
) -> None:
    """Store a tenant with members directly (what sign-up and invitations would have written)."""
    now = datetime.now(UTC)
    tenant_ref(client, tenant_id).set(
        {
            "tenant_id": tenant_id,
            "name": f"Seeded {tenant_id}",
            "timezone": "America/Sao_Paulo",
            "locale": "pt-BR",
            "created_at": now,
        }
    )
    for _, (user, role) in members.items():
        tenant_ref(client, tenant_id).collection("members").document(user.uid).set(
            {"uid": user.uid, "email": user.email, "role": role, "added_at": now}
        )


def seed_conversation(
    client: firestore.Client,
    tenant_id: str,
    *,
    channel_id: str = "ch-seeded",
    contact_key: str | None = None,
    lead_texts: tuple[str, ...] = ("Oi, quanto custa?",),
    at: datetime | None = None,
    decisions: list[Decision] | None = None,
    contact: Contact | None = None,
    **fields: Any,
) -> SeededConversation:
    """Store a conversation (window, messages, decisions, contact) as intake and turns would."""
    at = at or datetime.now(UTC) - timedelta(minutes=5)
    contact_key = contact_key or f"+55119{uuid.uuid4().int % 10**8:08d}"
    conversation_id = fields.pop("conversation_id", f"c-{uuid.uuid4().hex[:12]}")
    window = [
        WindowMessage(
            role="lead",  # type: ignore[arg-type]
            text=text,
            at=at + timedelta(seconds=index),
            message_id=f"wamid.{conversation_id}.{index}",
            seq=index + 1,
        )
        for index, text in enumerate(lead_texts)
    ]
    conversation = Conversation.model_validate(
        {
            "conversation_id": conversation_id,
            "tenant_id": tenant_id,
            "channel_id": channel_id,
            "contact_key": contact_key,
            "contact_name": "Maria Lead",
            "window": window,
            "inbound_seq": len(window),
            "inbound_count": len(window),
            "last_inbound_at": window[-1].at if window else None,
            "created_at": at,
            "updated_at": at + timedelta(seconds=len(window)),
            **fields,
        }
    )
    document = conversation_ref(client, tenant_id, conversation_id)
    document.set(conversation.model_dump(mode="python"))
    for entry in window:
        document.collection("messages").document(str(entry.message_id)).set(
            {
                "role": "lead",
                "event_id": f"meta:{entry.message_id}",
                "provider": "meta",
                "at": entry.at,
                "received_at": entry.at,
                "content": {"message_type": "text", "text": entry.text},
            }
        )
    for decision in decisions or []:
        document.collection("decisions").document(decision.decision_id).set(
            decision.model_dump(mode="python")
        )
    stored_contact = contact or Contact(
        contact_key=contact_key,
        phone=contact_key,
        name="Maria Lead",
        current_conversation_id=conversation_id,
    )
    contact_ref(client, tenant_id, contact_key).set(stored_contact.model_dump(mode="python"))
    return SeededConversation(tenant_id, conversation, list(decisions or []))


def snapshot_tree(client: firestore.Client, root: Any) -> dict[str, Any]:
    """Return every document under a document reference (recursively), by path."""
    found: dict[str, Any] = {}

    def walk(document: Any) -> None:
        snapshot = document.get()
        if snapshot.exists:
            found[document.path] = snapshot.to_dict()
        for collection in document.collections():
            for child in collection.list_documents():
                walk(child)

    walk(root)
    return found


def seed_insight(
    client: firestore.Client, tenant_id: str, conversation_id: str, **fields: Any
) -> Insight:
    """Store an insight as the runner would (a SUGGESTION unless told otherwise)."""
    now = datetime.now(UTC)
    insight = Insight.model_validate(
        {
            "insight_id": uuid.uuid4().hex,
            "tenant_id": tenant_id,
            "conversation_id": conversation_id,
            "agent_id": "ia-seeded",
            "agent_name": "Agente semeado",
            "event_id": f"macro:{uuid.uuid4()}",
            "event_type": "MACRO_BUTTON_CLICKED",
            "trigger_id": "t-seeded",
            "status": "SUGGESTION",
            "payload": {"nota": 8},
            "fields": [{"name": "nota", "type": "number"}],
            "created_at": now,
            "completed_at": now,
            **fields,
        }
    )
    tenant_ref(client, tenant_id).collection("insights").document(insight.insight_id).set(
        insight.model_dump(mode="python")
    )
    return insight


def seed_booking(
    client: firestore.Client,
    tenant_id: str,
    start: datetime,
    *,
    status: str = "confirmed",
    minutes: int = 30,
    held_at: datetime | None = None,
    **fields: Any,
) -> Booking:
    """Store a booking as a turn would: held on its day, then confirmed (or canceled) in a batch.

    ``held_at`` is when the hold was taken (now by default; 20 minutes ago makes an expired
    hold when ``status`` is "held"); ``fields`` go on the booking (conversation_id, ...).
    """
    held_at = held_at or datetime.now(UTC)
    booking = Booking.model_validate(
        {
            "booking_id": f"c-{uuid.uuid4().hex[:10]}-1",
            "tenant_id": tenant_id,
            "contact_key": "+5511987650000",
            "contact_name": "Maria Lead",
            "phone": "+5511987650000",
            "start": start,
            "end": start + timedelta(minutes=minutes),
            "created_at": held_at,
            "updated_at": held_at,
            **fields,
        }
    )
    timezone = "America/Sao_Paulo"
    held = bookings.hold(client, tenant_id, booking, CalendarSettings(), timezone, held_at)
    assert held.status == "held" and held.booking is not None, held
    stored = bookings.read_booking(client, tenant_id, booking.booking_id)
    assert stored is not None
    if status != "held":
        batch = client.batch()
        if status == "confirmed":
            bookings.confirm_in(batch, client, tenant_id, stored[0], stored[1], held_at)
        else:
            bookings.cancel_in(batch, client, tenant_id, stored[0], stored[1], "lead", held_at)
        batch.commit()
    found = bookings.read_booking(client, tenant_id, booking.booking_id)
    assert found is not None
    return found[0]


# Billing: the simulated Stripe, driven as the owner's browser and Stripe's webhook would.


def stripe_for(stripe_url: str) -> stripe.StripeClient:
    """Return a Stripe client of the simulated account (the tests' view of Stripe)."""
    return stripe.StripeClient(
        STRIPE_SECRET_KEY, base_addresses={"api": stripe_url}, max_network_retries=0
    )


def pay(http: httpx.Client, checkout_url: str) -> None:
    """Open the simulator's Checkout page and press Assinar (Stripe makes the subscription)."""
    page = http.get(checkout_url)
    assert page.status_code == 200, page.text
    assert 'data-testid="stripe-pay"' in page.text
    paid = http.post(f"{checkout_url}/pay")
    assert paid.status_code == 303, paid.text


def apply_checkout(
    db: firestore.Client, stripe_url: str, account_id: str, session_id: str
) -> SubscriptionState:
    """Apply a paid session's subscription to the account, as the billing webhook would."""
    client = stripe_for(stripe_url)
    session = client.v1.checkout.sessions.retrieve(session_id)
    subscription = session.subscription
    assert isinstance(subscription, str), session
    state = retrieve_subscription(client, subscription)
    account = read_account(db, account_id)
    changes = account_changes(account, state, load_catalogue(), datetime.now(UTC))
    account_ref(db, account_id).update(changes)
    return state


def subscribe(
    db: firestore.Client, http: httpx.Client, stripe_url: str, account_id: str, plan_id: str
) -> SubscriptionState:
    """Subscribe an account to a plan straight at Stripe (no admin API: no audit entry)."""
    client = stripe_for(stripe_url)
    account = read_account(db, account_id)
    assert account is not None, account_id
    customer_id = ensure_customer(
        client,
        customer_id=account.stripe_customer_id,
        account_id=account_id,
        email=None,
        name=account_id,
    )
    account_ref(db, account_id).update({"stripe_customer_id": customer_id})
    price_id = price_id_for(client, load_catalogue().plan(plan_id).stripe_lookup_key)
    session_id, url = create_checkout_session(
        client,
        account_id=account_id,
        customer_id=customer_id,
        price_id=price_id,
        success_url="http://console.piloto.test/assinatura?checkout=success",
        cancel_url="http://console.piloto.test/assinatura?checkout=cancel",
    )
    pay(http, url)
    return apply_checkout(db, stripe_url, account_id, session_id)
