"""No secret leaks: everything runs printed (host log, client output) and returned (status output, custom
status) is scanned for the simulator's issued access tokens, the function key, the master key and the
Durable extension's system key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.reliability.fault_matrix import scoped
from tests.reliability.harness import REPO_ROOT, Lab, Target


def _client(lab: Lab, request: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SETUP_FUNCTION_KEY": lab.host.function_key, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "client",
            "submit",
            str(request),
            "--url",
            lab.host.base_url,
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=180,
        check=False,
    )


def test_no_token_or_key_in_anything_a_run_prints_or_returns(lab: Lab, tmp_path: Path) -> None:
    completed, failed = Target("secrets|completed"), Target("secrets|failed")
    printed: list[str] = []
    for target in (completed, failed):
        lab.prepare(target)
        request = tmp_path / f"{target.label.split('|')[1]}.json"
        request.write_text(json.dumps(target.body()))
        if target is failed:  # a failure's message quotes ARM's error text: scan that too
            lab.sim.add_fault(
                **scoped(
                    failed,
                    {
                        "method": "PUT",
                        "resource_type": "Microsoft.ContainerRegistry/registries",
                        "kind": "status",
                        "status": 403,
                        "code": "AuthorizationFailed",
                        "count": -1,
                    },
                )
            )
        answer = _client(lab, request)
        assert answer.returncode == (0 if target is completed else 1), answer.stdout + answer.stderr
        printed += [answer.stdout, answer.stderr]
    accepted = lab.post(completed.body())  # a re-run, for its 202 payload and status
    status, payload = lab.wait(accepted.json()["statusQueryGetUri"])
    assert payload["runtimeStatus"] == "Completed"

    returned = [
        json.dumps({"output": i.get("output"), "customStatus": i.get("customStatus")})
        for i in lab.instances()
    ]
    returned.append(json.dumps({"output": payload["output"], "customStatus": payload["customStatus"]}))
    haystack = "\n".join(printed + returned + [lab.host.output()])
    tokens = lab.sim.issued_tokens()
    keys = lab.host.secrets
    assert tokens and all(len(k) > 20 for k in keys)
    assert lab.host.system_key in accepted.text  # the 202 payload legitimately carries it (management URLs)
    leaked = [("token", t[:8]) for t in tokens if t in haystack] + [
        ("key", k[:6]) for k in keys if k in haystack
    ]
    assert leaked == []
    assert "AuthorizationFailed" in haystack  # the failure really was printed and scanned
