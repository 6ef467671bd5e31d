"""Fixtures of the insight tests on the whole stack.

Each test module defines its own module-scoped ``loop`` (``support.loop_with``); ``simulator``
and ``client`` serve whichever loop the module has.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import firestore

from emulators.loop import PilotoLoop
from emulators.simulator import ProviderSimulator


@pytest.fixture
def simulator(loop: PilotoLoop) -> ProviderSimulator:
    assert loop.simulator is not None
    return loop.simulator


@pytest.fixture
def client(loop: PilotoLoop) -> Any:
    return firestore.Client(project=loop.project_id)
