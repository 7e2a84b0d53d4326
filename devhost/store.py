"""Durable state of the local host in SQLite: instances, history, the orchestration inbox, the activity queue.

Every state change an episode or an activity makes is one transaction, so a host killed at any point restarts
from a consistent state: an episode that did not commit runs again (orchestrators are deterministic), an
activity whose result did not commit runs again (at-least-once, as with the real engine's queues).
Timers are inbox messages that become visible at their fire time (as Azure Storage's delayed queue messages).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER
);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    event TEXT NOT NULL,
    visible_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_time ON inbox (visible_at);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox (instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    created REAL NOT NULL
);
"""

RUNNING_STATES = ("Pending", "Running", "ContinuedAsNew", "Suspended")
TERMINAL_STATES = ("Completed", "Failed", "Terminated", "Canceled")


@dataclass
class Instance:
    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None  # JSON text of the input token
    output: str | None  # JSON text of the output token
    custom_status: str | None  # JSON text
    created: float
    updated: float
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None


@dataclass
class Message:
    id: int
    instance_id: str
    execution_id: str | None
    event: dict[str, Any]


@dataclass
class ActivityItem:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


class Store:
    """One SQLite connection shared by the host's threads behind a lock (every call is short)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a killed process
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- reads ---------------------------------------------------------------------------------------
    def get_instance(self, instance_id: str) -> Instance | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return Instance(*row) if row else None

    def list_instances(self) -> list[Instance]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM instances ORDER BY created").fetchall()
        return [Instance(*row) for row in rows]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def instances_with_visible_messages(self, now: float) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT instance_id FROM inbox WHERE visible_at <= ?", (now,)
            ).fetchall()
        return [r[0] for r in rows]

    def next_message_time(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(visible_at) FROM inbox").fetchone()
        return row[0] if row and row[0] is not None else None

    def visible_messages(self, instance_id: str, now: float) -> list[Message]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, instance_id, execution_id, event FROM inbox "
                "WHERE instance_id = ? AND visible_at <= ? ORDER BY visible_at, id",
                (instance_id, now),
            ).fetchall()
        return [Message(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def activities(self, exclude: set[int], limit: int) -> list[ActivityItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, instance_id, execution_id, task_id, name, input FROM activities ORDER BY id"
            ).fetchall()
        items = [ActivityItem(*r) for r in rows if r[0] not in exclude]
        return items[:limit]

    def activity_exists(self, item_id: int) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM activities WHERE id = ?", (item_id,)).fetchone() is not None
            )

    # -- writes (inside a transaction) ---------------------------------------------------------------
    @staticmethod
    def put_message(
        db: sqlite3.Connection,
        instance_id: str,
        execution_id: str | None,
        event: dict[str, Any],
        visible_at: float | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO inbox (instance_id, execution_id, event, visible_at) VALUES (?, ?, ?, ?)",
            (
                instance_id,
                execution_id,
                json.dumps(event),
                visible_at if visible_at is not None else time.time(),
            ),
        )

    @staticmethod
    def put_activity(
        db: sqlite3.Connection,
        instance_id: str,
        execution_id: str,
        task_id: int,
        name: str,
        input_text: str | None,
    ) -> None:
        db.execute(
            "INSERT INTO activities (instance_id, execution_id, task_id, name, input, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (instance_id, execution_id, task_id, name, input_text, time.time()),
        )

    @staticmethod
    def append_history(db: sqlite3.Connection, instance_id: str, events: list[dict[str, Any]]) -> None:
        row = db.execute(
            "SELECT COALESCE(MAX(seq), -1) FROM history WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        seq = row[0] + 1
        for event in events:
            stored = dict(event)
            stored["IsPlayed"] = True  # once committed, an event is history the next episode replays
            db.execute(
                "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
                (instance_id, seq, json.dumps(stored)),
            )
            seq += 1

    @staticmethod
    def delete_messages(db: sqlite3.Connection, ids: list[int]) -> None:
        db.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    @staticmethod
    def upsert_instance(db: sqlite3.Connection, inst: Instance) -> None:
        db.execute(
            "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                inst.instance_id,
                inst.name,
                inst.execution_id,
                inst.status,
                inst.input,
                inst.output,
                inst.custom_status,
                inst.created,
                inst.updated,
                inst.parent_instance_id,
                inst.parent_execution_id,
                inst.parent_task_id,
            ),
        )

    @staticmethod
    def reset_execution(db: sqlite3.Connection, instance_id: str) -> None:
        """Drop an instance's history and queued work (a new execution under the same id)."""
        db.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
        db.execute("DELETE FROM inbox WHERE instance_id = ?", (instance_id,))
        db.execute("DELETE FROM activities WHERE instance_id = ?", (instance_id,))

    @staticmethod
    def purge(db: sqlite3.Connection, instance_id: str) -> int:
        Store.reset_execution(db, instance_id)
        return db.execute("DELETE FROM instances WHERE instance_id = ?", (instance_id,)).rowcount

    @staticmethod
    def finish_activity(db: sqlite3.Connection, item_id: int) -> bool:
        """Remove a queued activity; False when it was already gone (its instance was reset or purged)."""
        return db.execute("DELETE FROM activities WHERE id = ?", (item_id,)).rowcount == 1
