"""Shared fixtures: the simulated Azure (see simulator/testing.py)."""

pytest_plugins = ["simulator.testing"]
