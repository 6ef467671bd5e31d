"""Whole-stack helpers of the insight tests: the demo seed plus test tenants copied from it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from emulators.dev import load_env_file
from emulators.loop import SEED_FILE, PilotoLoop
from emulators.stack import LocalStack


def demo_copy(tenant_id: str, name: str, channels: list[dict[str, Any]], **extra: Any) -> Any:
    """Return a seed tenant like the demo clinic (no knowledge) with its own channels.

    ``channels`` are changes to the demo's channel of the same provider (``provider`` picks it).
    """
    demo = _demo_tenant()
    by_provider = {channel["provider"]: channel for channel in demo["channels"]}
    copied = []
    for change in channels:
        base = by_provider[change["provider"]]
        config = {**base.get("config", {}), **change.pop("config", {})}
        copied.append({**base, **change, "config": config})
    tenant = {key: value for key, value in demo.items() if key != "knowledge"}
    return {**tenant, "tenant_id": tenant_id, "name": name, "channels": copied, **extra}


def loop_with(
    local_stack: LocalStack,
    runtime: Path,
    tenants: list[dict[str, Any]],
    **options: Any,
) -> PilotoLoop:
    """Return (not started) the demo loop seeded with ``tenants`` besides the demo clinic."""
    document = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    document["tenants"].extend(tenants)
    seed_file = runtime / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    secrets: Mapping[str, str] = {
        key: value for key, value in load_env_file().items() if "_DEMO_" in key
    }
    return PilotoLoop(
        project_id=local_stack.project_id,
        runtime_dir=runtime,
        env=secrets,
        seed_file=seed_file,
        agent={"quiet_hours": {"start": "00:00", "end": "00:00"}, "debounce_seconds": 1},
        stack=local_stack,
        **options,
    )


def _demo_tenant() -> Any:
    [demo] = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))["tenants"]
    return demo
