"""Many setups at once on one host: 20 targets all complete correctly; 10 simultaneous POSTs for one target
start one run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.reliability.harness import Lab, Target, normalize


@pytest.fixture(scope="module")
def reference(lab: Lab) -> tuple[Any, Any]:
    """A clean run's normalized output and state, to compare the concurrent runs with."""
    target = Target("concurrency|reference")
    lab.prepare(target)
    result = lab.run(target)
    assert result.runtime_status == "Completed", result.output
    return normalize(result.output, target), lab.state(target)


def test_twenty_setups_for_different_targets_at_once_all_complete_correctly(
    lab: Lab, reference: tuple[Any, Any]
) -> None:
    output, state = reference
    targets = [Target(f"concurrency|{i}") for i in range(20)]
    for target in targets:
        lab.prepare(target)
    mark = lab.log_mark()
    with ThreadPoolExecutor(len(targets)) as pool:
        results = list(pool.map(lambda t: lab.run(t, timeout=180), targets))
    for target, result in zip(targets, results, strict=True):
        assert result.runtime_status == "Completed", (target.label, result.output)
        assert normalize(result.output, target) == output, target.label
        assert lab.state(target) == state, target.label
        assert max(lab.creations(target, mark).values()) == 1, target.label


def test_concurrent_posts_for_one_target_start_one_run(lab: Lab, reference: tuple[Any, Any]) -> None:
    output, state = reference
    target = Target("concurrency|same-target")
    lab.prepare(target)
    mark = lab.log_mark()
    barrier = threading.Barrier(10)

    def post() -> tuple[int, dict]:
        barrier.wait()
        response = lab.post(target.body())
        return response.status_code, response.json()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: post(), range(10)))
    assert {status for status, _ in answers} == {202}
    assert len({payload["id"] for _, payload in answers}) == 1
    status, payload = lab.wait(answers[0][1]["statusQueryGetUri"])
    assert payload["runtimeStatus"] == "Completed"
    assert normalize(payload["output"], target) == output
    assert lab.state(target) == state
    assert max(lab.creations(target, mark).values()) == 1
    history = lab.http.get(answers[0][1]["statusQueryGetUri"], params={"showHistory": "true"}).json()
    started = [e for e in history["historyEvents"] if e["EventType"] == "ExecutionStarted"]
    assert len(started) == 1
    preflights = [
        e for e in lab.log(target, mark) if e["path"].endswith("Microsoft.Authorization/permissions")
    ]
    assert len(preflights) == 1  # one run, one preflight
    assert len([i for i in lab.instances() if i["instanceId"] == payload["instanceId"]]) == 1
