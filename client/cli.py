"""Pipeline client: submit a setup request, follow `Location` as Logic Apps does, print the Hopsworks values.

    python -m client submit REQUEST.json [--url URL] [--key KEY] [--timeout S] [--json]

The function key comes from --key or SETUP_FUNCTION_KEY and travels in the x-functions-key header; it is
never printed, and neither is the status URL (it carries the Durable extension's system key).

Exit codes: 0 completed; 1 the run failed or was terminated; 2 the request was refused (400, every error
printed) or the file is unreadable; 3 unauthorized (key missing or wrong); 4 timed out waiting; 5 the service
could not be reached or answered something unexpected.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import requests

DEFAULT_URL = "http://127.0.0.1:7071"
DEFAULT_TIMEOUT_SECONDS = 3600.0
# The first polls come sooner than the service's Retry-After, so the first steps (and a re-submit of finished
# work, which completes in seconds) show at once: during the first 30 s wait max(1 s, a quarter of the time
# since the 202), never longer than Retry-After; then Retry-After alone. With Retry-After 10 s: polls at 1,
# 2, 3, 4, 5, 6.3, 7.8, 9.8, 12.2 ... s, about ten more per run than Retry-After alone would ask for.
EARLY_POLL_FIRST_SECONDS = 1.0
EARLY_POLL_FRACTION = 0.25
EARLY_POLL_WINDOW_SECONDS = 30.0
DEFAULT_RETRY_AFTER_SECONDS = 10.0
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNAUTHORIZED, EXIT_TIMEOUT, EXIT_UNREACHABLE = range(6)
HOPSWORKS_FIELDS = [
    "location",
    "resourceGroup",
    "managedIdentity",
    "aksClusterName",
    "acrRegistryName",
    "virtualNetworkName",
    "subnetName",
    "networkResourceGroup",
]


def scrub(text: str, secrets: list[str]) -> str:
    """Text fit to print: no key values, no `code=` values, no bearer tokens."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = re.sub(r"(?i)(code=)[^&\s\"']+", r"\1***", text)
    return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)


def next_poll_wait(since_accepted: float, retry_after: float) -> float:
    """Seconds to wait before the next status poll, `since_accepted` seconds after the 202."""
    if since_accepted >= EARLY_POLL_WINDOW_SECONDS:
        return retry_after
    return min(retry_after, max(EARLY_POLL_FIRST_SECONDS, EARLY_POLL_FRACTION * since_accepted))


