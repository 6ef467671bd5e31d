"""Schedule work for later on Cloud Tasks: debounced turns, follow-ups, inactivity checks.

A task carries what the work needs to re-check state when it runs (the conversation and the
inbound sequence number it was scheduled for, and for a follow-up the cadence generation and
step); correctness never depends on task names or on deleting tasks (the emulator supports
neither): a turn that finds a newer inbound, or a follow-up whose generation or step moved on,
does nothing. In production each task carries an OIDC token for the target's service account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

FollowupKind = Literal["followup", "inactivity"]
LEGACY_KINDS: dict[str, str] = {"seller_inactivity": "inactivity"}
"""Kinds of tasks that may still be queued from before a rename, and what they are now."""


@dataclass(frozen=True)
class TurnRequest:
    """What a scheduled turn needs to find and re-check its conversation."""

    tenant_id: str
    conversation_id: str
    inbound_seq: int

    def to_json(self) -> bytes:
        """Serialise the task body."""
        return json.dumps(
            {
                "tenant_id": self.tenant_id,
                "conversation_id": self.conversation_id,
                "inbound_seq": self.inbound_seq,
            }
        ).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> TurnRequest:
        """Parse a task body, or raise ValueError naming what is wrong."""
        try:
            document = json.loads(body)
            request = cls(
                tenant_id=str(document["tenant_id"]),
                conversation_id=str(document["conversation_id"]),
                inbound_seq=int(document["inbound_seq"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"not a turn request: {error}") from error
        if not request.tenant_id or not request.conversation_id or request.inbound_seq < 1:
            raise ValueError("not a turn request: empty ids or sequence below 1")
        return request


@dataclass(frozen=True)
class FollowupRequest:
    """What a scheduled follow-up (or inactivity check) needs to re-check its conversation.

    ``generation`` and ``step`` are the conversation's ``followup_generation`` and
    ``followup_step`` when the task was scheduled; ``inbound_seq`` is the lead's last message
    then. Body: ``{"tenant_id", "conversation_id", "generation", "step", "inbound_seq", "kind"}``.
    """

    tenant_id: str
    conversation_id: str
    generation: int
    step: int
    inbound_seq: int
    kind: FollowupKind = "followup"

    def to_json(self) -> bytes:
        """Serialise the task body."""
        return json.dumps(
            {
                "tenant_id": self.tenant_id,
                "conversation_id": self.conversation_id,
                "generation": self.generation,
                "step": self.step,
                "inbound_seq": self.inbound_seq,
                "kind": self.kind,
            }
        ).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> FollowupRequest:
        """Parse a task body, or raise ValueError naming what is wrong."""
        try:
            document = json.loads(body)
        except ValueError as error:
            raise ValueError(f"not a follow-up request: {error}") from error
        if not isinstance(document, dict):
            raise ValueError("not a follow-up request: the body is not a JSON object")
        problems = [
            f"{name} must be a non-empty string"
            for name in ("tenant_id", "conversation_id")
            if not isinstance(document.get(name), str) or not document[name]
        ]
        for name, minimum in (("generation", 0), ("step", 0), ("inbound_seq", 1)):
            value = document.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                problems.append(f"{name} must be an integer of at least {minimum}")
        kind = document.get("kind", "followup")
        if isinstance(kind, str):
            kind = LEGACY_KINDS.get(kind, kind)
        if kind not in get_args(FollowupKind):
            problems.append(f"kind must be one of {', '.join(get_args(FollowupKind))}")
        if problems:
            raise ValueError("not a follow-up request: " + "; ".join(problems))
        return cls(
            tenant_id=document["tenant_id"],
            conversation_id=document["conversation_id"],
            generation=document["generation"],
            step=document["step"],
            inbound_seq=document["inbound_seq"],
            kind=cast(FollowupKind, kind),
        )


class TaskScheduler:
    """Create HTTP tasks on one queue (the Cloud Tasks emulator when its host is given)."""

    def __init__(
        self,
        *,
        queue_path: str,
        emulator_host: str | None = None,
        service_account_email: str | None = None,
    ) -> None:
        from google.cloud import tasks_v2

        self._tasks = tasks_v2
        if emulator_host:
            import grpc
            from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                CloudTasksGrpcTransport,
            )

            channel = grpc.insecure_channel(emulator_host)
            self._client: Any = tasks_v2.CloudTasksClient(
                transport=CloudTasksGrpcTransport(channel=channel)
            )
        else:
            self._client = tasks_v2.CloudTasksClient()
        self._queue_path = queue_path
        self._service_account = service_account_email

    def schedule(self, url: str, body: bytes, at: datetime) -> str:
        """Create a task that POSTs ``body`` as JSON to ``url`` at ``at``; return its name."""
        http_request: dict[str, Any] = {
            "url": url,
            "http_method": self._tasks.HttpMethod.POST,
            "headers": {"Content-Type": "application/json"},
            "body": body,
        }
        if self._service_account:
            http_request["oidc_token"] = {"service_account_email": self._service_account}
        task = self._client.create_task(
            parent=self._queue_path,
            task={"http_request": http_request, "schedule_time": at},
        )
        return str(task.name)

    def schedule_turn(self, url: str, turn: TurnRequest, at: datetime) -> str:
        """Schedule the debounced turn of a conversation."""
        return self.schedule(url, turn.to_json(), at)

    def schedule_followup(self, url: str, request: FollowupRequest, at: datetime) -> str:
        """Schedule a follow-up step or an inactivity check of a conversation."""
        return self.schedule(url, request.to_json(), at)
