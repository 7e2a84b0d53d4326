"""Fixtures for the activity tests: real activity callables and SDK clients against the simulated Azure."""

from __future__ import annotations

from typing import Any

import pytest

from tests.activities.helpers import LOCATION, RG, SUB


@pytest.fixture
def azure(simulator: Any, arm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The simulated Azure with the request's resource group, and the activities' settings pointing at it.

    ARM_POLLING_INTERVAL=0: in deterministic mode the simulator sends no Retry-After, and the SDK default
    (30 s between LRO polls) would only slow the tests down.
    """
    monkeypatch.setenv("ARM_POLLING_INTERVAL", "0")
    simulator.add_resource_group(SUB, RG, LOCATION)
    return simulator
