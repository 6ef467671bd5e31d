"""Deliver one business event to one target, retried with backoff through Cloud Tasks.

The ``delivery`` function (a Cloud Tasks target) receives a ``DeliveryTask`` and calls
``DeliveryRunner.run``. The runner re-reads the delivery and does nothing unless it is still
pending and the task's attempt is the next one (``attempt == attempts + 1``): a redelivered or
late task is a no-op. It performs the attempt by kind, records it, and on a failure schedules
attempt n+1 at the backoff (``BACKOFF``, about 3.5 days in all; then ``failed``).

Attempt handlers, one per kind, all ``Callable[[AttemptContext], AttemptResult]``:

- ``webhook``: ``webhook_attempt`` here (signed POST, ``shared.integrations.signing``);
- ``crm``: ``shared.crm.sync.crm_attempt``;
- ``email``: ``shared.notifications.email.email_attempt``.

The CRM and e-mail handlers are imported by name when first needed, so a module missing or
broken fails only its own kind's deliveries.

Webhook endpoints keep ``failing_since`` (the first failure after a success) and
``last_delivery``; a failure when ``now - failing_since >= webhook_disable_after_hours``
disables the endpoint, writes the notice ``notices/webhook-disabled-{endpoint_id}`` and
notifies the owners (``shared.notifications.plan.notify_owners``).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from google.api_core.exceptions import GoogleAPICallError, RetryError
from google.cloud import firestore as gcf
from pydantic import ValidationError

from shared.integrations.destinations import private_destination
from shared.integrations.dispatch import (
    ENDPOINTS_COLLECTION,
    ScheduleDelivery,
    deliveries,
)
from shared.integrations.models import (
    AttemptResult,
    BusinessEvent,
    Delivery,
    DeliveryTask,
    LastDelivery,
    WebhookEndpoint,
)
from shared.integrations.signing import SIGNATURE_HEADER, sign
from shared.settings import Settings
from shared.store.conversations import tenant_ref

logger = logging.getLogger("piloto.integrations.delivery")

BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
    timedelta(hours=24),
    timedelta(hours=24),
)
"""The wait after failed attempt n (1-based) before attempt n+1; after the last, ``failed``."""
MAX_ATTEMPTS = len(BACKOFF) + 1
MAX_RETRY_AFTER = timedelta(hours=24)
LEASE_MARGIN = timedelta(seconds=30)
SNIPPET_CHARS = 300
USER_AGENT = "Piloto-Webhooks/1.0"
HANDLERS: dict[str, str] = {
    "crm": "shared.crm.sync:crm_attempt",
    "email": "shared.notifications.email:email_attempt",
}
"""Where the other kinds' handlers live (``module:function``), imported when first needed."""


class Discard(Exception):
    """Raised by a handler when the delivery no longer has a purpose (its target is gone)."""


class DeliveryBusy(Exception):
    """Another instance holds this attempt's lease (Cloud Tasks retries the task later)."""


@dataclass(frozen=True)
class AttemptContext:
    """What one delivery attempt needs: the delivery, its event, the clock and the clients."""

    settings: Settings
    http: httpx.Client
    """A shared client; handlers pass their own ``timeout=`` per request."""
    firestore: Any
    tenant_id: str
    delivery: Delivery
    event: BusinessEvent | None
    """The event delivered; None only for an account notice's e-mail
    (``shared.notifications.plan.notify_owners`` makes those deliveries without an event)."""
    now: datetime
    resolve_secret: Callable[[str], str]
    """Resolve a secret reference (``shared.secrets.resolve_secret`` bound to the project);
    raises ``shared.secrets.SecretUnavailable`` when the secret has no value."""

    @property
    def attempt(self) -> int:
        """Return the number of this attempt (1 for the first)."""
        return self.delivery.attempts + 1

    @property
    def conversation_id(self) -> str | None:
        """Return the conversation the event is about, if any."""
        return self.event.conversation_id if self.event is not None else None


AttemptHandler = Callable[[AttemptContext], AttemptResult]
"""Perform one attempt of a delivery of its kind; returns failures (raises only ``Discard``)."""


