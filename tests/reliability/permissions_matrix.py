"""The grants matrix of issue #9: the same request, different grants for the app's identity. Prints it:

    python -m tests.reliability.permissions_matrix

Every cell is a whole setup on the local host against the simulated Azure, in a subscription of its own
(cells run side by side), with the app's identity granted exactly the cell's roles (nothing else: the
simulator's default "Owner everywhere" is replaced while the matrix runs). "Before any write" means zero
PUT/PATCH/DELETE requests in the cell's subscription.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from provisioning import permissions
from tests.reliability.harness import RESOURCE_GROUP, Lab, RunResult, Target

LINK_WRITE = "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write"
RA_WRITE = "Microsoft.Authorization/roleAssignments/write"
WRITES = ("PUT", "PATCH", "DELETE")

Grant = tuple[str, str]  # (role name, scope)


def _sub(target: Target) -> str:
    return f"/subscriptions/{target.subscription_id}"


def _builtin(*grants: tuple[str, Callable[[Target], str]]) -> Callable[[Target, dict[str, Any]], list[Grant]]:
    return lambda target, body: [(role, scope(target)) for role, scope in grants]


def _least_builtin(target: Target, body: dict[str, Any]) -> list[Grant]:
    return [(g.role.name, g.scope) for g in permissions.plan(body).builtin]


def _least_custom(target: Target, body: dict[str, Any]) -> list[Grant]:
    return [(role.name, role.scope) for role in permissions.plan(body).custom]


def _rg(target: Target) -> str:
    return target.rg_id


GROUP_RBAC = "Contributor + RBAC Administrator on the group, Private DNS Zone Contributor on the subscription"
LEAST_BUILTIN = "least privilege printed by the app (built-in roles)"
LEAST_CUSTOM = "least privilege printed by the app (custom roles)"
GRANT_ROWS: dict[str, Callable[[Target, dict[str, Any]], list[Grant]]] = {
    "Owner on the subscription": _builtin(("Owner", _sub)),
    "Owner on the resource group": _builtin(("Owner", _rg)),
    "Contributor on the subscription": _builtin(("Contributor", _sub)),
    GROUP_RBAC: _builtin(
        ("Contributor", _rg),
        ("Role Based Access Control Administrator", _rg),
        ("Private DNS Zone Contributor", _sub),
    ),
    LEAST_BUILTIN: _least_builtin,
    LEAST_CUSTOM: _least_custom,
}


@dataclass(frozen=True)
class Cell:
    grants: str
    topology: str
    role_scope: str  # identity.roleScope
    completes: bool
    names: tuple[str, ...] = ()  # what the failure must name (actions, the node resource group)

    @property
    def target(self) -> Target:
        return Target(f"permissions|{self.grants}|{self.topology}|{self.role_scope}", self.topology)

    def body(self) -> dict[str, Any]:
        body = self.target.body()
        body["identity"]["roleScope"] = self.role_scope
        return body


def _cells() -> list[Cell]:
    node_group = f"MC_{RESOURCE_GROUP}_hopsaks-cluster_northeurope"
    expected = {  # (grants, topology, roleScope) -> names of the failure; absent: completes
        ("Owner on the resource group", "peering", "resourceGroup"): (LINK_WRITE, node_group),
        ("Contributor on the subscription", "subnet", "resourceGroup"): (RA_WRITE,),
        ("Contributor on the subscription", "peering", "resourceGroup"): (RA_WRITE,),
    }
    cells = [
        Cell(grants, topology, "resourceGroup", (grants, topology, "resourceGroup") not in expected,
             expected.get((grants, topology, "resourceGroup"), ()))
        for grants in GRANT_ROWS
        for topology in ("subnet", "peering")
    ]
    # identity.roleScope subscription: the role-assignment writes at subscription scope are checked too.
    at_subscription = (RA_WRITE, "subscription '/subscriptions/")
    for topology in ("subnet", "peering"):
        cells.append(Cell(GROUP_RBAC, topology, "subscription", False, at_subscription))
        cells.append(Cell(LEAST_BUILTIN, topology, "subscription", True))
        cells.append(Cell(LEAST_CUSTOM, topology, "subscription", True))
    return cells


CELLS = _cells()


@dataclass
class CellResult:
    cell: Cell
    run: RunResult
    writes: int  # PUT/PATCH/DELETE requests in the cell's subscription
    requests: int
    grants: list[Grant]

    @property
    def output(self) -> str:
        return str(self.run.output)

    @property
    def outcome(self) -> str:
        status = self.run.runtime_status
        if status == "Failed" and self.writes == 0:
            return "Failed before any write"
        return status


def grant_cells(lab: Lab, cells: list[Cell]) -> dict[Cell, list[Grant]]:
    """Replace every configured grant with the cells' (each in its own subscription)."""
    lab.sim.set_grants([])
    granted = {}
    for cell in cells:
        body = cell.body()
        grants = GRANT_ROWS[cell.grants](cell.target, body)
        for role in permissions.plan(body).custom if cell.grants == LEAST_CUSTOM else ():
            lab.sim.add_custom_role(role.name, list(role.actions))
        for role, scope in grants:
            lab.sim.grant(role, scope)
        granted[cell] = grants
    return granted


