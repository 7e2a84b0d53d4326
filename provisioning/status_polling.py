"""How long a client polling a run's status should wait before its next poll (`Retry-After`, whole seconds).

The user waits for a finished run until their next poll, so the hint is what the user loses at the end of a
run: short whenever the run could end soon, longer only while a long Azure operation is in progress and the
run cannot end before it does. Decided from the orchestration's custom status alone (`provisioning.status`),
which every status read has at hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provisioning.status import FAILED, ROLLED_BACK, RUNNING, SUCCEEDED

# While nothing long runs (preflight, networks, role assignments, the DNS link after the cluster): the run
# may end, or fail, within seconds.
SOON_SECONDS = 1
# While a long operation runs (the cluster: minutes). Still short next to it: a run that ends right after the
# cluster (the subnet topology) is seen at most this late, 1% of a 5-minute cluster (5 s measured 1.050 at
# worst for the subnet topology, 3 s keeps the user's wait under 1.05 of Azure's time; ~100 polls a cluster).
LONG_OPERATION_SECONDS = 3
# The step whose Azure operation takes minutes (a cluster's create; in a rollback, its delete).
LONG_STEP = "aks_cluster"


def retry_after_seconds(custom_status: Any) -> int:
    """`Retry-After` for a run that is still going, from its custom status (None before the first one)."""
    if not isinstance(custom_status, Mapping) or not isinstance(custom_status.get("steps"), Mapping):
        return SOON_SECONDS  # the run has just started: preflight may fail within a second
    steps: Mapping[str, Any] = custom_status["steps"]
    failed = "error" in custom_status or any(state in (FAILED, ROLLED_BACK) for state in steps.values())
    state = steps.get(LONG_STEP)
    # Rolling back (failed): the cluster this run made is being deleted (minutes).
    if state == RUNNING or (failed and state in (SUCCEEDED, FAILED)):
        return LONG_OPERATION_SECONDS
    return SOON_SECONDS
