"""The fault matrix: every ARM write the app makes x every transient fault, every step x every permanent
fault, every rollback delete x a transient and a permanent fault. Prints the table:

    python -m tests.reliability.fault_matrix        (or: make fault-matrix)

The rows are not a list kept by hand: they come from a clean reference run's request log (each (method,
resource type) with PUT/PATCH/DELETE/POST) and, for the rollback rows, from the log of a run that fails at its
last step and rolls everything back. Every cell runs a whole setup on the local host against the simulated
Azure, with its faults scoped to its own subscription, so cells run side by side.

What a cell must show:
* transient: the run completes with the reference run's output, the target's final Azure state equals the
  reference's, no resource was created twice, every injected fault actually fired.
* permanent: the run ends Failed, the custom status and the failure message name the step and the ARM code,
  the target's Azure state equals its state before the run (an unrelated vnet and adopted resources - an
  existing identity and an existing Hopsworks vnet - were seeded and must survive untouched), the fault fired.
* rollback, transient delete fault: as permanent (everything gone), and the delete fault fired (so it was
  retried). Permanent delete fault: the failure message reports the resource as left behind with the code,
  and what is left over is exactly that resource (and what lies under it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.harness import (
    LOCATION,
    Lab,
    RunResult,
    Target,
    as_multiset,
    multiset_diff,
    normalize,
    short_type,
    write_pairs,
)

RA = "Microsoft.Authorization/roleAssignments"

# Transient faults: column name -> fault fields for a (method, resource type).
BUSY_CODE = {
    "Microsoft.ContainerService/managedClusters": "OperationNotAllowed",
    "Microsoft.ContainerRegistry/registries": "OperationNotAllowed",
}


def transient_faults(method: str, resource_type: str) -> dict[str, list[dict[str, Any]]]:
    base = {"method": method, "resource_type": resource_type}
    faults: dict[str, list[dict[str, Any]]] = {
        "429 Retry-After": [dict(base, kind="status", status=429, retry_after=1, count=1)],
        "5xx twice": [
            dict(base, kind="status", status=503, count=1),
            dict(base, kind="status", status=500, count=1),
        ],
        "dropped connection": [dict(base, kind="drop", count=1)],
        "409 busy": [
            dict(
                base,
                kind="status",
                status=409,
                count=1,
                code=BUSY_CODE.get(resource_type, "AnotherOperationInProgress"),
            )
        ],
    }
    if method == "PUT" and resource_type == RA:
        # A principal this run just made is not found by its first 4 role-assignment PUTs (the identity's 4
        # roles, asked for together). Counted, not timed: when the first PUT comes depends on the scheduler
        # (a lock-step round waits for the slowest step of the round), not on the replication being tested.
        faults["PrincipalNotFound"] = [dict(base, kind="principal_not_found", seconds=5.0, count=4)]
    return faults


TRANSIENT_COLUMNS = ["429 Retry-After", "5xx twice", "dropped connection", "409 busy", "PrincipalNotFound"]

# Each step's first write (peering topology): method, resource type, path regex after the subscription.
STEP_WRITES: dict[str, tuple[str, str, str, bool]] = {
    # step: (method, resource type, path regex, is a long-running operation)
    "preflight": ("POST", "Microsoft.ContainerRegistry/registries", r".*/checkNameAvailability$", False),
    "identity": ("PUT", "Microsoft.ManagedIdentity/userAssignedIdentities", r".*", False),
    "identity_roles": ("PUT", RA, r"resourceGroups/[^/]+/providers/Microsoft\.Authorization/", False),
    "aks_network": ("PUT", "Microsoft.Network/virtualNetworks", r".*/virtualNetworks/hopsaks-vnet$", True),
    "aks_cluster": ("PUT", "Microsoft.ContainerService/managedClusters", r".*", True),
    "aks_network_role": ("PUT", RA, r".*/virtualNetworks/[^/]+/providers/Microsoft\.Authorization/", False),
    "acr": ("PUT", "Microsoft.ContainerRegistry/registries", r".*", True),
    "acr_retention": ("PATCH", "Microsoft.ContainerRegistry/registries", r".*", True),
    "acr_pull": ("PUT", RA, r".*/registries/[^/]+/providers/Microsoft\.Authorization/", False),
    "hopsworks_network": (
        "PUT",
        "Microsoft.Network/virtualNetworks",
        r".*/virtualNetworks/hopsworks-vnet$",
        True,
    ),
    "peering": ("PUT", "Microsoft.Network/virtualNetworks/virtualNetworkPeerings", r".*", True),
    "dns_link": ("PUT", "Microsoft.Network/privateDnsZones/virtualNetworkLinks", r".*", True),
}
PERMANENT_COLUMNS = ["operation Failed", "403 AuthorizationFailed", "400 InvalidParameter"]
NAME_CHECK_NOT_ALLOWED = ("preflight", "403 AuthorizationFailed")
LRO_FAILED_CODE = "ResourceDeploymentFailure"
DELETE_COLUMNS = ["delete 5xx twice", "delete 403 (left behind)"]


def permanent_fault(step: str, column: str) -> dict[str, Any] | None:
    method, resource_type, suffix, is_lro = STEP_WRITES[step]
    base = {"method": method, "resource_type": resource_type, "count": -1, "regex_suffix": suffix}
    if column == "operation Failed":
        return dict(base, kind="lro_failed", code=LRO_FAILED_CODE) if is_lro else None
    if column == "403 AuthorizationFailed":
        return dict(base, kind="status", status=403, code="AuthorizationFailed")
    return dict(base, kind="status", status=400, code="InvalidParameter")


def expected_code(fault: dict[str, Any]) -> str:
    return str(fault["code"])


@dataclass
class Cell:
    group: str  # transient | permanent | rollback
    row: str
    column: str
    faults: list[dict[str, Any]]
    step: str | None = None  # the step that must be named (permanent, rollback)
    code: str | None = None  # the ARM code that must be named
    seed: bool = False
    delete_permanent: dict[str, Any] | None = None

    @property
    def target(self) -> Target:
        return Target(f"matrix|{self.group}|{self.row}|{self.column}")


@dataclass
class CellResult:
    cell: Cell
    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Reference:
    target: Target
    output: Any
    state: Any
    created: set[str]
    writes: list[tuple[str, str]]
    deletes: list[tuple[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- faults


def scoped(target: Target, fault: dict[str, Any]) -> dict[str, Any]:
    """A fault's fields with its path limited to the target's subscription."""
    fields = {k: v for k, v in fault.items() if k != "regex_suffix"}
    suffix = fault.get("regex_suffix", ".*")
    fields["path"] = "^" + re.escape(target.path_scope) + suffix
    fields["regex"] = True
    return fields


def seed_pre_existing(lab: Lab, target: Target, skip_step: str | None) -> None:
    """Something unrelated, and resources the run adopts (never the one the faulted step must write)."""
    lab.seed_vnet(target, "unrelated-vnet", "192.168.0.0/16", {"default": "192.168.1.0/24"})
    if skip_step != "identity":
        lab.seed_identity(target, "hopsworks-identity")
    if skip_step != "hopsworks_network":
        lab.seed_vnet(target, "hopsworks-vnet", "172.18.0.0/16", {"default": "172.18.0.0/24"})


# ---------------------------------------------------------------------------------------------- reference


def reference_run(lab: Lab) -> Reference:
    target = Target("matrix|reference")
    lab.prepare(target)
    mark = lab.log_mark()
    result = lab.run(target)
    if result.runtime_status != "Completed":
        raise AssertionError(f"the clean reference run did not complete: {result.payload}")
    created = {k for k in normalize(sorted(lab.creations(target, mark)), target)}
    return Reference(
        target,
        normalize(result.output, target),
        lab.state(target),
        created,
        write_pairs(lab.writes(target, mark)),
    )


def rollback_reference(lab: Lab) -> list[tuple[str, str]]:
    """DELETE pairs of a run that fails at its last step (dns_link) and rolls everything back."""
    target = Target("matrix|rollback-reference")
    lab.prepare(target)
    mark = lab.log_mark()
    fault = permanent_fault("dns_link", "400 InvalidParameter")
    assert fault is not None
    lab.sim.add_fault(**scoped(target, fault))
    result = lab.run(target)
    if result.runtime_status != "Failed":
        raise AssertionError(f"the rollback reference run did not fail: {result.payload}")
    return [pair for pair in write_pairs(lab.writes(target, mark)) if pair[0] == "DELETE"]


def build_cells(reference: Reference) -> list[Cell]:
    cells: list[Cell] = []
    for method, resource_type in reference.writes:
        row = f"{method} {short_type(resource_type)}"
        for column, faults in transient_faults(method, resource_type).items():
            cells.append(Cell("transient", row, column, faults))
    for step in STEP_WRITES:
        for column in PERMANENT_COLUMNS:
            fault = permanent_fault(step, column)
            if fault is not None and (step, column) == NAME_CHECK_NOT_ALLOWED:
                # Not allowed to check the registry name is no reason to stop (issue #9): the run completes
                # exactly like the clean one, and the registry create's own AlreadyInUse would decide.
                cells.append(Cell("transient", "POST checkNameAvailability", column, [fault]))
            elif fault is not None:
                cells.append(
                    Cell("permanent", step, column, [fault], step=step, code=expected_code(fault), seed=True)
                )
    base = permanent_fault("dns_link", "400 InvalidParameter")
    assert base is not None
    for method, resource_type in reference.deletes:
        row = f"{method} {short_type(resource_type)}"
        scope = {"method": method, "resource_type": resource_type}
        cells.append(
            Cell(
                "rollback",
                row,
                DELETE_COLUMNS[0],
                [
                    base,
                    dict(scope, kind="status", status=503, count=1),
                    dict(scope, kind="status", status=500, count=1),
                ],
                step="dns_link",
                code="InvalidParameter",
            )
        )
        forever = dict(scope, kind="status", status=403, code="AuthorizationFailed", count=-1)
        cells.append(
            Cell(
                "rollback",
                row,
                DELETE_COLUMNS[1],
                [base, forever],
                step="dns_link",
                code="InvalidParameter",
                delete_permanent=forever,
            )
        )
    return cells


# ---------------------------------------------------------------------------------------------- one cell


def run_cell(lab: Lab, reference: Reference, cell: Cell) -> CellResult:
    began = time.monotonic()
    target = cell.target
    faults: list[Any] = []
    try:
        lab.prepare(target)
        if cell.seed:
            seed_pre_existing(lab, target, cell.step)
        before = lab.state(target)
        mark = lab.log_mark()
        faults = [lab.sim.add_fault(**scoped(target, f)) for f in cell.faults]
        result = lab.run(target)
        problems = check_cell(lab, reference, cell, target, result, before, mark)
        problems += [
            f"fault {f.kind} {f.method} {f.resource_type} never fired" for f in faults if not f.fired
        ]
        return CellResult(cell, not problems, "; ".join(problems), time.monotonic() - began)
    except Exception as exc:  # noqa: BLE001 - a cell that crashes is a failed cell, with the reason
        return CellResult(cell, False, f"{type(exc).__name__}: {exc}", time.monotonic() - began)
    finally:
        with lab.sim.arm.lock:
            lab.sim.arm.faults[:] = [f for f in lab.sim.arm.faults if not any(f is mine for mine in faults)]


def check_cell(
    lab: Lab, reference: Reference, cell: Cell, target: Target, result: RunResult, before: Any, mark: int
) -> list[str]:
    problems: list[str] = []
    busy = [o for o in lab.operations(target) if o["status"] == "InProgress"]
    if busy:
        problems.append(f"{len(busy)} operation(s) still in progress")
    if cell.group == "transient":
        return problems + _check_completed_like_the_clean_run(lab, reference, target, result, mark)
    return problems + _check_failed_and_rolled_back(lab, cell, target, result, before)


def _check_completed_like_the_clean_run(
    lab: Lab, reference: Reference, target: Target, result: RunResult, mark: int
) -> list[str]:
    problems: list[str] = []
    if result.runtime_status != "Completed" or result.http_status != 200:
        return [f"run {result.runtime_status} ({result.http_status}): {str(result.output)[:400]}"]
    if normalize(result.output, target) != reference.output:
        problems.append("output differs from the clean run's")
    state = lab.state(target)
    if state != reference.state:
        problems.append("final state differs from the clean run's:\n" + multiset_diff(state, reference.state))
    creations = lab.creations(target, mark)
    twice = [rid for rid, n in creations.items() if n > 1]
    if twice:
        problems.append(f"created twice: {twice}")
    created = set(normalize(sorted(creations), target))
    if created != reference.created:
        problems.append(f"created {sorted(created ^ reference.created)} unlike the clean run")
    return problems


def _check_failed_and_rolled_back(
    lab: Lab, cell: Cell, target: Target, result: RunResult, before: Any
) -> list[str]:
    problems: list[str] = []
    message = result.output if isinstance(result.output, str) else json.dumps(result.output)
    error = (result.custom_status or {}).get("error") or {}
    if result.runtime_status != "Failed" or result.http_status != 500:
        return [f"run {result.runtime_status} ({result.http_status}), expected Failed (500)"]
    if error.get("step") != cell.step:
        problems.append(f"custom status names step {error.get('step')!r}, not {cell.step!r}")
    if cell.code not in (error.get("code"), None) and cell.code not in message:
        problems.append(
            f"the code {cell.code} is named neither in the custom status ({error}) nor in the message"
        )
    if f"step {cell.step}" not in message:
        problems.append(f"the failure message does not name step {cell.step}")
    state = lab.state(target)
    if cell.delete_permanent is None:
        if state != before:
            problems.append("state after the run differs from before it:\n" + multiset_diff(state, before))
        if "Left behind: nothing" not in message:
            problems.append(f"message reports something left behind: {message[-300:]}")
        return problems
    return problems + _check_left_behind(lab, cell, target, message, before)


def _check_left_behind(lab: Lab, cell: Cell, target: Target, message: str, before: Any) -> list[str]:
    """A delete that fails for good: reported as left behind (with its code), and that is all that is
    left."""
    assert cell.delete_permanent is not None
    problems: list[str] = []
    reported = left_behind(message)
    resource_type = cell.delete_permanent["resource_type"]
    blocked = [
        r
        for r in lab.resources(target)
        if r["type"].lower() == resource_type.lower()
        and normalize(r, target) not in [json.loads(item) for item in before]
    ]
    # None left is right too when its parent was deleted (a vnet takes its subnets and peerings with it):
    # then nothing may be reported left behind either (checked below: reported ones must exist).
    for resource in blocked:
        if reported.get(resource["id"].lower()) != "AuthorizationFailed":
            problems.append(f"{resource['id']} is left but not reported left behind (AuthorizationFailed)")
    present = {r["id"].lower() for r in lab.resources(target)}
    for rid in reported:
        if rid not in present:
            problems.append(f"{rid} is reported left behind but is gone")
    kept = set(reported)
    owned_groups = {
        r["id"].lower() for r in lab.resources(target) if str(r.get("managedBy", "")).lower() in kept
    }
    rest = as_multiset(
        normalize(r, target)
        for r in lab.resources(target)
        if not any(r["id"].lower() == k or r["id"].lower().startswith(k + "/") for k in kept | owned_groups)
    )
    if rest != before:
        problems.append(
            "besides what is reported left behind the state differs:\n" + multiset_diff(rest, before)
        )
    return problems


_LEFT = re.compile(r"(/subscriptions/\S+) \((\w+)\)")


def left_behind(message: str) -> dict[str, str]:
    """{lower-case id: code} of what the failure message reports as left behind."""
    marker = "Left behind "
    if marker not in message or "Left behind: nothing" in message:
        return {}
    tail = message.split(marker, 1)[1]
    return {rid.lower(): code for rid, code in _LEFT.findall(tail)}


# ---------------------------------------------------------------------------------------------- matrix


@dataclass
class Matrix:
    reference: Reference
    results: list[CellResult]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def failures(self) -> list[CellResult]:
        return [r for r in self.results if not r.ok]


def run_matrix(lab: Lab, workers: int = 10, only: Callable[[Cell], bool] | None = None) -> Matrix:
    began = time.monotonic()
    reference = reference_run(lab)
    reference.deletes = rollback_reference(lab)
    cells = [c for c in build_cells(reference) if only is None or only(c)]
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda c: run_cell(lab, reference, c), cells))
    return Matrix(reference, results, time.monotonic() - began)


def render(matrix: Matrix) -> str:
    out: list[str] = []
    groups = [
        (
            "Transient faults on every ARM write: completes, same output and state as a clean run, nothing "
            "created twice",
            "transient",
            TRANSIENT_COLUMNS,
        ),
        (
            "Permanent faults at every step: Failed naming step + code, all it created removed, pre-existing "
            "resources untouched",
            "permanent",
            PERMANENT_COLUMNS,
        ),
        (
            "Rollback deletes (run failing at dns_link): transient delete retried; permanent delete reported "
            "left behind",
            "rollback",
            DELETE_COLUMNS,
        ),
    ]
    for title, group, columns in groups:
        results = [r for r in matrix.results if r.cell.group == group]
        rows = list(dict.fromkeys(r.cell.row for r in results))
        by = {(r.cell.row, r.cell.column): r for r in results}
        width = max([len(r) for r in rows] + [4])
        out.append(f"\n{title}\n")
        header = f"| {'':<{width}} | " + " | ".join(columns) + " |"
        out.append(header)
        out.append("|" + "-" * (width + 2) + "|" + "|".join("-" * (len(c) + 2) for c in columns) + "|")
        for row in rows:
            cells = []
            for column in columns:
                r = by.get((row, column))
                mark = "n/a" if r is None else ("pass" if r.ok else "FAIL")
                cells.append(f"{mark:^{len(column)}}")
            out.append(f"| {row:<{width}} | " + " | ".join(cells) + " |")
    passed = sum(r.ok for r in matrix.results)
    out.append(
        f"\n{passed}/{len(matrix.results)} cells passed in {matrix.seconds:.0f} s "
        f"(location {LOCATION}, clean run wrote {len(matrix.reference.writes)} kinds of request)."
    )
    for r in matrix.failures():
        out.append(f"FAIL {r.cell.group} {r.cell.row} / {r.cell.column}: {r.detail[:1500]}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=10, help="cells run at once (default 10)")
    parser.add_argument("--group", choices=["transient", "permanent", "rollback"], help="only this group")
    args = parser.parse_args(argv)
    with Lab() as lab:
        matrix = run_matrix(lab, args.workers, (lambda c: c.group == args.group) if args.group else None)
    print(render(matrix))
    return 0 if matrix.ok else 1


if __name__ == "__main__":
    sys.exit(main())
