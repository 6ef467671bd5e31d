"""Test-session settings shared by every test folder."""

from __future__ import annotations

import os

from hypothesis import settings

# In CI the property tests explore a fixed set of examples, so a run is reproducible; locally
# they keep exploring new examples (and remember failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