class Progress:
    """Progress from the orchestration's custom status: one updating line on a terminal, else one line per
    change. A line names the steps that finished since the one before."""

    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.secrets = secrets
        self.last = ""
        self.width = 0
        self.succeeded: set[str] = set()

    @staticmethod
    def describe(runtime_status: str, custom: Any, finished: list[str] | None = None) -> str:
        if not isinstance(custom, dict):
            return f"{runtime_status}"
        steps = custom.get("steps") if isinstance(custom.get("steps"), dict) else {}
        done = custom.get("done", sum(1 for s in steps.values() if s == "succeeded"))
        total = custom.get("total", len(steps))
        running = [name for name, state in steps.items() if state == "running"]
        line = f"{runtime_status}: {done}/{total} steps done"
        if running:
            line += f"; running: {', '.join(running)}"
        failed = [name for name, state in steps.items() if state == "failed"]
        if failed:
            line += f"; failed: {', '.join(failed)}"
        rolled_back = [name for name, state in steps.items() if state == "rolled_back"]
        if rolled_back:
            line += f"; rolled back: {', '.join(rolled_back)}"
        if finished:
            line += f"; finished: {', '.join(finished)}"
        return line

    def _newly_succeeded(self, custom: Any) -> list[str]:
        steps = custom.get("steps") if isinstance(custom, dict) else None
        if not isinstance(steps, dict):
            return []
        succeeded = [name for name, state in steps.items() if state == "succeeded"]
        finished = [name for name in succeeded if name not in self.succeeded]
        self.succeeded.update(succeeded)
        return finished

    def show(self, runtime_status: str, custom: Any) -> None:
        finished = self._newly_succeeded(custom)
        state = self.describe(runtime_status, custom)
        if state == self.last and not finished:
            return
        self.last = state
        line = scrub(self.describe(runtime_status, custom, finished), self.secrets)
        if self.tty:
            pad = max(0, self.width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def _retry_after(response: requests.Response, default: float) -> float:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


class Console:
    """Where the client talks: messages and progress on `err` (scrubbed of secrets), results on `out`."""

    def __init__(self, out: TextIO, err: TextIO, secrets: list[str]) -> None:
        self.out = out
        self.err = err
        self.secrets = secrets

    def say(self, text: str) -> None:
        self.err.write(scrub(text, self.secrets) + "\n")
        self.err.flush()


@dataclass(frozen=True)
class Polling:
    """How to follow a 202: the total time allowed, a fixed interval or None (early polls, then
    Retry-After), and the sleep and clock to use (tests pass their own)."""

    timeout: float = DEFAULT_TIMEOUT_SECONDS
    interval: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def submit(
    request_path: str,
    url: str,
    key: str | None,
    timeout: float,
    as_json: bool,
    poll_interval: float | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    console = Console(out, err, [key or ""])
    http = session or requests.Session()
    response = post_request("setups", request_path, url, key, console, http, timeout=60)
    if isinstance(response, int):
        return response
    refused = refusal_exit_code(response, console)
    if refused is not None:
        return refused
    final = follow(http, response, console, Polling(timeout, poll_interval, sleep, clock))
    if isinstance(final, int):
        return final
    return report_setup_result(final, console, as_json)


def post_request(
    command: str,
    request_path: str,
    url: str,
    key: str | None,
    console: Console,
    session: requests.Session,
    timeout: float,
) -> requests.Response | int:
    """POST the request file to /api/{command}: the answer, or the exit code when the file cannot be read
    or the app cannot be reached."""
    try:
        with open(request_path, encoding="utf-8") as handle:
            body = json.load(handle)
    except (OSError, ValueError) as exc:
        console.say(f"cannot read {request_path}: {exc}")
        return EXIT_INVALID
    headers = {"x-functions-key": key} if key else {}
    try:
        return session.post(f"{url.rstrip('/')}/api/{command}", json=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        console.say(f"cannot reach {url}: {type(exc).__name__}")
        return EXIT_UNREACHABLE


def refusal_exit_code(response: requests.Response, console: Console) -> int | None:
    """None for a 202 with a Location; else the exit code, every error printed."""
    if response.status_code == 400:
        answer = _json(response)
        errors = answer.get("errors") if isinstance(answer, dict) else None
        console.say(f"the request was refused ({len(errors or [])} problems):")
        for item in errors or [{"field": "", "message": response.text[:2000]}]:
            console.say(f"  {item.get('field') or '(request)'}: {item.get('message')}")
        return EXIT_INVALID
    if response.status_code in (401, 403):
        console.say(
            f"{response.status_code}: the function key is missing or wrong (--key or SETUP_FUNCTION_KEY)"
        )
        return EXIT_UNAUTHORIZED
    if response.status_code != 202 or "Location" not in response.headers:
        console.say(f"unexpected answer {response.status_code}: {response.text[:500]}")
        return EXIT_UNREACHABLE
    return None


def follow(
    http: requests.Session, accepted: requests.Response, console: Console, polling: Polling
) -> requests.Response | int:
    """Poll the 202's `Location` as Logic Apps does until it answers something other than 202; show progress.

    Returns that answer, or EXIT_TIMEOUT when `polling.timeout` runs out first.
    """
    instance_id = (_json(accepted) or {}).get("id", "?")
    console.say(f"accepted: instance {instance_id}")
    location = accepted.headers["Location"]
    progress = Progress(console.err, console.secrets)
    started = polling.clock()

    def wait_after(answer: requests.Response) -> float:
        if polling.interval is not None:
            return polling.interval
        retry_after = _retry_after(answer, DEFAULT_RETRY_AFTER_SECONDS)
        return next_poll_wait(polling.clock() - started, retry_after)

    wait, failures = wait_after(accepted), 0
    while polling.clock() + wait <= started + polling.timeout:
        polling.sleep(wait)
        try:
            response = http.get(location, timeout=60)
            failures = 0
        except requests.RequestException as exc:
            # The service may be restarting (a host killed and started again): keep polling until the timeout.
            failures += 1
            wait = min(10.0, 0.5 * 2 ** min(failures, 5))
            if failures in (1, 5, 20):
                console.say(f"status poll failed ({type(exc).__name__}); retrying")
            continue
        status = _json(response)
        if isinstance(status, dict):
            progress.show(str(status.get("runtimeStatus", "Running")), status.get("customStatus"))
        if response.status_code != 202:
            progress.end()
            return response
        location = response.headers.get("Location", location)
        wait = wait_after(response)
    progress.end()
    console.say(f"timed out after {polling.timeout:.0f}s; instance {instance_id} is still running")
    return EXIT_TIMEOUT


def report_setup_result(response: requests.Response, console: Console, as_json: bool) -> int:
    """The Hopsworks values of a completed run (exit 0), or why it ended otherwise."""
    status = _json(response)
    if not isinstance(status, dict) or response.status_code not in (200, 500):
        console.say(f"unexpected status answer {response.status_code}: {response.text[:500]}")
        return EXIT_UNREACHABLE
    runtime_status = status.get("runtimeStatus")
    if runtime_status == "Completed":
        output = status.get("output") or {}
        values = output.get("hopsworks") if isinstance(output, dict) else None
        out = console.out
        if as_json:
            out.write(json.dumps(values if values is not None else output, indent=2) + "\n")
        else:
            out.write("Hopsworks values:\n")
            for name in HOPSWORKS_FIELDS + sorted(set(values or {}) - set(HOPSWORKS_FIELDS)):
                if values and name in values:
                    out.write(f"  {name}: {values[name]}\n")
        out.flush()
        return EXIT_OK
    message = status.get("output")
    console.say(f"the setup ended {runtime_status}:")
    console.say(f"  {message if isinstance(message, str) else json.dumps(message)}")
    custom = status.get("customStatus")
    if isinstance(custom, dict) and isinstance(custom.get("error"), dict):
        console.say(f"  failed step: {custom['error'].get('step')} ({custom['error'].get('code')})")
    return EXIT_FAILED


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


SUBMIT_DESCRIPTION = """\
POST the request to <url>/api/setups, then follow the 202's Location until the run ends, showing progress
(steps done, running, finished) on stderr, and print the values to enter in hopsworks.ai on stdout.

Exit codes: 0 completed; 1 the run failed or was terminated; 2 the request was refused (every error is
printed) or the file is unreadable; 3 the function key is missing or wrong; 4 timed out waiting (the run goes
on); 5 the service could not be reached or answered something unexpected.

Example: SETUP_FUNCTION_KEY=... python -m client submit examples/peering.json --url https://<app>.azurewebsites.net
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description keeps its line breaks; each option's help states its default explicitly (the
    ArgumentDefaultsHelpFormatter would print "(default: None)" for the options whose default is an
    environment variable or the service's answer)."""


def add_target_arguments(sub: argparse.ArgumentParser) -> None:
    """The request file and where to send it: what every command that calls the app takes."""
    sub.add_argument("request", help="SetupRequest JSON file (see examples/)")
    sub.add_argument(
        "--url",
        default=os.environ.get("SETUP_URL", DEFAULT_URL),
        help=f"function app base URL (default: $SETUP_URL, else {DEFAULT_URL})",
    )
    sub.add_argument(
        "--key",
        default=None,
        help="function key, sent as the x-functions-key header, never printed (default: $SETUP_FUNCTION_KEY)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m client", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser(
        "submit",
        help="submit a setup request and wait for its result",
        description=SUBMIT_DESCRIPTION,
        formatter_class=_HelpFormatter,
    )
    add_target_arguments(sub)
    sub.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds to wait for the result (default: %(default)g)",
    )
    sub.add_argument("--json", action="store_true", help="print the Hopsworks values as JSON on stdout")
    sub.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="fixed seconds between status polls (default: 1 s at first, growing to the service's "
        "Retry-After)",
    )
    from client import lifecycle  # plan and teardown (imports this module)

    lifecycle.add_parsers(commands, _HelpFormatter)
    from client import permissions  # offline: what to grant the app's identity

    permissions.add_parser(commands, _HelpFormatter)
    args = parser.parse_args(argv)
    if args.command in lifecycle.COMMANDS:
        return lifecycle.run(args)
    if args.command == permissions.COMMAND:
        return permissions.run(args)
    key = args.key or os.environ.get("SETUP_FUNCTION_KEY")
    return submit(args.request, args.url, key, args.timeout, args.json, args.poll_interval)