def backoff(attempt: int) -> timedelta | None:
    """Return the wait after failed attempt ``attempt`` (1-based); None when it was the last."""
    if attempt < 1 or attempt > len(BACKOFF):
        return None
    return BACKOFF[attempt - 1]


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """Return at most ``limit`` characters of a response, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def endpoint_ref(client: Any, tenant_id: str, endpoint_id: str) -> Any:
    """Return ``tenants/{t}/webhook_endpoints/{endpoint_id}``."""
    return tenant_ref(client, tenant_id).collection(ENDPOINTS_COLLECTION).document(endpoint_id)


def webhook_request(
    event: BusinessEvent, secret: str, attempt: int, timestamp: int
) -> tuple[bytes, dict[str, str]]:
    """Return the body and headers of one webhook delivery (the body is signed as sent)."""
    body = json.dumps(event.public(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret, body, timestamp),
        "Piloto-Event-Id": event.event_id,
        "Piloto-Event-Type": event.type.value,
        "Piloto-Delivery-Attempt": str(attempt),
    }
    return body, headers


def webhook_attempt(ctx: AttemptContext) -> AttemptResult:
    """POST the signed event to its endpoint: 2xx delivered, 410 gone (disable), else retry."""
    from shared.secrets import SecretUnavailable

    if ctx.event is None:
        raise Discard("a webhook delivery without its event")
    snapshot = endpoint_ref(ctx.firestore, ctx.tenant_id, ctx.delivery.target_id).get()
    if not snapshot.exists:
        raise Discard("the endpoint was deleted")
    endpoint = WebhookEndpoint.model_validate(snapshot.to_dict() or {})
    if not endpoint.enabled and ctx.event.type.value != "webhook.test":
        raise Discard("the endpoint is disabled")
    try:
        secret = ctx.resolve_secret(endpoint.secret_ref)
    except SecretUnavailable as error:
        return AttemptResult(ok=False, error=f"signing secret unavailable: {error}"[:500])
    refused = private_destination(endpoint.url, ctx.settings.environment)
    if refused is not None:
        return AttemptResult(ok=False, error=refused, permanent=True)
    body, headers = webhook_request(ctx.event, secret, ctx.attempt, int(ctx.now.timestamp()))
    try:
        response = ctx.http.post(
            endpoint.url,
            content=body,
            headers=headers,
            timeout=ctx.settings.webhook_timeout_seconds,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        return AttemptResult(ok=False, error="timed out")
    except httpx.HTTPError as error:
        return AttemptResult(ok=False, error=snippet(f"{type(error).__name__}: {error}"))
    if 200 <= response.status_code < 300:
        return AttemptResult(ok=True, http_status=response.status_code)
    answer = snippet(f"HTTP {response.status_code}: {response.text}")
    if response.status_code == 410:
        return AttemptResult(ok=False, http_status=410, error=answer, permanent=True)
    retry_after = None
    if response.status_code == 429:
        retry_after = _seconds(response.headers.get("Retry-After"))
    return AttemptResult(
        ok=False, http_status=response.status_code, error=answer, retry_after_seconds=retry_after
    )


def _seconds(value: str | None) -> float | None:
    """Return a Retry-After header's seconds (its date form is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def load_handler(kind: str) -> AttemptHandler:
    """Return the attempt handler of a delivery kind (ImportError/AttributeError when missing)."""
    if kind == "webhook":
        return webhook_attempt
    module_name, _, name = HANDLERS[kind].partition(":")
    handler: AttemptHandler = getattr(importlib.import_module(module_name), name)
    return handler


Outcome = Literal[
    "succeeded",
    "retrying",
    "failed",
    "discarded",
    "missing",
    "done",
    "stale",
    "rescheduled",
    "unreadable",
]


@dataclass(frozen=True)
class RunResult:
    """What one delivery task did."""

    status: Outcome
    delivery_id: str
    attempt: int
    http_status: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass
