"""Simulated Azure Resource Manager + managed-identity endpoint for tests and the local host.

Not deployed (see .funcignore)."""

from simulator.simulator import Simulator

__all__ = ["Simulator"]
