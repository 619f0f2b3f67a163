"""Where the catalog lives: `<state>/glue.db`, SQLite in WAL mode, one writer.

Every row is scoped by account and region, as Glue's catalog is (one catalog per account
per region). Structures the client sends (table inputs, storage descriptors, crawler
targets, …) are kept as JSON text (codec.py) so they come back exactly as they went in;
the columns beside them are what queries filter and sort on.
"""

from __future__ import annotations

from pathlib import Path

from lakestack.runtime.state import StateStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogs (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (account_id, region)
);
CREATE TABLE IF NOT EXISTS databases (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, name)
);
CREATE TABLE IF NOT EXISTS tables (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    database TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    created_by TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, database, name)
);
CREATE TABLE IF NOT EXISTS table_versions (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    database TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, database, name, version)
);
-- `key` is the JSON text of the partition's values: unique per table, and the sort order.
CREATE TABLE IF NOT EXISTS partitions (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    database TEXT NOT NULL,
    table_name TEXT NOT NULL,
    key TEXT NOT NULL,
    created REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, database, table_name, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partition_indexes (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    database TEXT NOT NULL,
    table_name TEXT NOT NULL,
    name TEXT NOT NULL,
    keys TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (account_id, region, database, table_name, name)
);
-- `partition_key` is '' for table-level statistics.
CREATE TABLE IF NOT EXISTS column_statistics (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    database TEXT NOT NULL,
    table_name TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    column_name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, database, table_name, partition_key, column_name)
);
CREATE TABLE IF NOT EXISTS functions (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    database TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, database, name)
);
CREATE TABLE IF NOT EXISTS classifiers (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, name)
);
CREATE TABLE IF NOT EXISTS crawlers (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    schedule_state TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (account_id, region, name)
);
CREATE TABLE IF NOT EXISTS crawls (
    crawl_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    crawler TEXT NOT NULL,
    state TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    error TEXT,
    tables_created INTEGER NOT NULL DEFAULT 0,
    tables_updated INTEGER NOT NULL DEFAULT 0,
    tables_deleted INTEGER NOT NULL DEFAULT 0,
    partitions_created INTEGER NOT NULL DEFAULT 0,
    partitions_updated INTEGER NOT NULL DEFAULT 0,
    partitions_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS crawls_by_crawler ON crawls(account_id, region, crawler, started);
-- Folders a crawler has read, for RecrawlPolicy CRAWL_NEW_FOLDERS_ONLY.
CREATE TABLE IF NOT EXISTS crawled_folders (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    crawler TEXT NOT NULL,
    folder TEXT NOT NULL,
    PRIMARY KEY (account_id, region, crawler, folder)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT PRIMARY KEY,
    tags TEXT NOT NULL
);
"""


class GlueStore(StateStore):
    def __init__(self, state_dir: Path):
        super().__init__(Path(state_dir) / "glue.db", SCHEMA)
