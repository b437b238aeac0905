"""SQLite storage for invoices and report jobs. One connection, one lock: the app is small."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    started_at REAL NOT NULL,
    done_at REAL
);
"""


class DatabaseDown(Exception):
    """The database cannot be reached (the ``db_down`` knob, from the environment or ``/admin/knobs``)."""


class Database:
    def __init__(self, path: Path, down: bool = False) -> None:
        self.down = down
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(str(path), check_same_thread=False)
        self._connection.row_factory = sqlite3.Row
        self._connection.executescript(SCHEMA)

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self.down:
            raise DatabaseDown("database unavailable")
        with self._lock:
            cursor = self._connection.execute(sql, args)
            rows = [dict(row) for row in cursor.fetchall()]
            self._connection.commit()
            if cursor.lastrowid and sql.lstrip().upper().startswith("INSERT"):
                return [{"id": cursor.lastrowid}]
            return rows

    def ping(self) -> None:
        self.query("SELECT 1")

    def now(self) -> float:
        return time.time()
