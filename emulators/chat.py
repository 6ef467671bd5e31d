"""`piloto chat`: write to the demo business as a lead, and watch what Piloto does about it.

Each line typed is posted to the provider simulator as the lead's message; the simulator posts
the provider's signed webhook to the local webhook function, exactly as the provider would.
Alongside, the chat follows the conversation in the Firestore emulator and the simulator's
outbox and prints, in order: the agent's replies and follow-ups as the lead receives them, and
every decision with its action and reasons — including each silence, and why.

Runs against `make dev` (the ports in ``.env.example``); ``/quit`` or Ctrl-D ends it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import httpx

from shared.store.conversations import contact_ref, conversation_ref

DEFAULT_PHONE = "+5511987654321"
DEMO_TIMEZONE = "America/Sao_Paulo"
POLL_SECONDS = 0.5


@dataclass
class ChatView:
    """What the chat has already shown: outbox positions and decision ids."""

    out: TextIO
    shown_outbox: int = 0
    shown_decisions: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, line: str) -> None:
        """Print one line without tearing what the person is typing."""
        with self.lock:
            self.out.write(f"\r{line}\n")
            self.out.flush()


def describe_decision(decision: dict[str, Any]) -> str:
    """Return one line saying what a decision did and why."""
    action = str(decision.get("action", "?"))
    reasons = ", ".join(str(reason) for reason in decision.get("reasons") or []) or "—"
    specialist = decision.get("specialist") or "agent"
    sent = len(decision.get("messages") or [])
    suggestions = len(decision.get("suggestions") or [])
    details = [f"{sent} message(s)"] if sent else []
    if suggestions:
        details.append(f"{suggestions} suggestion(s) for the seller")
    if decision.get("followup_at"):
        details.append(f"follow-up at {_clock(decision['followup_at'])}")
    extra = f" · {'; '.join(details)}" if details else ""
    return f"  · decision [{specialist}] {action} ({reasons}){extra}"


def new_decisions(client: Any, tenant_id: str, phone: str, seen: set[str]) -> list[dict[str, Any]]:
    """Return the contact's decisions not shown yet (current conversation), oldest first."""
    contact = contact_ref(client, tenant_id, phone).get()
    conversation_id = (contact.to_dict() or {}).get("current_conversation_id")
    if not conversation_id:
        return []
    decisions = [
        snapshot.to_dict() or {}
        for snapshot in conversation_ref(client, tenant_id, conversation_id)
        .collection("decisions")
        .stream()
        if snapshot.id not in seen
    ]
    decisions.sort(key=lambda decision: str(decision.get("decided_at")))
    return decisions


def follow(
    view: ChatView,
    stop: threading.Event,
    outbox: Callable[[int], list[dict[str, Any]]],
    decisions: Callable[[set[str]], list[dict[str, Any]]],
    agent_name: str,
) -> None:
    """Print new outbox messages and decisions until ``stop`` is set."""
    while not stop.is_set():
        try:
            for decision in decisions(view.shown_decisions):
                view.shown_decisions.add(str(decision.get("decision_id")))
                view.say(describe_decision(decision))
            for message in outbox(view.shown_outbox):
                view.shown_outbox = max(view.shown_outbox, int(message.get("index", 0)) + 1)
                view.say(f"{agent_name}: {_content(message)}")
        except (httpx.HTTPError, OSError) as error:
            view.say(f"  ! {type(error).__name__}: {error}")
        stop.wait(POLL_SECONDS)


def run_chat(
    *,
    simulator_url: str,
    provider: str,
    channel_id: str,
    tenant_id: str,
    phone: str,
    name: str,
    firestore: Any,
    lines: Iterable[str],
    out: TextIO = sys.stdout,
    linger: float = 0.0,
) -> int:
    """Post each line as the lead and print what follows; return an exit status."""
    view = ChatView(out=out)
    http = httpx.Client(base_url=simulator_url.rstrip("/"), timeout=10)
    try:
        view.shown_outbox = len(http.get("/outbox").json())
    except httpx.HTTPError as error:
        out.write(
            f"the provider simulator does not answer at {simulator_url} ({error}); "
            "is `make dev` running?\n"
        )
        return 1

    def outbox(since: int) -> list[dict[str, Any]]:
        response = http.get("/outbox", params={"to": phone, "since": since})
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages

    view.shown_decisions |= {
        str(decision.get("decision_id"))
        for decision in new_decisions(firestore, tenant_id, phone, set())
    }
    stop = threading.Event()
    watcher = threading.Thread(
        target=follow,
        args=(
            view,
            stop,
            outbox,
            lambda seen: new_decisions(firestore, tenant_id, phone, seen),
            "Piloto",
        ),
        daemon=True,
    )
    watcher.start()
    out.write(
        f"Chatting as {name} ({phone}) with {channel_id} via the {provider} simulator. "
        "Type a message; /quit ends.\n"
    )
    try:
        for line in lines:
            text = line.strip()
            if text in ("/quit", "/exit"):
                break
            if not text:
                continue
            response = http.post(
                f"/leads/{provider}/{channel_id}/messages",
                json={"from": phone, "name": name, "text": text},
            )
            if response.status_code >= 400:
                view.say(f"  ! the simulator refused the message: {response.text}")
        stop.wait(linger)  # input piped in: keep watching for what follows
    finally:
        stop.set()
        watcher.join(timeout=2)
    return 0


def _content(message: dict[str, Any]) -> str:
    if message.get("text"):
        return str(message["text"])
    if message.get("template"):
        return f"[template {message['template'].get('name', '?')}]"
    return f"[{message.get('kind', 'message')}]"


def _clock(value: Any) -> str:
    """Return a time on the demo tenant's wall clock (São Paulo)."""
    if not isinstance(value, datetime):
        return str(value)
    return value.astimezone(ZoneInfo(DEMO_TIMEZONE)).strftime("%d/%m %H:%M")
