"""`make demo`: a scripted clinic conversation through the whole local loop, with every decision.

Starts its own loop (``emulators.loop``: emulators, functions, provider simulator) on free ports,
so it runs beside `make dev`, and plays three leads of the demo clinic:

- Mariana (Meta Cloud API) says hello, asks a treatment's price and books a time;
- João (Evolution API) asks a price, then says "não tenho interesse": one polite closing
  message, and the conversation is closed for good;
- Carla (Twilio) asks a question and goes quiet: follow-ups at the cadence's steps (1 day, then
  3 days, sped up by the clock speed), then the conversation ends with ``no_response``.

Every lead message goes in as the provider's signed webhook; every reply comes out through the
sender to the simulator's outbox. The transcript shows each message and each decision with its
action and reasons. Quiet hours are turned off so the demo runs at any hour; the model is the
offline one unless ``.env`` sets ``PILOTO_LLM=vertex``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from emulators.chat import describe_decision
from emulators.dev import load_env_file
from emulators.loop import PilotoLoop
from shared.store.conversations import contact_ref, conversation_ref

ROOT = Path(__file__).resolve().parents[1]
TENANT = "demo-clinica"
CLOCK_SPEED = 17280.0  # one day of follow-up cadence in five seconds
DEMO_AGENT = {
    "quiet_hours": {"start": "00:00", "end": "00:00"},
    "debounce_seconds": 2,
    "followups": ["1d", "3d"],  # at the demo's clock speed: 5 and 15 seconds
}


@dataclass(frozen=True)
class Lead:
    """A demo lead: who, and through which provider."""

    name: str
    phone: str
    provider: str

    @property
    def channel_id(self) -> str:
        """Return the demo channel of the lead's provider."""
        return f"demo-{self.provider}"


class Transcript:
    """Plays lead messages and prints what the loop does about them."""

    def __init__(self, loop: PilotoLoop, firestore: Any, out: Any = sys.stdout) -> None:
        self.loop = loop
        self.firestore = firestore
        self.out = out
        self.http = httpx.Client(base_url=loop.simulator_url, timeout=10)
        self.shown_decisions: set[str] = set()
        self.shown_outbox: dict[str, int] = {}

    def header(self, lead: Lead) -> None:
        """Start a lead's part of the transcript."""
        self.out.write(
            f"\n━━ {lead.name} ({lead.phone}) · {lead.channel_id} ({lead.provider}) ━━\n"
        )
        self.out.flush()

    def write(self, lead: Lead, text: str, *, timeout: float = 40) -> None:
        """Post one lead message and print the decisions and messages it leads to."""
        self.out.write(f"  {lead.name:<8} > {text}\n")
        response = self.http.post(
            f"/leads/{lead.provider}/{lead.channel_id}/messages",
            json={"from": lead.phone, "name": lead.name, "text": text},
        )
        response.raise_for_status()
        message_id = response.json()["provider_message_id"]
        self.follow(lead, until=lambda: self.answered(lead, message_id), timeout=timeout)

    def answered(self, lead: Lead, message_id: str) -> bool:
        """Return whether a decision answered the lead's message."""
        return any(
            message_id in (decision.get("triggering_events") or [])
            for decision in self.decisions(lead)
        )

    def follow(self, lead: Lead, *, until: Callable[[], bool], timeout: float) -> None:
        """Print new decisions and outbox messages until ``until()`` holds and sends settle."""
        deadline = time.monotonic() + timeout
        settled_at: float | None = None
        while time.monotonic() < deadline:
            self.show(lead)
            if until() and self.sends_settled(lead):
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at > 1.0:  # let the last statuses arrive
                    self.show(lead)
                    return
            time.sleep(0.25)
        self.out.write("  ! timed out waiting for the loop (see .piloto/demo/logs)\n")

    def show(self, lead: Lead) -> None:
        """Print what is new for this lead, decisions before the messages they sent."""
        for decision in self.decisions(lead):
            if decision["decision_id"] not in self.shown_decisions:
                self.shown_decisions.add(decision["decision_id"])
                self.out.write(describe_decision(decision) + "\n")
        since = self.shown_outbox.get(lead.phone, 0)
        messages = self.http.get("/outbox", params={"to": lead.phone, "since": since}).json()
        for message in messages:
            self.shown_outbox[lead.phone] = max(since, message["index"] + 1)
            text = message.get("text") or f"[{message.get('kind')}]"
            self.out.write(f"  {'Piloto':<8} > {text}\n")
        self.out.flush()

    def conversation(self, lead: Lead) -> Any:
        """Return the lead's current conversation document reference, or None."""
        contact = contact_ref(self.firestore, TENANT, lead.phone).get().to_dict() or {}
        conversation_id = contact.get("current_conversation_id")
        return (
            conversation_ref(self.firestore, TENANT, conversation_id) if conversation_id else None
        )

    def decisions(self, lead: Lead) -> list[dict[str, Any]]:
        """Return the lead's decisions in the current conversation, oldest first."""
        conversation = self.conversation(lead)
        if conversation is None:
            return []
        found = [item.to_dict() for item in conversation.collection("decisions").stream()]
        return sorted(found, key=lambda decision: decision["decided_at"])

    def decision_count(self, lead: Lead) -> int:
        """Return how many decisions the lead's conversation has."""
        return len(self.decisions(lead))

    def sends_settled(self, lead: Lead) -> bool:
        """Return whether every message the decisions wanted sent has left the sender."""
        ledger = self.firestore.collection("tenants").document(TENANT).collection("outbound")
        for decision in self.decisions(lead):
            for index in range(len(decision.get("messages") or [])):
                record = ledger.document(f"{decision['decision_id']}:{index}").get()
                if not record.exists or record.get("status") == "queued":
                    return False
        return True

    def status(self, lead: Lead) -> dict[str, Any]:
        """Return the lead's current conversation document."""
        conversation = self.conversation(lead)
        return (conversation.get().to_dict() or {}) if conversation is not None else {}


