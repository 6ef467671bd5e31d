"""Random conversations through the whole engine on the Firestore emulator, checked for restraint.

Hypothesis writes scenarios (lead messages drawn from neutral, opt-out, opt-in, rejection and
handoff texts, seller messages, duplicates and waits) and the simulator plays them through the
real intake, debounce, policy, graph, decision and follow-up code. Whatever the sequence:
nothing is sent to an opted-out lead but the single acknowledgement, nothing in copilot mode,
nothing while a seller is in charge, at most one reply per debounced burst, and no follow-up in
quiet hours.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from google.cloud import firestore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulators.stack import LocalStack
from shared.policy import is_opt_in, is_opt_out
from shared.simulator.run import Simulation
from shared.simulator.scenario import Scenario, Step, TenantSetup

START = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
LEAD_TEXTS = [
    "oi",
    "quanto custa a limpeza de pele?",
    "vocês atendem sábado?",
    "pare",
    "não quero mais receber mensagens",
    "VOLTAR",
    "não tenho interesse",
    "quero falar com um atendente",
    "ok, obrigado",
]
LEADS = st.builds(lambda text: Step(lead=text), st.sampled_from(LEAD_TEXTS))
WAITS = st.builds(lambda wait: Step(wait=wait), st.sampled_from(["2s", "10s", "20m", "1d"]))
BURST = st.tuples(
    st.lists(LEADS, min_size=0, max_size=3),
    st.lists(
        st.sampled_from([Step(seller="Oi, aqui é a Paula"), Step(duplicate="last")]), max_size=1
    ),
    WAITS,
).map(lambda parts: [*parts[0], *parts[1], parts[2]])
STEPS = st.lists(BURST, min_size=1, max_size=6).map(lambda bursts: [s for b in bursts for s in b])


def scenario(steps: list[Step], mode: str, provider: str) -> Scenario:
    return Scenario(
        name="random",
        channel=provider,  # type: ignore[arg-type]
        start=START,
        tenant=TenantSetup(
            mode=mode,  # type: ignore[arg-type]
            debounce_seconds=5,
            human_takeover_minutes=30,
            business_facts={"limpeza_de_pele": "Limpeza de pele: R$ 180"},
        ),
        steps=[*steps, Step(wait="1m")],
    )


def replay(steps: list[Step]) -> list[tuple[datetime, str, Any]]:
    """Return the timeline the scenario describes: (time, kind, text)."""
    clock = START
    timeline: list[tuple[datetime, str, Any]] = []
    for step in steps:
        if step.wait is not None:
            from shared.simulator.scenario import parse_duration

            clock += parse_duration(step.wait)
        elif step.lead is not None:
            timeline.append((clock, "lead", step.lead))
        elif step.seller is not None:
            timeline.append((clock, "seller", step.seller))
    return timeline


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=STEPS,
    mode=st.sampled_from(["pilot", "pilot", "copilot"]),
    provider=st.sampled_from(["meta", "twilio", "evolution", "zapi"]),
)
def test_random_conversations_never_break_restraint(
    local_stack: LocalStack, steps: list[Step], mode: str, provider: str
) -> None:
    client = firestore.Client(project=local_stack.project_id)
    simulation = Simulation(
        scenario=scenario(steps, mode, provider), firestore=client, out=io.StringIO()
    )
    simulation.run()
    timeline = replay(simulation.scenario.steps)
    sending = [d for d in simulation.decisions if d.messages]

    if mode == "copilot":
        assert sending == []
    leads = [(moment, text) for moment, kind, text in timeline if kind == "lead"]
    acknowledgements = [d for d in sending if "opted_out" in d.reasons]
    assert all(d.action == "close" and len(d.messages) == 1 for d in acknowledgements)
    assert len(acknowledgements) <= sum(is_opt_out(text) for _, text in leads)
    for previous, decision in zip(
        [None, *simulation.decisions], simulation.decisions, strict=False
    ):
        if not decision.messages or decision in acknowledgements:
            continue
        at = decision.decided_at
        assert len(decision.messages) <= 3
        sellers = [t for t, kind, _ in timeline if kind == "seller" and t <= at]
        if sellers and at < max(sellers) + timedelta(minutes=30):
            raise AssertionError(f"sent while a seller was in charge: {decision}")
        opted_out = False
        for moment, text in leads:  # what the lead had said before this turn's burst
            if previous is None or moment >= previous.decided_at:
                break
            if is_opt_out(text):
                opted_out = True
            elif is_opt_in(text):
                opted_out = False
        burst_start = previous.decided_at if previous is not None else START
        burst = [text for moment, text in leads if burst_start <= moment <= at]
        lifted = "opt_in" in decision.reasons and any(is_opt_in(text) for text in burst)
        if opted_out and not lifted:
            raise AssertionError(f"sent to an opted-out lead: {decision}")
    replies = [d for d in sending if d.specialist != "followup"]
    bursts = {d.triggering_events[-1] for d in replies if d.triggering_events}
    assert len(bursts) == len(replies), "two replies answered the same burst"
    for decision in sending:
        if any(message.proactive for message in decision.messages):
            local = decision.decided_at.astimezone(ZoneInfo("America/Sao_Paulo")).time()
            assert 8 <= local.hour < 21, f"a follow-up in quiet hours: {decision}"
