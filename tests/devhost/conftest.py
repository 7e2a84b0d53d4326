"""Fixtures: the local host running the sample app in a subprocess."""

from pathlib import Path

import pytest

from devhost.testing import DevHost

SAMPLE_APP = Path(__file__).parent / "sample_app"


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    with DevHost(app_dir=SAMPLE_APP, db_path=tmp_path_factory.mktemp("devhost") / "state.db") as running:
        yield running


@pytest.fixture
def fresh_host(tmp_path):
    """A host of its own (for kill -9 tests)."""
    running = DevHost(app_dir=SAMPLE_APP, db_path=tmp_path / "state.db")
    yield running
    running.stop()
