"""Modules imported when first used, not when the importing module is: the app is imported and indexed on
every cold start, and registering its functions needs only their names (`provisioning.function_names`),
while the decision modules their bodies use cost as much again (docs/DESIGN.md, cold start).

    if TYPE_CHECKING:
        from provisioning import contracts as c
    else:
        c = lazy_import.module("provisioning.contracts")

`c.X` then imports the module at its first use and reads `X` from it every time (so a patched attribute is
seen). The import goes through `importlib`, whose per-module locks make a first use from several worker
threads at once import the module once.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module `name` until an attribute is read; then every read goes to the module."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = importlib.import_module(self._name)
            self._module = module
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazily imported module {self._name!r}>"


def module(name: str) -> Any:
    """A stand-in for the module `name` that imports it at the first attribute read."""
    return LazyModule(name)
