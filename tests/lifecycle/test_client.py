"""`python -m client plan` and `python -m client teardown` as a pipeline runs them, against the local host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.lifecycle.helpers import hold_registry, post
from tests.reliability.harness import REPO_ROOT, Lab, Target


def client(
    lab: Lab, tmp_path: Path, command: str, target: Target, *extra: str
) -> subprocess.CompletedProcess:
    request = tmp_path / f"{command}.json"
    request.write_text(json.dumps(target.body()))
    env = {**os.environ, "SETUP_FUNCTION_KEY": lab.host.function_key}
    return subprocess.run(
        [sys.executable, "-m", "client", command, str(request), "--url", lab.host.base_url, *extra],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_plan_prints_like_terraform_and_exits_by_problems(lab: Lab, tmp_path: Path) -> None:
    target = Target("lifecycle|client")
    missing = client(lab, tmp_path, "plan", target)  # no resource group yet: preflight would fail
    assert missing.returncode == 2, missing.stderr
    assert "Problems (1)" in missing.stdout and "ResourceGroupNotFound" in missing.stdout

    lab.prepare(target)
    fresh = client(lab, tmp_path, "plan", target)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    lines = fresh.stdout.splitlines()
    assert "  + Microsoft.ManagedIdentity/userAssignedIdentities  hopsworks-identity" in lines
    assert "  + Microsoft.Network/virtualNetworks/subnets  hopsaks-vnet/subnets/aks-nodes" in lines
    assert lines[-1] == "Plan: 16 to create, 0 to update, 0 to adopt, 0 in conflict, 0 unchanged."

    as_json = client(lab, tmp_path, "plan", target, "--json")
    assert as_json.returncode == 0
    assert {c["action"] for c in json.loads(as_json.stdout)["changes"]} == {"create"}

    assert lab.run(target).runtime_status == "Completed"
    again = client(lab, tmp_path, "plan", target)
    assert again.returncode == 0
    assert (
        again.stdout.splitlines()[-1]
        == "No changes: the setup would find everything in place (16 unchanged)."
    )
    assert all(line.startswith(("  = ", "      keep: ", "")) for line in again.stdout.splitlines())

    removed = client(lab, tmp_path, "teardown", target, "--poll-interval", "0.1")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith("Deleted ") and "hopsaks-cluster" in removed.stdout
    assert "Completed" in removed.stderr  # progress from the custom status
    for shown in (removed.stdout, removed.stderr, fresh.stdout, fresh.stderr):
        assert lab.host.function_key not in shown and "code=" not in shown


def test_teardown_refused_while_the_setup_runs(lab: Lab, tmp_path: Path) -> None:
    target = Target("lifecycle|client-busy")
    lab.prepare(target)
    hold_registry(lab, target, "PUT")
    setup = post(lab, "setups", target.body())
    refused = client(lab, tmp_path, "teardown", target)
    assert refused.returncode == 1, refused.stderr
    assert "refused: a setup for this target is running" in refused.stderr
    assert "code=" not in refused.stderr + refused.stdout
    lab.wait(setup.json()["statusQueryGetUri"])
