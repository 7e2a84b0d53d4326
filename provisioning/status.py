"""The orchestration's custom status: what a client polling the status URL sees while a setup runs.

Small plain JSON, never falsy (the host drops a falsy custom status), and nothing secret: step names,
states, counts and an ARM error code; never URLs, keys, tokens or ARM messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
STATES = (PENDING, RUNNING, SUCCEEDED, FAILED, ROLLED_BACK)


def build_status(
    topology: str,
    step_names: Sequence[str],
    states: Mapping[str, str],
    error: Mapping[str, str] | None = None,
) -> dict:
    """`topology`, `steps` (each of `step_names` in order, pending when not in `states`), `done` (how many
    succeeded), `total`, and `error` (`{step, code}`) after a failure."""
    steps = {name: states.get(name, PENDING) for name in step_names}
    for state in steps.values():
        if state not in STATES:
            raise ValueError(f"step state must be one of {', '.join(STATES)}, not {state!r}")
    status: dict = {
        "topology": topology,
        "steps": steps,
        "done": sum(1 for state in steps.values() if state == SUCCEEDED),
        "total": len(steps),
    }
    if error is not None:
        status["error"] = {"step": str(error["step"]), "code": str(error["code"])}
    return status
