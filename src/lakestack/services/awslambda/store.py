"""Where Lambda keeps its state: `<state>/lambda.db` (SQLite, WAL, synchronous=FULL) and
code under `<home>/lambda/` (code.py).

A function (its versions, aliases, policies, tags, concurrency) is small and always read
and written whole, so it is one JSON document; so is a layer with its versions. The
asynchronous-invocation queue and the event source mappings' shard checkpoints are rows,
because they change on every event.
"""

from __future__ import annotations

from pathlib import Path

from lakestack.runtime.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS layers (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
-- Event invocations waiting to run (or to be retried).
CREATE TABLE IF NOT EXISTS async_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    function_name TEXT NOT NULL,
    qualifier TEXT,
    request_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued REAL NOT NULL,
    not_before REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events (not_before);
CREATE TABLE IF NOT EXISTS event_source_mappings (
    uuid TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    document TEXT NOT NULL
);
-- How far a mapping got in each shard: the last sequence number it delivered, and whether
-- the (closed) shard is done.
CREATE TABLE IF NOT EXISTS shard_checkpoints (
    uuid TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    sequence_number TEXT,
    finished INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (uuid, shard_id)
);
"""


def open_store(state_dir: Path) -> StateStore:
    return StateStore(Path(state_dir) / "lambda.db", SCHEMA)
