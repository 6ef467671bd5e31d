"""Read a Terraform directory with python-hcl2: no provider, no network, just the declarations.

Values come back as python-hcl2 gives them with quotes stripped: literals as Python values,
expressions as ``${...}`` strings, blocks as lists of dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULE = TERRAFORM / "modules" / "piloto"
ENVIRONMENTS = TERRAFORM / "environments"

_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, with_comments=False, explicit_blocks=False
)


@dataclass
class TerraformDirectory:
    """The blocks of every ``.tf`` file of one directory, merged."""

    path: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        """Return one resource's body, failing with the resource's address when it is missing."""
        try:
            return self.resources[kind][name]
        except KeyError:
            raise AssertionError(f"{self.path.name} declares no {kind}.{name}") from None

    def all_resources(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Return (type, name, body) of every resource."""
        return [
            (kind, name, body)
            for kind, named in self.resources.items()
            for name, body in named.items()
        ]


def parse_file(path: Path) -> dict[str, Any]:
    """Parse one HCL file."""
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle, serialization_options=_OPTIONS))


@cache
def load(path: Path) -> TerraformDirectory:
    """Parse and merge every ``.tf`` file of a directory (cached: the files do not change)."""
    directory = TerraformDirectory(path)
    for file in sorted(path.glob("*.tf")):
        document = parse_file(file)
        for block in document.get("resource", []):
            for kind, named in block.items():
                directory.resources.setdefault(kind, {}).update(named)
        for block in document.get("data", []):
            for kind, named in block.items():
                directory.data.setdefault(kind, {}).update(named)
        for block in document.get("locals", []):
            duplicated = directory.locals.keys() & block.keys()
            assert not duplicated, f"{file.name} redefines locals {sorted(duplicated)}"
            directory.locals.update(block)
        for block in document.get("variable", []):
            directory.variables.update(block)
        for block in document.get("output", []):
            directory.outputs.update(block)
        for block in document.get("module", []):
            directory.modules.update(block)
        directory.terraform.extend(document.get("terraform", []))
        directory.moved.extend(document.get("moved", []))
    return directory


def expression(value: Any) -> str:
    """Return an HCL expression without its ``${...}`` wrapper."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the one nested block ``name`` of a body, failing clearly when it is absent."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {name} block"
    found = blocks[0]
    assert isinstance(found, dict)
    return found


def duration_seconds(value: str) -> float:
    """Return the seconds of a duration such as ``"120s"``."""
    assert value.endswith("s"), f"not a duration in seconds: {value!r}"
    return float(value[:-1])
