"""``python -m simulator``: run the simulated Azure alone and print how to reach it."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from simulator import Simulator


def _group(value: str) -> tuple[str, str, str]:
    parts = value.split("/")
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError("--resource-group must be SUBSCRIPTION/NAME/LOCATION")
    return parts[0], parts[1], parts[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="https port for ARM (default: a free one)")
    parser.add_argument("--latency-scale", type=float, default=1.0, help="factor on the latency model")
    parser.add_argument(
        "--polls-to-complete", type=int, default=None, help="deterministic mode: operations end after N reads"
    )
    parser.add_argument(
        "--resource-group",
        type=_group,
        action="append",
        default=[],
        metavar="SUB/NAME/LOCATION",
        help="a resource group that exists from the start (repeatable)",
    )
    parser.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="[PRINCIPAL:]ROLE@SCOPE",
        help="a role assignment, e.g. 'Owner@/subscriptions/<id>/resourceGroups/<rg>' (repeatable); given "
        "at all, these replace the default (the app's identity is Owner of every subscription). PRINCIPAL "
        "defaults to the app's identity",
    )
    args = parser.parse_args(argv)
    sim = Simulator(
        latency_scale=args.latency_scale, polls_to_complete=args.polls_to_complete, port=args.port
    )
    if args.grant:
        try:
            sim.set_grants(args.grant)
        except (KeyError, ValueError) as exc:
            parser.error(f"--grant: {exc}")
    sim.start()
    for sub, name, location in args.resource_group:
        sim.add_resource_group(sub, name, location)
    print(f"Simulated Azure Resource Manager: {sim.endpoint}")
    print(f"CA certificate: {sim.ca_file}")
    print(f"Control API: {sim.endpoint}/_simulator/state")
    print("Settings:")
    for name, value in sim.env().items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"App identity (principal id): {sim.app_principal_id}")
    for grant in sim.grants():
        print(f"Grant: {grant['role']} at {grant['scope']} to {grant['principalId']}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
