"""The host is SIGKILLed at seeded random points of 10 runs and started again on the same database: every run
completes with a clean run's output and state, and nothing is created twice."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from devhost.testing import DevHost
from tests.reliability.harness import Lab, Target, normalize

RUNS = 10
SEED = 20260524


@pytest.fixture
def crash_host(lab: Lab) -> Iterator[DevHost]:
    host = lab.new_host("crash")
    host.start()
    yield host
    host.stop()


def test_runs_survive_the_host_being_killed_at_random_points(lab: Lab, crash_host: DevHost) -> None:
    reference = Target("crash|reference")
    lab.prepare(reference)
    clean = lab.run(reference, host=crash_host)
    assert clean.runtime_status == "Completed", clean.output
    output, state = normalize(clean.output, reference), lab.state(reference)

    rng = random.Random(SEED)
    # Kill points spread over a clean run's duration (and a little past it, which must be harmless).
    delays = [clean.seconds * (i + rng.random()) / RUNS * 1.1 for i in range(RUNS)]
    rng.shuffle(delays)
    for i, delay in enumerate(delays):
        target = Target(f"crash|{i}")
        lab.prepare(target)
        mark = lab.log_mark()
        accepted = lab.post(target.body(), host=crash_host)
        assert accepted.status_code == 202, accepted.text
        time.sleep(delay)
        crash_host.kill()
        crash_host.start()
        status, payload = lab.wait(accepted.json()["statusQueryGetUri"])
        where = f"run {i}, killed after {delay:.2f}s"
        assert status == 200 and payload["runtimeStatus"] == "Completed", (where, payload.get("output"))
        got = normalize(payload["output"], target)
        assert got == output, (
            where,
            [(a, b) for a, b in zip(got["resources"], output["resources"], strict=False) if a != b],
        )
        assert lab.state(target) == state, where
        assert max(lab.creations(target, mark).values()) == 1, where
        assert not [o for o in lab.operations(target) if o["status"] == "InProgress"], where
    assert len(crash_host.logs) == RUNS + 1  # it really was restarted each time