class DeliveryRunner:
    """Performs due delivery attempts, records them and schedules the next one."""

    firestore: Any
    settings: Settings
    http: httpx.Client
    schedule: ScheduleDelivery
    resolve_secret: Callable[[str], str]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    notify_owners: Callable[..., Any] | None = None
    """``shared.notifications.plan.notify_owners``; None tells nobody of a disabled endpoint."""
    handlers: dict[str, AttemptHandler] | None = None
    """Handlers by kind, overriding ``load_handler`` (tests)."""

    def run(self, task: DeliveryTask) -> RunResult:
        """Run one attempt if it is still due; a late or repeated task changes nothing."""
        now = self.now()
        document = deliveries(self.firestore, task.tenant_id).document(task.delivery_id)
        claim = self._claim(document, task, now)
        if isinstance(claim, RunResult):
            return claim
        delivery, record = claim
        event = _event_of(record)
        ctx = AttemptContext(
            settings=self.settings,
            http=self.http,
            firestore=self.firestore,
            tenant_id=task.tenant_id,
            delivery=delivery,
            event=event,
            now=now,
            resolve_secret=self.resolve_secret,
        )
        try:
            result = self._attempt(ctx)
        except Discard as reason:
            document.update(
                {
                    "status": "discarded",
                    "attempts": task.attempt,
                    "last_error": str(reason)[:500],
                    "updated_at": now,
                    "next_attempt_at": None,
                    "lease_until": None,
                }
            )
            logger.info(
                "delivery discarded: %s",
                reason,
                extra={"tenant_id": task.tenant_id, "delivery_id": task.delivery_id},
            )
            return RunResult("discarded", task.delivery_id, task.attempt, error=str(reason))
        outcome = self._record(document, delivery, task, result, now)
        if delivery.kind == "webhook":
            self._endpoint_after(task.tenant_id, delivery, result, outcome.status, now)
        return outcome

    def _claim(
        self, document: Any, task: DeliveryTask, now: datetime
    ) -> RunResult | tuple[Delivery, dict[str, Any]]:
        """Take this attempt's lease in a transaction, or say why there is nothing to do."""
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds) + LEASE_MARGIN
        transaction = self.firestore.transaction()

        @gcf.transactional
        def claim(transaction: Any) -> RunResult | tuple[Delivery, dict[str, Any]]:
            snapshot = document.get(transaction=transaction)
            if not snapshot.exists:
                return RunResult("missing", task.delivery_id, task.attempt)
            record = snapshot.to_dict() or {}
            try:
                delivery = Delivery.model_validate(record)
            except ValidationError as error:
                logger.error(
                    "unreadable delivery: %s",
                    error.errors()[0]["msg"],
                    extra={"tenant_id": task.tenant_id, "delivery_id": task.delivery_id},
                )
                return RunResult("unreadable", task.delivery_id, task.attempt)
            if delivery.status != "pending":
                return RunResult("done", task.delivery_id, task.attempt)
            if task.attempt == delivery.attempts and delivery.next_attempt_at is not None:
                return RunResult(  # attempt n ran; make sure attempt n+1 is on the queue
                    "rescheduled",
                    task.delivery_id,
                    task.attempt,
                    next_attempt_at=delivery.next_attempt_at,
                )
            if task.attempt != delivery.attempts + 1:
                return RunResult("stale", task.delivery_id, task.attempt)
            held = record.get("lease_until")
            if isinstance(held, datetime) and held > now:
                raise DeliveryBusy(task.delivery_id)
            transaction.update(document, {"lease_until": now + lease, "updated_at": now})
            return delivery, record

        try:
            claimed: RunResult | tuple[Delivery, dict[str, Any]] = claim(transaction)
        except ValueError as error:  # the transaction kept meeting another instance's
            raise DeliveryBusy(task.delivery_id) from error
        if isinstance(claimed, RunResult) and claimed.status == "rescheduled":
            assert claimed.next_attempt_at is not None
            self.schedule(
                DeliveryTask(
                    tenant_id=task.tenant_id,
                    delivery_id=task.delivery_id,
                    attempt=task.attempt + 1,
                ),
                claimed.next_attempt_at,
            )
        return claimed

    def _attempt(self, ctx: AttemptContext) -> AttemptResult:
        """Call the kind's handler; a missing module or an unexpected error is a failed try."""
        kind = ctx.delivery.kind
        try:
            handler = (self.handlers or {}).get(kind) or load_handler(kind)
        except (ImportError, AttributeError, KeyError) as error:
            logger.error(
                "no handler for %s deliveries: %s",
                kind,
                error,
                extra={"tenant_id": ctx.tenant_id, "delivery_id": ctx.delivery.delivery_id},
            )
            return AttemptResult(ok=False, error=f"no {kind} handler: {error}"[:500])
        try:
            return handler(ctx)
        except Discard:
            raise
        except (GoogleAPICallError, RetryError):
            raise  # Firestore unreachable: the function answers 503, Cloud Tasks retries
        except Exception as error:
            logger.exception(
                "delivery attempt failed unexpectedly",
                extra={"tenant_id": ctx.tenant_id, "delivery_id": ctx.delivery.delivery_id},
            )
            return AttemptResult(ok=False, error=snippet(f"{type(error).__name__}: {error}"))

    def _record(
        self,
        document: Any,
        delivery: Delivery,
        task: DeliveryTask,
        result: AttemptResult,
        now: datetime,
    ) -> RunResult:
        """Store the attempt; on a failure to retry, schedule the next attempt."""
        update: dict[str, Any] = {
            "attempts": task.attempt,
            "last_http_status": result.http_status,
            "last_error": result.error,
            "updated_at": now,
            "lease_until": None,
        }
        extra = {
            "tenant_id": task.tenant_id,
            "delivery_id": task.delivery_id,
            "attempt": task.attempt,
            "http_status": result.http_status,
        }
        if result.ok:
            document.update(
                {**update, "status": "succeeded", "delivered_at": now, "next_attempt_at": None}
            )
            logger.info("delivery succeeded", extra=extra)
            return RunResult("succeeded", task.delivery_id, task.attempt, result.http_status)
        wait = None if result.permanent else backoff(task.attempt)
        if wait is not None and result.retry_after_seconds is not None:
            wait = min(max(wait, timedelta(seconds=result.retry_after_seconds)), MAX_RETRY_AFTER)
        if wait is None:
            document.update({**update, "status": "failed", "next_attempt_at": None})
            logger.warning("delivery failed for good: %s", result.error, extra=extra)
            if delivery.kind == "email":  # the console shows the notification's e-mail failed
                self._email_given_up(task.tenant_id, delivery, result)
            return RunResult(
                "failed", task.delivery_id, task.attempt, result.http_status, result.error
            )
        due = now + wait
        document.update({**update, "next_attempt_at": due})
        self.schedule(
            DeliveryTask(
                tenant_id=task.tenant_id, delivery_id=task.delivery_id, attempt=task.attempt + 1
            ),
            due,
        )
        logger.info("delivery will be retried: %s", result.error, extra=extra)
        return RunResult(
            "retrying", task.delivery_id, task.attempt, result.http_status, result.error, due
        )

    def _email_given_up(self, tenant_id: str, delivery: Delivery, result: AttemptResult) -> None:
        """Mark the notification's e-mail failed when its last attempt failed while pending."""
        from shared.notifications.email import MAIL_TARGET_PREFIX
        from shared.notifications.store import notification_ref

        notification_id = delivery.target_id.removeprefix(MAIL_TARGET_PREFIX)
        document = notification_ref(self.firestore, tenant_id, notification_id)
        snapshot = document.get()
        if snapshot.exists and (snapshot.to_dict() or {}).get("email_status") == "pending":
            document.update({"email_status": "failed", "email_error": result.error})

    def _endpoint_after(
        self,
        tenant_id: str,
        delivery: Delivery,
        result: AttemptResult,
        status: Outcome,
        now: datetime,
    ) -> None:
        """Keep the endpoint's last delivery and failing streak; disable it when due."""
        reference = endpoint_ref(self.firestore, tenant_id, delivery.target_id)
        threshold = timedelta(hours=self.settings.webhook_disable_after_hours)
        transaction = self.firestore.transaction()

        @gcf.transactional
        def update(transaction: Any) -> WebhookEndpoint | None:
            snapshot = reference.get(transaction=transaction)
            if not snapshot.exists:
                return None
            endpoint = WebhookEndpoint.model_validate(snapshot.to_dict() or {})
            last = LastDelivery(
                delivery_id=delivery.delivery_id,
                event_type=delivery.event_type,
                status="succeeded"
                if result.ok
                else "retrying"
                if status == "retrying"
                else "failed",
                http_status=result.http_status,
                error=result.error,
                at=now,
            )
            changes: dict[str, Any] = {"last_delivery": last.model_dump(mode="python")}
            disabled = None
            if result.ok:
                changes["failing_since"] = None
            else:
                since = endpoint.failing_since or now
                changes["failing_since"] = since
                gone = result.http_status == 410 or result.permanent
                if endpoint.enabled and (gone or now - since >= threshold):
                    reason = _disabled_reason(result, since, now)
                    changes |= {"enabled": False, "disabled_at": now, "disabled_reason": reason}
                    disabled = endpoint.model_copy(update=changes | {"last_delivery": last})
            transaction.update(reference, changes)
            return disabled

        disabled = update(transaction)
        if disabled is not None:
            self._disabled(tenant_id, disabled, now)

    def _disabled(self, tenant_id: str, endpoint: WebhookEndpoint, now: datetime) -> None:
        """Write the disabled endpoint's notice and tell the owners (once per disabling)."""
        from shared.billing.usage import notice_ref

        key = f"{endpoint.endpoint_id}-{int(now.timestamp())}"
        notice_ref(self.firestore, tenant_id, f"webhook-disabled-{endpoint.endpoint_id}").set(
            {
                "kind": "webhook-disabled",
                "created_at": now,
                "endpoint_id": endpoint.endpoint_id,
                "url": endpoint.url,
                "reason": endpoint.disabled_reason,
            }
        )
        logger.warning(
            "webhook endpoint disabled: %s",
            endpoint.disabled_reason,
            extra={"tenant_id": tenant_id, "endpoint_id": endpoint.endpoint_id},
        )
        if self.notify_owners is None:
            return
        try:
            self.notify_owners(
                self.firestore,
                tenant_id,
                kind="webhook_disabled",
                key=key,
                title="Webhook desativado",
                body=(
                    f"O endereço {endpoint.url} foi desativado: {endpoint.disabled_reason} "
                    "Corrija o endereço e reative-o em Integrações."
                ),
                link="/integracoes",
                now=now,
            )
        except Exception:
            logger.exception(
                "owners not notified of a disabled webhook endpoint",
                extra={"tenant_id": tenant_id, "endpoint_id": endpoint.endpoint_id},
            )


