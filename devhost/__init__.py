"""Local stand-in for `func start` + the Python worker + the Durable extension.

Development only, not deployed.

`python -m devhost --help`; tests and scripts use `devhost.testing.DevHost`.
"""
