"""The local host over real HTTP, running the sample app in a subprocess (tests/devhost/sample_app)."""

import json
import re
import time
from urllib.parse import parse_qs, urlparse

import requests

from tests.devhost.helpers import follow, run, start, wait_for


def test_http_trigger_needs_the_function_key(host):
    url = f"{host.base_url}/api/orchestrators/sequence"
    assert requests.post(url, json={}, timeout=5).status_code == 401
    assert requests.post(url, json={}, params={"code": "wrong"}, timeout=5).status_code == 401
    assert (
        requests.post(url, json={}, headers={"x-functions-key": host.system_key}, timeout=5).status_code
        == 401
    )
    # anonymous route, no key needed; unknown route 404; wrong method 405
    assert requests.get(f"{host.base_url}/api/ping", params={"n": "7"}, timeout=5).text == "pong 7"
    assert requests.get(f"{host.base_url}/api/nothing-here", timeout=5).status_code == 404
    assert requests.get(url, params={"code": host.function_key}, timeout=5).status_code == 405


def test_start_then_follow_location_to_completed(host, tmp_path):
    log = tmp_path / "steps.log"
    response = start(host, "sequence", {"steps": 3, "log": str(log)})
    assert response.status_code == 202
    payload = response.json()
    instance_id = payload["id"]
    status_url = payload["statusQueryGetUri"]
    assert response.headers["Location"] == status_url
    assert response.headers["Retry-After"] == "10"
    # The URLs the extension produces: webhook path, task hub, connection, system key.
    parsed = urlparse(status_url)
    assert parsed.path == f"/runtime/webhooks/durabletask/instances/{instance_id}"
    assert parse_qs(parsed.query) == {
        "taskHub": ["SampleHub"],
        "connection": ["Storage"],
        "code": [host.system_key],
    }
    assert payload["sendEventPostUri"].startswith(
        f"{host.base_url}/runtime/webhooks/durabletask/instances/{instance_id}/raiseEvent/{{eventName}}?"
    )
    assert (
        "/terminate?reason={text}&taskHub=SampleHub&connection=Storage&code=" in payload["terminatePostUri"]
    )
    assert payload["purgeHistoryDeleteUri"] == status_url
    # The status endpoint needs the system key.
    assert requests.get(status_url.split("?")[0], timeout=5).status_code == 401

    final = follow(status_url)
    assert final.status_code == 200
    body = final.json()
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == ["done step-0", "done step-1", "done step-2"]
    assert body["customStatus"] == {"done": 3, "total": 3}
    assert json.loads(body["input"]) == {"steps": 3, "log": str(log)}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["createdTime"])
    assert log.read_text().splitlines() == ["step-0", "step-1", "step-2"]
    # showInput=false hides the input; showHistory lists what happened
    hidden = requests.get(status_url + "&showInput=false&showHistory=true", timeout=5).json()
    assert hidden["input"] is None
    kinds = [e["EventType"] for e in hidden["historyEvents"]]
    assert kinds == [
        "ExecutionStarted",
        "TaskCompleted",
        "TaskCompleted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]


def test_fan_out_fan_in(host, tmp_path):
    log = tmp_path / "fan.log"
    body = run(host, "fan_out", {"count": 8, "log": str(log)})
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == sorted(f"done item-{i}" for i in range(8))
    assert sorted(log.read_text().splitlines()) == sorted(f"item-{i}" for i in range(8))


def test_durable_timer_waits(host):
    body = run(host, "timer", {"seconds": 1.0})
    assert body["runtimeStatus"] == "Completed"
    assert body["output"]["waited"] >= 1.0


def test_retry_options_fixed_interval_then_success(host, tmp_path):
    attempts = tmp_path / "attempts.log"
    body = run(
        host, "retrying", {"log": str(attempts), "succeed_on": 3, "interval_ms": 300, "max_attempts": 4}
    )
    assert body["output"] == {"result": "ok on attempt 3"}
    times = [float(t) for t in attempts.read_text().split()]
    assert len(times) == 3
    assert all(later - earlier >= 0.3 for earlier, later in zip(times, times[1:], strict=False))


def test_retry_options_give_up_after_one_more_interval(host, tmp_path):
    attempts = tmp_path / "attempts.log"
    response = start(
        host, "retrying", {"log": str(attempts), "succeed_on": 99, "interval_ms": 500, "max_attempts": 2}
    )
    status_url = response.json()["statusQueryGetUri"]
    body = follow(status_url).json()
    output = body["output"]
    assert "attempt 2 failed" in output["error"]
    times = [float(t) for t in attempts.read_text().split()]
    assert len(times) == 2  # max_number_of_attempts, not one more
    assert times[1] - times[0] >= 0.5
    # the engine waits one more interval after the last failed attempt before the orchestrator sees it
    assert output["gave_up_at"] - times[1] >= 0.5
    history = requests.get(status_url + "&showHistory=true", timeout=5).json()["historyEvents"]
    assert [e["EventType"] for e in history].count("TimerFired") == 2
    assert [e["EventType"] for e in history].count("TaskFailed") == 2


def test_sub_orchestrations(host, tmp_path):
    log = tmp_path / "child.log"
    body = run(host, "parent", {"log": str(log)})
    assert body["runtimeStatus"] == "Completed"
    output = body["output"]
    assert output["first"] == {"child": 1, "value": "done child-1", "parent": True}
    assert output["second"] == {"child": 2, "value": "done child-2", "parent": True}
    assert "Orchestrator function 'child' failed" in output["third"]
    assert "child failure" in output["third"]
    assert log.read_text().splitlines() == ["child-1", "child-2"]


def test_custom_status_and_external_event(host):
    response = start(host, "waiting", None)
    payload = response.json()
    status_url = payload["statusQueryGetUri"]
    waiting = wait_for(lambda: (r := requests.get(status_url, timeout=5).json())["customStatus"] and r)
    assert waiting["customStatus"] == {"stage": "waiting"}
    assert waiting["runtimeStatus"] == "Running"
    event_url = payload["sendEventPostUri"].replace("{eventName}", "go")
    assert requests.post(event_url, json={"x": 1}, timeout=5).status_code == 202
    body = follow(status_url).json()
    assert body["output"] == {"got": {"x": 1}}
    assert body["customStatus"] == {"stage": "done"}
    # the event endpoint of a finished instance answers 410, of an unknown one 404
    assert requests.post(event_url, json={}, timeout=5).status_code == 410
    assert requests.post(event_url.replace(payload["id"], "nope"), json={}, timeout=5).status_code == 404


def test_raise_event_through_the_sdk_client(host):
    payload = start(host, "waiting", None).json()
    wait_for(lambda: requests.get(payload["statusQueryGetUri"], timeout=5).json()["customStatus"])
    sent = requests.post(
        f"{host.base_url}/api/instances/{payload['id']}/events/go",
        json=["a", 2],
        headers=host.auth_headers,
        timeout=5,
    )
    assert sent.status_code == 202
    assert follow(payload["statusQueryGetUri"]).json()["output"] == {"got": ["a", 2]}


def test_failed_orchestration_500_only_when_asked(host):
    payload = start(host, "failing", None).json()
    status_url = payload["statusQueryGetUri"]
    logic_apps_url = status_url + "&returnInternalServerErrorOnFailure=true"
    failed = follow(logic_apps_url)
    assert failed.status_code == 500
    body = failed.json()
    assert body["runtimeStatus"] == "Failed"
    assert body["output"].startswith(
        "Orchestrator function 'failing' failed: Activity function 'explode' failed:"
    )
    assert "ValueError: boom" in body["output"]
    plain = requests.get(status_url, timeout=5)
    assert plain.status_code == 200
    assert plain.json()["runtimeStatus"] == "Failed"


def test_activity_exception_reaches_orchestrator_as_reason_and_details(host):
    message = run(host, "catching", None)["output"]["message"]
    reason, details = message.split(" \n ", 1)
    assert reason == "Activity function 'explode' failed:  ValueError: caught boom"
    assert json.loads(details)["Message"] == " ValueError: caught boom"


def test_unknown_instance_is_404(host):
    url = f"{host.base_url}/runtime/webhooks/durabletask/instances/does-not-exist"
    assert requests.get(url, params={"code": host.system_key}, timeout=5).status_code == 404
    # through the SDK (get_status over the RPC API)
    assert (
        requests.get(
            f"{host.base_url}/api/instances/does-not-exist", headers=host.auth_headers, timeout=5
        ).status_code
        == 404
    )


def test_sdk_get_status_over_rpc(host, tmp_path):
    payload = start(host, "sequence", {"steps": 1, "log": str(tmp_path / "x.log")}).json()
    follow(payload["statusQueryGetUri"])
    status = requests.get(
        f"{host.base_url}/api/instances/{payload['id']}", headers=host.auth_headers, timeout=5
    ).json()
    assert status["runtimeStatus"] == "Completed"
    assert status["instanceId"] == payload["id"]
    assert status["output"] == ["done step-0"]


def test_terminate(host):
    payload = start(host, "waiting", None).json()
    wait_for(
        lambda: requests.get(payload["statusQueryGetUri"], timeout=5).json()["runtimeStatus"] == "Running"
    )
    terminate_url = payload["terminatePostUri"].replace("{text}", "enough")
    assert requests.post(terminate_url, timeout=5).status_code == 202
    body = follow(payload["statusQueryGetUri"]).json()
    assert body["runtimeStatus"] == "Terminated"
    assert body["output"] == "enough"
    assert requests.post(terminate_url, timeout=5).status_code == 410
    # through the SDK client
    other = start(host, "waiting", None).json()
    assert (
        requests.post(
            f"{host.base_url}/api/instances/{other['id']}/terminate", headers=host.auth_headers, timeout=5
        ).status_code
        == 202
    )
    assert follow(other["statusQueryGetUri"]).json()["runtimeStatus"] == "Terminated"


def test_purge(host, tmp_path):
    payload = start(host, "sequence", {"steps": 1, "log": str(tmp_path / "p.log")}).json()
    follow(payload["statusQueryGetUri"])
    purged = requests.delete(payload["purgeHistoryDeleteUri"], timeout=5)
    assert purged.status_code == 200
    assert purged.json() == {"instancesDeleted": 1}
    assert requests.get(payload["statusQueryGetUri"], timeout=5).status_code == 404
    assert requests.delete(payload["purgeHistoryDeleteUri"], timeout=5).status_code == 404
    # through the SDK client
    other = start(host, "sequence", {"steps": 1, "log": str(tmp_path / "q.log")}).json()
    follow(other["statusQueryGetUri"])
    result = requests.delete(
        f"{host.base_url}/api/instances/{other['id']}", headers=host.auth_headers, timeout=5
    )
    assert result.json() == {"deleted": 1}
    assert requests.get(other["statusQueryGetUri"], timeout=5).status_code == 404


def test_continue_as_new(host):
    body = run(host, "counter", 0)
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == {"final": 3}


def test_same_instance_id_while_running_then_after(host):
    first = start(host, "waiting", None, instance_id="fixed-id")
    assert first.status_code == 202
    assert first.json()["id"] == "fixed-id"
    wait_for(
        lambda: (
            requests.get(first.json()["statusQueryGetUri"], timeout=5).json()["runtimeStatus"] == "Running"
        )
    )
    # the extension refuses to replace a running instance: the starter's start_new raises -> 500
    assert start(host, "waiting", None, instance_id="fixed-id").status_code == 500
    requests.post(first.json()["terminatePostUri"].replace("{text}", "x"), timeout=5)
    follow(first.json()["statusQueryGetUri"])
    again = start(host, "sequence", {"steps": 0, "log": "/dev/null"}, instance_id="fixed-id")
    assert again.status_code == 202
    assert follow(again.json()["statusQueryGetUri"]).json()["output"] == []


def test_unknown_orchestrator_is_refused(host):
    assert start(host, "no_such_orchestrator", None).status_code == 500  # start_new raises in the starter
    url = f"{host.base_url}/runtime/webhooks/durabletask/orchestrators/no_such_orchestrator"
    refused = requests.post(url, params={"code": host.system_key}, json={}, timeout=5)
    assert refused.status_code == 400
    assert "doesn't exist" in refused.json()["ExceptionMessage"]


def test_webhook_start_endpoint(host):
    url = f"{host.base_url}/runtime/webhooks/durabletask/orchestrators/timer"
    response = requests.post(url, params={"code": host.system_key}, json={"seconds": 0.1}, timeout=5)
    assert response.status_code == 202
    assert follow(response.headers["Location"]).json()["output"]["waited"] >= 0.1


def test_task_any_semantics_of_the_extension(host, tmp_path):
    """The extension replays the SDK's V3 actions one top-level action at a time, awaiting each
    (OutOfProcOrchestrationShim.ProcessAsyncActionsV2), and a WhenAny action lists only the tasks that were
    new at that yield. So after `task_any([old, new])` returns with `old`, the next action is scheduled only
    when `new` has completed too. The host reproduces that ordering (the orchestrator still gets `old`
    first); a naive host would run C before B finishes."""
    log = tmp_path / "any.log"
    body = run(host, "mixed_any", {"log": str(log)})
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == {"winner": "done A", "after": "done C"}
    assert log.read_text().splitlines() == ["A", "B", "C"]


def test_an_empty_when_any_action_fails_the_orchestration_like_the_extension(host, tmp_path):
    """The shim invokes a WhenAny action as `Task.WhenAny(children)`; with no children .NET throws
    ArgumentException ("The tasks argument contains no tasks") and the instance fails. A host that took the
    empty WhenAny as done would leave this instance Running for ever (its timer is never scheduled)."""
    log = tmp_path / "empty_any.log"
    payload = start(host, "empty_any", {"log": str(log)}).json()
    failed = follow(payload["statusQueryGetUri"] + "&returnInternalServerErrorOnFailure=true")
    assert failed.status_code == 500
    body = failed.json()
    assert body["runtimeStatus"] == "Failed"
    assert "The tasks argument contains no tasks" in body["output"]
    assert log.read_text().splitlines() == ["first"]  # nothing after the WhenAny was scheduled


def test_list_and_purge_by_filter(host, tmp_path):
    payload = start(host, "sequence", {"steps": 0, "log": str(tmp_path / "n.log")}).json()
    created = follow(payload["statusQueryGetUri"]).json()["createdTime"]
    base = f"{host.base_url}/runtime/webhooks/durabletask/instances/"
    listed = requests.get(base, params={"code": host.system_key, "runtimeStatus": "Completed"}, timeout=5)
    assert listed.status_code == 200
    assert payload["id"] in [item["instanceId"] for item in listed.json()]
    assert all(item["runtimeStatus"] == "Completed" for item in listed.json())
    purge = {"code": host.system_key, "createdTimeFrom": created, "runtimeStatus": "Completed"}
    purged = requests.delete(base, params=purge, timeout=5)
    assert purged.status_code == 200
    assert purged.json()["instancesDeleted"] >= 1
    assert requests.get(payload["statusQueryGetUri"], timeout=5).status_code == 404
    assert requests.delete(base, params=purge, timeout=5).status_code == 404


def test_instance_completes_only_when_its_replayed_actions_have(host, tmp_path):
    """The extension awaits the replayed actions before it reads isDone: an orchestrator that returns after
    `task_any([old, new])` gave `old` stays Running until `new` (the only task its WhenAny action lists) is
    done. A naive host would complete it after about 0.2 s."""
    log = tmp_path / "early.log"
    began = time.monotonic()
    body = run(host, "returns_early", {"log": str(log)})
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == "done old"
    assert time.monotonic() - began >= 1.0
    assert log.read_text().splitlines() == ["old", "new"]


def test_host_output_has_no_secrets(host):
    """Runs last in this module: everything above went through this host's log."""
    output = host.output()
    assert "POST /api/orchestrators/sequence" in output
    for secret in host.secrets:
        assert secret not in output
    assert "code=***" in output
    assert not re.search(r"code=(?!\*\*\*)", output)