def _last_status(
    result: AttemptResult, status: Outcome
) -> Literal["succeeded", "failed", "retrying"]:
    """Return what the endpoint's last delivery shows for this attempt."""
    if result.ok:
        return "succeeded"
    return "retrying" if status == "retrying" else "failed"


def _disabled_reason(result: AttemptResult, since: datetime, now: datetime) -> str:
    """Return why an endpoint was disabled (the console shows it, in Portuguese)."""
    if result.http_status == 410:
        return "O endereço respondeu 410 (Gone): não quer mais receber eventos."
    if result.permanent:
        return f"O endereço foi recusado: {result.error}."
    hours = int((now - since).total_seconds() // 3600)
    last = f"HTTP {result.http_status}" if result.http_status else (result.error or "erro")
    return f"Falhou por {hours} horas seguidas (último erro: {last})."


def _event_of(record: dict[str, Any]) -> BusinessEvent | None:
    """Return the event a delivery document carries (None when it has none)."""
    raw = record.get("event")
    if not raw:
        return None
    try:
        return BusinessEvent.model_validate(raw)
    except ValidationError as error:
        logger.error("unreadable event in a delivery: %s", error.errors()[0]["msg"])
        return None


def build_delivery_runner(settings: Settings) -> DeliveryRunner:
    """Wire the runner to Firestore, Cloud Tasks, secrets, httpx and the owners' notices."""
    from shared.integrations.dispatch import delivery_scheduler
    from shared.secrets import resolve_secret
    from shared.store.firestore import firestore_client

    schedule = delivery_scheduler(settings)
    if schedule is None:
        raise RuntimeError(
            "set PILOTO_DELIVERY_URL and PILOTO_DELIVERY_QUEUE (or PILOTO_FOLLOWUP_QUEUE, "
            "PILOTO_TASKS_QUEUE): a failed delivery is retried through Cloud Tasks"
        )
    notify_owners: Callable[..., Any] | None = None
    try:
        notify_owners = importlib.import_module("shared.notifications.plan").notify_owners
    except (ImportError, AttributeError) as error:
        logger.error("owners will not be told of disabled endpoints: %s", error)
    return DeliveryRunner(
        firestore=firestore_client(settings.project_id),
        settings=settings,
        http=httpx.Client(headers={"User-Agent": USER_AGENT}),
        schedule=schedule,
        resolve_secret=lambda reference: resolve_secret(reference, settings.project_id),
        notify_owners=notify_owners,
    )