def run_permissions_matrix(lab: Lab, workers: int = 8) -> list[CellResult]:
    """Every cell, side by side. The caller restores the simulator's grants afterwards."""
    for cell in CELLS:
        lab.prepare(cell.target)
    granted = grant_cells(lab, CELLS)

    def run(cell: Cell) -> CellResult:
        mark = lab.log_mark()
        result = lab.run(cell.target, cell.body())
        log = lab.log(cell.target, since=mark)
        writes = sum(1 for entry in log if entry["method"] in WRITES)
        return CellResult(cell, result, writes, len(log), granted[cell])

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, CELLS))


def check_cell(result: CellResult) -> list[str]:
    """What is wrong with a cell's outcome (nothing: as the issue requires)."""
    cell, where = result.cell, f"{result.cell.grants} / {result.cell.topology} / {result.cell.role_scope}"
    if cell.completes:
        if result.run.runtime_status != "Completed":
            return [f"{where}: expected Completed, got {result.outcome}: {result.output[:800]}"]
        return []
    problems = []
    if result.outcome != "Failed before any write":
        problems.append(
            f"{where}: expected Failed before any write, got {result.outcome} ({result.writes} writes)"
        )
    if (result.run.custom_status or {}).get("error", {}).get("step") != "preflight":
        problems.append(f"{where}: not failed at preflight: {result.run.custom_status}")
    for name in (*cell.names, "grant '"):
        if name not in result.output:
            problems.append(f"{where}: the failure does not name {name!r}: {result.output[:800]}")
    return problems


def render(results: list[CellResult], seconds: float) -> str:
    rows = list(dict.fromkeys((r.cell.grants, r.cell.role_scope) for r in results))
    by = {(r.cell.grants, r.cell.role_scope, r.cell.topology): r for r in results}
    width = max(len(f"{g} (roleScope {s})") for g, s in rows)
    lines = [
        f"| {'grants of the app identity':<{width}} | {'subnet topology':<24} | {'peering topology':<24} |",
        f"|{'-' * (width + 2)}|{'-' * 26}|{'-' * 26}|",
    ]
    for grants, role_scope in rows:
        label = grants if role_scope == "resourceGroup" else f"{grants} (roleScope {role_scope})"
        cells = []
        for topology in ("subnet", "peering"):
            r = by.get((grants, role_scope, topology))
            mark = "n/a" if r is None else r.outcome + ("" if not check_cell(r) else " (WRONG)")
            cells.append(f"{mark:<24}")
        lines.append(f"| {label:<{width}} | " + " | ".join(cells) + " |")
    wrong = [problem for r in results for problem in check_cell(r)]
    good = sum(1 for r in results if not check_cell(r))
    lines.append(f"\n{good}/{len(results)} cells as required, {seconds:.1f} s")
    lines += wrong
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8, help="cells run at once (default 8)")
    args = parser.parse_args(argv)
    with Lab() as lab:
        began = time.monotonic()
        results = run_permissions_matrix(lab, args.workers)
        seconds = time.monotonic() - began
    print(render(results, seconds))
    return 0 if not any(check_cell(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