def play(transcript: Transcript) -> None:
    """Play the three leads."""
    mariana = Lead("Mariana", "+5511987650001", "meta")
    transcript.header(mariana)
    transcript.write(mariana, "Oi, boa tarde! Tudo bem?")
    transcript.write(mariana, "Quanto custa a limpeza de pele?")
    transcript.write(mariana, "Quero agendar uma avaliação")
    transcript.write(mariana, "1")  # the first of the offered times (a tap on Meta's list)
    booked = transcript.status(mariana)
    transcript.out.write(
        f"  ◼ meeting {booked.get('booking_status')} for {booked.get('booking_start')}"
        f" (booking {booked.get('booking_id')})\n"
    )

    joao = Lead("João", "+5511987650002", "evolution")
    transcript.header(joao)
    transcript.write(joao, "Olá, quanto custa a limpeza de pele?")
    transcript.write(joao, "Não tenho interesse, obrigado")
    closed = transcript.status(joao)
    transcript.out.write(
        f"  ◼ conversation {closed.get('status')} ({closed.get('close_reason')})\n"
    )

    carla = Lead("Carla", "+5511987650003", "twilio")
    transcript.header(carla)
    transcript.write(carla, "Oi, vi o anúncio de vocês no Instagram")
    transcript.out.write("  … Carla goes quiet (follow-ups sped up: one day takes five seconds)\n")
    transcript.follow(
        carla, until=lambda: transcript.status(carla).get("status") == "closed", timeout=90
    )
    final = transcript.status(carla)
    transcript.out.write(f"  ◼ conversation {final.get('status')} ({final.get('close_reason')})\n")


def main() -> int:
    """Start a loop of its own, play the script, stop everything."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    env = load_env_file()
    project_id = env.get("GOOGLE_CLOUD_PROJECT", "demo-piloto")
    sys.stdout.write("starting the local loop for the demo (emulators, functions, simulator)...\n")
    sys.stdout.flush()
    with PilotoLoop(
        project_id=project_id,
        runtime_dir=ROOT / ".piloto" / "demo",
        env=env,
        agent=DEMO_AGENT,
        clock_speed=CLOCK_SPEED,
        emulators=("firestore", "pubsub", "tasks"),
    ) as loop:
        from shared.store.firestore import firestore_client

        play(Transcript(loop, firestore_client(project_id)))
    sys.stdout.write("\ndemo finished; everything stopped.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
