"""`make demo` as a new user sees it, with its output going to a file (a CI log): the demo's own lines in
order with the client's, progress while the run goes on, the values at the end, no key anywhere."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devhost.demo import timing_env
from devhost.testing import REPO_ROOT
from provisioning.settings import Settings


def test_demo_output_in_a_file_is_in_order_shows_progress_and_no_key(tmp_path: Path) -> None:
    log_path = tmp_path / "demo.log"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("PYTHONUNBUFFERED", None)  # as on a machine that does not set it: a file is block-buffered
    started = time.monotonic()
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [sys.executable, "-m", "devhost.demo", str(REPO_ROOT / "examples" / "subnet.json")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(REPO_ROOT),
            timeout=120,
        )
    seconds = time.monotonic() - started
    output = log_path.read_text()
    assert done.returncode == 0, output
    lines = output.splitlines()

    # The demo's lines and the client's interleave as they happened.
    assert lines[0].startswith("simulated Azure: ")
    assert lines[1].startswith("local host: ")
    banner = lines.index(next(line for line in lines if line.startswith("=== subnet.json: POST ")))
    accepted = lines.index(next(line for line in lines if line.startswith("accepted: instance setup-")))
    assert banner < accepted
    assert lines[-1].startswith("ARM traffic: ")
    assert lines.index("Hopsworks values:") < len(lines) - 1

    # Progress while it runs: lines before the end, naming steps as they finish, the cluster among them.
    progress = [line for line in lines if re.match(r"(Running|Completed): \d+/\d+ steps done", line)]
    assert len([line for line in progress if line.startswith("Running:")]) >= 2, output
    finished = [step for line in progress for step in _finished(line)]
    assert "aks_cluster" in finished and "preflight" in finished
    assert sorted(finished) == sorted(set(finished))  # each step reported once
    assert progress[-1].startswith("Completed: 9/9 steps done")
    assert "  subnetName: hopsworks" in lines

    # The state directory the demo printed holds the host's keys: none of them is in the output.
    state_dir = Path(re.search(r"\(state (\S+)\)", lines[1]).group(1))
    keys = json.loads((state_dir / "keys.json").read_text())
    secrets = [keys["masterKey"], *keys["functionKeys"].values(), *keys["systemKeys"].values()]
    assert secrets and not [secret for secret in secrets if secret in output]
    assert seconds < 45, f"one topology took {seconds:.0f} s"


def _finished(line: str) -> list[str]:
    match = re.search(r"; finished: ([^;]+)$", line)
    return match.group(1).split(", ") if match else []


def test_demo_timing_is_the_production_defaults_scaled() -> None:
    production = Settings()
    scaled = timing_env(0.02)
    for setting, default in (
        ("SETUP_POLL_INTERVAL_SECONDS", production.poll_interval_seconds),
        ("SETUP_RETRY_FIRST_SECONDS", production.retry_first_seconds),
        ("SETUP_RETRY_MAX_SECONDS", production.retry_max_seconds),
    ):
        assert float(scaled[setting]) == pytest.approx(default * 0.02), setting
