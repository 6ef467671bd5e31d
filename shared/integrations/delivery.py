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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from shared.integrations.models import AttemptResult, BusinessEvent, Delivery
from shared.settings import Settings


@dataclass(frozen=True)
class AttemptContext:
    """What one delivery attempt needs: the delivery, its event, the clock and the clients."""

    settings: Settings
    http: httpx.Client
    """A shared client; handlers pass their own ``timeout=`` per request."""
    firestore: Any
    delivery: Delivery
    event: BusinessEvent
    now: datetime
    resolve_secret: Callable[[str], str]
    """Resolve a secret reference (``shared.secrets.resolve_secret`` bound to the project);
    raises ``shared.secrets.SecretUnavailable`` when the secret has no value."""

    @property
    def tenant_id(self) -> str:
        """Return the tenant the delivery belongs to."""
        return self.event.tenant_id

    @property
    def attempt(self) -> int:
        """Return the number of this attempt (1 for the first)."""
        return self.delivery.attempts + 1


AttemptHandler = Callable[[AttemptContext], AttemptResult]
"""Perform one attempt of a delivery of its kind; never raises for a target's failure."""
