"""Fixtures for the replay-level orchestrator tests: the registered orchestrator handle and inputs."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import pytest

from orchestrators import setup_orchestrator as module
from provisioning.request import validate_setup_request

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

TIMING = {"pollIntervalSeconds": 30, "retryFirstSeconds": 5, "retryMaxSeconds": 120,
          "retryMaxAttempts": 8, "clusterTimeoutSeconds": 3600}


def registered_handle():
    """The function the blueprint registered (what the worker calls): Orchestrator.create's handle."""
    builder = module.setup_orchestrator
    assert builder._function.get_function_name() == "setup_orchestrator"
    return builder._function.get_user_function()


@functools.cache
def registered_handles() -> dict:
    """Every orchestrator function the app registers, by function name (sub-orchestrations included)."""
    import function_app

    handles = {}
    for function in function_app.app.get_functions():
        if any(binding.type == "orchestrationTrigger" for binding in function.get_bindings()):
            handles[function.get_function_name()] = function.get_user_function()
    return handles


def normalized_request(topology: str) -> dict:
    raw = json.loads((EXAMPLES / f"{topology}.json").read_text())
    request = validate_setup_request(raw)
    assert not isinstance(request, list), request
    return request.to_orchestration_dict()


def orchestration_input(topology: str, **timing: float) -> dict:
    return {"request": normalized_request(topology), "timing": {**copy.deepcopy(TIMING), **timing}}


@pytest.fixture
def handle():
    return registered_handle()
