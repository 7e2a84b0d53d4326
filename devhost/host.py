"""The local host object: index the app, open the store, run the engine and the HTTP listeners on one loop.

All durable-client functions (HTTP starters) run on this one long-lived event loop, because the SDK keeps one
module-global aiohttp session (AZURE_FACTS section 4).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from devhost.app_index import load_app
from devhost.engine import ANY_STATE, Engine
from devhost.secrets import HostKeys
from devhost.server import HostServer
from devhost.store import Store


class Host:
    def __init__(
        self,
        *,
        app_dir: Path,
        db_path: Path,
        keys: HostKeys,
        host_json: dict[str, Any],
        host: str = "127.0.0.1",
        port: int = 7071,
    ) -> None:
        extensions = host_json.get("extensions") or {}
        durable = extensions.get("durableTask") or {}
        http = extensions.get("http") or {}
        self.route_prefix = (
            "/" + str(http.get("routePrefix", "api")).strip("/") if http.get("routePrefix", "api") else ""
        )
        self.hub_name = str(durable.get("hubName") or "TestHubName")
        self.keys = keys
        os.chdir(app_dir)  # the worker runs with the script root as working directory
        self.index = load_app(app_dir, route_prefix=self.route_prefix)
        self.store = Store(db_path)
        self.engine = Engine(
            self.store,
            self.index,
            max_orchestrations=int(durable.get("maxConcurrentOrchestratorFunctions", 10)),
            max_activities=int(durable.get("maxConcurrentActivityFunctions", 10)),
            overridable_states=str(durable.get("overridableExistingInstanceStates") or ANY_STATE),
        )
        self.server = HostServer(self.engine, self.index, keys, hub_name=self.hub_name, host=host, port=port)
        self._engine_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.server.start()
        self._engine_task = asyncio.get_running_loop().create_task(self.engine.run())

    async def stop(self) -> None:
        self.engine.stop()
        if self._engine_task is not None:
            await asyncio.wait([self._engine_task], timeout=2)
        await self.server.stop()
        self.store.close()
