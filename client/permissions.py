"""`python -m client permissions`: what to grant the app's identity for a request, before deploying it.

    python -m client permissions REQUEST.json [--json] [--principal-id ID] [--location REGION]

Offline (no Azure call, no key): validates the request as the service would, then prints the built-in role
assignments (scope + role) that let the app run it with the least privilege built-in roles allow, and the
equivalent custom roles (exactly the actions the run uses) with the `az` commands that create and assign
them. The app's preflight checks the same list before it writes anything.

Exit codes: 0 printed; 2 the file is unreadable or the request is invalid (every error printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

COMMAND = "permissions"
EXIT_OK, EXIT_INVALID = 0, 2


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    sub = commands.add_parser(
        COMMAND,
        help="print the role assignments (or custom roles) the app's identity needs for a request",
        description=__doc__,
        formatter_class=formatter,
    )
    sub.add_argument("request", help="SetupRequest JSON file (see examples/)")
    sub.add_argument("--json", action="store_true", help="print the plan as JSON on stdout")
    sub.add_argument(
        "--principal-id",
        default=None,
        help="the function app identity's principal (object) id, put in the az commands "
        "(default: the placeholder $APP_PRINCIPAL_ID)",
    )
    sub.add_argument(
        "--location",
        default=None,
        help="the resource group's region, when the request leaves `location` to it (names the node "
        "resource group)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    return print_permissions(
        args.request, args.json, args.principal_id, args.location, out or sys.stdout, err or sys.stderr
    )


def print_permissions(
    request_path: str,
    as_json: bool,
    principal_id: str | None,
    location: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    # provisioning (pydantic) only for this command: `submit` stays stdlib + requests.
    from provisioning import permissions
    from provisioning.request import validate_setup_request

    try:
        raw = Path(request_path).read_bytes()
    except OSError as exc:
        err.write(f"cannot read {request_path}: {exc.strerror or exc}\n")
        return EXIT_INVALID
    request = validate_setup_request(raw)
    if isinstance(request, list):
        err.write(f"{request_path} is not a valid SetupRequest:\n")
        for error in request:
            err.write(f"  {error.field}: {error.message}\n")
        return EXIT_INVALID
    plan = permissions.plan(request, location)
    principal = principal_id or permissions.PRINCIPAL_PLACEHOLDER
    if as_json:
        answer = plan.to_dict()
        answer["azCommands"] = {
            "customRoles": plan.az_commands(principal),
            "builtInRoles": plan.builtin_az_commands(principal),
        }
        out.write(json.dumps(answer, indent=2) + "\n")
    else:
        out.write(permissions.render_text(plan, principal))
    return EXIT_OK
