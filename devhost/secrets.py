"""Host keys (master, default function key, the Durable extension's system key) and log redaction.

Keys are made once per state directory and kept next to the database (mode 0600), so a restarted host keeps
the URLs it already handed out (status URLs carry the system key). Log lines go through `redact`, which masks
every key value, `code=` query values and bearer tokens.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

SYSTEM_KEY_NAME = "durabletask_extension"
SAFE_QUERY_NAMES = {
    "taskhub",
    "connection",
    "showhistory",
    "showhistoryoutput",
    "showinput",
    "returninternalservererroronfailure",
    "runtimestatus",
    "createdtimefrom",
    "createdtimeto",
    "instanceidprefix",
    "top",
    "timeout",
    "pollinginterval",
    "version",
}


def _new_key() -> str:
    # Same shape as the Functions host's keys: URL-safe, ~56 characters.
    return secrets.token_urlsafe(42).replace("-", "a").replace("_", "b")


@dataclass(frozen=True)
class HostKeys:
    master: str
    function_default: str
    system: str

    @classmethod
    def load_or_create(cls, path: Path) -> HostKeys:
        if path.exists():
            data = json.loads(path.read_text())
            return cls(
                data["masterKey"], data["functionKeys"]["default"], data["systemKeys"][SYSTEM_KEY_NAME]
            )
        keys = cls(_new_key(), _new_key(), _new_key())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {
                    "masterKey": keys.master,
                    "functionKeys": {"default": keys.function_default},
                    "systemKeys": {SYSTEM_KEY_NAME: keys.system},
                },
                handle,
                indent=2,
            )
        return keys

    def all(self) -> tuple[str, ...]:
        return (self.master, self.function_default, self.system)


_known_secrets: set[str] = set()
_PATTERNS = [
    (re.compile(r"(?i)(code=)[^&\s\"']+"), r"\1***"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1***"),
    (re.compile(r"(?i)(x-functions-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"), r"\1***"),
    (re.compile(r"(?i)(\"access_token\"\s*:\s*\")[^\"]+"), r"\1***"),
]


def register_secret(value: str | None) -> None:
    if value and len(value) >= 8:
        _known_secrets.add(value)


def redact(text: str) -> str:
    for value in _known_secrets:
        if value in text:
            text = text.replace(value, "***")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def mask_query(query: str) -> str:
    """A query string fit for a log line: values other than a few harmless ones become ***."""
    if not query:
        return ""
    pairs = [
        (k, v if k.lower() in SAFE_QUERY_NAMES else "***")
        for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return urlencode(pairs, safe="*,:")


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks can quote URLs or headers: keep only the redacted one-line form.
            exc = record.exc_info[1]
            record.msg = f"{record.msg}: {type(exc).__name__}: {redact(str(exc))}"
            record.exc_info = None
            record.exc_text = None
        return True
