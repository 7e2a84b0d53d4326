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
from typing import Any, TextIO

import requests

DEFAULT_URL = "http://127.0.0.1:7071"
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


class Progress:
    """Progress from the orchestration's custom status: one updating line on a terminal, else one line per
    change."""

    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.secrets = secrets
        self.last = ""
        self.width = 0

    @staticmethod
    def describe(runtime_status: str, custom: Any) -> str:
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
        return line

    def show(self, runtime_status: str, custom: Any) -> None:
        line = scrub(self.describe(runtime_status, custom), self.secrets)
        if line == self.last:
            return
        self.last = line
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
) -> int:
    secrets = [key or ""]

    def say(text: str) -> None:
        err.write(scrub(text, secrets) + "\n")
        err.flush()

    try:
        with open(request_path, encoding="utf-8") as handle:
            body = json.load(handle)
    except (OSError, ValueError) as exc:
        say(f"cannot read {request_path}: {exc}")
        return EXIT_INVALID
    http = session or requests.Session()
    headers = {"x-functions-key": key} if key else {}
    try:
        response = http.post(f"{url.rstrip('/')}/api/setups", json=body, headers=headers, timeout=60)
    except requests.RequestException as exc:
        say(f"cannot reach {url}: {type(exc).__name__}")
        return EXIT_UNREACHABLE
    if response.status_code == 400:
        errors = _json(response).get("errors") if isinstance(_json(response), dict) else None
        say(f"the request was refused ({len(errors or [])} problems):")
        for item in errors or [{"field": "", "message": response.text[:2000]}]:
            say(f"  {item.get('field') or '(request)'}: {item.get('message')}")
        return EXIT_INVALID
    if response.status_code in (401, 403):
        say(f"{response.status_code}: the function key is missing or wrong (--key or SETUP_FUNCTION_KEY)")
        return EXIT_UNAUTHORIZED
    if response.status_code != 202 or "Location" not in response.headers:
        say(f"unexpected answer {response.status_code}: {response.text[:500]}")
        return EXIT_UNREACHABLE
    instance_id = (_json(response) or {}).get("id", "?")
    say(f"accepted: instance {instance_id}")
    location = response.headers["Location"]
    progress = Progress(err, secrets)
    deadline = time.monotonic() + timeout
    wait = poll_interval if poll_interval is not None else _retry_after(response, 10.0)
    failures = 0
    while True:
        if time.monotonic() + wait > deadline:
            progress.end()
            say(f"timed out after {timeout:.0f}s; instance {instance_id} is still running")
            return EXIT_TIMEOUT
        sleep(wait)
        try:
            response = http.get(location, timeout=60)
            failures = 0
        except requests.RequestException as exc:
            # The service may be restarting (a host killed and started again): keep polling until the timeout.
            failures += 1
            wait = min(10.0, 0.5 * 2 ** min(failures, 5))
            if failures in (1, 5, 20):
                say(f"status poll failed ({type(exc).__name__}); retrying")
            continue
        status = _json(response)
        if response.status_code != 202:
            break
        location = response.headers.get("Location", location)
        wait = poll_interval if poll_interval is not None else _retry_after(response, 10.0)
        if isinstance(status, dict):
            progress.show(str(status.get("runtimeStatus", "Running")), status.get("customStatus"))
    if isinstance(status, dict):
        progress.show(str(status.get("runtimeStatus")), status.get("customStatus"))
    progress.end()
    if not isinstance(status, dict) or response.status_code not in (200, 500):
        say(f"unexpected status answer {response.status_code}: {response.text[:500]}")
        return EXIT_UNREACHABLE
    runtime_status = status.get("runtimeStatus")
    if runtime_status == "Completed":
        output = status.get("output") or {}
        values = output.get("hopsworks") if isinstance(output, dict) else None
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
    say(f"the setup ended {runtime_status}:")
    say(f"  {message if isinstance(message, str) else json.dumps(message)}")
    custom = status.get("customStatus")
    if isinstance(custom, dict) and isinstance(custom.get("error"), dict):
        say(f"  failed step: {custom['error'].get('step')} ({custom['error'].get('code')})")
    return EXIT_FAILED


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m client", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("submit", help="submit a setup request and wait for its result")
    sub.add_argument("request", help="SetupRequest JSON file")
    sub.add_argument(
        "--url",
        default=os.environ.get("SETUP_URL", DEFAULT_URL),
        help=f"function app base URL (default $SETUP_URL or {DEFAULT_URL})",
    )
    sub.add_argument("--key", default=None, help="function key (default $SETUP_FUNCTION_KEY)")
    sub.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the result")
    sub.add_argument("--json", action="store_true", help="print the Hopsworks values as JSON on stdout")
    sub.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="seconds between status polls (default: the service's Retry-After)",
    )
    args = parser.parse_args(argv)
    key = args.key or os.environ.get("SETUP_FUNCTION_KEY")
    return submit(args.request, args.url, key, args.timeout, args.json, args.poll_interval)
