"""Fixtures of the reliability suite: one lab (simulated Azure + local host) per session, and the matrix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.fault_matrix import Matrix, run_matrix
from tests.reliability.harness import Lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(tmp_path_factory.mktemp("reliability")) as running:
        yield running


@pytest.fixture(scope="session")
def matrix(lab: Lab) -> Matrix:
    return run_matrix(lab)
