"""The SDKs are imported once, under a lock, before the first activity runs (activities/arm.import_sdks).

Activities run on a thread pool; concurrent first imports of azure.core and the mgmt packages deadlock
(`_DeadlockError`) or expose half-initialised modules. The crash test in tests/reliability found it after a
host restart. These tests keep the guard complete: every SDK module an activity imports lazily is covered.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ACTIVITIES = Path(__file__).resolve().parents[2] / "activities"


def lazily_imported_sdk_modules() -> set[str]:
    """`from azure.X import` / `import azure.X` inside functions of activities/*.py (not the durable SDK)."""
    found: set[str] = set()
    for path in ACTIVITIES.glob("*.py"):
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("azure."):
                    found.add(node.module)
                elif isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names if alias.name.startswith("azure."))
    return {module for module in found if not module.startswith("azure.durable_functions")}


def modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=ACTIVITIES.parent, capture_output=True, text=True, check=True, timeout=120,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_import_sdks_covers_every_lazy_sdk_import_of_the_activities():
    lazy = lazily_imported_sdk_modules()
    assert "azure.mgmt.network" in lazy and "azure.core.exceptions" in lazy  # the scan does find them
    loaded = modules_after("from activities import arm\narm.import_sdks()")
    assert sorted(lazy - loaded) == []


def test_importing_the_app_loads_no_management_sdk_until_an_activity_runs():
    loaded = modules_after("import function_app")
    assert not [module for module in loaded if module.startswith(("azure.mgmt", "azure.identity"))]


def test_concurrent_first_activities_import_the_sdks_once_without_error():
    """Sixteen threads start at once in a fresh process, each going through the activity wrapper and then
    importing a different SDK module, as the first activities after a host start do. (The race itself is
    timing-dependent; tests/reliability/test_crashes.py met it reliably before the guard existed.)"""
    code = """
import importlib, threading
from activities import _results, arm
MODULES = ["azure.mgmt.network.models", "azure.mgmt.containerservice.models", "azure.identity",
           "azure.mgmt.containerregistry.models", "azure.mgmt.privatedns.models", "azure.mgmt.msi.models",
           "azure.mgmt.authorization.models", "azure.mgmt.resource.resources", "azure.core.exceptions"]
barrier = threading.Barrier(16)
errors = []
@_results.arm_activity
def body(payload):
    importlib.import_module(payload["module"])
    return _results.ok([], {})
def run(module):
    barrier.wait()
    try:
        body({"module": module})
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=run, args=(MODULES[i % len(MODULES)],)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
assert arm._sdks_imported
"""
    assert "azure.mgmt.privatedns.models" in modules_after(code)
