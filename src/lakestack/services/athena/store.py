"""Athena's state in `<state>/athena.db`: query executions, workgroups, named queries,
prepared statements, data catalogs and tags. Structured members are stored as JSON text."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lakestack.runtime.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    workgroup TEXT NOT NULL,
    query TEXT NOT NULL,
    statement_type TEXT,
    substatement_type TEXT,
    context TEXT,
    result_configuration TEXT,
    execution_parameters TEXT,
    client_token TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    error TEXT,
    submitted REAL NOT NULL,
    started REAL,
    completed REAL,
    statistics TEXT,
    columns TEXT,
    result_kind TEXT,
    update_count INTEGER,
    manifest TEXT,
    principal_arn TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_workgroup ON executions (account, region, workgroup, submitted);
CREATE INDEX IF NOT EXISTS executions_by_age ON executions (submitted);
CREATE UNIQUE INDEX IF NOT EXISTS executions_by_token ON executions (account, region, client_token);
CREATE TABLE IF NOT EXISTS workgroups (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    description TEXT,
    configuration TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS named_queries (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    database TEXT NOT NULL,
    query TEXT NOT NULL,
    workgroup TEXT NOT NULL,
    client_token TEXT
);
CREATE TABLE IF NOT EXISTS prepared_statements (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    workgroup TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    description TEXT,
    modified REAL NOT NULL,
    PRIMARY KEY (account, region, workgroup, name)
);
CREATE TABLE IF NOT EXISTS data_catalogs (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    description TEXT,
    parameters TEXT,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT PRIMARY KEY,
    tags TEXT NOT NULL
);
"""


def dumps(value) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)


def loads(text: str | None):
    return None if text is None else json.loads(text)


