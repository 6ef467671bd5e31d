"""Run scenarios through the real engine: intake, debounce, policy, graph, decision, sending seam.

The clock is the scenario's: ``wait`` advances it and runs every task that falls due, in order.
Turn, follow-up and seller-inactivity tasks live in one in-process queue with their due time (as
Cloud Tasks would hold them); messages the decisions send are counted at the sending seam
(``Simulation.deliver``, the one function a real sender would replace). Conversation state
lives in the in-process store (``shared.store.memory``, held to the same contract tests as
Firestore) or, with ``--emulators``, in the Firestore emulator.
"""

from __future__ import annotations

import heapq
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from shared.agent.followup import followup_drafter
from shared.agent.graph import graph_decider
from shared.agent.offline import OfflineChatModel
from shared.channels import adapter_for
from shared.engine import Engine
from shared.events.tasks import FollowupRequest, TurnRequest
from shared.followups import FollowupResult, FollowupRunner
from shared.models.channel import Channel
from shared.models.conversation import Conversation
from shared.models.decision import Decision
from shared.models.events import (
    ContactRef,
    ConversationEvent,
    MessageContent,
    MessageType,
    SellerMessage,
)
from shared.models.tenant import AgentSettings
from shared.simulator.payloads import webhook_request
from shared.simulator.scenario import Expectation, Scenario, Step, compare, parse_duration
from shared.store.conversations import contact_ref, conversation_ref, tenant_ref
from shared.turns import TurnRunner

LEAD_PHONE = "+5511987654321"
LEAD_NAME = "Mariana"

Task = TurnRequest | FollowupRequest


