"""One simulated Azure and one local host for the lifecycle tests (plan, setup, teardown over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.harness import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(tmp_path_factory.mktemp("lifecycle")) as running:
        yield running
