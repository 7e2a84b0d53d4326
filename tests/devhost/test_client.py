"""The pipeline client (`python -m client submit`) against the local host running the sample app's stand-in
for POST /api/setups, plus its Location/Retry-After handling against canned answers."""

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import requests

from client.cli import submit
from devhost.testing import REPO_ROOT


def _client(host, request: dict, tmp_path: Path, *extra: str, key: str | None = "default"):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("SETUP_FUNCTION_KEY", None)
    if key:
        env["SETUP_FUNCTION_KEY"] = host.function_key if key == "default" else key
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "client",
            "submit",
            str(path),
            "--url",
            host.base_url,
            "--poll-interval",
            "0.1",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=str(REPO_ROOT),
    )


def _no_secrets(host, *texts: str) -> None:
    for text in texts:
        for secret in host.secrets:
            assert secret not in text
        assert "code=" not in text or "code=***" in text


def test_completed_run_prints_progress_and_values(host, tmp_path):
    done = _client(host, {"resourceGroup": "rg1", "steps": ["preflight", "identity", "acr"]}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Hopsworks values:" in done.stdout
    assert "  resourceGroup: rg1" in done.stdout
    assert "  aksClusterName: hopsaks-cluster" in done.stdout
    # not a terminal: one progress line per change, with steps done/total and the running step
    assert "Running: 0/3 steps done; running: preflight" in done.stderr
    assert "Running: 1/3 steps done; running: identity" in done.stderr
    assert "Completed: 3/3 steps done" in done.stderr
    _no_secrets(host, done.stdout, done.stderr)


def test_json_values_on_stdout(host, tmp_path):
    done = _client(host, {"resourceGroup": "rg2", "steps": ["preflight"]}, tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "location": "northeurope",
        "resourceGroup": "rg2",
        "aksClusterName": "hopsaks-cluster",
        "acrRegistryName": "hopsworksaks",
    }


def test_refused_request_prints_every_error_and_exits_2(host, tmp_path):
    refused = _client(host, {"tags": {}}, tmp_path)
    assert refused.returncode == 2
    assert "resourceGroup: is required" in refused.stderr
    assert "steps: is required" in refused.stderr


def test_failed_run_exits_non_zero_with_the_message(host, tmp_path):
    failed = _client(
        host, {"resourceGroup": "rg3", "steps": ["preflight", "identity"], "fail": "identity"}, tmp_path
    )
    assert failed.returncode == 1
    assert "the setup ended Failed" in failed.stderr
    assert "step identity failed: AuthorizationFailed" in failed.stderr
    assert "failed step: identity (AuthorizationFailed)" in failed.stderr
    assert failed.stdout == ""
    _no_secrets(host, failed.stdout, failed.stderr)


def test_missing_or_wrong_key_exits_3_without_echoing_it(host, tmp_path):
    assert _client(host, {"resourceGroup": "x", "steps": ["a"]}, tmp_path, key=None).returncode == 3
    wrong = _client(host, {"resourceGroup": "x", "steps": ["a"]}, tmp_path, key="not-the-key-123456")
    assert wrong.returncode == 3
    assert "not-the-key-123456" not in wrong.stdout + wrong.stderr


class _Answer:
    def __init__(self, status: int, body: dict, headers: dict | None = None) -> None:
        self.status_code = status
        self._body = body
        self.headers = headers or {}
        self.text = json.dumps(body)

    def json(self):
        return self._body


class _Service:
    """Canned answers in the order Logic Apps would see them."""

    def __init__(self, answers: list) -> None:
        self.answers = answers
        self.gets: list[str] = []
        self.posted_headers: dict = {}

    def post(self, url, json=None, headers=None, timeout=None):
        self.posted_headers = headers or {}
        return self.answers.pop(0)

    def get(self, url, timeout=None):
        self.gets.append(url)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_follows_location_honours_retry_after_and_stops_at_first_non_202(tmp_path):
    request = tmp_path / "r.json"
    request.write_text("{}")
    running = {"runtimeStatus": "Running", "customStatus": {"steps": {"a": "running"}, "done": 0, "total": 1}}
    service = _Service(
        [
            _Answer(202, {"id": "i1"}, {"Location": "http://h/status?code=SYSKEY1234", "Retry-After": "7"}),
            _Answer(202, running, {"Location": "http://h/status2?code=SYSKEY1234", "Retry-After": "3"}),
            requests.ConnectionError("host restarting"),
            _Answer(202, running, {"Location": "http://h/status2?code=SYSKEY1234", "Retry-After": "2"}),
            _Answer(500, {"runtimeStatus": "Failed", "output": "Orchestrator function 'x' failed: boom"}),
            _Answer(200, {"runtimeStatus": "Completed"}),  # never read: polling stops at the first non-202
        ]
    )
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        # Each wait is taken as lasting 20 s more than asked (the status answers come slowly), so the first
        # seconds' early polling is over by the second poll and Retry-After alone decides.
        sleeps.append(seconds)
        now[0] += seconds + 20

    out, err = io.StringIO(), io.StringIO()
    code = submit(
        str(request),
        "http://h",
        "KEY-abcdef123",
        600,
        False,
        out=out,
        err=err,
        session=service,
        sleep=sleep,
        clock=lambda: now[0],
    )
    assert code == 1
    assert service.posted_headers == {"x-functions-key": "KEY-abcdef123"}
    assert service.gets == [
        "http://h/status?code=SYSKEY1234",
        "http://h/status2?code=SYSKEY1234",
        "http://h/status2?code=SYSKEY1234",
        "http://h/status2?code=SYSKEY1234",
    ]
    assert sleeps[0] == 1  # the first poll comes sooner than the 202's Retry-After (7)
    assert sleeps[1] == 3 and sleeps[3] == 2  # then the Retry-After of each answer
    assert len(service.answers) == 1
    assert "boom" in err.getvalue()
    assert "SYSKEY1234" not in err.getvalue() + out.getvalue()
    assert "KEY-abcdef123" not in err.getvalue() + out.getvalue()


def test_early_polls_grow_to_retry_after_and_never_exceed_it():
    from client.cli import next_poll_wait

    for retry_after in (0.5, 2.0, 5.0, 10.0, 30.0):
        elapsed, times, waits = 0.0, [], []
        while elapsed < 600:
            wait = next_poll_wait(elapsed, retry_after)
            times.append(elapsed)
            waits.append(wait)
            elapsed += wait
        assert waits[0] == min(1.0, retry_after)  # a re-submit of finished work is answered within a second
        assert all(wait <= retry_after for wait in waits)
        assert waits == sorted(waits)  # never faster again once slowed down
        # After the first 30 s, the service's pace alone: the early polls cost at most 13 more in a run.
        assert all(wait == retry_after for wait, at in zip(waits, times, strict=True) if at >= 30)
        assert len(waits) <= math.ceil(600 / retry_after) + 13


def test_progress_names_the_steps_finished_since_the_last_line():
    from client.cli import Progress

    err = io.StringIO()
    progress = Progress(err, [])
    for runtime, preflight, identity in (
        ("Running", "running", "pending"),
        ("Running", "running", "pending"),  # nothing new: no line
        ("Running", "succeeded", "running"),
        ("Running", "succeeded", "running"),  # nothing new, and nothing newly finished: no line
        ("Completed", "succeeded", "succeeded"),
    ):
        steps = {"preflight": preflight, "identity": identity}
        progress.show(runtime, {"steps": steps, "done": list(steps.values()).count("succeeded"), "total": 2})
    assert err.getvalue().splitlines() == [
        "Running: 0/2 steps done; running: preflight",
        "Running: 1/2 steps done; running: identity; finished: preflight",
        "Completed: 2/2 steps done; finished: identity",
    ]


def test_submit_help_describes_the_command_and_its_defaults():
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("SETUP_URL", None)
    command = [sys.executable, "-m", "client", "submit", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "follow the 202's Location" in text and "Exit codes: 0 completed" in text
    assert "(default: $SETUP_URL, else http://127.0.0.1:7071)" in text
    assert "(default: $SETUP_FUNCTION_KEY)" in text
    assert "(default: 3600)" in text
    assert "growing to the service's Retry-After" in text
    assert "(default: None)" not in text
