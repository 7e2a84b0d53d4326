"""App settings (DESIGN.md, Settings table), parsed from a mapping so they can be tested without the host.

The starter puts `Settings.timing` into the orchestration input (orchestrators may not read the
environment); activities build their ARM clients from `Settings.arm_settings`. Error messages name the
setting and the rule, never the value (an endpoint may carry credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_ARM_SCOPE = "https://management.azure.com/.default"


class SettingsError(ValueError):
    """One or more settings are invalid; `problems` lists each (setting name and rule)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid app settings: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ArmSettings:
    endpoint: str
    scope: str
    ca_bundle: str | None
    polling_interval: float | None  # None: the SDK default (30 s) applies


@dataclass(frozen=True)
class Settings:
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    arm_scope: str = DEFAULT_ARM_SCOPE
    arm_ca_bundle: str | None = None
    arm_polling_interval: float | None = None
    # Durable-timer interval while a cluster is built (the watch reads it) or deleted: short, since a cluster
    # noticed late is time the user waits (orchestrators/cluster_watch.py keeps the history bounded).
    poll_interval_seconds: float = 5
    retry_first_seconds: float = 5
    retry_max_seconds: float = 120
    retry_max_attempts: int = 8
    cluster_timeout_seconds: float = 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse the settings (unset or empty: the default). Raises SettingsError listing every problem."""
        problems: list[str] = []
        defaults = cls()

        def text(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        def https_url(name: str, default: str) -> str:
            value = text(name) or default
            try:
                parts = urlsplit(value)
                if parts.scheme == "https" and parts.hostname:
                    return value
            except ValueError:
                pass
            problems.append(f"{name} must be an https URL (the SDK's bearer-token policy refuses http)")
            return default

        def number(name: str, default: float | None, *, positive: bool = True,
                   integer: bool = False) -> float | None:
            value = text(name)
            if value is None:
                return default
            kind = "an integer" if integer else "a number of seconds"
            try:
                parsed = int(value) if integer else float(value)
            except ValueError:
                problems.append(f"{name} must be {kind}")
                return default
            if parsed != parsed or parsed in (float("inf"), float("-inf")):
                problems.append(f"{name} must be a finite number")
            elif parsed < 0 or (positive and parsed == 0):
                problems.append(f"{name} must be {kind} {'> 0' if positive else '>= 0'}")
            else:
                return parsed
            return default

        settings = cls(
            arm_endpoint=https_url("ARM_ENDPOINT", DEFAULT_ARM_ENDPOINT).rstrip("/"),
            arm_scope=https_url("ARM_SCOPE", DEFAULT_ARM_SCOPE),
            arm_ca_bundle=text("ARM_CA_BUNDLE"),
            arm_polling_interval=number("ARM_POLLING_INTERVAL", None, positive=False),
            poll_interval_seconds=number("SETUP_POLL_INTERVAL_SECONDS", defaults.poll_interval_seconds),
            retry_first_seconds=number("SETUP_RETRY_FIRST_SECONDS", defaults.retry_first_seconds),
            retry_max_seconds=number("SETUP_RETRY_MAX_SECONDS", defaults.retry_max_seconds),
            retry_max_attempts=int(
                number("SETUP_RETRY_MAX_ATTEMPTS", defaults.retry_max_attempts, integer=True)
                or defaults.retry_max_attempts
            ),
            cluster_timeout_seconds=number("SETUP_CLUSTER_TIMEOUT_SECONDS", defaults.cluster_timeout_seconds),
        )
        if settings.retry_max_seconds < settings.retry_first_seconds:
            problems.append("SETUP_RETRY_MAX_SECONDS must be >= SETUP_RETRY_FIRST_SECONDS")
        if problems:
            raise SettingsError(problems)
        return settings

    @property
    def arm_settings(self) -> ArmSettings:
        return ArmSettings(self.arm_endpoint, self.arm_scope, self.arm_ca_bundle, self.arm_polling_interval)

    @property
    def timing(self) -> dict[str, float | int]:
        """The orchestration input's `timing` (DESIGN.md, Orchestration input)."""
        return {
            "pollIntervalSeconds": _plain(self.poll_interval_seconds),
            "retryFirstSeconds": _plain(self.retry_first_seconds),
            "retryMaxSeconds": _plain(self.retry_max_seconds),
            "retryMaxAttempts": self.retry_max_attempts,
            "clusterTimeoutSeconds": _plain(self.cluster_timeout_seconds),
        }


def _plain(value: float) -> float | int:
    """30.0 -> 30 so the JSON reads like the settings table; fractions stay."""
    return int(value) if float(value).is_integer() else value