class AthenaStore:
    def __init__(self, state_dir: Path):
        self.db = StateStore(Path(state_dir) / "athena.db", SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- executions ---------------------------------------------------------------------------

    def insert_execution(self, row: dict) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.db.transaction() as db:
            db.execute(f"INSERT INTO executions ({columns}) VALUES ({marks})", tuple(row.values()))

    def update_execution(self, execution_id: str, **values) -> None:
        if not values:
            return
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.db.transaction() as db:
            db.execute(f"UPDATE executions SET {assignments} WHERE id = ?", (*values.values(), execution_id))

    def finish_execution(self, execution_id: str, state: str, **values) -> bool:
        """Move a running or queued execution to a final state; False if it already ended
        (a query cancelled while finishing stays cancelled)."""
        values["state"] = state
        values.setdefault("completed", time.time())
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.db.transaction() as db:
            cursor = db.execute(f"UPDATE executions SET {assignments} WHERE id = ? AND state IN ('QUEUED', 'RUNNING')",
                                (*values.values(), execution_id))
            return cursor.rowcount == 1

    def execution(self, execution_id: str):
        return self.db.query_one("SELECT * FROM executions WHERE id = ?", (execution_id,))

    def execution_by_token(self, account: str, region: str, token: str):
        return self.db.query_one("SELECT * FROM executions WHERE account = ? AND region = ? AND client_token = ?",
                                 (account, region, token))

    def list_executions(self, account: str, region: str, workgroup: str, after: float | None, limit: int):
        sql = "SELECT id, submitted FROM executions WHERE account = ? AND region = ? AND workgroup = ?"
        args: list = [account, region, workgroup]
        if after is not None:
            sql += " AND submitted < ?"
            args.append(after)
        sql += " ORDER BY submitted DESC, id DESC LIMIT ?"
        args.append(limit)
        return self.db.query(sql, tuple(args))

    def expire_executions(self, before: float) -> int:
        """Forget executions submitted before `before` that have ended; returns how many."""
        with self.db.transaction() as db:
            return db.execute("DELETE FROM executions WHERE submitted < ? AND state IN ('SUCCEEDED', 'FAILED', "
                              "'CANCELLED')", (before,)).rowcount

    def interrupted(self) -> list:
        return self.db.query("SELECT id FROM executions WHERE state IN ('QUEUED', 'RUNNING')")

    # -- workgroups ---------------------------------------------------------------------------

    def workgroup(self, account: str, region: str, name: str):
        return self.db.query_one("SELECT * FROM workgroups WHERE account = ? AND region = ? AND name = ?",
                                 (account, region, name))

    def put_workgroup(self, account: str, region: str, name: str, state: str, description: str | None,
                      configuration: dict, created: float | None = None, replace: bool = True) -> bool:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self.db.transaction() as db:
            cursor = db.execute(f"{verb} INTO workgroups (account, region, name, state, description, configuration, "
                                "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (account, region, name, state, description, dumps(configuration),
                                 created or time.time()))
            return cursor.rowcount == 1

    def delete_workgroup(self, account: str, region: str, name: str) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM workgroups WHERE account = ? AND region = ? AND name = ?", (account, region, name))
            db.execute("DELETE FROM named_queries WHERE account = ? AND region = ? AND workgroup = ?",
                       (account, region, name))
            db.execute("DELETE FROM prepared_statements WHERE account = ? AND region = ? AND workgroup = ?",
                       (account, region, name))

    def workgroups(self, account: str, region: str):
        return self.db.query("SELECT * FROM workgroups WHERE account = ? AND region = ? ORDER BY name",
                             (account, region))

    # -- named queries ------------------------------------------------------------------------

    def put_named_query(self, row: dict) -> None:
        with self.db.transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO named_queries ({', '.join(row)}) VALUES "
                       f"({', '.join('?' for _ in row)})", tuple(row.values()))

    def named_query(self, query_id: str):
        return self.db.query_one("SELECT * FROM named_queries WHERE id = ?", (query_id,))

    def named_query_by_token(self, account: str, region: str, token: str):
        return self.db.query_one("SELECT * FROM named_queries WHERE account = ? AND region = ? AND client_token = ?",
                                 (account, region, token))

    def named_queries(self, account: str, region: str, workgroup: str):
        return self.db.query("SELECT id FROM named_queries WHERE account = ? AND region = ? AND workgroup = ? "
                             "ORDER BY rowid", (account, region, workgroup))

    def delete_named_query(self, query_id: str) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM named_queries WHERE id = ?", (query_id,))

    # -- prepared statements ------------------------------------------------------------------

    def put_prepared(self, account: str, region: str, workgroup: str, name: str, query: str,
                     description: str | None) -> None:
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO prepared_statements (account, region, workgroup, name, query, "
                       "description, modified) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (account, region, workgroup, name, query, description, time.time()))

    def prepared(self, account: str, region: str, workgroup: str, name: str):
        return self.db.query_one("SELECT * FROM prepared_statements WHERE account = ? AND region = ? AND "
                                 "workgroup = ? AND name = ?", (account, region, workgroup, name))

    def prepared_list(self, account: str, region: str, workgroup: str):
        return self.db.query("SELECT * FROM prepared_statements WHERE account = ? AND region = ? AND workgroup = ? "
                             "ORDER BY name", (account, region, workgroup))

    def delete_prepared(self, account: str, region: str, workgroup: str, name: str) -> bool:
        with self.db.transaction() as db:
            cursor = db.execute("DELETE FROM prepared_statements WHERE account = ? AND region = ? AND workgroup = ? "
                                "AND name = ?", (account, region, workgroup, name))
            return cursor.rowcount == 1

    # -- data catalogs ------------------------------------------------------------------------

    def put_catalog(self, account: str, region: str, name: str, kind: str, description: str | None,
                    parameters: dict | None) -> None:
        with self.db.transaction() as db:
            db.execute("INSERT OR REPLACE INTO data_catalogs (account, region, name, type, description, parameters) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (account, region, name, kind, description, dumps(parameters)))

    def catalog(self, account: str, region: str, name: str):
        return self.db.query_one("SELECT * FROM data_catalogs WHERE account = ? AND region = ? AND name = ?",
                                 (account, region, name))

    def catalogs(self, account: str, region: str):
        return self.db.query("SELECT * FROM data_catalogs WHERE account = ? AND region = ? ORDER BY name",
                             (account, region))

    def delete_catalog(self, account: str, region: str, name: str) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM data_catalogs WHERE account = ? AND region = ? AND name = ?", (account, region, name))

    # -- tags ---------------------------------------------------------------------------------

    def tags(self, arn: str) -> dict[str, str]:
        row = self.db.query_one("SELECT tags FROM tags WHERE arn = ?", (arn,))
        return loads(row["tags"]) if row else {}

    def put_tags(self, arn: str, tags: dict[str, str]) -> None:
        with self.db.transaction() as db:
            if tags:
                db.execute("INSERT OR REPLACE INTO tags (arn, tags) VALUES (?, ?)", (arn, dumps(tags)))
            else:
                db.execute("DELETE FROM tags WHERE arn = ?", (arn,))
