"""Cold start: importing and indexing the app loads what registration needs, not the decision modules."""

from __future__ import annotations

import json
import subprocess
import sys

from bench import coldstart
from devhost.testing import REPO_ROOT

# What the functions' bodies use (docs/DESIGN.md, cold start): imported when a function first runs.
DECISION_MODULES = (
    "provisioning.adoption",
    "provisioning.contracts",
    "provisioning.lifecycle",
    "provisioning.naming",
    "provisioning.permissions",
    "provisioning.plan_diff",
    "provisioning.preflight",
    "provisioning.request",
    "provisioning.settings",
    "provisioning.teardown",
    "provisioning.topology",
)


def test_indexing_the_app_imports_no_decision_module_and_no_sdk() -> None:
    loaded = coldstart.modules_after(coldstart.APP)
    assert "function_app" in loaded
    assert [name for name in DECISION_MODULES if name in loaded] == []
    assert [name for name in loaded if name.startswith(coldstart.HEAVY_PREFIXES)] == []


def test_the_app_registers_every_function_under_its_name() -> None:
    """In a process of its own: indexing is done once per process (the host's, or the bench's)."""
    from provisioning import function_names

    code = ("import json, function_app\n"
            "print(json.dumps([f.get_function_name() for f in function_app.app.get_functions()]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=str(REPO_ROOT), capture_output=True, text=True,
                          check=True, timeout=120)
    registered = set(json.loads(done.stdout.strip().splitlines()[-1]))
    expected = {*function_names.ACTIVITIES, *function_names.ORCHESTRATORS,
                function_names.TEARDOWN_ORCHESTRATOR, function_names.RECORD_ORCHESTRATOR}
    assert sorted(expected - registered) == []
