"""`make demo`: the whole product end to end on the simulated Azure, as a user would see it.

Starts the simulated Azure (in this process) and the local host (a subprocess, like `func start`), seeds the
resource groups the example requests name, then submits each example in `examples/` with the pipeline client,
which shows progress and prints the values to enter in hopsworks.ai. Latencies are the simulator's realistic
model scaled down so the whole demo takes well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from devhost.testing import REPO_ROOT, DevHost
from provisioning.settings import Settings
from simulator import Simulator

EXAMPLES = ("peering.json", "subnet.json")
# Azure's cluster takes ~5 min in the simulator's model: at 0.02 it takes 6 s.
DEFAULT_LATENCY_SCALE = 0.02


def seed_resource_groups(sim: Simulator, examples: list[Path]) -> None:
    for path in examples:
        request = json.loads(path.read_text())
        sim.add_resource_group(request["subscriptionId"], request["resourceGroup"], request["location"])


def timing_env(latency_scale: float) -> dict[str, str]:
    """Production timing defaults scaled like the simulator's latencies (5 s polling -> 0.1 s at 0.02)."""
    production = Settings()
    return {
        "SETUP_POLL_INTERVAL_SECONDS": f"{max(0.05, production.poll_interval_seconds * latency_scale):g}",
        "SETUP_RETRY_FIRST_SECONDS": f"{max(0.05, production.retry_first_seconds * latency_scale):g}",
        "SETUP_RETRY_MAX_SECONDS": f"{max(0.2, production.retry_max_seconds * latency_scale):g}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--latency-scale", type=float, default=DEFAULT_LATENCY_SCALE)
    parser.add_argument("examples", nargs="*", help="request files (default: both in examples/)")
    args = parser.parse_args(argv)
    # Line by line even into a file or a CI log: the client subprocess writes to the same stream, and a
    # block-buffered demo line would land after the client's.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    examples = [Path(p) for p in args.examples] or [REPO_ROOT / "examples" / name for name in EXAMPLES]

    sim = Simulator(latency_scale=args.latency_scale)
    sim.start()
    state_dir = Path(tempfile.mkdtemp(prefix="hopsworks-setup-demo-"))
    failures = 0
    try:
        seed_resource_groups(sim, examples)
        print(f"simulated Azure: {sim.endpoint} (CA {sim.ca_file})")
        env = {**sim.env(), **timing_env(args.latency_scale)}
        with DevHost(REPO_ROOT, state_dir / "state.db", env=env) as host:
            print(f"local host:      {host.base_url} (state {state_dir})\n")
            client_env = {**os.environ, "SETUP_FUNCTION_KEY": host.function_key}
            for path in examples:
                print(f"=== {path.name}: POST {host.base_url}/api/setups")
                done = subprocess.run(
                    [sys.executable, "-m", "client", "submit", str(path), "--url", host.base_url],
                    env=client_env,
                    cwd=REPO_ROOT,
                    check=False,
                )
                failures += done.returncode != 0
                print()
            writes = [r for r in sim.requests if r["method"] in ("PUT", "PATCH", "DELETE", "POST")]
            resources = sim.state()["resources"]
            print(f"ARM traffic: {len(sim.requests)} requests, {len(writes)} writes, "
                  f"{len(resources)} resources in the simulated Azure")
    finally:
        sim.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
