"""Cold start: importing and indexing function_app.py in a fresh process, against the Functions SDKs alone."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from devhost.testing import REPO_ROOT

BASELINE = "import azure.functions, azure.durable_functions"
APP = "import function_app; function_app.app.get_functions()"
# Modules that must not be imported before an activity needs them (DESIGN.md: activities import inside).
HEAVY_PREFIXES = ("azure.mgmt", "azure.identity", "azure.core.polling", "msal", "cryptography")

_TIMED = """
import time
began = time.perf_counter()
{code}
print(time.perf_counter() - began)
"""

_MODULES = """
import json, sys
{code}
print(json.dumps(sorted(sys.modules)))
"""


def _run(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], cwd=str(REPO_ROOT), capture_output=True, text=True,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


def time_import(code: str) -> float:
    return float(_run(_TIMED.format(code=code)))


def modules_after(code: str) -> list[str]:
    return json.loads(_run(_MODULES.format(code=code)))


def measure(repetitions: int = 7) -> dict:
    """Alternate the two imports `repetitions` times each: medians, their ratio, what the app loads."""
    baseline, app = [], []
    for _ in range(repetitions):
        baseline.append(time_import(BASELINE))
        app.append(time_import(APP))
    base_modules = set(modules_after(BASELINE))
    app_modules = modules_after(APP)
    extra = [m for m in app_modules if m not in base_modules]
    heavy = sorted(m for m in app_modules if m.startswith(HEAVY_PREFIXES))
    top_level = sorted({m.split(".")[0] for m in extra})
    return {
        "repetitions": repetitions,
        "baselineMedianSeconds": statistics.median(baseline),
        "appMedianSeconds": statistics.median(app),
        "ratio": statistics.median(app) / statistics.median(baseline),
        "heavyModulesAtStartup": heavy,
        "extraTopLevelPackages": top_level,
        "extraModuleCount": len(extra),
    }
