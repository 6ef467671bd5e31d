"""Meeting reminders: a Cloud Task per confirmed booking, run by function ``reminder``.

The task body is a ``ReminderRequest`` (tenant, booking, the start it was scheduled for). The
runner re-reads the booking and does nothing unless it is still confirmed at that start and not
yet reminded; it then records the reminder as a decision in the conversation's decision log and
hands its message to ``outbound-messages`` (the sender re-checks opt-out, window and quiet hours
at send time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ReminderRequest:
    """What a scheduled reminder needs to find and re-check its booking."""

    tenant_id: str
    booking_id: str
    start: datetime

    def to_json(self) -> bytes:
        """Serialise the task body."""
        return json.dumps(
            {
                "tenant_id": self.tenant_id,
                "booking_id": self.booking_id,
                "start": self.start.isoformat(),
            }
        ).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> ReminderRequest:
        """Parse a task body, or raise ValueError naming what is wrong."""
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ValueError(f"not a reminder request: {error}") from error
        if not isinstance(document, dict):
            raise ValueError("not a reminder request: the body is not a JSON object")
        problems = [
            f"{name} must be a non-empty string"
            for name in ("tenant_id", "booking_id", "start")
            if not isinstance(document.get(name), str) or not document[name]
        ]
        start: datetime | None = None
        if not problems:
            try:
                start = datetime.fromisoformat(document["start"])
            except ValueError:
                problems.append("start must be an ISO-8601 time")
            else:
                if start.tzinfo is None:
                    problems.append("start must carry its UTC offset")
        if problems or start is None:
            raise ValueError("not a reminder request: " + "; ".join(problems))
        return cls(tenant_id=document["tenant_id"], booking_id=document["booking_id"], start=start)
