"""Run the local host as a subprocess from tests, benchmarks and scripts.

    from devhost.testing import DevHost

    with DevHost(app_dir=".", db_path=tmp / "state.db", env=simulator.env()) as host:
        r = requests.post(f"{host.base_url}/api/setups", json=body, headers=host.auth_headers)
        host.kill()        # SIGKILL, like a crashed worker
        host.start()       # same port, same database, same keys: status URLs keep working

By default the host runs with `--no-simulator` (the caller owns the simulated Azure, so it survives host
kills); pass `simulator=True` to let the host start its own. The host's combined output goes to
`<db dir>/host-<n>.log` (one file per start); `host.output()` returns all of it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HostStartError(RuntimeError):
    pass


class DevHost:
    def __init__(
        self,
        app_dir: str | Path = REPO_ROOT,
        db_path: str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        simulator: bool = False,
        extra_args: Sequence[str] = (),
        start_timeout: float = 60.0,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        if db_path is None:
            import tempfile

            db_path = Path(tempfile.mkdtemp(prefix="devhost-")) / "state.db"
        self.db_path = Path(db_path).resolve()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.env = dict(env or {})
        self.simulator = simulator
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    # -- facts the caller needs ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def keys_path(self) -> Path:
        return self.db_path.parent / "keys.json"

    def _keys(self) -> dict:
        return json.loads(self.keys_path.read_text())

    @property
    def function_key(self) -> str:
        return str(self._keys()["functionKeys"]["default"])

    @property
    def system_key(self) -> str:
        return str(self._keys()["systemKeys"]["durabletask_extension"])

    @property
    def master_key(self) -> str:
        return str(self._keys()["masterKey"])

    @property
    def secrets(self) -> list[str]:
        """Every key the host holds (scan outputs for them)."""
        return [self.master_key, self.function_key, self.system_key]

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"x-functions-key": self.function_key}

    # -- lifecycle ----------------------------------------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "devhost",
            "--app-dir",
            str(self.app_dir),
            "--db",
            str(self.db_path),
            "--port",
            str(self.port),
        ]
        if not self.simulator:
            cmd.append("--no-simulator")
        return cmd + self.extra_args

    def start(self) -> DevHost:
        if self.process is not None and self.process.poll() is None:
            raise HostStartError("host already running")
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        log_path = self.db_path.parent / f"host-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with open(log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(REPO_ROOT),
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HostStartError(f"host exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            try:
                with urllib.request.urlopen(self.base_url + "/", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.kill()
        raise HostStartError(f"host not ready after {self.start_timeout}s:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the host (no clean-up runs, as with a crashed worker)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> DevHost:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def __enter__(self) -> DevHost:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
