"""HTTP transport of the simulated Azure: ARM over https (+ control API), managed identity over http.

The token endpoint is plain http on its own loopback port, as App Service's is: the managed-identity
credential talks to it with its own transport, which would not trust the simulator's CA.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

from simulator.arm import ArmError, Drop, Response

CONTROL_PREFIX = "/_simulator/"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop connections, fail the TLS handshake or get dropped on purpose (fault "drop") are
        # normal here; anything else is a bug worth seeing.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | ssl.SSLError | TimeoutError | OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SimulatedAzure/1.0"
    sim: Any = None  # the Simulator (set on the per-server subclass)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        if response.body is None:
            payload = b""
        elif isinstance(response.body, bytes | bytearray):
            payload = bytes(response.body)
        else:
            payload = json.dumps(response.body).encode()
        self.send_response(response.status)
        sent = {k.lower() for k in response.headers}
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload and "content-type" not in sent:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path.startswith(CONTROL_PREFIX):
            if self.client_address[0] not in ("127.0.0.1", "::1"):
                self._send(
                    ArmError(403, "Forbidden", "The control API answers loopback clients only.").response()
                )
                return
            self._send(self.sim.control(self.command, self.path, body))
            return
        try:
            response = self.sim.arm.handle(self.command, self.path, headers, body)
        except Drop:
            self._drop()
            return
        except Exception as exc:  # a bug in a provider: answer like ARM would, keep serving
            response = ArmError(
                500, "InternalServerError", f"Simulator error: {type(exc).__name__}: {exc}"
            ).response()
        self._send(response)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _handle  # noqa: N815


class _TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SimulatedIdentity/1.0"
    sim: Any = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        status, body = self.sim.token_answer(split.path, query, self.headers.get("X-IDENTITY-HEADER"))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class Servers:
    """The two listening servers; made and torn down by Simulator.start/stop."""

    def __init__(self, sim: Any, port: int = 0) -> None:
        self.sim = sim
        self._dir = tempfile.TemporaryDirectory(prefix="simulated-azure-")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        handler = type("ArmHandler", (_Handler,), {"sim": sim})
        self.arm_server = _Server(("127.0.0.1", port), handler)
        self.arm_server.socket = context.wrap_socket(
            self.arm_server.socket, server_side=True, do_handshake_on_connect=False
        )
        token_handler = type("TokenHandler", (_TokenHandler,), {"sim": sim})
        self.token_server = _Server(("127.0.0.1", 0), token_handler)
        self.identity_header = secrets.token_hex(16)
        self.port = self.arm_server.server_address[1]
        self.token_port = self.token_server.server_address[1]
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name=n)
            for s, n in ((self.arm_server, "simulated-arm"), (self.token_server, "simulated-identity"))
        ]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        for s in (self.arm_server, self.token_server):
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._dir.cleanup()
