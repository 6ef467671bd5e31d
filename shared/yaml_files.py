"""Read a YAML file into a pydantic model, naming the file and the field when it is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def load_yaml_model(path: Path, model: type[Model], error: type[Exception]) -> Model:
    """Validate ``path`` as ``model``; raise ``error`` with ``path: field.path: problem``."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as problem:
        raise error(f"{path}: {problem}") from problem
    try:
        return model.model_validate(document)
    except ValidationError as problem:
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in problem.errors()
        )
        raise error(f"{path}: {details}") from problem
