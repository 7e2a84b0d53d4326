"""`python -m client plan` and `python -m client teardown`: the rest of a setup's lifecycle for pipelines.

    python -m client plan REQUEST.json [--url URL] [--key KEY] [--json]
    python -m client teardown REQUEST.json [--url URL] [--key KEY] [--timeout S] [--json] [--poll-interval S]

`plan` prints what a setup of the request would do, the way `terraform plan` does: `+` create, `~` update,
`=` keep, `&` adopt, `!` conflict, then a summary line; exit 0 when the setup would run, 2 when the plan has
problems (or the request was refused). `teardown` follows the 202 like `submit`, with progress, and prints
what was deleted and what was kept (and why); exit 0 completed, 1 failed or refused because a setup for the
target is running (409). Other exit codes as for `submit`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO

import requests

from client.cli import (
    DEFAULT_TIMEOUT_SECONDS,
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNREACHABLE,
    Console,
    Polling,
    _json,
    add_target_arguments,
    follow,
    post_request,
    refusal_exit_code,
)

COMMANDS = ("plan", "teardown")
SYMBOLS = {"create": "+", "update": "~", "keep": "=", "adopt": "&", "conflict": "!"}
ORDER = ("create", "update", "adopt", "conflict", "keep")


def short_name(resource_id: str) -> str:
    """The part of an ARM id a reader recognises: the name after the provider type (children included)."""
    tail = resource_id.rsplit("/providers/", 1)[-1].split("/")
    if len(tail) < 3:
        return resource_id
    # Namespace/type/name[/childType/childName...]: drop the namespace and the first type.
    return "/".join(tail[2:])


def render_plan(answer: dict[str, Any]) -> list[str]:
    """The plan as lines, like `terraform plan`: one block per change, problems, then the summary."""
    lines = []
    changes = answer.get("changes") or []
    for change in changes:
        symbol = SYMBOLS.get(change.get("action"), "?")
        lines.append(f"  {symbol} {change.get('type')}  {short_name(str(change.get('id')))}")
        lines.append(f"      {change.get('action')}: {change.get('reason')}")
    problems = answer.get("problems") or []
    if problems:
        lines += ["", f"Problems ({len(problems)}): the setup would fail"]
        lines += [f"  ! {p.get('step')}: {p.get('code')}: {p.get('message')}" for p in problems]
    counts = {action: sum(1 for c in changes if c.get("action") == action) for action in ORDER}
    lines.append("")
    if not any(counts[action] for action in ("create", "update", "adopt", "conflict")):
        lines.append(f"No changes: the setup would find everything in place ({counts['keep']} unchanged).")
    else:
        lines.append(
            f"Plan: {counts['create']} to create, {counts['update']} to update, {counts['adopt']} to adopt, "
            f"{counts['conflict']} in conflict, {counts['keep']} unchanged."
        )
    return lines


def plan(
    request_path: str,
    url: str,
    key: str | None,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    session: requests.Session | None = None,
) -> int:
    console = Console(out, err, [key or ""])
    response = post_request(
        "plans", request_path, url, key, console, session or requests.Session(), timeout=240
    )
    if isinstance(response, int):
        return response
    if response.status_code != 200:
        refused = refusal_exit_code(response, console)
        if refused is not None:
            return refused
        console.say(f"unexpected answer {response.status_code}: {response.text[:500]}")
        return EXIT_UNREACHABLE
    answer = _json(response)
    if not isinstance(answer, dict):
        console.say(f"unexpected answer: {response.text[:500]}")
        return EXIT_UNREACHABLE
    if as_json:
        out.write(json.dumps(answer, indent=2) + "\n")
    else:
        out.write("\n".join(render_plan(answer)) + "\n")
    out.flush()
    return EXIT_INVALID if answer.get("problems") else EXIT_OK


def teardown(
    request_path: str,
    url: str,
    key: str | None,
    as_json: bool,
    polling: Polling,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    session: requests.Session | None = None,
) -> int:
    console = Console(out, err, [key or ""])
    http = session or requests.Session()
    response = post_request("teardowns", request_path, url, key, console, http, timeout=240)
    if isinstance(response, int):
        return response
    if response.status_code == 409:
        busy = _json(response) or {}
        console.say(f"refused: {(busy.get('error') or {}).get('message') or response.text[:500]}")
        return EXIT_FAILED
    refused = refusal_exit_code(response, console)
    if refused is not None:
        return refused
    final = follow(http, response, console, polling)
    if isinstance(final, int):
        return final
    return report_teardown(final, console, as_json)


def report_teardown(response: requests.Response, console: Console, as_json: bool) -> int:
    status = _json(response)
    if not isinstance(status, dict) or response.status_code not in (200, 500):
        console.say(f"unexpected status answer {response.status_code}: {response.text[:500]}")
        return EXIT_UNREACHABLE
    output = status.get("output")
    if status.get("runtimeStatus") != "Completed" or not isinstance(output, dict):
        console.say(f"the teardown ended {status.get('runtimeStatus')}:")
        console.say(f"  {output if isinstance(output, str) else json.dumps(output)}")
        custom = status.get("customStatus")
        if isinstance(custom, dict) and isinstance(custom.get("error"), dict):
            console.say(f"  failed step: {custom['error'].get('step')} ({custom['error'].get('code')})")
        return EXIT_FAILED
    out = console.out
    if as_json:
        out.write(json.dumps(output, indent=2) + "\n")
    else:
        deleted, kept = output.get("deleted") or [], output.get("kept") or []
        out.write(f"Deleted {len(deleted)}:\n")
        out.writelines(f"  - {r.get('type')}  {short_name(str(r.get('id')))}\n" for r in deleted)
        out.write(f"Kept {len(kept)}:\n")
        for resource in kept:
            out.write(f"  = {resource.get('type')}  {short_name(str(resource.get('id')))}\n")
            out.write(f"      {resource.get('reason')}\n")
    out.flush()
    return EXIT_OK


# ---------------------------------------------------------------- command line


def add_parsers(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """The `plan` and `teardown` subcommands, on the `submit` parser's subparsers."""
    for name, help_text in (
        ("plan", "show what a setup of the request would do (no writes); exit 2 when it would fail"),
        ("teardown", "remove what setups for the request's target created, and wait for it"),
    ):
        sub = commands.add_parser(name, help=help_text, description=__doc__, formatter_class=formatter)
        add_target_arguments(sub)
        sub.add_argument("--json", action="store_true", help="print the answer as JSON on stdout")
        if name == "teardown":
            sub.add_argument(
                "--timeout",
                type=float,
                default=DEFAULT_TIMEOUT_SECONDS,
                help="seconds to wait for the result (default: %(default)g)",
            )
            sub.add_argument(
                "--poll-interval", type=float, default=None, help="fixed seconds between status polls"
            )


def run(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("SETUP_FUNCTION_KEY")
    if args.command == "plan":
        return plan(args.request, args.url, key, args.json)
    polling = Polling(args.timeout, args.poll_interval)
    return teardown(args.request, args.url, key, args.json, polling)
