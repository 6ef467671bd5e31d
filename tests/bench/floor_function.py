"""The floor: a bare functions-framework HTTP function that answers 200 and does nothing else."""

from typing import Any

import functions_framework


@functions_framework.http
def floor(request: Any) -> tuple[str, int]:
    """Answer 200."""
    return "ok", 200
