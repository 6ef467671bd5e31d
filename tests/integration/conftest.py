"""Fixtures that run the real local emulators once per test session (see emulators/stack.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.stack import Emulator, LocalStack, MissingComponent, require_components

PROJECT_ID = "demo-piloto-test"
LOCATION = "us-central1"
PRECREATED_QUEUE = f"projects/{PROJECT_ID}/locations/{LOCATION}/queues/piloto-precreated"

_INTEGRATION_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration with `integration`."""
    for item in items:
        if _INTEGRATION_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Start Firestore, Pub/Sub, Cloud Tasks and Firebase emulators and export their variables."""
    missing = missing_components()
    if missing:
        pytest.fail(f"the local emulators are not installed:\n{missing}", pytrace=False)
    runtime_dir = tmp_path_factory.mktemp("piloto-runtime")
    console = _INTEGRATION_DIR.parents[1] / "console" / "dist"
    with (
        LocalStack(
            PROJECT_ID,
            runtime_dir=runtime_dir,
            queues=[PRECREATED_QUEUE],
            # the built console, for the browser test (make test builds it first)
            hosting_public_dir=console if (console / "index.html").exists() else None,
        ) as stack,
        pytest.MonkeyPatch.context() as environment,
    ):
        for name, value in stack.env().items():
            environment.setenv(name, value)
        yield stack


def missing_components() -> str:
    """Return what is missing to run the emulators and how to install it, or ''."""
    try:
        require_components()
    except MissingComponent as error:
        return str(error)
    return ""


@pytest.fixture
def firestore_emulator(local_stack: LocalStack) -> Emulator:
    """Return the running Firestore emulator."""
    return local_stack.emulators["firestore"]


@pytest.fixture
def pubsub_emulator(local_stack: LocalStack) -> Emulator:
    """Return the running Pub/Sub emulator."""
    return local_stack.emulators["pubsub"]


@pytest.fixture
def tasks_emulator(local_stack: LocalStack) -> Emulator:
    """Return the running Cloud Tasks emulator."""
    return local_stack.emulators["tasks"]


@pytest.fixture
def firebase_emulator(local_stack: LocalStack) -> Emulator:
    """Return the running Firebase emulator (Auth on `port`, Hosting in `extra_ports`)."""
    return local_stack.emulators["firebase"]


@pytest.fixture(params=["emulator", "memory"])
def store(request: pytest.FixtureRequest, local_stack: LocalStack) -> object:
    """The Firestore emulator and the simulator's in-process store, for the same contract tests."""
    if request.param == "memory":
        from shared.store.memory import MemoryFirestore

        return MemoryFirestore()
    from google.cloud import firestore

    return firestore.Client(project=local_stack.project_id)
