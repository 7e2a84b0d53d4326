"""Resource providers of the simulated ARM. How to write one: see the docstring of ``simulator/arm.py``.

Each module here has ``register(arm: simulator.arm.Arm) -> None``; list it in ``PROVIDERS``. The worked
example is ``resources.py`` (resource groups, including a long-running DELETE); ``msi.py`` shows a
synchronous provider that registers principals, ``authorization.py`` one that works at any scope
(``{scope*}``).
"""

from __future__ import annotations

import importlib

from simulator.arm import Arm

PROVIDERS = [
    "operations",  # core: operation status / result URLs of every long-running operation
    "resources",
    "msi",
    "authorization",
    "network",
    "privatedns",
    "containerservice",
    "containerregistry",
]


def register_all(arm: Arm) -> None:
    for name in PROVIDERS:
        qualified = f"{__name__}.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name == qualified:  # a provider not written yet; any other missing import is a real error
                continue
            raise
        module.register(arm)
