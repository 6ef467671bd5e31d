"""Every scenario under tests/scenarios runs through the engine on the Firestore emulator."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulators.stack import LocalStack
from shared.simulator.run import simulate
from shared.simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))


def test_there_are_at_least_fifteen_scenarios() -> None:
    assert len(SCENARIOS) >= 15
    providers = {load_scenario(path).channel for path in SCENARIOS}
    assert providers == {"meta", "twilio", "evolution", "zapi"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.stem)
def test_scenario(path: Path, store: object) -> None:
    out = io.StringIO()
    failures = simulate(load_scenario(path), store, out)

    assert failures == [], out.getvalue()
    assert out.getvalue(), "a scenario that decided nothing tests nothing"


def test_the_command_fails_on_a_broken_expectation(local_stack: LocalStack, tmp_path: Path) -> None:
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(
        'name: broken\nchannel: zapi\nstart: "2026-03-10T13:00:00-03:00"\nsteps:\n'
        '  - lead: "pare"\n  - wait: 10s\n  - expect: {sent: 0, conversation: open}\n',
        encoding="utf-8",
    )
    unknown_key = tmp_path / "unknown.yaml"
    unknown_key.write_text(
        'name: typo\nstart: "2026-03-10T13:00:00-03:00"\nsteps:\n  - expect: {snt: 1}\n',
        encoding="utf-8",
    )
    env = {**os.environ, **local_stack.env()}

    def run(*files: Path, emulators: bool = True) -> subprocess.CompletedProcess[str]:
        flags = ["--emulators"] if emulators else []
        return subprocess.run(
            [sys.executable, "-m", "shared.cli", "simulate", *flags, *map(str, files)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    broken = run(scenario, SCENARIOS[0])
    in_process = run(*SCENARIOS, emulators=False)
    typo = run(unknown_key)

    assert broken.returncode == 1
    assert "FAILED broken: step 3: sent 1, expected 0" in broken.stderr
    assert "FAILED broken: step 3: conversation closed, expected open" in broken.stderr
    assert "1 of 2 scenario(s) passed" in broken.stderr
    assert in_process.returncode == 0, in_process.stderr
    assert f"{len(SCENARIOS)} of {len(SCENARIOS)} scenario(s) passed" in in_process.stderr
    assert typo.returncode == 2
    assert "steps.0.expect.snt" in typo.stderr
