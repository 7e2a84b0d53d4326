"""`python -m devhost`: run function_app.py as `func start` + the Python worker + Durable extension would."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from devhost.secrets import HostKeys, RedactingFilter, register_secret

log = logging.getLogger("devhost")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--port", type=int, default=7071, help="public port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--app-dir", default=".", help="directory holding function_app.py and host.json")
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite state file (default <app-dir>/.devhost/state.db); the host keys live next to it",
    )
    parser.add_argument(
        "--azure",
        action="store_true",
        help="real Azure: no simulator, settings from the environment / local.settings.json",
    )
    parser.add_argument(
        "--no-simulator",
        action="store_true",
        help="do not start the simulated Azure (the environment already points somewhere)",
    )
    parser.add_argument("--latency-scale", type=float, default=1.0, help="simulated Azure latency multiplier")
    parser.add_argument(
        "--polls-to-complete",
        type=int,
        default=None,
        help="simulated Azure deterministic mode: long operations finish after N polls",
    )
    parser.add_argument(
        "--resource-group",
        action="append",
        default=[],
        metavar="SUB/RG/LOCATION",
        help="seed the simulated Azure with this resource group (repeatable)",
    )
    parser.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="[PRINCIPAL:]ROLE@SCOPE",
        help="simulated Azure: a role assignment of the app's identity (or PRINCIPAL), e.g. "
        "'Owner@/subscriptions/<id>/resourceGroups/<rg>' (repeatable; with SIMULATOR_GRANTS, "
        "';'-separated, they replace the default: Owner of every subscription)",
    )
    parser.add_argument(
        "--no-example-groups",
        action="store_true",
        help="do not seed the resource groups named by examples/*.json",
    )
    parser.add_argument(
        "--show-key",
        action="store_true",
        help="print the default function key even when stdout is not a terminal",
    )
    return parser.parse_args(argv)


def load_local_settings(app_dir: Path) -> list[str]:
    """Like func start: local.settings.json `Values` become environment variables; the environment wins."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return []
    values = json.loads(path.read_text()).get("Values") or {}
    applied = []
    for name, value in values.items():
        if name not in os.environ and value is not None:
            os.environ[name] = str(value)
            applied.append(name)
    return applied


def read_host_json(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "host.json"
    return json.loads(path.read_text()) if path.exists() else {}


def example_groups(app_dir: Path) -> list[tuple[str, str, str]]:
    groups = []
    for path in sorted((app_dir / "examples").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(data, dict) and all(
            isinstance(data.get(k), str) for k in ("subscriptionId", "resourceGroup", "location")
        ):
            groups.append((data["subscriptionId"], data["resourceGroup"], data["location"]))
    return groups


def simulator_grants(flags: list[str], setting: str) -> list[str]:
    """The simulated Azure's grants: ``SIMULATOR_GRANTS`` (``;``-separated ``[PRINCIPAL:]ROLE@SCOPE``) then
    each ``--grant``; none -> the simulator's default (the app's identity is Owner of every subscription)."""
    return [g.strip() for g in setting.split(";") if g.strip()] + [g.strip() for g in flags if g.strip()]


def apply_simulator_grants(simulator: Any, flags: list[str], setting: str) -> bool:
    """Give the simulated Azure its grants (see :func:`simulator_grants`) and log them; False on bad input."""
    grants = simulator_grants(flags, setting)
    if grants:
        try:
            simulator.set_grants(grants)
        except (KeyError, ValueError) as exc:
            log.error("SIMULATOR_GRANTS / --grant: %s", exc)
            return False
    for grant in simulator.grants():
        log.info("simulated Azure grant: %s at %s to %s", grant["role"], grant["scope"], grant["principalId"])
    return True


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(name)s %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "aiohttp", "urllib3", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    app_dir = Path(args.app_dir).resolve()
    db_path = Path(args.db).resolve() if args.db else app_dir / ".devhost" / "state.db"
    keys = HostKeys.load_or_create(db_path.parent / "keys.json")
    for secret in keys.all():
        register_secret(secret)
    applied = load_local_settings(app_dir)
    if applied:
        log.info("local.settings.json: %d values applied (%s)", len(applied), ", ".join(sorted(applied)))

    simulator = None
    if not args.azure and not args.no_simulator:
        from simulator import Simulator

        simulator = Simulator(
            latency_scale=args.latency_scale, polls_to_complete=args.polls_to_complete
        ).start()
        os.environ.update(simulator.env())  # before function_app is imported: activities read settings
        groups = [tuple(g.split("/", 2)) for g in args.resource_group]
        if not args.no_example_groups:
            groups += example_groups(app_dir)
        for group in dict.fromkeys(groups):
            if len(group) != 3:
                log.error("--resource-group wants SUB/RG/LOCATION")
                return 2
            simulator.add_resource_group(*group)
        if not apply_simulator_grants(simulator, args.grant, os.environ.get("SIMULATOR_GRANTS", "")):
            simulator.stop()
            return 2
        log.info(
            "simulated Azure at %s (%d resource groups seeded)",
            simulator.endpoint,
            len(dict.fromkeys(groups)),
        )
    elif args.azure:
        endpoint = os.environ.get("ARM_ENDPOINT", "https://management.azure.com")
        if "127.0.0.1" in endpoint or "localhost" in endpoint:
            log.warning("--azure but ARM_ENDPOINT points at %s", endpoint)
        log.info("real Azure at %s (DefaultAzureCredential)", endpoint)
    for name in ("IDENTITY_HEADER",):
        register_secret(os.environ.get(name))

    from devhost.host import Host

    host_json = read_host_json(app_dir)
    host = Host(
        app_dir=app_dir, db_path=db_path, keys=keys, host_json=host_json, host=args.host, port=args.port
    )
    try:
        return asyncio.run(_serve(host, show_key=args.show_key or sys.stdout.isatty(), db_path=db_path))
    finally:
        if simulator is not None:
            simulator.stop()


async def _serve(host: Any, show_key: bool, db_path: Path) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await host.start()
    functions = ", ".join(f"{f.name} [{f.trigger_type}]" for f in host.index.functions.values())
    log.info("functions: %s", functions)
    for route in host.index.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "*"
        log.info(
            "  %s %s%s/%s (auth %s)",
            methods,
            host.server.origin,
            host.route_prefix,
            route.template.strip("/"),
            route.auth_level.lower(),
        )
    if show_key:
        # The one place a key is shown: for the person at the terminal (not a log line).
        print(
            f"Default function key (use as ?code= or x-functions-key): {host.keys.function_default}",
            flush=True,
        )
    else:
        log.info("function keys are in %s", db_path.parent / "keys.json")
    log.info("host ready on %s (state %s)", host.server.origin, db_path)
    await stop.wait()
    log.info("stopping")
    await host.stop()
    return 0
