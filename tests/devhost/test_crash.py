"""kill -9 the host mid-run, start it again on the same database: every run carries on to the same result.

Activities are at-least-once, as in the real engine: an activity that was running (or whose result had not
been committed) when the host died runs again after the restart. Nothing else runs twice, and the status URL
handed out before the crash keeps working (same port, same keys).
"""

from tests.devhost.helpers import follow, start, wait_for


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def _assert_at_least_once_in_order(lines, expected):
    deduplicated = [line for i, line in enumerate(lines) if i == 0 or lines[i - 1] != line]
    assert deduplicated == expected  # every step, in order; a repeat only right after itself (a re-run)


def test_kill_during_activities_and_timers_then_restart(fresh_host, tmp_path):
    host = fresh_host.start()
    log = tmp_path / "steps.log"
    steps = 8
    payload = start(host, "sequence", {"steps": steps, "log": str(log), "sleep": 0.3, "pause": 0.2}).json()
    wait_for(lambda: len(_lines(log)) >= 2)
    host.kill()  # mid-activity or mid-timer
    host.start()
    wait_for(lambda: len(_lines(log)) >= 5)
    host.kill()
    host.start()
    final = follow(payload["statusQueryGetUri"], timeout=60)
    body = final.json()
    assert final.status_code == 200
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == [f"done step-{i}" for i in range(steps)]
    _assert_at_least_once_in_order(_lines(log), [f"step-{i}" for i in range(steps)])
    assert len(_lines(log)) <= steps + 2  # at most the two activities in flight at the kills ran twice


def test_kill_during_fan_out_then_restart(fresh_host, tmp_path):
    host = fresh_host.start()
    log = tmp_path / "fan.log"
    payload = start(host, "fan_out", {"count": 12, "log": str(log)}).json()
    wait_for(lambda: len(_lines(log)) >= 3)
    host.kill()
    host.start()
    body = follow(payload["statusQueryGetUri"], timeout=60).json()
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == sorted(f"done item-{i}" for i in range(12))
    assert set(_lines(log)) == {f"item-{i}" for i in range(12)}
    assert "Location" not in follow(payload["statusQueryGetUri"]).headers


def test_kill_right_after_start_then_restart(fresh_host, tmp_path):
    host = fresh_host.start()
    log = tmp_path / "early.log"
    payload = start(host, "sequence", {"steps": 3, "log": str(log)}).json()
    host.kill()  # the run may not even have had its first episode
    host.start()
    body = follow(payload["statusQueryGetUri"], timeout=60).json()
    assert body["output"] == ["done step-0", "done step-1", "done step-2"]
    _assert_at_least_once_in_order(_lines(log), ["step-0", "step-1", "step-2"])
    for secret in host.secrets:
        assert secret not in host.output()
