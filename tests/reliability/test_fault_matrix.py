"""The fault matrix as tests (the same cells `python -m tests.reliability.fault_matrix` prints)."""

from __future__ import annotations

from tests.reliability.fault_matrix import STEP_WRITES, TRANSIENT_COLUMNS, Matrix, render


def _failures(matrix: Matrix, group: str) -> list[str]:
    return [f"{r.cell.row} / {r.cell.column}: {r.detail}" for r in matrix.failures() if r.cell.group == group]


def test_rows_are_every_write_of_a_clean_run(matrix: Matrix) -> None:
    writes = set(matrix.reference.writes)
    # Every step's write the permanent rows target is one the clean run made.
    assert {(method, resource_type) for method, resource_type, _, _ in STEP_WRITES.values()} <= writes
    transient = {(r.cell.row, r.cell.column) for r in matrix.results if r.cell.group == "transient"}
    for method, resource_type in writes:
        row = f"{method} {resource_type.split('/', 1)[1]}"
        assert {(row, column) for column in TRANSIENT_COLUMNS[:4]} <= transient
    assert any(r.cell.column == "PrincipalNotFound" for r in matrix.results)
    deletes = {resource_type for method, resource_type in matrix.reference.deletes}
    assert {
        "Microsoft.Network/virtualNetworks",
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
    } <= deletes


def test_transient_faults_on_every_write_change_nothing(matrix: Matrix) -> None:
    assert not _failures(matrix, "transient"), render(matrix)


def test_permanent_faults_at_every_step_roll_back_exactly_what_the_run_made(matrix: Matrix) -> None:
    assert not _failures(matrix, "permanent"), render(matrix)
    assert {r.cell.step for r in matrix.results if r.cell.group == "permanent"} == set(STEP_WRITES)


def test_rollback_deletes_are_retried_or_reported_left_behind(matrix: Matrix) -> None:
    assert not _failures(matrix, "rollback"), render(matrix)
    print(render(matrix))
