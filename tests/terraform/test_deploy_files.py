"""The deploy files agree with the module and with each other: environments, the image,
Cloud Build's steps, and the reasons for every skipped checkov check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.terraform.hcl import ENVIRONMENTS, MODULE, ROOT, TERRAFORM, expression, load

ENVIRONMENT_NAMES = ("dev", "prod")


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_each_environment_calls_the_module_with_a_gcs_backend(name: str) -> None:
    environment = load(ENVIRONMENTS / name)
    module = environment.modules["piloto"]
    assert module["source"] == "../../modules/piloto"
    assert module["environment"] == name
    for variable, declared in load(MODULE).variables.items():
        if "default" not in declared:
            assert variable in module, f"{name} does not set the module's {variable}"
    backends = [
        backend for settings in environment.terraform for backend in settings.get("backend", [])
    ]
    assert len(backends) == 1 and set(backends[0]) == {"gcs"}
    gcs = backends[0]["gcs"]
    # The bucket is given at init time (-backend-config), never committed.
    assert "bucket" not in gcs
    assert gcs["prefix"] == f"piloto/{name}"
    assert (ENVIRONMENTS / name / "terraform.tfvars.example").is_file()


def test_prod_is_protected() -> None:
    prod = load(ENVIRONMENTS / "prod").modules["piloto"]
    assert prod["deletion_protection"] is True
    assert prod["firestore_point_in_time_recovery"] is True


def test_the_module_and_environments_pin_the_same_providers() -> None:
    def providers(path: Path) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for settings in load(path).terraform:
            for required in settings.get("required_providers", []):
                found.update(required)
        return found

    expected = providers(MODULE)
    assert set(expected) == {"google", "google-beta"}
    for name in ENVIRONMENT_NAMES:
        assert providers(ENVIRONMENTS / name) == expected, name


def test_the_image_runs_the_function_terraform_names() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert stages and all(stage == "python:3.11-slim" for stage in stages)
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert users and users[-1] not in {"root", "0"}
    found = re.search(r"^CMD (\[.*\])$", dockerfile, flags=re.M)
    assert found, "the Dockerfile has no exec-form CMD"
    command = json.loads(found.group(1))
    script = command[-1]
    assert "exec functions-framework" in script
    assert '--target="$FUNCTION_TARGET"' in script
    assert '--source="functions/$FUNCTION_TARGET/main.py"' in script
    assert '--signature-type="$FUNCTION_SIGNATURE_TYPE"' in script
    assert '--port="$PORT"' in script

    included = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    assert {"pyproject.toml", "shared", "functions"} <= included


def test_cloud_build_has_the_named_steps_in_order() -> None:
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))
    steps = {step["id"]: step for step in build["steps"]}
    for name in (
        "lint",
        "typecheck",
        "unit-tests",
        "terraform-fmt",
        "terraform-check",
        "integration-tests",
        "build",
        "push",
        "deploy",
        "console-build",
        "console-deploy",
    ):
        assert name in steps, name
    assert "push" in steps["deploy"]["waitFor"]
    assert "build" in steps["push"]["waitFor"]
    assert "integration-tests" in steps["build"]["waitFor"]
    assert "deploy" in steps["console-deploy"]["waitFor"]
    deploy = " ".join(steps["deploy"]["args"])
    assert "functions/*/main.py" in deploy
    assert 'gcloud run services update "piloto-$$function"' in deploy
    # The same scans as make terraform-check.
    check = steps["terraform-check"]["args"][-1]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for scan in ("--directory terraform", "--file Dockerfile"):
        assert f"--config-file terraform/.checkov.yaml {scan}" in check
        assert f"$(CHECKOV) {scan}" in makefile
    assert "pytest -q tests/terraform" in check
    # Cloud Build substitutes $NAME itself: shell variables must be written $$name.
    known = {"PROJECT_ID", "BUILD_ID"} | set(build["substitutions"])
    for step in build["steps"]:
        for argument in step.get("args", []):
            for name in re.findall(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)", argument):
                assert name in known, (
                    f"{step['id']}: ${name} is not a substitution (write $${name})"
                )


def test_every_skipped_checkov_check_has_a_reason() -> None:
    text = (TERRAFORM / ".checkov.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert config["skip-download"] is True
    skipped = config.get("skip-check", [])
    lines = {
        match.group(1): match.group(2).strip()
        for match in re.finditer(r"^\s*-\s*(CKV\w+)\s*(?:#(.*))?$", text, flags=re.M)
    }
    assert set(skipped) == set(lines)
    for check in skipped:
        assert len(lines[check] or "") >= 40, f"{check} is skipped without a reason"


def test_the_webhook_address_is_what_providers_are_told() -> None:
    module = load(MODULE)
    template = module.outputs["webhook_callback_url_template"]["value"]
    assert expression(template) == (
        'tostring("${local.webhook_public_url}/webhooks/{provider}/{channel_id}")'
    )
