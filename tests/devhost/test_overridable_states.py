"""host.json `extensions.durableTask.overridableExistingInstanceStates`, as the Azure Storage backend
applies it.

With the backend's default (AnyState) a start under a running instance's id replaces that instance, so two
POSTs for one target at the same moment could both start a run (the second overwriting the first). The
project's host.json sets NonRunningStates: then the second start is refused and the starter answers with the
running instance's URLs.
"""

import json
import shutil
from pathlib import Path

import pytest
import requests

from devhost.testing import DevHost
from tests.devhost.conftest import SAMPLE_APP
from tests.devhost.helpers import follow, start, wait_for

PROJECT_HOST_JSON = Path(__file__).resolve().parents[2] / "host.json"


def test_the_project_never_overwrites_a_running_instance():
    durable = json.loads(PROJECT_HOST_JSON.read_text())["extensions"]["durableTask"]
    assert durable["overridableExistingInstanceStates"] == "NonRunningStates"


def _sample_app_with(tmp_path: Path, overridable: str | None) -> Path:
    app_dir = tmp_path / "app"
    shutil.copytree(SAMPLE_APP, app_dir, ignore=shutil.ignore_patterns("__pycache__"))
    host_json = json.loads((app_dir / "host.json").read_text())
    durable = host_json["extensions"]["durableTask"]
    durable.pop("overridableExistingInstanceStates", None)
    if overridable is not None:
        durable["overridableExistingInstanceStates"] = overridable
    (app_dir / "host.json").write_text(json.dumps(host_json))
    return app_dir


def _running(url: str) -> bool:
    return requests.get(url, timeout=5).json()["runtimeStatus"] == "Running"


@pytest.mark.parametrize("overridable", [None, "AnyState"])
def test_any_state_replaces_a_running_instance(tmp_path, overridable):
    with DevHost(app_dir=_sample_app_with(tmp_path, overridable), db_path=tmp_path / "state.db") as host:
        first = start(host, "waiting", None, instance_id="one-target")
        assert first.status_code == 202
        wait_for(lambda: _running(first.json()["statusQueryGetUri"]))
        second = start(host, "sequence", {"steps": 0, "log": "/dev/null"}, instance_id="one-target")
        assert second.status_code == 202
        # the waiting instance was replaced by the new execution, which completes on its own
        assert follow(second.json()["statusQueryGetUri"]).json()["output"] == []


def test_non_running_states_refuses_to_replace_a_running_instance(tmp_path):
    app_dir = _sample_app_with(tmp_path, "NonRunningStates")
    with DevHost(app_dir=app_dir, db_path=tmp_path / "state.db") as host:
        first = start(host, "waiting", None, instance_id="one-target")
        assert first.status_code == 202
        wait_for(lambda: _running(first.json()["statusQueryGetUri"]))
        # the extension's start_new raises ("... already exists"), so the sample starter answers 500
        again = start(host, "sequence", {"steps": 0, "log": "/dev/null"}, instance_id="one-target")
        assert again.status_code == 500
        assert _running(first.json()["statusQueryGetUri"])