@dataclass
class Simulation:
    """One scenario's world: its tenant, clock, pending turns and what was sent."""

    scenario: Scenario
    firestore: Any
    out: TextIO
    tenant_id: str = field(default_factory=lambda: f"sim-{uuid.uuid4().hex[:10]}")
    clock: datetime = field(init=False)
    pending: list[tuple[datetime, int, Task]] = field(default_factory=list)
    sent_since_expect: int = 0
    followups_since_expect: int = 0
    triggers_seen: int = 0
    decisions: list[Decision] = field(default_factory=list)
    last_events: list[ConversationEvent] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.clock = self.scenario.start
        tenant = self.scenario.tenant
        self.settings = AgentSettings.model_validate(
            tenant.model_dump(exclude={"timezone", "template"})
        )
        templates = (
            {"followup": {"name": tenant.template, "language": "pt_BR", "parameters": ["{name}"]}}
            if tenant.template
            else {}
        )
        self.channel = Channel(
            channel_id=f"sim-{self.scenario.channel}",
            tenant_id=self.tenant_id,
            provider=self.scenario.channel,
            config={"templates": templates} if templates else {},
        )
        self.engine = Engine(
            firestore=self.firestore,
            max_event_age=timedelta(hours=6),
            schedule_turn=self._schedule,
            load_agent=lambda tenant_id: self.settings,
            now=lambda: self.clock,
        )
        self.runner = TurnRunner(
            firestore=self.firestore,
            decide=graph_decider(OfflineChatModel(), lambda tenant_id: tenant.timezone),
            load_settings=lambda tenant_id: (self.settings, tenant.timezone),
            deliver=self.deliver,
            now=lambda: self.clock,
            schedule_followup=self._schedule,
        )
        self.followups = FollowupRunner(
            firestore=self.firestore,
            draft=followup_drafter(OfflineChatModel()),
            load_settings=lambda tenant_id: (self.settings, tenant.timezone),
            find_channel=lambda channel_id: self.channel,
            deliver=self.deliver,
            schedule=self._schedule,
            now=lambda: self.clock,
        )

    def run(self) -> list[str]:
        """Play every step; return the expectations that failed."""
        for index, step in enumerate(self.scenario.steps, start=1):
            self._play(index, step)
        return self.failures

    def _play(self, index: int, step: Step) -> None:
        if step.lead is not None:
            self._message(step.lead, from_business=False)
        elif step.seller is not None:
            self._message(step.seller, from_business=True)
        elif step.duplicate is not None:
            for event in self.last_events:
                self.engine.take_in_event(event)
        elif step.wait is not None:
            self._advance(self.clock + parse_duration(step.wait), index)
        elif step.expect is not None:
            self._check(index, step.expect)

    def _message(self, text: str, *, from_business: bool) -> None:
        self._counter += 1
        message_id = f"sim.{self.tenant_id}.{self._counter}"
        request = webhook_request(
            self.scenario.channel,
            lead_phone=LEAD_PHONE,
            name=LEAD_NAME,
            message_id=message_id,
            text=text,
            at=self.clock,
            from_business=from_business,
        )
        if request is None:  # the provider reports no business-sent messages: the console would
            events: list[ConversationEvent] = [self._seller_message(message_id, text)]
        else:
            adapter = adapter_for(self.scenario.channel)
            assert adapter is not None
            events = adapter.parse(request, self.channel, self.clock)
        for event in events:
            self.engine.take_in_event(event)
        self.last_events = events

    def _seller_message(self, message_id: str, text: str) -> SellerMessage:
        return SellerMessage(
            event_id=f"{self.scenario.channel}:seller_message:{message_id}",
            provider=self.scenario.channel,
            tenant_id=self.tenant_id,
            channel_id=self.channel.channel_id,
            occurred_at=self.clock,
            received_at=self.clock,
            message_id=message_id,
            contact=ContactRef(phone=LEAD_PHONE),
            content=MessageContent(message_type=MessageType.TEXT, text=text),
        )

    def _schedule(self, task: Task, at: datetime) -> None:
        self._counter += 1
        heapq.heappush(self.pending, (at, self._counter, task))

    def _advance(self, until: datetime, index: int) -> None:
        while self.pending and self.pending[0][0] <= until:
            due, _, task = heapq.heappop(self.pending)
            self.clock = max(self.clock, due)
            if isinstance(task, TurnRequest):
                decision = self.runner.run(task).decision
            else:
                outcome = self.followups.run(task)
                decision = outcome.decision
                if outcome.status == "recorded":
                    self._report_trigger(index, outcome)
            if decision is not None:
                self._report(index, decision)
        self.clock = until

    def deliver(self, conversation: Conversation, decision: Decision) -> None:
        """The sending seam: count what the decision sends (a real sender would send it)."""
        self.sent_since_expect += len(decision.messages)
        self.followups_since_expect += sum(message.proactive for message in decision.messages)

    def _report(self, index: int, decision: Decision) -> None:
        self.decisions.append(decision)
        line = {
            "scenario": self.scenario.name,
            "step": index,
            "at": self.clock.isoformat(),
            "action": decision.action.value,
            "reasons": [reason.value for reason in decision.reasons],
            "sent": [message.text or message.template for message in decision.messages],
            "suggestions": decision.suggestions,
            "specialist": decision.specialist,
            "model": decision.model,
            "conversation": self._conversation_status(),
        }
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _report_trigger(self, index: int, outcome: FollowupResult) -> None:
        line = {
            "scenario": self.scenario.name,
            "step": index,
            "at": self.clock.isoformat(),
            "trigger": outcome.reason,
            "conversation": self._conversation_status(),
        }
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _current_conversation(self) -> Conversation | None:
        contact = contact_ref(self.firestore, self.tenant_id, LEAD_PHONE).get()
        conversation_id = contact.get("current_conversation_id") if contact.exists else None
        if not conversation_id:
            return None
        document = conversation_ref(self.firestore, self.tenant_id, conversation_id).get()
        return Conversation.model_validate(document.to_dict()) if document.exists else None

    def _conversation_status(self) -> str | None:
        conversation = self._current_conversation()
        return conversation.status.value if conversation is not None else None

    def followups_pending(self) -> int:
        """Count scheduled follow-up steps that have not run and whose generation is current."""
        steps = set()
        conversations: dict[str, Conversation | None] = {}
        for _, _, task in self.pending:
            if not isinstance(task, FollowupRequest) or task.kind != "followup":
                continue
            if task.conversation_id not in conversations:
                document = conversation_ref(
                    self.firestore, self.tenant_id, task.conversation_id
                ).get()
                conversations[task.conversation_id] = (
                    Conversation.model_validate(document.to_dict()) if document.exists else None
                )
            conversation = conversations[task.conversation_id]
            if (
                conversation is not None
                and conversation.followup_generation == task.generation
                and task.step >= conversation.followup_step
            ):
                steps.add((task.conversation_id, task.generation, task.step))
        return len(steps)

    def _trigger_count(self) -> int:
        return len(
            list(tenant_ref(self.firestore, self.tenant_id).collection("trigger_events").stream())
        )

    def _check(self, index: int, expect: Expectation) -> None:
        where = f"{self.scenario.name}: step {index}"
        latest = self.decisions[-1] if self.decisions else None
        if expect.sent is not None and not compare(self.sent_since_expect, expect.sent):
            self.failures.append(f"{where}: sent {self.sent_since_expect}, expected {expect.sent}")
        if expect.decision is not None and (
            latest is None or latest.action.value != expect.decision
        ):
            actual = latest.action.value if latest else "no decision"
            self.failures.append(f"{where}: decision {actual}, expected {expect.decision}")
        if expect.reason is not None and (latest is None or expect.reason not in latest.reasons):
            actual_reasons = [r.value for r in latest.reasons] if latest else []
            self.failures.append(f"{where}: reasons {actual_reasons}, expected {expect.reason}")
        if expect.conversation is not None:
            status = self._conversation_status()
            if status != expect.conversation:
                self.failures.append(
                    f"{where}: conversation {status}, expected {expect.conversation}"
                )
        if expect.followups_pending is not None:
            pending = self.followups_pending()
            if pending != expect.followups_pending:
                self.failures.append(
                    f"{where}: followups_pending {pending}, expected {expect.followups_pending}"
                )
        if expect.followups_sent is not None and not compare(
            self.followups_since_expect, expect.followups_sent
        ):
            self.failures.append(
                f"{where}: followups_sent {self.followups_since_expect},"
                f" expected {expect.followups_sent}"
            )
        if expect.close_reason is not None:
            conversation = self._current_conversation()
            close_reason = conversation.close_reason if conversation is not None else None
            if close_reason != expect.close_reason:
                self.failures.append(
                    f"{where}: close_reason {close_reason}, expected {expect.close_reason}"
                )
        triggers = self._trigger_count()
        if expect.triggers is not None and not compare(
            triggers - self.triggers_seen, expect.triggers
        ):
            self.failures.append(
                f"{where}: triggers {triggers - self.triggers_seen}, expected {expect.triggers}"
            )
        self.sent_since_expect = self.followups_since_expect = 0
        self.triggers_seen = triggers


def simulate(scenario: Scenario, firestore: Any, out: TextIO) -> list[str]:
    """Run one scenario and return its failed expectations (empty when it passed)."""
    return Simulation(scenario=scenario, firestore=firestore, out=out).run()
